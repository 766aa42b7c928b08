/** Where a config file's running instance listens for control requests. */
import { loadConfigFile, readConfigDraft, type Config } from '../config/index.js';
import { resolveStateDir } from '../config/paths.js';

/**
 * The state directory named by a config file, even when the file is invalid: `reload` must still reach the running
 * instance (which then refuses the file and says why) and `status` still show it.
 */
export function stateDirOf(file: string): string {
  try {
    return resolveStateDir(loadConfigFile(file));
  } catch {
    const draft = readConfigDraft(file) as { stateDir?: unknown } | undefined;
    const stateDir = typeof draft?.stateDir === 'string' ? draft.stateDir : undefined;
    return resolveStateDir({ entryPoints: {}, ...(stateDir !== undefined ? { stateDir } : {}) } as Config);
  }
}
