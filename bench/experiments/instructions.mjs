// Instructions per request of a forwarder, counted by valgrind (callgrind): deterministic where CPU time on a shared
// VM swings ±30 %. The target runs under callgrind (all its threads: main, libuv pool); the backend runs natively; a
// fixed number of requests is sent after a warm-up (so the JIT has settled), counters zeroed before and dumped
// after, and the total divided by the request count. Absolute figures are valgrind's (JIT code is counted as
// executed); compare variants, not milliseconds.
// Usage: node bench/experiments/instructions.mjs <variant>... where a variant is one of the names below.
//   env: REQUESTS (default 2000), WARMUP (default 3000), ROUNDS (1: measured rounds of REQUESTS each, in one process), URL_PATH (/small), CONNECTIONS (10), TOP (0: top functions),
//   CORE (1: the core the target is pinned to; instruction counts do not depend on it, so two runs can go side by side),
//   START_TIMEOUT_MS (300000: valgrind starts slowly on a busy machine), DIST (dist: where gatehouse's build is), KEEP (a directory: callgrind files are copied there for callgrind_annotate)
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Pool } from 'undici';
import { freePort, root, startNode, stop, withChildren } from './harness.mjs';

const requests = Number(process.env.REQUESTS ?? 2000);
const warmup = Number(process.env.WARMUP ?? 3000);
const urlPath = process.env.URL_PATH ?? '/small';
const connections = Number(process.env.CONNECTIONS ?? 10);
const top = Number(process.env.TOP ?? 0);
const rounds = Number(process.env.ROUNDS ?? 1);

/** Variant name → how to start it: node arguments and environment (PORT given). */
const variants = {
  'bare-undici': (backend) => ({ args: ['bench/bare-undici.mjs'], env: { TARGET: backend } }),
  'bare-http-proxy': (backend) => ({ args: ['bench/bare-http-proxy.mjs'], env: { TARGET: backend } }),
  'upstream-only': (backend) => ({ args: ['bench/upstream-only.mjs'], env: { TARGET: backend } }),
  gatehouse: (backend, port) => gatehouse(backend, port, 'info'),
  'gatehouse-nolog': (backend, port) => gatehouse(backend, port, 'warn'),
};
for (const file of readdirSync(path.join(root, 'bench/experiments')).filter((f) => f.startsWith('forwarder-') && f.endsWith('.mjs'))) {
  variants[file.slice(0, -4)] = (backend) => ({ args: [`bench/experiments/${file}`], env: { TARGET: backend } });
}

function gatehouse(backend, port, level) {
  return {
    // DIST=.bench/dist (snapshot-dist.sh) measures a private build, safe from other work in progress in dist/
    args: [`${process.env.DIST ?? 'dist'}/cli/main.js`, 'start', '--config', 'bench/gatehouse.json'],
    // Under valgrind a connect can wait seconds for the main thread (its threads run one at a time): past the default
    // 5 s the request would be a 502 and the run lost.
    env: { GATEHOUSE_BENCH_PORT: String(port), GATEHOUSE_BENCH_BACKEND: backend, GATEHOUSE_LOG_LEVEL: level, GATEHOUSE_BENCH_CONNECT_TIMEOUT: '120s' },
    port,
  };
}

/** Send `n` GET requests over `connections` keep-alive connections, reading every body. */
async function send(url, n) {
  const pool = new Pool(url, { connections, pipelining: 1, headersTimeout: 120_000, bodyTimeout: 120_000 });
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const { statusCode, body } = await pool.request({ path: urlPath, method: 'GET' });
      for await (const _ of body);
      if (statusCode !== 200) throw new Error(`status ${statusCode}`);
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  await pool.close();
}

function totalIr(file) {
  const text = readFileSync(file, 'utf8');
  const m = /^(?:summary|totals):\s+(\d+)/m.exec(text);
  return Number(m[1]);
}

