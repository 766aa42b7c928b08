// CLI start-up time (issue 15): `npm run build && npm run bench:startup`. Median and spread of 10 runs (RUNS) of
//   version:   `node dist/cli/main.js version`, exec to exit (wall time);
//   start:     `node dist/cli/main.js start FILE` on a plain HTTP config, exec to the entry point accepting a TCP
//              connection (the port is poll-connected every 2 ms, bounded by 10 s); the process is then stopped by PID;
//   health:    `node dist/cli/main.js health FILE` against that running instance, exec to exit;
//   and the floor: `node empty.mjs`, what Node itself costs here (NODE_EXTRA_CA_CERTS, when set, adds to it).
// Env: RUNS (10), BENCH_DIST (another build, e.g. `.bench/x/dist`), NODE_ARGS (extra node flags, space-separated).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const mainJs = path.resolve(root, process.env.BENCH_DIST ?? 'dist', 'cli/main.js');
const runs = Number(process.env.RUNS ?? 10);
const nodeArgs = (process.env.NODE_ARGS ?? '').split(' ').filter(Boolean);
const LISTEN_TIMEOUT_MS = 10_000;

const children = new Set();
const stopAll = () => {
  for (const c of children) {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
};
process.on('exit', stopAll);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

function run(args, env = {}, script = mainJs) {
  const child = spawn(process.execPath, [...nodeArgs, script, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on('exit', (code) => (children.delete(child), resolve({ code, stderr }))));
  return { child, exited };
}

/** Wall time of a command that ends on its own; rejects on a non-zero exit. */
async function timeExit(args, script = mainJs) {
  const t0 = performance.now();
  const { exited } = run(args, {}, script);
  const { code, stderr } = await exited;
  const ms = performance.now() - t0;
  if (code !== 0) throw new Error(`gatehouse ${args.join(' ')} exited ${code}: ${stderr}`);
  return ms;
}

function connects(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.once('error', reject);
  });
}

/** Starts `start FILE`, resolves with the ms from exec to a TCP connect succeeding, and the running child. */
async function timeListening(file, port, stateDir) {
  const t0 = performance.now();
  const proc = run(['start', '--config', file], { GATEHOUSE_LOG_LEVEL: 'silent', GATEHOUSE_STATE_DIR: stateDir });
  let gone;
  void proc.exited.then((r) => (gone = r));
  while (!(await connects(port))) {
    if (gone) throw new Error(`gatehouse exited ${gone.code} before listening: ${gone.stderr}`);
    if (performance.now() - t0 > LISTEN_TIMEOUT_MS) throw new Error(`not listening on ${port} within ${LISTEN_TIMEOUT_MS} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
  return { ms: performance.now() - t0, proc };
}

async function stop(proc) {
  process.kill(proc.child.pid, 'SIGTERM');
  await proc.exited;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-startup-'));
try {
  const port = await freePort();
  const file = path.join(dir, 'plain.json');
  writeFileSync(
    file,
    JSON.stringify({ entryPoints: { web: { address: `127.0.0.1:${port}` } }, http: { routers: { r: { rule: 'PathPrefix(`/`)', respond: { body: 'ok\n' } } } } }),
  );
  const stateDir = path.join(dir, 'state');
  const empty = path.join(dir, 'empty.mjs');
  writeFileSync(empty, '');
  const rows = { 'node, empty script (the floor)': [], version: [], 'start → listening': [], health: [] };
  await timeExit(['version']); // warm the file cache once, not measured
  for (let i = 0; i < runs; i++) {
    rows['node, empty script (the floor)'].push(await timeExit([], empty));
    rows.version.push(await timeExit(['version']));
  }
  let healthWorks = true;
  for (let i = 0; i < runs; i++) {
    const { ms, proc } = await timeListening(file, port, stateDir);
    rows['start → listening'].push(ms);
    if (healthWorks) {
      // Builds without a `health` command (before issue 15) exit 2: the row then stays empty.
      const t0 = performance.now();
      const { code } = await run(['health', '--config', file], { GATEHOUSE_STATE_DIR: stateDir }).exited;
      if (code === 0) rows.health.push(performance.now() - t0);
      else healthWorks = false;
    }
    await stop(proc);
  }
  console.log(`gatehouse CLI start-up, ${runs} runs each (${path.relative(root, mainJs)}, node ${process.version})`);
  console.log('| measure | median ms | min ms | max ms |');
  console.log('|---|---|---|---|');
  for (const [name, xs] of Object.entries(rows)) {
    if (xs.length === 0) console.log(`| ${name} | n/a | | |`);
    else console.log(`| ${name} | ${median(xs).toFixed(0)} | ${Math.min(...xs).toFixed(0)} | ${Math.max(...xs).toFixed(0)} |`);
  }
} finally {
  stopAll();
  rmSync(dir, { recursive: true, force: true });
}
