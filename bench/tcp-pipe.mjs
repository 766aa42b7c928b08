// `node bench/tcp-pipe.mjs` (issue 17, after `npm run build`): TCP pipe throughput through a plain TCP entry point against the same through the
// TLS passthrough path, in one run, each beside its direct baseline. gatehouse (dist/cli/main.js) pinned to core 1
// with two entry points: `plain` (no tls, TCP router HostSNI(`*`) to the plain source) and `pass` (tls, the same
// router to the TLS source, after the ClientHello peek). The sources (tcp-source.mjs: 64 MiB per connection, then
// FIN) and the client (tcp-pipe-load.mjs, its own process) on core 0. Both paths move the same bytes through the
// same pipe; the TLS one's client and source also encrypt them, on core 0, so its MiB/s can be bounded by core 0:
// gatehouse's CPU per GiB is the comparison that does not depend on it. A bare Node pipe (bare-pipe.mjs) on core 1
// is measured on each path as the floor. Every child is stopped by PID at the end.
// Env: BENCH_DURATION (s, 5), BENCH_WARMUP (s, 1), BENCH_ROUNDS (3), BENCH_TCP_CONNECTIONS (4 parallel streams),
//      BENCH_DIST (another build), GATEHOUSE_LOG_LEVEL (info: one access line per connection, as in production).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { GATEHOUSE_NODE_FLAGS, cpuSeconds, freePort, hasTaskset, root, start, stopAll, waitListening, waitPort } from './processes.mjs';

const duration = Number(process.env.BENCH_DURATION ?? 5);
const warmup = Number(process.env.BENCH_WARMUP ?? 1);
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const connections = Number(process.env.BENCH_TCP_CONNECTIONS ?? 4);
const GH = path.join(process.env.BENCH_DIST ? path.resolve(process.env.BENCH_DIST) : path.join(root, 'dist'), 'cli/main.js');

/** One load run against `port`, with the CPU time of `pid` (gatehouse) over the measured span. */
async function measure(port, useTls, pid) {
  const gen = start(0, [path.join(root, 'bench/tcp-pipe-load.mjs')], {
    TARGET_PORT: String(port),
    TLS: useTls ? '1' : '0',
    CONNECTIONS: String(connections),
    WARMUP: String(warmup),
    DURATION: String(duration),
  });
  let out = '';
  gen.stdout.on('data', (d) => (out += d));
  await new Promise((r) => setTimeout(r, warmup * 1000));
  const cpu0 = pid && cpuSeconds(pid);
  await new Promise((resolve, reject) => gen.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`load generator exited ${code}: ${gen.stderrText}`)))));
  const cpu1 = pid && cpuSeconds(pid);
  const r = JSON.parse(out.trim().split('\n').at(-1));
  const cpu = cpu0 !== undefined && cpu1 !== undefined ? cpu1 - cpu0 : undefined;
  const gib = (r.mibps * duration) / 1024;
  return { ...r, load: loadavg()[0], cpuPerGiB: cpu === undefined || gib === 0 ? undefined : cpu / gib, cpuPct: cpu === undefined ? undefined : (100 * cpu) / duration };
}

