// The runner's child processes: started pinned to a core, awaited until they accept, measured by CPU time from
// /proc, and stopped by PID. Every child is tracked so `stopAll` (on error, Ctrl-C or the end) leaves none behind.
import { spawn, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The repository root: every child runs there, so relative paths in configs and scripts resolve alike. */
/** node's flags for gatehouse, as every launcher it ships passes them (README, "Memory"; src/cli/node-flags.test.ts). */
export const GATEHOUSE_NODE_FLAGS = ['--max-semi-space-size=8', '--heap-growing-percent=50'];
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const START_TIMEOUT_MS = 15_000;

/** Whether `taskset` works here; without it nothing is pinned (and the table says so). */
export const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
    return true;
  } catch {
    return false;
  }
})();

/** Every child still running, so the finally block (and signals) can stop each by PID. */
const children = new Set();
/** Every child ever started, to report the stderr of a target that died mid-run. */
const allStarted = new Set();

/**
 * The cores of the load side (load generators and backends, "core 0" below): BENCH_LOAD_CORES, default `0`. The
 * workers rows set `0,1` so that the load generator shares every core with the unpinned proxy (issue 21's layout).
 */
const LOAD_CORES = process.env.BENCH_LOAD_CORES ?? '0';

/** Starts `command args` pinned to `core` (when taskset exists), tracked for `stopAll`; stderr kept (4 KB). */
export function spawnPinned(core, command, args, env = {}) {
  const cmd = hasTaskset ? 'taskset' : command;
  const argv = hasTaskset ? ['-c', core === 0 ? LOAD_CORES : String(core), command, ...args] : args;
  const child = spawn(cmd, argv, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  allStarted.add(child);
  child.on('exit', () => children.delete(child));
  child.stderrText = '';
  child.stderr.on('data', (d) => {
    if (child.stderrText.length < 4000) child.stderrText += d;
  });
  return child;
}

/** Starts a Node script pinned to `core`. */
export function start(core, args, env = {}) {
  return spawnPinned(core, process.execPath, args, env);
}

/** The child with this PID if it has exited, to report why a target stopped answering. */
export function exited(pid) {
  const proc = [...allStarted].find((c) => c.pid === pid);
  return proc && proc.exitCode !== null ? proc : undefined;
}

/** Resolves with the port of the child's `listening <port>` line. */
export function waitListening(child, timeoutMs = START_TIMEOUT_MS) {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no "listening" line within ${timeoutMs} ms: ${child.stderrText}`)), timeoutMs);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout.resume();
        resolve(Number(m[1]));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before listening: ${child.stderrText}`));
    });
  });
}

/** A port that was free a moment ago (gatehouse takes its ports from the config, not from port 0). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Polls until something accepts on the port (for gatehouse, which logs JSON rather than our line). */
export async function waitPort(port, child, timeoutMs = START_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}: ${child.stderrText}`);
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return port;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`port ${port} not open within ${timeoutMs} ms`);
}

/** SIGTERM, then SIGKILL after 2 s; resolves once the child has exited. */
export function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    child.once('exit', () => (clearTimeout(timer), resolve()));
    child.kill('SIGTERM');
  });
}

/** Stops every child still running, except those whose PID is in `keep` (the backends between suites). */
export function stopAll({ keep = new Set() } = {}) {
  return Promise.all([...children].filter((c) => !keep.has(c.pid)).map(stop));
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * CPU time (user + system) of a process and its descendants in seconds, from /proc; undefined where /proc is absent.
 * Descendants count for nginx, whose master idles while its worker process serves (a Node target has none).
 */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    let total = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    for (const child of childPids(pid)) total += cpuSeconds(child) ?? 0;
    return total;
  } catch {
    return undefined;
  }
}

/** The PIDs of a process's children (every thread's list: /proc/PID/task/TID/children). */
function childPids(pid) {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
      try {
        return readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
      } catch {
        return [];
      }
    });
  } catch {
    return [];
  }
}

/**
 * `perf record -g` of a process and its children (nginx's worker) into `file` until `stop()` (SIGINT, which makes
 * perf write the file); not pinned, so it does not compete with the target for core 1.
 */
export function perfRecord(pid, file) {
  const child = spawn('perf', ['record', '-g', '-q', '-o', file, '-p', [pid, ...childPids(pid)].join(',')], { cwd: root, stdio: 'ignore' });
  children.add(child);
  child.on('exit', () => children.delete(child));
  child.on('error', () => children.delete(child)); // perf not installed: no profile, the run goes on
  return {
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.pid === undefined) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => (clearTimeout(timer), resolve()));
        child.kill('SIGINT');
      }),
  };
}
