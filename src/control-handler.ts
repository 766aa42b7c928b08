/**
 * What the control socket's commands (src/control.ts) do on a running gatehouse: `reload` reloads the config,
 * `status` reads the instance's state with its managed certificates, `renew NAME` asks the ACME manager in force
 * for a renewal now, and `explain --running` answers on what the instance serves now.
 */
import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:net';
import { join } from 'node:path';
import type { GatehouseStatus, ReloadResult } from './api-types.js';
import { resolveStateDir } from './certs/index.js';
import { listenControl, type ControlAnswer, type ControlHandler } from './control.js';
import type { ExplainQuery } from './explain/index.js';
import type { Logger } from './log.js';
import type { LiveState } from './reload/reloader.js';

/** What the commands act on: the instance's state in force and its own reload and status. */
export interface ControlTarget {
  readonly live: LiveState;
  /** The config file, named in `explain` answers; undefined for a config given as an object. */
  readonly configFile: string | undefined;
  /** For the state directory (where ACME certificates live). */
  readonly env: NodeJS.ProcessEnv;
  readonly reload: () => Promise<ReloadResult>;
  readonly status: () => GatehouseStatus;
}

/** The handler of the control socket of the instance `target` describes; reads the state in force per request. */
export function createControlHandler(target: ControlTarget): ControlHandler {
  const { live } = target;
  return async (req) => {
    if (req.command === 'reload') {
      const result = await target.reload();
      // Applied with problems is an answer, not a failure of the command: the CLI tells it by `outcome` (exit 3).
      return result.outcome === 'refused' ? { ok: false, error: result.errors.join('\n'), data: result } : { ok: true, data: result };
    }
    if (req.command === 'status') return { ok: true, data: { ...target.status(), certificates: live.acme?.list() ?? [] } };
    // Cheap on purpose (a container's HEALTHCHECK asks every few seconds): the answer itself shows the event loop
    // turns; the CLI then connects to each entry point to show that they accept.
    if (req.command === 'health') return { ok: true, data: { ...(target.configFile !== undefined ? { configFile: target.configFile } : {}), entryPoints: live.edge?.addresses() ?? {} } };
    if (req.command === 'explain') return explainLive(target, req.query);
    if (!live.acme) return { ok: false, error: `no certificate resolver is running (${req.name})` };
    await live.acme.renew(req.name);
    return { ok: true };
  };
}

/**
 * Listens on the control socket of `stateDir` (made if missing, mode 0700). A socket that cannot be made only costs
 * the commands: it is logged and undefined is returned, never a rejection.
 */
export function openControl(stateDir: string, handle: ControlHandler, log: Logger, configFile?: string): Promise<Server | undefined> {
  return mkdir(stateDir, { recursive: true, mode: 0o700 })
    .then(() => listenControl(stateDir, handle, log, configFile))
    .catch((err: unknown) => {
      log.warn({ reason: (err as Error).message }, 'control socket not available');
      return undefined;
    });
}

/** `gatehouse explain --running`: the question answered on what this instance serves now. */
async function explainLive(target: ControlTarget, query: ExplainQuery): Promise<ControlAnswer> {
  const { live } = target;
  // Loaded by the first `explain --running`: a running instance does not need explain until then.
  const { answerQuery, liveModel, UsageError } = await import('./explain/index.js');
  const model = liveModel({
    config: live.config,
    file: target.configFile ?? '(library config)',
    runtime: live.runtime,
    challenges: live.challengeSettings,
    certs: live.certs,
    acmeDir: join(resolveStateDir(live.config, { configFile: target.configFile, env: target.env }), 'acme'),
    health: (service) => live.runtime.services.pools?.get(service)?.upstream.health(),
  });
  try {
    return { ok: true, data: answerQuery(model, query) };
  } catch (err) {
    if (err instanceof UsageError) return { ok: false, error: err.message };
    throw err;
  }
}