const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-bench-tcp-'));
try {
  const plainSource = start(0, [path.join(root, 'bench/tcp-source.mjs')], { TLS: '0' });
  const tlsSource = start(0, [path.join(root, 'bench/tcp-source.mjs')], { TLS: '1' });
  const [plainPort, tlsPort] = [await waitListening(plainSource), await waitListening(tlsSource)];
  // The bare Node pipe (bench/bare-pipe.mjs, reads nothing) on core 1 too: what any Node forwarder pays for these bytes.
  const barePlain = start(1, [path.join(root, 'bench/bare-pipe.mjs')], { TARGET: `127.0.0.1:${plainPort}` });
  const bareTls = start(1, [path.join(root, 'bench/bare-pipe.mjs')], { TARGET: `127.0.0.1:${tlsPort}` });
  const [barePlainPort, bareTlsPort] = [await waitListening(barePlain), await waitListening(bareTls)];
  const [ghPlain, ghPass] = [await freePort(), await freePort()];
  const config = path.join(dir, 'config.json');
  const lb = (port) => ({ loadBalancer: { servers: [{ address: `127.0.0.1:${port}` }] } });
  writeFileSync(
    config,
    JSON.stringify({
      entryPoints: { plain: { address: `127.0.0.1:${ghPlain}` }, pass: { address: `127.0.0.1:${ghPass}`, tls: {} } },
      tcp: {
        routers: {
          plain: { rule: 'HostSNI(`*`)', entryPoints: ['plain'], service: 'plain' },
          pass: { rule: 'HostSNI(`*`)', entryPoints: ['pass'], service: 'tls' },
        },
        services: { plain: lb(plainPort), tls: lb(tlsPort) },
      },
      lifecycle: { watch: false },
      stateDir: path.join(dir, 'state'),
    }),
  );
  const gh = start(1, [...GATEHOUSE_NODE_FLAGS, GH, 'start', '--config', config], { GATEHOUSE_LOG_LEVEL: process.env.GATEHOUSE_LOG_LEVEL ?? 'info' });
  gh.stdout.resume(); // the access lines, discarded: the bench counts the cost of writing them
  await waitPort(ghPlain, gh);
  await waitPort(ghPass, gh);
  process.stderr.write(`tcp bench: ${connections} streams of 64 MiB connections, ${duration} s × ${rounds} rounds${hasTaskset ? '' : ' (not pinned: no taskset)'}\n`);
  const rows = [];
  for (let round = 1; round <= rounds; round++) {
    const row = {
      directPlain: await measure(plainPort, false),
      barePlain: await measure(barePlainPort, false, barePlain.pid),
      plain: await measure(ghPlain, false, gh.pid),
      directTls: await measure(tlsPort, true),
      bareTls: await measure(bareTlsPort, true, bareTls.pid),
      pass: await measure(ghPass, true, gh.pid),
    };
    rows.push(row);
    process.stderr.write(
      `round ${round}: plain ${Math.round(row.plain.mibps)} MiB/s (bare ${Math.round(row.barePlain.mibps)}, direct ${Math.round(row.directPlain.mibps)}), passthrough ${Math.round(row.pass.mibps)} MiB/s (bare ${Math.round(row.bareTls.mibps)}, direct ${Math.round(row.directTls.mibps)}), load ${row.pass.load.toFixed(2)}\n`,
    );
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const f = (x, d = 0) => (x === undefined ? '–' : x.toFixed(d));
  console.log('| round | plain: direct MiB/s | bare pipe MiB/s (CPU s/GiB) | gatehouse MiB/s (CPU s/GiB) | TLS: direct MiB/s | bare pipe MiB/s (CPU s/GiB) | gatehouse passthrough MiB/s (CPU s/GiB) | plain ÷ passthrough MiB/s | passthrough ÷ plain CPU/GiB | load avg |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  const cell = (m) => `${f(m.mibps)} (${f(m.cpuPerGiB, 2)})`;
  for (const [i, r] of rows.entries()) {
    console.log(
      `| ${i + 1} | ${f(r.directPlain.mibps)} | ${cell(r.barePlain)} | ${cell(r.plain)} | ${f(r.directTls.mibps)} | ${cell(r.bareTls)} | ${cell(r.pass)} | ${f(r.plain.mibps / r.pass.mibps, 2)} | ${f(r.pass.cpuPerGiB / r.plain.cpuPerGiB, 2)} | ${r.pass.load.toFixed(2)} |`,
    );
  }
  const thr = rows.map((r) => r.plain.mibps / r.pass.mibps);
  const cpu = rows.map((r) => r.pass.cpuPerGiB / r.plain.cpuPerGiB);
  const plainVsBare = rows.map((r) => r.plain.cpuPerGiB / r.barePlain.cpuPerGiB);
  const passVsBare = rows.map((r) => r.pass.cpuPerGiB / r.bareTls.cpuPerGiB);
  console.log(`\nmedian plain ÷ passthrough throughput: ${median(thr).toFixed(2)} (range ${Math.min(...thr).toFixed(2)}–${Math.max(...thr).toFixed(2)})`);
  console.log(`median passthrough ÷ plain gatehouse CPU per GiB: ${median(cpu).toFixed(2)} (range ${Math.min(...cpu).toFixed(2)}–${Math.max(...cpu).toFixed(2)})`);
  console.log(`median gatehouse ÷ bare pipe CPU per GiB: plain ${median(plainVsBare).toFixed(2)}, passthrough ${median(passVsBare).toFixed(2)}`);
} finally {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}
