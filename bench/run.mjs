// `npm run bench`: forwarders against the same backends, one table per suite of req/s, p50, p99, proxy CPU and
// ratios. Layout: the proxy under test is pinned to core 1 (`taskset -c 1`); backends and load generator share
// core 0. Each piece is its own process, started here and stopped by PID at the end, even on error or Ctrl-C.
// Env: BENCH_SUITE (comma list of http,tls,chain,reload,h2; default all), BENCH_DURATION (s, default 5), BENCH_WARMUP
//      (s, default 1), BENCH_CONNECTIONS (default 50), BENCH_ROUNDS (default 3), BENCH_ONLY (comma list of
//      target names), BENCH_PATHS (http suite: comma list of small,large), BENCH_LOADGEN=autocannon.
import { connections, load, useWrk } from './load.mjs';
import { cpuSeconds, exited, hasTaskset, stopAll } from './processes.mjs';
import { SUITE_NAMES, createContext, missing, startTarget, suites } from './suites.mjs';

const duration = Number(process.env.BENCH_DURATION ?? 5);
const warmup = Number(process.env.BENCH_WARMUP ?? 1);
const only = process.env.BENCH_ONLY?.split(',').filter(Boolean);
const paths = (process.env.BENCH_PATHS ?? 'small,large').split(',').filter(Boolean);
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
// `reload` and `h2` are their own scripts (bench/reload.mjs: reload latency, throughput during reloads; bench/h2.mjs:
// HTTP/2 to clients as a ratio to HTTP/1.1, with h2load), run last.
const SCRIPTS = ['reload', 'h2'];
const requested = (process.env.BENCH_SUITE ?? [...SUITE_NAMES, ...SCRIPTS].join(',')).split(',').filter(Boolean);
for (const name of requested) if (!SUITE_NAMES.includes(name) && !SCRIPTS.includes(name)) throw new Error(`BENCH_SUITE: unknown suite ${name} (known: ${[...SUITE_NAMES, ...SCRIPTS].join(', ')})`);
const suiteNames = requested.filter((n) => !SCRIPTS.includes(n));

const allSuites = suites(paths);
/** Per suite in the order run: { name, suite, results } where a result is a measured row or { target, skipped }. */
const tables = [];

/** One measurement: `seconds` of load on one URL, with the proxy's CPU time over the same span. */
async function measure(url, headers, pid) {
  if (warmup > 0) await load(url, warmup, headers);
  const cpu0 = pid && cpuSeconds(pid);
  const r = await load(url, duration, headers);
  const cpu1 = pid && cpuSeconds(pid);
  // Proxy CPU per request: the fair measure when the load generator, not the proxy, is the bottleneck.
  const cpu = cpu0 !== undefined && cpu1 !== undefined && r.requests.total ? cpu1 - cpu0 : undefined;
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts + r.non2xx,
    cpuPct: cpu === undefined ? undefined : (100 * cpu) / r.duration,
    cpuUs: cpu === undefined ? undefined : (1e6 * cpu) / r.requests.total,
  };
}

