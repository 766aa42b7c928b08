// Shared pieces of the experiments in this folder: start a process pinned to a core, load it with wrk on core 0,
// and read its CPU time from /proc. Every experiment reports proxy CPU µs per request (user + system time of the
// proxy process over the run, divided by the requests wrk completed): on a shared 2-core VM req/s swings ±30 %
// between identical runs, CPU per request far less.
import { spawn, execFileSync } from 'node:child_process';
import { openSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const START_TIMEOUT_MS = 15_000;
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** Every child started here, so stopAll can stop each by PID. */
const children = new Set();

/**
 * Start `node ...args` pinned to `core`. stdout: 'pipe' (read and discarded by this process, like bench/run.mjs),
 * 'null' (/dev/null) or a file path. Resolves once the port answers (or a `listening N` line appears).
 */
export async function startNode(core, args, { env = {}, stdout = 'pipe', port, nodeArgs = [], wrapper = [], startTimeoutMs = START_TIMEOUT_MS } = {}) {
  const out = stdout === 'pipe' ? 'pipe' : openSync(stdout === 'null' ? '/dev/null' : stdout, 'w');
  const child = spawn('taskset', ['-c', String(core), ...wrapper, process.execPath, ...nodeArgs, ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', out, 'pipe'],
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  child.stderrText = '';
  child.stderr.on('data', (d) => {
    if (child.stderrText.length < 4000) child.stderrText += d;
  });
  if (port === undefined) {
    if (stdout !== 'pipe') throw new Error('a script that prints its port needs stdout "pipe"');
    port = await new Promise((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error(`no listening line: ${child.stderrText}`)), startTimeoutMs);
      child.stdout.on('data', (d) => {
        text += d;
        const m = /listening (\d+)/.exec(text);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${child.stderrText}`)));
    });
  } else {
    await waitPort(port, child, startTimeoutMs);
  }
  if (stdout === 'pipe') child.stdout.resume();
  return { child, pid: child.pid, url: `http://127.0.0.1:${port}` };
}

async function waitPort(port, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${child.stderrText}`);
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`port ${port} not open`);
}

/** A free loopback port. */
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

/** CPU seconds (user + system) of a process so far. */
export function cpuSeconds(pid) {
  const { user, sys } = cpuSplit(pid);
  return user + sys;
}

/** User and system CPU seconds of a process (all threads), and its context switches (all threads). */
export function cpuSplit(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  let switches = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    switches += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    switches += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  }
  return { user: Number(f[11]) / CLOCK_TICKS, sys: Number(f[12]) / CLOCK_TICKS, switches };
}

/** One wrk run on core 0: requests completed and req/s. */
export function wrk(url, seconds, connections = 50) {
  const child = spawn('taskset', ['-c', '0', 'wrk', '-t1', `-c${connections}`, `-d${seconds}s`, url], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 20) * 1000);
    child.on('exit', () => {
      clearTimeout(timer);
      const total = Number(/(\d+) requests in/.exec(out)?.[1]);
      if (!Number.isFinite(total)) return reject(new Error(`wrk: ${out}`));
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
      resolve({ total, rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]), non2xx });
    });
  });
}

/** Syscalls counted per request when PERF_SYSCALLS=1 (perf's tracepoints work on this VM; its hardware counters do not). */
export const SYSCALLS = ['read', 'write', 'writev', 'epoll_wait', 'epoll_ctl', 'futex'];

/** Count `events` of process `pid` for `seconds` with perf stat; resolves to { event: count } ({} without perf). */
function perfStat(pid, events, seconds) {
  const child = spawn('perf', ['stat', '-x', ',', '-p', String(pid), '-e', events.join(','), '--', 'sleep', String(seconds)], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return new Promise((resolve) => {
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', () => {
      const counts = {};
      for (const line of err.split('\n')) {
        const f = line.split(',');
        if (f.length > 2 && /^\d+$/.test(f[0])) counts[f[2]] = Number(f[0]);
      }
      resolve(counts);
    });
  });
}

/** Load `target` for `seconds` after a warm-up; returns req/s and the target's CPU µs per request. */
export async function measure(target, urlPath, seconds, warmup = 1) {
  if (warmup) await wrk(target.url + urlPath, warmup);
  const c0 = cpuSplit(target.pid);
  const events = process.env.PERF_SYSCALLS ? SYSCALLS.map((s) => `syscalls:sys_enter_${s}`) : [];
  const [r, counts] = await Promise.all([wrk(target.url + urlPath, seconds), events.length ? perfStat(target.pid, events, seconds) : {}]);
  const c1 = cpuSplit(target.pid);
  if (r.non2xx) throw new Error(`${r.non2xx} non-2xx responses from ${target.url}`);
  const per = (k, scale) => (scale * (c1[k] - c0[k])) / r.total;
  // perf counts over its own `seconds`, wrk over its run: close enough to divide by wrk's requests per second
  const syscalls = Object.fromEntries(Object.entries(counts).map(([k, v]) => [k.replace('syscalls:sys_enter_', ''), v / seconds / r.rps]));
  return { rps: r.rps, cpuUs: per('user', 1e6) + per('sys', 1e6), userUs: per('user', 1e6), sysUs: per('sys', 1e6), switches: per('switches', 1), syscalls };
}

/**
 * Measure every variant in interleaved rounds (a slow spell of the shared machine spreads over all of them) and
 * print, per variant, the median CPU µs/request and best req/s.
 */
export async function compare(variants, { urlPath, seconds = 4, rounds = 3 }) {
  const rows = new Map(variants.map((v) => [v.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const v of variants) {
      const m = await measure(v.target, urlPath, seconds);
      rows.get(v.name).push(m);
      console.error(`  round ${round + 1} ${v.name} ${urlPath}: ${Math.round(m.rps)} req/s, ${m.cpuUs.toFixed(1)} µs/req (user ${m.userUs.toFixed(1)}, sys ${m.sysUs.toFixed(1)}), ${m.switches.toFixed(2)} switches/req`);
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
  console.log(`| variant | path | median CPU µs/req | user | sys | all rounds µs/req | switches/req | best req/s |`);
  console.log(`|---|---|---|---|---|---|---|---|`);
  for (const [name, ms] of rows) {
    const med = (k, d) => median(ms.map((m) => m[k])).toFixed(d);
    const sys = Object.keys(ms[0].syscalls).map((k) => `${k} ${median(ms.map((m) => m.syscalls[k])).toFixed(1)}`).join(', ');
    console.log(
      `| ${name} | ${urlPath} | ${med('cpuUs', 1)} | ${med('userUs', 1)} | ${med('sysUs', 1)} | ${ms.map((m) => m.cpuUs.toFixed(0)).join(' ')} | ${med('switches', 2)} | ${Math.round(Math.max(...ms.map((m) => m.rps)))} |${sys ? ` ${sys} |` : ''}`,
    );
  }
}

/** Stop one child by PID: SIGTERM, then SIGKILL after `graceMs`. */
export function stop(child, graceMs = 2000) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => (clearTimeout(timer), resolve()));
    child.kill('SIGTERM');
  });
}

/** Stop every child started here. */
export async function stopAll() {
  await Promise.all([...children].map((child) => stop(child)));
}

/** Run `body`, always stopping every child afterwards (also on Ctrl-C). */
export async function withChildren(body) {
  const onSignal = () => stopAll().then(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await body();
  } catch (err) {
    console.error('experiment failed:', err);
    process.exitCode = 1;
  } finally {
    await stopAll();
  }
}
