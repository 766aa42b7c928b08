// CPU per access line built by the old and the new formatter (the sink replaced by a no-op), in one process.
// Usage: node bench/experiments/access-line.mjs <dist-a> <dist-b>  (e.g. .bench/p2/base dist); env LINES (500000)
// The request carries what a browser's would (issue 19's fields): a user agent, a referer and a query on every
// tenth request, and the matched service; with TLS=1 the https entry point's socket with its version and cipher.
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { pino } from 'pino';

const LINES = Number(process.env.LINES ?? 500_000);
const dists = process.argv.slice(2);
const tls = process.env.TLS === '1';
const socket = { getProtocol: () => 'TLSv1.3', getCipher: () => ({ name: 'TLS_AES_128_GCM_SHA256' }) };
const res = { statusCode: 200, writableFinished: true, bodyBytes: 23, req: { socket } };
const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';

async function measure(dist) {
  const { createAccessLog } = await import(path.resolve(dist, 'http/access-log.js'));
  let bytes = 0;
  const log = pino({ base: { name: 'gatehouse' }, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (l) => ({ level: l }) } }, { write: (s) => (bytes += s.length) });
  const accessLog = createAccessLog(log);
  const t0 = process.cpuUsage();
  for (let i = 0; i < LINES; i++) {
    // A new context per request, as the dispatcher makes: the same values, new objects.
    const headers = { host: 'bench.test', 'user-agent': UA, ...(i % 10 === 0 ? { referer: `https://bench.test/page/${i}` } : {}) };
    const ctx = { entryPoint: 'web', scheme: tls ? 'https' : 'http', method: 'GET', host: `bench.test`, path: '/small', query: i % 10 === 0 ? `page=${i}` : '', headers, router: 'all', service: 'bench', upstream: 'http://127.0.0.1:40000', clientIp: '127.0.0.1', start: performance.now() - 0.5 };
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
