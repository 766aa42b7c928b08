/**
 * Docker for the container test: a bounded `docker` CLI runner, a daemon (started here when none answers and this
 * process may install and start one, stopped again at the end only if it was started here), and a record of every
 * container the test creates so that `removeContainers()` removes them by name, also after a failure.
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureAptTools, onPath } from './apt.js';

/** The outcome of a command that ran to its end (or was killed at its time limit: `timedOut`). */
export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs `file args`, killed after `timeoutMs`; never rejects (a command that cannot start gives code null). */
export function run(file: string, args: readonly string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, env: options.env ?? process.env, cwd: options.cwd },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean }) | null;
        const code = e === null ? 0 : typeof e.code === 'number' ? e.code : null;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) + (e !== null && typeof e.code === 'string' ? `\n${e.message}` : ''), timedOut: e?.killed === true });
      },
    );
  });
}

/** `docker ARGS`, bounded; never rejects. */
export function docker(args: readonly string[], timeoutMs = 60_000): Promise<RunResult> {
  return run('docker', args, { timeoutMs });
}

/** `docker ARGS`, bounded; resolves with stdout (trimmed), rejects with the command and its stderr otherwise. */
export async function dockerOk(args: readonly string[], timeoutMs = 60_000): Promise<string> {
  const r = await docker(args, timeoutMs);
  if (r.code !== 0) {
    const why = r.timedOut ? `timed out after ${timeoutMs} ms` : `exit ${r.code}`;
    throw new Error(`docker ${args.join(' ')}: ${why}: ${(r.stderr || r.stdout).trim().slice(-4000)}`);
  }
  return r.stdout.trim();
}

/** Polls `probe` until it returns a value other than undefined; rejects with `what` and the last state after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `; last error: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** What ensureDocker() found or did. */
export interface DockerDaemon {
  /** True when this process started dockerd (and stopDocker() will stop it). */
  readonly startedHere: boolean;
  /** Server version, for the test log. */
  readonly version: string;
}

let ownDaemon: { pid: number; log: string; dir: string } | undefined;

const HOW_TO_ENABLE =
  'the container test needs a Docker daemon: install it (sudo apt-get install -y docker.io) and start it ' +
  '(sudo systemctl start docker, or sudo dockerd &), or run the test as root so it can do both itself';

async function daemonVersion(): Promise<string | undefined> {
  const r = await docker(['version', '--format', '{{.Server.Version}}'], 15_000);
  return r.code === 0 && r.stdout.trim() !== '' ? r.stdout.trim() : undefined;
}

/**
 * A Docker daemon that answers. When none does and this process is root with apt-get: installs docker.io if
 * dockerd is missing and starts dockerd in the background (its log in a temp file). Otherwise throws, saying how to
 * enable Docker: this test never skips silently.
 */
export async function ensureDocker(): Promise<DockerDaemon> {
  const running = await daemonVersion();
  if (running !== undefined) return { startedHere: false, version: running };

  const root = process.getuid?.() === 0;
  const apt = onPath('apt-get');
  if (!root || !apt) throw new Error(`no Docker daemon answers (docker version failed) and this is ${root ? 'not a system with apt-get' : 'not root'}: ${HOW_TO_ENABLE}`);

  ensureAptTools({
    what: 'dockerd',
    packages: ['docker.io'],
    present: () => onPath('dockerd') && onPath('docker'),
    timeoutMs: 600_000,
    note: 'then start it: sudo systemctl start docker, or sudo dockerd &',
  });

  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-dockerd-'));
  const log = join(dir, 'dockerd.log');
  const fd = openSync(log, 'a');
  const child = spawn('dockerd', [], { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`dockerd did not start: ${HOW_TO_ENABLE}`);
  ownDaemon = { pid: child.pid, log, dir };
  child.unref();
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `dockerd exited (${signal ?? `code ${code}`})`;
  });
  try {
    const version = await waitFor(
      'dockerd to answer',
      async () => {
        if (exited !== undefined) throw new Error(exited);
        return daemonVersion();
      },
      60_000,
      500,
    );
    return { startedHere: true, version };
  } catch (err) {
    const tail = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').slice(-15).join('\n') : '';
    await stopDocker();
    throw new Error(`dockerd was started but does not answer: ${(err as Error).message}\n${tail}\n${HOW_TO_ENABLE}`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops the dockerd this process started (by its PID: SIGTERM, SIGKILL after 30 s) and removes its log; no-op otherwise. */
export async function stopDocker(): Promise<void> {
  if (ownDaemon === undefined) return;
  const { pid, dir } = ownDaemon;
  ownDaemon = undefined;
  try {
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 30_000;
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
  await rm(dir, { recursive: true, force: true });
}

// A worker that exits without its afterAll must not leave a daemon behind.
process.once('exit', () => {
  if (ownDaemon !== undefined) {
    try {
      process.kill(ownDaemon.pid, 'SIGTERM');
    } catch {
      // gone
    }
  }
});

const containers = new Set<string>();

/** A container name unique to this test process, recorded for removeContainers(). */
export function containerName(label: string): string {
  const name = `gatehouse-test-${process.pid}-${label}`;
  containers.add(name);
  return name;
}

/** Removes (docker rm -f) every container named by containerName(), bounded; ignores ones already gone. */
export async function removeContainers(): Promise<void> {
  const names = [...containers];
  containers.clear();
  if (names.length > 0) await docker(['rm', '-f', ...names], 60_000);
}

/** The host port Docker published for `containerPort` (e.g. "8080/tcp") of a running container. */
export async function publishedPort(container: string, containerPort: string): Promise<number> {
  const out = await dockerOk(['port', container, containerPort], 15_000);
  const m = /:(\d+)\s*$/m.exec(out.split('\n')[0] ?? '');
  if (!m) throw new Error(`docker port ${container} ${containerPort}: unexpected answer ${JSON.stringify(out)}`);
  return Number(m[1]);
}

/**
 * The IPv4 address of the default bridge on this host (docker0), where containers reach the host: the bridge
 * network's gateway, or (the default bridge often lists only its subnet) docker0's own address.
 */
export async function bridgeGateway(): Promise<string> {
  const out = await dockerOk(['network', 'inspect', 'bridge', '--format', '{{range .IPAM.Config}}{{.Gateway}} {{end}}{{index .Options "com.docker.network.bridge.name"}}'], 15_000);
  const words = out.split(/\s+/).filter((w) => w !== '');
  const gateway = words.find((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a));
  if (gateway !== undefined) return gateway;
  const ifname = words.find((w) => !/^\d/.test(w)) ?? 'docker0';
  // Not os.networkInterfaces(): libuv leaves out an interface without carrier, as docker0 is with no container.
  const ip = await run('ip', ['-4', '-o', 'addr', 'show', 'dev', ifname], { timeoutMs: 5_000 });
  const address = /\binet (\d+\.\d+\.\d+\.\d+)\//.exec(ip.stdout)?.[1];
  if (address === undefined) throw new Error(`the bridge network has no IPv4 gateway (${JSON.stringify(out)}) and ${ifname} no IPv4 address`);
  return address;
}