async function runSuite(name, ctx) {
  const suite = allSuites[name];
  const results = [];
  tables.push({ name, suite, results });
  const rowsWanted = suite.rows.filter((row) => !only || only.includes(row.target));
  // Start every target once, then measure in rounds, targets interleaved, so a slow spell of a shared machine
  // spreads over all of them instead of landing on one.
  const started = new Map(); // target → { url, pid } or { skipped }
  for (const { target } of rowsWanted) {
    if (started.has(target)) continue;
    const skipped = missing(target);
    if (skipped) started.set(target, { skipped });
    else {
      try {
        started.set(target, await startTarget(target, ctx));
      } catch (err) {
        started.set(target, { skipped: `skipped: failed to start (${String(err.message).split('\n')[0]})` });
      }
    }
  }
  for (const [target, s] of started) if (s.skipped) results.push({ target, skipped: s.skipped });
  const rows = rowsWanted.filter((row) => !started.get(row.target).skipped);
  const keyOf = (row) => `${started.get(row.target).url}${row.workload.path} ${row.workload.headers.join('|')}`;
  const runs = new Map(); // measurement key → rounds
  for (let round = 1; round <= rounds; round++) {
    for (const row of rows) {
      const key = keyOf(row);
      if ((runs.get(key)?.length ?? 0) >= round) continue; // the same URL and headers under another workload
      const target = started.get(row.target);
      const m = await measure(`${target.url}${row.workload.path}`, row.workload.headers, target.pid);
      if (!runs.has(key)) runs.set(key, []);
      runs.get(key).push(m);
      console.error(`  ${name} round ${round}: ${row.target} ${row.workload.name}: ${Math.round(m.rps)} req/s${m.cpuUs ? `, ${Math.round(m.cpuUs)} µs/req` : ''}`);
      const proc = target.pid && exited(target.pid);
      if (proc) console.error(`  ${row.target} exited with ${proc.exitCode}: ${proc.stderrText}`);
    }
  }
  // The best round of each: on a shared machine a neighbour only ever slows a run down, so the fastest round is
  // the closest to the undisturbed figure (the median is printed too, to show the spread).
  for (const row of rows) {
    const rs = runs.get(keyOf(row));
    const sorted = [...rs].sort((x, y) => x.rps - y.rps);
    const median = sorted[Math.floor((sorted.length - 1) / 2)].rps;
    results.push({ ...sorted[sorted.length - 1], target: row.target, workload: row.workload, median, rounds: rs.map((r) => Math.round(r.rps)), all: rs });
  }
  await stopAll({ keep: ctx.backendPids() });
  ctx.endSuite();
}

function printTable({ suite, results }) {
  const find = (target, workload) => results.find((r) => r.target === target && r.workload === workload);
  const ratio = (r, col) => {
    const b = find(col.base(r), r.workload);
    if (!b) return '-';
    if (col.cpu) return r.cpuUs && b.cpuUs ? (r.cpuUs / b.cpuUs).toFixed(2) : '-';
    if (col.efficiency) {
      // Round by round (the two ran one after the other), the base's CPU per request ÷ this one's; the median.
      const pairs = r.all.flatMap((m, i) => (m.cpuUs && b.all[i]?.cpuUs ? [b.all[i].cpuUs / m.cpuUs] : [])).sort((x, y) => x - y);
      return pairs.length ? pairs[Math.floor((pairs.length - 1) / 2)].toFixed(2) : '-';
    }
    return b.rps ? (r.rps / b.rps).toFixed(2) : '-';
  };
  const head = ['scenario', suite.workloadHead, 'req/s (best)', 'median', 'rounds', 'p50 ms', 'p99 ms', 'errors', 'proxy CPU %', 'CPU µs/req', ...suite.columns.map((c) => c.head)];
  const fmt = (v, d) => (v === undefined || v === 0 ? '-' : v.toFixed(d));
  const rows = results.map((r) =>
    r.skipped
      ? [r.target, '-', r.skipped]
      : [r.target, r.workload.name, Math.round(r.rps), Math.round(r.median), r.rounds.join(' '), r.p50, r.p99, r.errors, fmt(r.cpuPct, 0), fmt(r.cpuUs, 0), ...suite.columns.map((c) => ratio(r, c))],
  );
  console.log(`\n### ${suite.title}\n`);
  console.log(`| ${head.join(' | ')} |`);
  console.log(`|${head.map(() => '---').join('|')}|`);
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
}

const ctx = createContext();
const onSignal = async () => {
  await stopAll();
  ctx.dispose();
  process.exit(130);
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

try {
  console.error(`suites ${suiteNames.join(',')}; ${rounds} rounds of ${duration}s runs after ${warmup}s warm-up, ${connections} connections; load: ${useWrk ? 'wrk' : 'autocannon'}; taskset: ${hasTaskset}`);
  for (const name of suiteNames) await runSuite(name, ctx);
} catch (err) {
  console.error('bench failed:', err);
  process.exitCode = 1;
} finally {
  await stopAll();
  ctx.dispose();
  for (const t of tables) printTable(t);
}
for (const script of SCRIPTS) {
  if (!requested.includes(script) || process.exitCode) continue;
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(process.execPath, [`bench/${script}.mjs`], { stdio: 'inherit' });
  if (r.status !== 0) process.exitCode = 1;
}
