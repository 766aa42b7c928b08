// CPU per access line built by the old and the new formatter (the sink replaced by a no-op), in one process.
// Usage: node bench/experiments/access-line.mjs <dist-a> <dist-b>  (e.g. .bench/p2/base dist); env LINES (500000)
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { pino } from 'pino';

const LINES = Number(process.env.LINES ?? 500_000);
const dists = process.argv.slice(2);
const res = { statusCode: 200, writableFinished: true, bodyBytes: 23 };

async function measure(dist) {
  const { createAccessLog } = await import(path.resolve(dist, 'http/access-log.js'));
  let bytes = 0;
  const log = pino({ base: { name: 'gatehouse' }, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (l) => ({ level: l }) } }, { write: (s) => (bytes += s.length) });
  const accessLog = createAccessLog(log);
  const t0 = process.cpuUsage();
  for (let i = 0; i < LINES; i++) {
    // A new context per request, as the dispatcher makes: the same values, new objects.
    const ctx = { entryPoint: 'web', method: 'GET', host: `bench.test`, path: '/small', router: 'all', upstream: 'http://127.0.0.1:40000', clientIp: '127.0.0.1', start: performance.now() - 0.5 };
    accessLog(res, ctx);
  }
  const d = process.cpuUsage(t0);
  return { ns: ((d.user + d.system) * 1000) / LINES, bytes: bytes / LINES };
}

for (let round = 0; round < 3; round++) {
  for (const dist of dists) {
    const { ns, bytes } = await measure(dist);
    console.log(`${dist}: ${ns.toFixed(0)} ns per line (${bytes.toFixed(0)} chars)`);
  }
}
