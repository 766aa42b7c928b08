#!/usr/bin/env node
/**
 * An idle flood beside a probe of legitimate requests (issue 20, row 4): one child process holds N TCP connections
 * to the target that never send a byte (opening a new one whenever the target closes one), while this process sends
 * legitimate requests at a steady rate, each on a new connection, and samples the target's RSS from /proc.
 * Prints one JSON line: the probe's latency percentiles and answers, the target's RSS before and at its peak, and how
 * many idle connections the flood held and how many the target closed.
 *
 *   node scripts/hostile/idle-flood.mjs --target 127.0.0.1:8080 --url http://127.0.0.1:8080/ --pid 1234
 *        [--connections 5000] [--seconds 30] [--rate 20] [--insecure]
 *
 * Loopback only, every wait bounded; the flood child is stopped by its PID.
 */
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: {
    role: { type: 'string', default: 'probe' },
    target: { type: 'string' },
    url: { type: 'string' },
    pid: { type: 'string' },
    connections: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '30' },
    rate: { type: 'string', default: '20' },
    insecure: { type: 'boolean', default: false },
  },
});

if (opts.role === 'flood') flood();
else await probe();

/** The flood child: holds `connections` idle sockets until told to stop; reports its counts on 'stop'. */
function flood() {
  const [host, portText] = opts.target.split(':');
  const port = Number(portText);
  const want = Number(opts.connections);
  let open = 0;
  let opened = 0;
  let closedByTarget = 0;
  let stopping = false;
  let peakOpen = 0;
  const sockets = new Set();
  const openOne = () => {
    if (stopping) return;
    const s = net.connect({ host, port });
    sockets.add(s);
    s.on('connect', () => {
      open++;
      opened++;
      peakOpen = Math.max(peakOpen, open);
    });
    s.on('data', () => {}); // whatever the target answers is read and dropped
    s.on('error', () => {});
    s.on('close', () => {
      sockets.delete(s);
      if (s.connecting === false && s.bytesRead !== undefined) open = Math.max(0, open - 1);
      if (!stopping) {
        closedByTarget++;
        // Reopen at a bounded pace: an attacker keeps the pressure, but not as a tight loop.
        setTimeout(openOne, 10);
      }
    });
  };
  // Open in batches so the connects do not all wait in one backlog.
  let started = 0;
  const batch = setInterval(() => {
    for (let i = 0; i < 250 && started < want; i++, started++) openOne();
    if (started >= want) clearInterval(batch);
  }, 20);
  process.on('message', (m) => {
    if (m !== 'stop') return;
    stopping = true;
    clearInterval(batch);
    for (const s of sockets) s.destroy();
    process.send({ opened, peakOpen, closedByTarget }, () => process.exit(0));
  });
  process.send('ready');
}

function rssMB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

function once(url, insecure) {
  const mod = url.startsWith('https:') ? https : http;
  return new Promise((resolve) => {
    const start = performance.now();
    const req = mod.get(url, { agent: false, rejectUnauthorized: !insecure, timeout: 5_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ ok: res.statusCode < 500, ms: performance.now() - start }));
      res.on('error', () => resolve({ ok: false, ms: performance.now() - start }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ ok: false, ms: performance.now() - start }));
  });
}

/** Percentile of sorted `xs` (nearest rank). */
function pct(xs, p) {
  if (xs.length === 0) return NaN;
  return xs[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];
}

async function probe() {
  const pid = Number(opts.pid);
  const seconds = Number(opts.seconds);
  const rate = Number(opts.rate);
  const rssBefore = rssMB(pid);
  const child = fork(new URL(import.meta.url).pathname, ['--role', 'flood', '--target', opts.target, '--connections', opts.connections], { stdio: 'inherit' });
  const stopChild = () => {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {}
  };
  process.once('exit', stopChild);
  await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', () => reject(new Error('the flood process exited before it was ready')));
    setTimeout(() => reject(new Error('the flood process did not start in 10 s')), 10_000).unref();
  });
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssMB(pid))), 200);
  const latencies = [];
  const slowest = [];
  const began = performance.now();
  let failed = 0;
  const deadline = performance.now() + seconds * 1000;
  const gap = 1000 / rate;
  const inflight = [];
  while (performance.now() < deadline) {
    const t0 = performance.now();
    inflight.push(
      once(opts.url, opts.insecure).then((r) => {
        slowest.push([Math.round(t0 - began), Math.round(r.ms)]);
        if (r.ok) latencies.push(r.ms);
        else failed++;
      }),
    );
    const wait = gap - (performance.now() - t0);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  await Promise.all(inflight);
  clearInterval(sampler);
  const counts = await new Promise((resolve) => {
    child.once('message', resolve);
    child.send('stop');
    setTimeout(() => resolve({}), 10_000).unref();
  });
  stopChild();
  latencies.sort((a, b) => a - b);
  const r = (x) => Math.round(x * 10) / 10;
  console.log(
    JSON.stringify({
      url: opts.url,
      idle: Number(opts.connections),
      seconds,
      answered: latencies.length,
      failed,
      p50: r(pct(latencies, 50)),
      p99: r(pct(latencies, 99)),
      max: r(latencies.at(-1) ?? NaN),
      rssBeforeMB: r(rssBefore),
      rssPeakMB: r(rssPeak),
      rssGrowthMB: r(rssPeak - rssBefore),
      ...counts,
      slowest: slowest.sort((a, b) => b[1] - a[1]).slice(0, 8).map(([at, ms]) => `${ms}ms@${(at / 1000).toFixed(1)}s`).join(' '),
      load: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
    }),
  );
  process.exit(0);
}
