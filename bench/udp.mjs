// `npm run bench:udp` (issue 17): UDP datagrams per second through gatehouse against the same echo server direct, in
// one run. Layout as bench/run.mjs: gatehouse (dist/cli/main.js, a UDP entry point to a loadBalancer of the echo
// server) pinned to core 1; the echo server (udp-echo.mjs) and the load generator (udp-load.mjs, its own process)
// on core 0. Each round measures direct then gatehouse; every child is stopped by PID at the end, even on error.
// Env: BENCH_DURATION (s, 5), BENCH_WARMUP (s, 1), BENCH_ROUNDS (3), BENCH_UDP_CLIENTS (50 sockets, one session each),
//      BENCH_UDP_WINDOW (4 datagrams in flight per client), BENCH_UDP_SIZE (100 bytes), BENCH_DIST (another build).
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { GATEHOUSE_NODE_FLAGS, cpuSeconds, hasTaskset, root, start, stopAll, waitListening } from './processes.mjs';

const duration = Number(process.env.BENCH_DURATION ?? 5);
const warmup = Number(process.env.BENCH_WARMUP ?? 1);
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const clients = Number(process.env.BENCH_UDP_CLIENTS ?? 50);
const windowSize = Number(process.env.BENCH_UDP_WINDOW ?? 4);
const size = Number(process.env.BENCH_UDP_SIZE ?? 100);
const GH = path.join(process.env.BENCH_DIST ? path.resolve(process.env.BENCH_DIST) : path.join(root, 'dist'), 'cli/main.js');

/** A UDP port free a moment ago. */
function freeUdpPort() {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once a datagram to `port` comes back (gatehouse forwarding to the echo server); bounded. */
async function waitEcho(port, child, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  const s = createSocket('udp4');
  try {
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`gatehouse exited with ${child.exitCode}: ${child.stderrText}`);
      const ok = await new Promise((resolve) => {
        const t = setTimeout(() => resolve(false), 200);
        s.once('message', () => (clearTimeout(t), resolve(true)));
        s.send('ping', port, '127.0.0.1');
      });
      if (ok) return;
    }
    throw new Error(`no echo through gatehouse on ${port} within ${timeoutMs} ms`);
  } finally {
    s.close();
  }
}

/** One load run against `port`, with the CPU time of `pid` over it. */
async function measure(port, pid) {
  const gen = start(0, [path.join(root, 'bench/udp-load.mjs')], {
    TARGET_PORT: String(port),
    CLIENTS: String(clients),
    WINDOW: String(windowSize),
    SIZE: String(size),
    WARMUP: String(warmup),
    DURATION: String(duration),
  });
  let out = '';
  gen.stdout.on('data', (d) => (out += d));
  const cpu0 = pid && cpuSeconds(pid);
  // The generator's measured span is its last `duration` seconds: CPU is read over the whole run minus the warmup.
  await new Promise((r) => setTimeout(r, warmup * 1000));
  const cpuW = pid && cpuSeconds(pid);
  await new Promise((resolve, reject) => gen.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`load generator exited ${code}: ${gen.stderrText}`)))));
  const cpu1 = pid && cpuSeconds(pid);
  const r = JSON.parse(out.trim().split('\n').at(-1));
  void cpu0;
  const cpu = cpuW !== undefined && cpu1 !== undefined ? cpu1 - cpuW : undefined;
  return { ...r, load: loadavg()[0], cpuUs: cpu === undefined || r.datagrams === 0 ? undefined : (1e6 * cpu) / (r.datagrams * duration * 2) };
}

const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-bench-udp-'));
try {
  const echo = start(0, [path.join(root, 'bench/udp-echo.mjs')]);
  const echoPort = await waitListening(echo);
  const ghPort = await freeUdpPort();
  const config = path.join(dir, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      entryPoints: { udp: { address: `127.0.0.1:${ghPort}/udp` } },
      udp: { routers: { echo: { service: 'echo' } }, services: { echo: { loadBalancer: { servers: [{ address: `127.0.0.1:${echoPort}` }] } } } },
      lifecycle: { watch: false },
      stateDir: path.join(dir, 'state'),
    }),
  );
  const gh = start(1, [...GATEHOUSE_NODE_FLAGS, GH, 'start', '--config', config], { GATEHOUSE_LOG_LEVEL: 'warn' });
  gh.stdout.resume();
  await waitEcho(ghPort, gh);
  process.stderr.write(`udp bench: ${clients} clients × ${windowSize} in flight, ${size}-byte datagrams, ${duration} s × ${rounds} rounds${hasTaskset ? '' : ' (not pinned: no taskset)'}\n`);
  const rows = [];
  for (let round = 1; round <= rounds; round++) {
    const direct = await measure(echoPort, undefined);
    const through = await measure(ghPort, gh.pid);
    rows.push({ direct, through });
    process.stderr.write(
      `round ${round}: direct ${Math.round(direct.datagrams)}/s, gatehouse ${Math.round(through.datagrams)}/s (${(through.datagrams / direct.datagrams).toFixed(2)}), gatehouse CPU ${through.cpuUs?.toFixed(1)} µs/datagram, load ${through.load.toFixed(2)}\n`,
    );
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const ratios = rows.map((r) => r.through.datagrams / r.direct.datagrams);
  const fmt = (r) => `${Math.round(r.datagrams)}/s p50 ${r.p50.toFixed(2)} ms p99 ${r.p99.toFixed(2)} ms lost ${r.lost}`;
  console.log('| round | direct (echo) | through gatehouse | ratio | gatehouse CPU µs/datagram (each way) | load avg |');
  console.log('|---|---|---|---|---|---|');
  for (const [i, r] of rows.entries()) {
    console.log(`| ${i + 1} | ${fmt(r.direct)} | ${fmt(r.through)} | ${ratios[i].toFixed(2)} | ${r.through.cpuUs?.toFixed(1) ?? '–'} | ${r.through.load.toFixed(2)} |`);
  }
  console.log(`\nmedian ratio gatehouse ÷ direct: ${median(ratios).toFixed(2)} (range ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`);
} finally {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}
