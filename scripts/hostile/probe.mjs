/**
 * Legitimate requests beside an attack (issue 20): GET `url` at a steady `rate`, each on a new connection (an attack
 * on connection handling shows there first), for `seconds`, while the target's RSS is sampled from /proc. Resolves
 * with how many were answered (2xx/3xx/4xx within 5 s), their p50/p99/max latency, the slowest with their time into
 * the run, and the target's RSS before and at its peak.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';

export function rssMB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** The summed RSS of a process and its children (nginx's master and worker). */
export function treeRssMB(pid) {
  let total = rssMB(pid);
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    for (const c of children) total += treeRssMB(Number(c));
  } catch {}
  return total;
}

export function loadAverage() {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

function once(url, timeoutMs) {
  const mod = url.startsWith('https:') ? https : http;
  return new Promise((resolve) => {
    const start = performance.now();
    let done = false;
    const finish = (ok) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ok, ms: performance.now() - start });
    };
    const req = mod.get(url, { agent: false, rejectUnauthorized: false }, (res) => {
      res.resume();
      res.on('end', () => finish(res.statusCode < 500));
      res.on('error', () => finish(false));
    });
    req.on('error', () => finish(false));
    const timer = setTimeout(() => (finish(false), req.destroy()), timeoutMs);
  });
}

/** Nearest-rank percentile of sorted `xs`. */
export function pct(xs, p) {
  if (xs.length === 0) return NaN;
  return xs[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];
}

export async function probe({ url, pid, seconds = 30, rate = 20, timeoutMs = 5_000, baselineRssMB }) {
  // The baseline: the caller's (measured before the attack began), else now.
  const rssBefore = baselineRssMB ?? treeRssMB(pid);
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, treeRssMB(pid))), 200);
  const latencies = [];
  const slowest = [];
  let sent = 0;
  const began = performance.now();
  const deadline = began + seconds * 1000;
  const gap = 1000 / rate;
  const inflight = [];
  while (performance.now() < deadline) {
    const t0 = performance.now();
    sent++;
    inflight.push(
      once(url, timeoutMs).then((r) => {
        slowest.push([Math.round(t0 - began), Math.round(r.ms), r.ok]);
        if (r.ok) latencies.push(r.ms);
      }),
    );
    const wait = gap - (performance.now() - t0);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  await Promise.all(inflight);
  clearInterval(sampler);
  latencies.sort((a, b) => a - b);
  const r = (x) => Math.round(x * 10) / 10;
  return {
    sent,
    answered: latencies.length,
    answeredPct: r((100 * latencies.length) / Math.max(1, sent)),
    p50: r(pct(latencies, 50)),
    p99: r(pct(latencies, 99)),
    max: r(latencies.at(-1) ?? NaN),
    rssBeforeMB: r(rssBefore),
    rssPeakMB: r(rssPeak),
    rssGrowthMB: r(rssPeak - rssBefore),
    slowest: slowest
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([at, ms, ok]) => `${ok ? '' : 'failed '}${ms}ms@${(at / 1000).toFixed(1)}s`)
      .join(' '),
    load: loadAverage(),
  };
}
