// `npm run bench`: forwarders against the same backends, one table per suite of req/s, p50, p99, proxy CPU and
// ratios. Layout: the proxy under test is pinned to core 1 (`taskset -c 1`); backends and load generator share
// core 0. Each piece is its own process, started here and stopped by PID at the end, even on error or Ctrl-C.
// Env: BENCH_SUITE (comma list of http,tls,chain,reload,h2,peers; default all but peers), BENCH_DURATION (s, default 5), BENCH_WARMUP
//      (s, default 1), BENCH_CONNECTIONS (default 50), BENCH_ROUNDS (default 3), BENCH_ONLY (comma list of
//      target names), BENCH_PATHS (http suite: comma list of small,large), BENCH_LOADGEN=autocannon, BENCH_BACKEND=nginx
//      (the plain backend as nginx, peers.mjs), BENCH_LOAD_CORES (cores of load generator and backends, default 0),
//      BENCH_DIST_B / BENCH_NODE_FLAGS_B (a twin gatehouse in the peers suite: another build, other node flags).
import { connections, load, useWrk } from './load.mjs';
import { cpuSeconds, exited, hasTaskset, perfRecord, stopAll } from './processes.mjs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { OPT_IN_SUITES, SUITE_NAMES, createContext, missing, startTarget, suites } from './suites.mjs';

const duration = Number(process.env.BENCH_DURATION ?? 5);
const warmup = Number(process.env.BENCH_WARMUP ?? 1);
// BENCH_WARMUP_FIRST: the warm-up of each row's first round (default BENCH_WARMUP). V8 keeps compiling a fresh Node
// target for ~10k requests (TurboFan was 17–21 % of gatehouse's CPU in its first two 5 s rounds of TLS termination on
// a loaded machine, 1 % from the third): a long first warm-up keeps that out of the measured rounds.
const warmupFirst = Number(process.env.BENCH_WARMUP_FIRST ?? warmup);
const only = process.env.BENCH_ONLY?.split(',').filter(Boolean);
const paths = (process.env.BENCH_PATHS ?? 'small,large').split(',').filter(Boolean);
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
// `reload` and `h2` are their own scripts (bench/reload.mjs: reload latency, throughput during reloads; bench/h2.mjs:
// HTTP/2 to clients as a ratio to HTTP/1.1, with h2load), run last.
const SCRIPTS = ['reload', 'h2'];
const requested = (process.env.BENCH_SUITE ?? [...SUITE_NAMES.filter((n) => !OPT_IN_SUITES.includes(n)), ...SCRIPTS].join(',')).split(',').filter(Boolean);
for (const name of requested) if (!SUITE_NAMES.includes(name) && !SCRIPTS.includes(name)) throw new Error(`BENCH_SUITE: unknown suite ${name} (known: ${[...SUITE_NAMES, ...SCRIPTS].join(', ')})`);
const suiteNames = requested.filter((n) => !SCRIPTS.includes(n));

const allSuites = suites(paths);
/** Per suite in the order run: { name, suite, results } where a result is a measured row or { target, skipped }. */
const tables = [];

/** One measurement: `seconds` of load on one URL, with the proxy's CPU time over the same span. */
async function measure(url, headers, pid, handshakes, perfName, warm = warmup) {
  if (warm > 0) await load(url, warm, headers, handshakes);
  // BENCH_PERF_DIR: `perf record -g` of the target (and its children) over the measured run, one file per target,
  // workload and round: native frames (OpenSSL, the kernel, Node's C++) that a V8 --cpu-prof shows as idle.
  const perf = pid && process.env.BENCH_PERF_DIR ? perfRecord(pid, path.join(process.env.BENCH_PERF_DIR, `${perfName}.perf.data`)) : undefined;
  const cpu0 = pid && cpuSeconds(pid);
  const r = await load(url, duration, headers, handshakes);
  const cpu1 = pid && cpuSeconds(pid);
  await perf?.stop();
  // Proxy CPU per request: the fair measure when the load generator, not the proxy, is the bottleneck.
  const cpu = cpu0 !== undefined && cpu1 !== undefined && r.requests.total ? cpu1 - cpu0 : undefined;
  return {
    // The 1-minute load average at the end of the run: the machine is shared, every figure goes with it.
    load: loadavg()[0],
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts + r.non2xx,
    // Handshake workloads: the share of connections the server resumed.
    resumed: r.resumed,
    cpuPct: cpu === undefined ? undefined : (100 * cpu) / r.duration,
    cpuUs: cpu === undefined ? undefined : (1e6 * cpu) / r.requests.total,
  };
}

