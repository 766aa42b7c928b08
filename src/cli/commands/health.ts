/**
 * `gatehouse health [FILE]`, for a container HEALTHCHECK run every few seconds, so it loads little: the running
 * instance of FILE must answer `{"command":"health"}` on its control socket (src/control.ts) with its bound entry
 * points, and each must accept a TCP connection. Without a config file, the embedded demo's entry point is checked
 * (127.0.0.1:8080, or GATEHOUSE_DEMO_ADDRESS). Exit 0, or 1 with one line saying what failed.
 */
import { connect } from 'node:net';
import { parseListenAddress } from '../../edge/address.js';
import { CliError } from '../cli-error.js';
import { demoAddress } from '../demo-config.js';
import type { CommandContext } from '../usage.js';

/** How long one entry point may take to accept a connection. */
const CONNECT_TIMEOUT_MS = 2_000;
/** How long the instance may take to answer on its control socket (its client waits minutes for a renewal). */
const ANSWER_TIMEOUT_MS = 5_000;

/** What the instance's `health` command answers. */
interface HealthData {
  readonly configFile?: string;
  /** `protocol: 'udp'` marks a UDP entry point: bound is all there is to check (a datagram gets no answer of ours). */
  readonly entryPoints: Record<string, { address: string; port: number; protocol?: 'udp' }>;
}

/** Checks the instance; resolves 0 when healthy, throws a CliError (exit 1) saying what failed otherwise. */
export async function runHealth(ctx: CommandContext): Promise<number> {
  const label = ctx.file ?? 'the embedded demo';
  const entryPoints = ctx.file === undefined ? demoEntryPoints(ctx.env) : await askInstance(ctx.file, ctx.env);
  const names = Object.keys(entryPoints);
  if (names.length === 0) throw new CliError(`unhealthy: the instance of ${label} has no entry point listening; see its log`);
  const results = await Promise.all(
    names.map(async (name) => ({ name, ...entryPoints[name]!, failure: entryPoints[name]!.protocol === 'udp' ? undefined : await tryHosts(connectHosts(entryPoints[name]!.address), entryPoints[name]!.port) })),
  );
  const failed = results.filter((r) => r.failure !== undefined);
  if (failed.length > 0) {
    const what = failed.map((r) => `${r.name} (${connectHosts(r.address).map((h) => hostPort(h, r.port)).join(' or ')}): ${r.failure}`).join(', ');
    throw new CliError(`unhealthy: ${label}: entry point${failed.length > 1 ? 's' : ''} not accepting connections: ${what}; see the instance's log`);
  }
  process.stdout.write(`${label}: healthy (${results.map((r) => `${r.name} ${hostPort(connectHosts(r.address)[0]!, r.port)}`).join(', ')})\n`);
  return 0;
}

/** The bound entry points, from the instance's control socket; loads the control client only on this path. */
async function askInstance(file: string, env: NodeJS.ProcessEnv): Promise<HealthData['entryPoints']> {
  const { controlFor } = await import('../state-dir.js');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new CliError(`unhealthy: the instance of ${file} did not answer on its control socket within ${ANSWER_TIMEOUT_MS / 1000} s; see its log`)), ANSWER_TIMEOUT_MS);
  });
  let answer;
  try {
    answer = await Promise.race([controlFor(file, { command: 'health' }, env), timeout]);
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`unhealthy: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
  if (!answer.ok) throw new CliError(`unhealthy: the instance of ${file} answered: ${answer.error ?? 'not ok'}; see its log`);
  const data = answer.data as HealthData | undefined;
  if (!data || typeof data.entryPoints !== 'object') throw new CliError(`unhealthy: the instance of ${file} gave no entry points; is it an older gatehouse without the health command?`);
  return data.entryPoints;
}

function demoEntryPoints(env: NodeJS.ProcessEnv): HealthData['entryPoints'] {
  const { host, port } = parseListenAddress(demoAddress(env), 'web');
  return { web: { address: host ?? '127.0.0.1', port } };
}

/** Where to connect for a bound address: the wildcard addresses are reached on loopback. */
/**
 * Where to connect to reach an entry point bound to `address`: loopback for a wildcard. `::` is tried on 127.0.0.1
 * first (a dual-stack listener takes IPv4 too, and a container often has no IPv6 loopback at all: `::1` fails there
 * with EADDRNOTAVAIL), then on `::1` (an IPv6-only listener).
 */
function connectHosts(address: string): string[] {
  if (address === '' || address === '0.0.0.0') return ['127.0.0.1'];
  if (address === '::' || address === '[::]') return ['127.0.0.1', '::1'];
  return [address];
}

/** Undefined when one of `hosts` accepts a connection on `port` (tried in order), else why the last did not. */
async function tryHosts(hosts: readonly string[], port: number): Promise<string | undefined> {
  let failure: string | undefined;
  for (const host of hosts) {
    failure = await tryConnect(host, port);
    if (failure === undefined) return undefined;
  }
  return failure;
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Undefined when a TCP connection to host:port opens within the bound, else why not. */
function tryConnect(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => {
      socket.destroy();
      resolve(`no connection within ${CONNECT_TIMEOUT_MS / 1000} s`);
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}
