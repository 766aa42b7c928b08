// `node bench/h2.mjs` (and the `h2` part of `npm run bench`): HTTP/2 to clients against HTTP/1.1 on the same TLS
// entry point, in the same run, with the same load generator (h2load, Debian package nghttp2-client; skipped when
// it is missing). Rows: HTTP/1.1 (h2load --h1), h2 with one stream per connection (same concurrency), h2 with the
// same concurrency multiplexed on fewer connections. Gatehouse (access log on) on core 1, backend and h2load on
// core 0; rounds interleaved, best round kept; every process stopped by PID.
// Env: BENCH_DURATION (s, default 5), BENCH_WARMUP (s, default 1), BENCH_ROUNDS (default 3), BENCH_CONNECTIONS (50),
//      BENCH_PROFILE_DIR (a CPU profile of gatehouse), BENCH_H2_RAW (print h2load's output).
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GATEHOUSE_NODE_FLAGS, cpuSeconds, freePort, root, spawnPinned, start, stop, stopAll, waitListening, waitPort } from './processes.mjs';

const duration = Number(process.env.BENCH_DURATION ?? 5);
const warmup = Number(process.env.BENCH_WARMUP ?? 1);
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const STREAMS = 10;

const SCENARIOS = [
  { name: 'HTTP/1.1', args: ['--h1', '-c', String(connections), '-m', '1'], base: true },
  { name: `h2, ${connections} conns × 1 stream`, args: ['-c', String(connections), '-m', '1'] },
  { name: `h2, ${Math.max(1, connections / STREAMS)} conns × ${STREAMS} streams`, args: ['-c', String(Math.max(1, connections / STREAMS)), '-m', String(STREAMS)] },
];

