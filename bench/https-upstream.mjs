// `node bench/https-upstream.mjs` (issue 17): gatehouse forwarding to an https:// upstream against the same
// gatehouse forwarding to a plain http:// one, in one run. One gatehouse process (core 1) with two entry points:
// `plain` → bench/backend.mjs over HTTP, `tls` → bench/tls-backend.mjs over HTTPS through a serversTransport
// (rootCAs: the fixture CA, serverName backend.test: verification on, as an operator would run it). Both backends and
// the load generator (wrk, else autocannon; bench/load.mjs) on core 0; 50 keep-alive client connections on GET /small.
// Rounds alternate plain and tls so drift on the shared machine hits both alike. Prints req/s, p50/p99, gatehouse's
// CPU µs per request, and the tls/plain ratios per round and as medians; plus the TLS handshakes the https backend
// counted (keep-alive to the upstream: a handshake per pooled connection, not per request).
// Env: BENCH_DURATION (s, default 5), BENCH_WARMUP (s, default 2), BENCH_ROUNDS (default 3).
import { loadavg } from 'node:os';
import path from 'node:path';
import { load } from './load.mjs';
import { GATEHOUSE_NODE_FLAGS, cpuSeconds, freePort, root, start, stopAll, waitListening, waitPort } from './processes.mjs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';

const duration = Number(process.env.BENCH_DURATION ?? 5);
const warmup = Number(process.env.BENCH_WARMUP ?? 2);
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-bench-https-up-'));
try {
  const backend = start(0, ['bench/backend.mjs']);
  const backendPort = await waitListening(backend);
  const tlsBackend = start(0, ['bench/tls-backend.mjs'], { COUNT_HANDSHAKES: '1' });
  const tlsPort = await waitListening(tlsBackend);
  let handshakes = '';
  tlsBackend.stdout.on('data', (d) => (handshakes += String(d)));
  const plainPort = await freePort();
  const tlsEntryPort = await freePort();
  const config = {
    log: { level: 'warn', accessLog: false },
    stateDir: path.join(dir, 'state'),
    entryPoints: { plain: { address: `127.0.0.1:${plainPort}` }, tls: { address: `127.0.0.1:${tlsEntryPort}` } },
    http: {
      serversTransports: { lab: { rootCAs: [path.join(root, 'test/fixtures/tls/ca.pem')], serverName: 'backend.test' } },
      routers: {
        plain: { rule: 'PathPrefix(`/`)', service: 'plain', entryPoints: ['plain'] },
        tls: { rule: 'PathPrefix(`/`)', service: 'tls', entryPoints: ['tls'] },
      },
      services: {
        plain: { loadBalancer: { servers: [{ url: `http://127.0.0.1:${backendPort}` }] } },
        tls: { loadBalancer: { servers: [{ url: `https://127.0.0.1:${tlsPort}` }], serversTransport: 'lab' } },
      },
    },
  };
  const file = path.join(dir, 'gatehouse.json');
  writeFileSync(file, JSON.stringify(config));
  const gh = start(1, [...GATEHOUSE_NODE_FLAGS, 'dist/cli/main.js', 'start', '--config', file]);
  gh.stdout.resume();
  await waitPort(plainPort, gh);
  await waitPort(tlsEntryPort, gh);
  const measure = async (port) => {
    const url = `http://127.0.0.1:${port}/small`;
    const cpu0 = cpuSeconds(gh.pid);
    const r = await load(url, duration);
    const cpu1 = cpuSeconds(gh.pid);
    return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.timeouts + r.non2xx, cpuUs: (1e6 * (cpu1 - cpu0)) / r.requests.total, load: loadavg()[0] };
  };
  await load(`http://127.0.0.1:${plainPort}/small`, warmup);
  await load(`http://127.0.0.1:${tlsEntryPort}/small`, warmup);
  const rows = [];
  for (let i = 0; i < rounds; i++) {
    const plain = await measure(plainPort);
    const tls = await measure(tlsEntryPort);
    rows.push({ plain, tls });
    const f = (m) => `${m.rps.toFixed(0)} req/s p50 ${m.p50} ms p99 ${m.p99} ms ${m.cpuUs.toFixed(1)} µs CPU/req errors ${m.errors}`;
    console.log(`round ${i + 1} (load ${plain.load.toFixed(1)}/${tls.load.toFixed(1)}): plain ${f(plain)} | https upstream ${f(tls)} | req/s ratio ${(tls.rps / plain.rps).toFixed(2)}, CPU/req ratio ${(tls.cpuUs / plain.cpuUs).toFixed(2)}`);
  }
  console.log(
    `median: https/plain req/s ${median(rows.map((r) => r.tls.rps / r.plain.rps)).toFixed(2)}, https/plain gatehouse CPU per request ${median(rows.map((r) => r.tls.cpuUs / r.plain.cpuUs)).toFixed(2)}`,
  );
  tlsBackend.kill('SIGUSR2');
  await new Promise((r) => setTimeout(r, 200));
  const last = handshakes.match(/handshakes \d+ resumed \d+/g)?.pop();
  console.log(`https backend: ${last ?? 'handshakes not counted'} over ${rows.reduce((n, r) => n + Math.round(r.tls.rps * duration), 0)} measured requests (and the warm-up)`);
} finally {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}