async function runSuite(name, ctx) {
  const suite = allSuites[name];
  const results = [];
  tables.push({ name, suite, results });
  // BENCH_WORKLOADS: comma list of words; a row runs when its workload's name contains one (e.g. `full handshake`).
  const workloads = process.env.BENCH_WORKLOADS?.split(',').filter(Boolean);
  const rowsWanted = suite.rows.filter((row) => (!only || only.includes(row.target)) && (!workloads || workloads.some((w) => row.workload.name.includes(w))));
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
        // The first line and the last (HAProxy and nginx say what is wrong last, after notices).
        const lines = String(err.message).split('\n').map((l) => l.trim()).filter(Boolean);
        started.set(target, { skipped: `skipped: failed to start (${[...new Set([lines[0], lines.at(-1)])].join(' … ')})` });
      }
    }
  }
  for (const [target, s] of started) if (s.skipped) results.push({ target, skipped: s.skipped });
  const rows = rowsWanted.filter((row) => !started.get(row.target).skipped);
  const keyOf = (row) => `${started.get(row.target).url}${row.workload.path} ${row.workload.headers.join('|')} ${row.workload.handshakes ?? ''}`;
  const runs = new Map(); // measurement key → rounds
  for (let round = 1; round <= rounds; round++) {
    for (const row of rows) {
      const key = keyOf(row);
      if ((runs.get(key)?.length ?? 0) >= round) continue; // the same URL and headers under another workload
      const target = started.get(row.target);
      const m = await measure(`${target.url}${row.workload.path}`, row.workload.headers, target.pid, row.workload.handshakes, `${row.target}-${row.workload.name.replace(/[^a-zA-Z0-9]+/g, '-')}-${round}`, round === 1 ? warmupFirst : warmup);
      if (!runs.has(key)) runs.set(key, []);
      runs.get(key).push(m);
      console.error(`  ${name} round ${round}: ${row.target} ${row.workload.name}: ${Math.round(m.rps)} req/s${m.cpuUs ? `, ${Math.round(m.cpuUs)} µs/req` : ''}${m.resumed !== undefined ? `, ${Math.round(100 * m.resumed)} % resumed` : ''}, load ${m.load.toFixed(1)}`);
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
  if (suite.summary) printSummary(suite.summary, find, results);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** "median (min–max)" of a list of ratios, or '-'. */
const spread = (xs) => (xs.length ? `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})` : '-');

/**
 * gatehouse against each base of the same workload, paired round by round (the two ran one after the other, so in
 * the same spell of a shared machine): req/s ratio and CPU-per-request ratio, median over rounds and the range, then
 * the issue's targets, met only when they hold in every round.
 */
function printSummary(summary, find, results) {
  const pairs = (gh, base, f) => gh.all.flatMap((m, i) => (base.all[i] && f(m, base.all[i]) !== undefined ? [f(m, base.all[i])] : []));
  const rpsRatio = (m, b) => (m.rps && b.rps ? m.rps / b.rps : undefined);
  const cpuRatio = (m, b) => (m.cpuUs && b.cpuUs ? m.cpuUs / b.cpuUs : undefined);
  const loads = results.flatMap((r) => r.all?.map((m) => m.load) ?? []);
  console.log(`\n#### gatehouse ÷ each base, paired by round: median (min–max) over ${rounds} rounds; load average ${loads.length ? `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}` : '-'}\n`);
  console.log('| workload | base | gatehouse req/s (median) | base req/s (median) | req/s ratio | gatehouse CPU µs/req (median) | base CPU µs/req (median) | CPU/req ratio (gatehouse ÷ base) | base CPU % (median) |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  const cell = (all, f, d = 0) => {
    const xs = all.map(f).filter((x) => x !== undefined && Number.isFinite(x));
    return xs.length ? median(xs).toFixed(d) : '-';
  };
  for (const { workload, gatehouse, bases, label: forWhom = '' } of summary.workloads) {
    const gh = find(gatehouse, workload);
    if (!gh || gh.skipped) continue;
    for (const [base, target] of bases) {
      const label = `${base}${forWhom}`;
      const b = find(target, workload);
      const skipped = results.find((r) => r.target === target)?.skipped;
      if (!b && !skipped) continue; // not asked for (BENCH_ONLY)
      if (!b) console.log(`| ${workload.name} | ${label} | - | ${skipped} | | | | | |`);
      else console.log(`| ${workload.name}${workload.handshakes ? ` (resumed: ${cell(gh.all, (m) => 100 * m.resumed)} % / ${cell(b.all, (m) => 100 * m.resumed)} %)` : ''} | ${label} | ${cell(gh.all, (m) => m.rps)} | ${cell(b.all, (m) => m.rps)} | ${spread(pairs(gh, b, rpsRatio))} | ${cell(gh.all, (m) => m.cpuUs)} | ${cell(b.all, (m) => m.cpuUs)} | ${spread(pairs(gh, b, cpuRatio))} | ${cell(b.all, (m) => m.cpuPct)} |`);
    }
  }
  console.log('\n| target (issue 21, one worker) | by req/s: median (min–max) | met in every round | by CPU per request: base ÷ gatehouse (gatehouse ÷ base for CPU targets) | met in every round |');
  console.log('|---|---|---|---|---|');
  for (const t of summary.targets) {
    const w = summary.workloads.find((x) => x.workload === t.workload);
    const gh = find(w.gatehouse, t.workload);
    const b = find(w.bases.find(([label]) => label === t.base)[1], t.workload);
    if (!gh || !b) {
      console.log(`| ${t.workload.name}: gatehouse ÷ ${t.base} | - | not measured | - | - |`);
      continue;
    }
    const cpu = pairs(gh, b, cpuRatio);
    if (t.maxCpu !== undefined) {
      console.log(`| ${t.workload.name}: CPU per connection, gatehouse ÷ ${t.base} ≤ ${t.maxCpu} | ${spread(pairs(gh, b, rpsRatio))} | | ${spread(cpu)} | ${cpu.length && Math.max(...cpu) <= t.maxCpu ? 'yes' : cpu.length && median(cpu) <= t.maxCpu ? 'median only' : 'no'} |`);
      continue;
    }
    const rps = pairs(gh, b, rpsRatio);
    const eff = cpu.map((x) => 1 / x);
    const met = (xs) => (xs.length && Math.min(...xs) >= t.min ? 'yes' : xs.length && median(xs) >= t.min ? 'median only' : 'no');
    console.log(`| ${t.workload.name}: gatehouse ÷ ${t.base} ≥ ${t.min} | ${spread(rps)} | ${met(rps)} | ${spread(eff)} | ${met(eff)} |`);
  }
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