function hasH2load() {
  try {
    execFileSync('h2load', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * One h2load run: `warmup` seconds (connections and TLS handshakes happen there), then `seconds` measured. Resolves
 * with req/s, mean latency (ms), failures, the request count, and gatehouse's CPU µs per request over the measured
 * part only (sampled when h2load says the main duration starts and ends).
 */
function h2load(url, seconds, warmupSeconds, args, pid) {
  const child = spawnPinned(0, 'h2load', ['-t', '1', '-D', String(seconds), `--warm-up-time=${warmupSeconds}`, ...args, url]);
  return new Promise((resolve, reject) => {
    let out = '';
    let cpu0;
    let cpu1;
    child.stdout.on('data', (d) => {
      out += d;
      if (cpu0 === undefined && out.includes('Main benchmark duration is started')) cpu0 = cpuSeconds(pid);
      if (cpu1 === undefined && out.includes('Main benchmark duration is over')) cpu1 = cpuSeconds(pid);
    });
    const timer = setTimeout(() => stop(child), (seconds + warmupSeconds + 30) * 1000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (process.env.BENCH_H2_RAW) console.error(out);
      const rps = /finished in [\d.]+\w*, ([\d.]+) req\/s/.exec(out);
      const reqs = /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
      const status = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
      const lat = /time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)/.exec(out);
      if (!rps || !reqs) return reject(new Error(`h2load exited ${code}: ${out} ${child.stderrText}`));
      const ms = (v, unit) => (unit === 'us' ? Number(v) / 1000 : unit === 's' ? Number(v) * 1000 : Number(v));
      const total = Number(reqs[2]);
      const nonOk = status ? Number(status[2]) + Number(status[3]) + Number(status[4]) : 0;
      resolve({
        rps: Number(rps[1]),
        total,
        errors: Number(reqs[4]) + Number(reqs[5]) + Number(reqs[6]) + nonOk,
        meanMs: lat ? ms(lat[5], lat[6]) : NaN,
        cpuUs: cpu0 !== undefined && cpu1 !== undefined && total ? (1e6 * (cpu1 - cpu0)) / total : undefined,
      });
    });
  });
}

async function main() {
  if (!hasH2load()) {
    console.log('\n### HTTP/2 (h2load)\n\nskipped: h2load not installed (Debian package nghttp2-client)');
    return;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-bench-h2-'));
  try {
    const backend = start(0, ['bench/backend.mjs']);
    const backendAddr = `127.0.0.1:${await waitListening(backend)}`;
    const certs = path.join(dir, 'certs');
    execFileSync('mkdir', ['-p', certs]);
    copyFileSync(path.join(root, 'test/fixtures/certs/wrong.pem'), path.join(certs, 'wrong.pem'));
    const port = await freePort();
    // BENCH_PROFILE_DIR: gatehouse writes a V8 CPU profile there when it is stopped (as in suites.mjs).
    const profile = process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [];
    const gh = start(1, [...profile, ...GATEHOUSE_NODE_FLAGS, process.env.BENCH_DIST ? `${process.env.BENCH_DIST}/cli/main.js` : 'dist/cli/main.js', 'start', '--config', 'bench/gatehouse-tls.json'], {
      GATEHOUSE_BENCH_PORT: String(port),
      GATEHOUSE_BENCH_PASS_PORT: String(await freePort()),
      GATEHOUSE_BENCH_BACKEND: `http://${backendAddr}`,
      // The passthrough entry point of that config is unused here; its backend need not exist.
      GATEHOUSE_BENCH_TLS_BACKEND: '127.0.0.1:1',
      GATEHOUSE_BENCH_CERTS: certs,
      GATEHOUSE_BENCH_STATE: path.join(dir, 'state'),
      GATEHOUSE_LOG_LEVEL: 'info',
    });
    gh.stdout.resume(); // access log on, discarded
    await waitPort(port, gh);
    const url = `https://127.0.0.1:${port}/small`;
    console.error(`h2: ${rounds} rounds of ${duration}s runs after ${warmup}s warm-up; gatehouse pid ${gh.pid}`);
    const runs = SCENARIOS.map(() => []);
    for (let round = 1; round <= rounds; round++) {
      for (const [i, s] of SCENARIOS.entries()) {
        const r = await h2load(url, duration, warmup, s.args, gh.pid);
        runs[i].push(r);
        console.error(`  h2 round ${round}: ${s.name}: ${Math.round(r.rps)} req/s${r.cpuUs ? `, ${Math.round(r.cpuUs)} µs/req` : ''}`);
        if (gh.exitCode !== null) throw new Error(`gatehouse exited with ${gh.exitCode}: ${gh.stderrText}`);
      }
    }
    const best = runs.map((rs) => [...rs].sort((a, b) => b.rps - a.rps)[0]);
    const base = best[SCENARIOS.findIndex((s) => s.base)];
    console.log('\n### HTTP/2 to clients vs HTTP/1.1, same TLS entry point, HTTP/1.1 upstream (h2load, /small)\n');
    console.log('| scenario | req/s (best) | rounds | mean ms | errors | CPU µs/req | x HTTP/1.1 req/s | x HTTP/1.1 CPU/req |');
    console.log('|---|---|---|---|---|---|---|---|');
    for (const [i, s] of SCENARIOS.entries()) {
      const b = best[i];
      const cpu = b.cpuUs === undefined ? '-' : b.cpuUs.toFixed(0);
      const cpuRatio = b.cpuUs && base.cpuUs ? (b.cpuUs / base.cpuUs).toFixed(2) : '-';
      console.log(`| ${s.name} | ${Math.round(b.rps)} | ${runs[i].map((r) => Math.round(r.rps)).join(' ')} | ${b.meanMs.toFixed(2)} | ${b.errors} | ${cpu} | ${(b.rps / base.rps).toFixed(2)} | ${cpuRatio} |`);
    }
  } finally {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

const onSignal = async () => {
  await stopAll();
  process.exit(130);
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);
main().catch((err) => {
  console.error('h2 bench failed:', err);
  process.exitCode = 1;
});
