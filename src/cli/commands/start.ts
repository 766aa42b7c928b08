/**
 * `gatehouse start [FILE]`: runs the proxy on the config file, or on the embedded demo config when no file is named
 * anywhere (FILE, --config, $GATEHOUSE_CONFIG). SIGTERM/SIGINT stop it gracefully (a second one exits at once),
 * SIGHUP reloads the file.
 */
import { createGatehouseIn, type Gatehouse } from '../../api.js';
import { workerCount } from '../../cluster/workers-count.js';
import { reportError } from '../cli-error.js';
import { demoConfig } from '../demo-config.js';
import type { CommandContext } from '../usage.js';

/** Starts the proxy; resolves with 0 once it serves (the process then runs until a signal). Exits 1 if it cannot start. */
export async function runStart(ctx: CommandContext): Promise<number> {
  const { file } = ctx;
  // A worker of `workers` > 1, forked by the primary with this same command line (src/cluster/fleet.ts).
  if (ctx.env['GATEHOUSE_WORKER'] !== undefined && process.send !== undefined) {
    const { runWorker } = await import('../../cluster/worker.js');
    await runWorker(file, ctx.env);
    return 0;
  }
  // Signal handlers first: a supervisor may send SIGTERM as soon as it sees "gatehouse started", and a signal that
  // arrives before its handler would kill the process without draining.
  let gh: Gatehouse | undefined;
  let started = false;
  let stopping = false;
  const shutdown = (): void => {
    gh!.stop().then(
      () => process.exit(0),
      (err: unknown) => process.exit(reportError(err)),
    );
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      process.stderr.write(`gatehouse: second ${signal}, exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    if (started) shutdown(); // else: the start below sees `stopping` when it returns
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // SIGHUP reloads (the config file; a refused one is logged and the running config stays). One that arrives while
  // the proxy starts is kept for the moment it serves: a supervisor may send it as soon as it sees "gatehouse
  // started", which is printed before the start returns here.
  let reloadAtStart = false;
  process.on('SIGHUP', () => {
    if (stopping) return;
    if (started) void gh!.reload();
    else reloadAtStart = true;
  });
  // SIGUSR1 reopens `log.file` after logrotate renamed it (this also keeps Node from starting its inspector on it).
  process.on('SIGUSR1', () => gh?.reopenLogFile());

  try {
    // With a config file whose `workers` is above 1 this process becomes the primary and forks the workers at start.
    gh = createGatehouseIn({ config: file ?? demoConfig(ctx.env), env: ctx.env }, (config) => {
      const count = file === undefined ? 1 : workerCount(config);
      return count > 1 ? { kind: 'primary', count } : undefined;
    });
    await gh.start();
  } catch (err) {
    // Whatever was half set up (a watcher, a timer) must not keep a failed start alive.
    process.exit(reportError(err));
  }
  started = true;
  if (stopping) {
    shutdown();
    return 0;
  }
  if (reloadAtStart) void gh.reload();
  if (file === undefined) {
    const web = gh.addresses()['web'];
    process.stderr.write(`gatehouse: running the embedded demo config. Open http://localhost:${web?.port ?? 8080}/\n`);
  }
  return 0;
}