/**
 * The main thread's share (node::SpinEventLoopInternal, inclusive): the per-request work. The rest is other threads
 * (libuv pool, GC helpers, the optimizing compiler), whose work lands in a window in steps (a major GC, a recompile),
 * so two runs of one build differ there far more than on the main thread.
 */
function mainThreadIr(file) {
  const text = execFileSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', file], { maxBuffer: 1 << 26 }).toString();
  const m = /^\s*([\d,]+) .*node::SpinEventLoopInternal/m.exec(text);
  return m ? Number(m[1].replaceAll(',', '')) : NaN;
}

async function one(name, backend, dir) {
  const port = await freePort();
  const spec = variants[name](backend, port);
  const out = path.join(dir, `${name}.cg`);
  // Under valgrind the node process is the grandchild of taskset; startNode tracks valgrind's PID, which is node's.
  const target = await startNode(Number(process.env.CORE ?? 1), spec.args, {
    env: spec.env,
    stdout: spec.port === undefined ? 'pipe' : 'null',
    port: spec.port,
    wrapper: ['valgrind', '--tool=callgrind', `--callgrind-out-file=${out}`, '--dump-instr=no', '--smc-check=all-non-file'],
    startTimeoutMs: Number(process.env.START_TIMEOUT_MS ?? 300_000),
    // e.g. NODE_ARGS="--min-semi-space-size=16 --max-semi-space-size=16": a fixed young generation, so the number of
    // scavenges per request does not drift between runs (it moved totals by ±4 k instructions per request)
    nodeArgs: (process.env.NODE_ARGS ?? '').split(' ').filter(Boolean),
  });
  await send(target.url, warmup);
  // Several measured rounds in one process: a JIT still settling shows as falling figures (the last one is reported).
  const figures = [];
  const main = [];
  let file;
  const t0 = Date.now();
  for (let round = 1; round <= rounds; round++) {
    execFileSync('callgrind_control', ['-z', String(target.pid)], { stdio: 'ignore' });
    await send(target.url, requests);
    execFileSync('callgrind_control', ['-d', String(target.pid)], { stdio: 'ignore' });
    const part = (f) => Number(f.slice(f.lastIndexOf('.') + 1));
    const dumps = readdirSync(dir).filter((f) => f.startsWith(`${name}.cg.`)).sort((a, b) => part(a) - part(b));
    file = path.join(dir, dumps.at(-1));
    figures.push(totalIr(file) / requests);
    main.push(mainThreadIr(file) / requests);
  }
  if (process.env.KEEP) {
    mkdirSync(process.env.KEEP, { recursive: true });
    copyFileSync(file, path.join(process.env.KEEP, `${name}.cg`));
  }
  const k = (ir) => `${(ir / 1000).toFixed(1)} k`;
  console.log(`| ${name} | ${urlPath} | ${requests} | ${k(figures.at(-1))} | ${figures.map(k).join(', ')} | ${k(main.at(-1))} | ${main.map(k).join(', ')} | ${((Date.now() - t0) / 1000).toFixed(1)} s |`);
  if (top) console.error(execFileSync('callgrind_annotate', ['--inclusive=no', '--threshold=100', file], { maxBuffer: 1 << 26 }).toString().split('\n').slice(0, top + 25).join('\n'));
  await stop(target.child, 10_000);
  return figures.at(-1);
}

await withChildren(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-cg-'));
  try {
    const backend = (await startNode(0, ['bench/backend.mjs'])).url;
    console.log('| variant | path | requests | instructions/request (last round) | rounds | main thread (last round) | main thread rounds | wall |');
    console.log('|---|---|---|---|---|---|---|---|');
    const names = process.argv.slice(2);
    for (const name of names.length ? names : ['bare-undici', 'gatehouse-nolog', 'gatehouse']) {
      if (!variants[name]) throw new Error(`unknown variant ${name}; known: ${Object.keys(variants).join(', ')}`);
      await one(name, backend, dir);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
