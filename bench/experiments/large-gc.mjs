// Native GC and CPU per 1 MiB response, forwarder by forwarder, in interleaved rounds (each round starts every
// variant fresh, pinned to core 1, with --trace-gc; wrk and the backend on core 0). Prints, per variant, the
// median over rounds of: CPU µs per request (user+system from /proc), scavenges and mark-compacts per 1000
// requests, and GC pause ms per 1000 requests (the durations --trace-gc prints).
//   node bench/experiments/large-gc.mjs            ROUNDS=3 SECONDS=6 PATH_=/large VARIANTS=a,b NODE_FLAGS="..."
import { cpuSeconds, freePort, start, stop, stopAll, waitListening, waitPort } from '../processes.mjs';
import { load } from '../load.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SECONDS = Number(process.env.SECONDS ?? 6);
const URL_PATH = process.env.PATH_ ?? '/large';
const DIST = process.env.BENCH_DIST ?? 'dist';
const BASE_FLAGS = [...(process.env.NO_TRACE === '1' ? [] : ['--trace-gc']), ...(process.env.NODE_FLAGS ?? '').split(' ').filter(Boolean)];
const VARIANTS = (process.env.VARIANTS ?? 'bare-http-proxy,bare-undici,upstream-only,gatehouse,gatehouse-nolog').split(',');

const backendChild = start(0, ['bench/backend.mjs']);
const backend = `http://127.0.0.1:${await waitListening(backendChild)}`;

/** Starts one variant; resolves with { url, child, gcLines() }. */
async function launch(variant) {
  // `name%--flag%--flag`: extra Node flags for this variant only.
  const [name, ...extra] = variant.split('%');
  const FLAGS = [...BASE_FLAGS, ...extra];
  let out = '';
  const collect = (child) => child.stdout.on('data', (d) => (out += d));
  if (name.startsWith('gatehouse')) {
    // `gatehouse@DIR`: the build in DIR (e.g. a copy of dist/ with one constant changed).
    const dist = name.includes('@') ? name.slice(name.indexOf('@') + 1) : DIST;
    const port = await freePort();
    const child = start(1, [...FLAGS, `${dist}/cli/main.js`, 'start', '--config', 'bench/gatehouse.json'], {
      GATEHOUSE_BENCH_PORT: String(port),
      GATEHOUSE_BENCH_BACKEND: backend,
      GATEHOUSE_LOG_LEVEL: name.startsWith('gatehouse-nolog') ? 'warn' : 'info',
    });
    collect(child);
    await waitPort(port, child);
    return { url: `http://127.0.0.1:${port}${URL_PATH}`, child, text: () => out };
  }
  const child = start(1, [...FLAGS, `bench/${name}.mjs`], { TARGET: backend });
  const port = await waitListening(child);
  collect(child);
  return { url: `http://127.0.0.1:${port}${URL_PATH}`, child, text: () => out };
}

/** Counts --trace-gc lines after `from` characters of output: kinds and total pause ms. */
function gcStats(text) {
  let scavenges = 0;
  let markCompacts = 0;
  let pauseMs = 0;
  for (const line of text.split('\n')) {
    const m = /ms: (Scavenge|Mark-Compact|Mark-Compact \(reduce\)|Minor Mark-Sweep|Mark-Sweep)\b[^,]*,\s*([\d.]+)\s*\/\s*([\d.]+)\s*ms/.exec(line);
    if (!m) continue;
    if (m[1] === 'Scavenge' || m[1] === 'Minor Mark-Sweep') scavenges++;
    else markCompacts++;
    pauseMs += Number(m[2]);
  }
  return { scavenges, markCompacts, pauseMs };
}

const results = Object.fromEntries(VARIANTS.map((v) => [v, []]));
// KEEP=1: every variant started once and measured in all rounds (as `npm run bench` does), not fresh per round.
const kept = new Map();
try {
  if (process.env.KEEP === '1') for (const name of VARIANTS) kept.set(name, await launch(name));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const name of VARIANTS) {
      const v = kept.get(name) ?? (await launch(name));
      await load(v.url, 1); // warm-up
      const before = v.text().length;
      const cpu0 = cpuSeconds(v.child.pid);
      const r = await load(v.url, SECONDS);
      const cpu = cpuSeconds(v.child.pid) - cpu0;
      const gc = gcStats(v.text().slice(before));
      const n = r.requests.total;
      const row = { n, rps: Math.round(r.requests.average), cpuUs: Math.round((cpu * 1e6) / n), scav: +((gc.scavenges * 1000) / n).toFixed(1), mc: +((gc.markCompacts * 1000) / n).toFixed(2), gcMs: +((gc.pauseMs * 1000) / n).toFixed(1), errors: r.errors };
      results[name].push(row);
      console.log(`round ${round} ${name.padEnd(16)} ${JSON.stringify(row)}`);
      if (!kept.has(name)) await stop(v.child);
    }
  }
} finally {
  await stopAll();
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
// Paired per round against the first variant (run just before in the same round): its CPU µs/req ÷ this one's
// (above 1: this variant spends less CPU per request), and this one's req/s ÷ its.
const first = results[VARIANTS[0]];
const range = (xs) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;
console.log(`\nmedians: variant | req | CPU µs/req | scavenges/1000 | mark-compacts/1000 | GC pause ms/1000 | CPU ratio to ${VARIANTS[0]} (median, range) | req/s ratio (median, range)`);
for (const [name, rows] of Object.entries(results)) {
  const cpu = rows.map((r, i) => first[i].cpuUs / r.cpuUs);
  const rps = rows.map((r, i) => r.rps / first[i].rps);
  console.log(`${name.padEnd(16)} | ${median(rows.map((r) => r.n))} | ${median(rows.map((r) => r.cpuUs))} | ${median(rows.map((r) => r.scav))} | ${median(rows.map((r) => r.mc))} | ${median(rows.map((r) => r.gcMs))} | ${median(cpu).toFixed(2)} (${range(cpu)}) | ${median(rps).toFixed(2)} (${range(rps)})`);
}
