/** Where a config file's running instance listens for control requests, and how the CLI reaches it. */
import { resolve } from 'node:path';
import { loadConfigFile, readConfigDraft, type Config } from '../config/index.js';
import { resolveStateDir } from '../config/paths.js';
import { controlSocketPath, sendControl, type ControlAnswer, type ControlRequest } from '../control.js';

/**
 * The state directory named by a config file, even when the file is invalid: `reload` must still reach the running
 * instance (which then refuses the file and says why) and `status` still show it.
 */
export function stateDirOf(file: string, env: NodeJS.ProcessEnv = process.env): string {
  try {
    return resolveStateDir(loadConfigFile(file, env), { configFile: file, env });
  } catch {
    const draft = readConfigDraft(file) as { stateDir?: unknown } | undefined;
    const stateDir = typeof draft?.stateDir === 'string' ? draft.stateDir : undefined;
    return resolveStateDir({ entryPoints: {}, ...(stateDir !== undefined ? { stateDir } : {}) } as Config, { configFile: file, env });
  }
}

/**
 * Sends `request` to the running instance of config file `file` and resolves with its answer (which may be a
 * refusal: `ok: false`). Rejects, with a message saying what to do, when no instance listens on that file's control
 * socket, or when the one that does runs another config file (two configs sharing one state directory).
 */
export async function controlFor(file: string, request: ControlRequest, env: NodeJS.ProcessEnv = process.env): Promise<ControlAnswer> {
  const stateDir = stateDirOf(file, env);
  const configFile = resolve(file);
  let answer: ControlAnswer;
  try {
    answer = await sendControl(stateDir, { ...request, configFile });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ECONNREFUSED' || /no running gatehouse/.test((err as Error).message)) {
      throw new Error(`no running gatehouse for ${file} (no control socket at ${socketOf(stateDir)}); start it with: gatehouse start --config ${file}`);
    }
    if (code === 'EACCES') throw new Error(`not allowed to use the control socket ${socketOf(stateDir)}; run as the account that runs gatehouse`);
    throw err;
  }
  if (answer.code === 'OTHER_INSTANCE') {
    throw new Error(`${answer.error ?? 'another instance answered'}; give each config file its own stateDir (or leave stateDir unset: each file then gets state/<environment> beside it)`);
  }
  return answer;
}

function socketOf(stateDir: string): string {
  try {
    return controlSocketPath(stateDir);
  } catch {
    return `${stateDir}/control.sock`;
  }
}
