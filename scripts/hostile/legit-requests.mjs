// Legitimate traffic during an attack: `concurrency` loops, each sending GET `url` on a new connection, one at a
// time, for `seconds`; a request counts as answered when a 2xx response ends within `timeoutMs`. Prints one JSON
// line: sent, answered, percent answered, p50/p99/max latency of the answered ones (ms), and the non-2xx statuses.
// Usage: node scripts/hostile/legit-requests.mjs URL [seconds=20] [concurrency=8] [timeoutMs=5000]
import http from 'node:http';

const [url, secondsArg = '20', concurrencyArg = '8', timeoutArg = '5000'] = process.argv.slice(2);
if (url === undefined) {
  process.stderr.write('usage: legit-requests.mjs URL [seconds] [concurrency] [timeoutMs]\n');
  process.exit(2);
}
const seconds = Number(secondsArg);
const concurrency = Number(concurrencyArg);
const timeoutMs = Number(timeoutArg);
const until = performance.now() + seconds * 1000;
const latencies = [];
const statuses = {};
let sent = 0;
let failed = 0;

function once() {
  return new Promise((resolve) => {
    const start = performance.now();
    sent++;
    let done = false;
    const finish = (ok, status) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (ok) latencies.push(performance.now() - start);
      else {
        failed++;
        statuses[status] = (statuses[status] ?? 0) + 1;
      }
      resolve();
    };
    const req = http.get(url, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => finish(res.statusCode >= 200 && res.statusCode < 300, res.statusCode));
      res.on('error', () => finish(false, 'reset'));
    });
    req.on('error', (err) => finish(false, err.code ?? 'error'));
    const timer = setTimeout(() => {
      finish(false, 'timeout');
      req.destroy();
    }, timeoutMs);
  });
}

async function loop() {
  while (performance.now() < until) await once();
}

await Promise.all(Array.from({ length: concurrency }, loop));
latencies.sort((a, b) => a - b);
const pct = (p) => (latencies.length === 0 ? null : Math.round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] * 10) / 10);
process.stdout.write(
  JSON.stringify({
    sent,
    answered: latencies.length,
    answeredPct: sent === 0 ? 0 : Math.round((latencies.length / sent) * 1000) / 10,
    p50: pct(0.5),
    p99: pct(0.99),
    max: latencies.length === 0 ? null : Math.round(latencies[latencies.length - 1]),
    failures: statuses,
  }) + '\n',
);
