// The load generator of the handshake workloads (peers suite): CONNECTIONS loops, each opening a TLS connection to
// URL, sending one `GET PATH` with `Connection: close`, reading the response to its end, and starting over. wrk
// cannot be told whether to resume: it keeps the previous session of each connection slot (SSL_clear), which some
// servers resume and others do not, so its "handshake" rate mixes full and resumed handshakes. Here RESUME=0 makes
// every handshake a full one (no session offered), RESUME=1 offers the last session this loop received (a ticket),
// and the output counts how many the server resumed. Prints one JSON line shaped like autocannon's result.
// Usage: node bench/handshake-load.mjs URL SECONDS CONNECTIONS RESUME
import { connect } from 'node:tls';

const [url, seconds, connections, resume] = process.argv.slice(2);
const { hostname, port, pathname } = new URL(url);
const request = Buffer.from(`GET ${pathname} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`);
const deadline = performance.now() + Number(seconds) * 1000;
const latencies = [];
let errors = 0;
let non2xx = 0;
let resumed = 0;

/** One connection: handshake, request, whole response; resolves with the session it got (for RESUME=1). */
function once(session) {
  return new Promise((resolve) => {
    const started = performance.now();
    let head = '';
    let got;
    // No servername: an IP is not a valid SNI (RFC 6066 §3), every target serves its default certificate.
    const socket = connect({ host: hostname, port: Number(port), rejectUnauthorized: false, ALPNProtocols: ['http/1.1'], ...(session ? { session } : {}) });
    socket.on('session', (s) => (got = s));
    socket.once('secureConnect', () => {
      if (socket.isSessionReused()) resumed++;
      socket.write(request);
    });
    socket.on('data', (d) => {
      if (head.length < 12) head += d.toString('latin1', 0, 12);
    });
    socket.once('end', () => {
      if (!head.startsWith('HTTP/1.1 2')) non2xx++;
      else latencies.push(performance.now() - started);
      socket.destroy();
    });
    socket.once('error', () => errors++);
    // A server that keeps the connection open after answering `Connection: close` would stall this loop: 10 s, an error.
    socket.setTimeout(10_000, () => socket.destroy(new Error('no close within 10 s')));
    socket.once('close', () => resolve(got));
  });
}

async function loop() {
  let session;
  while (performance.now() < deadline) {
    const next = await once(resume === '1' ? session : undefined);
    session = next ?? session;
  }
}

const t0 = performance.now();
await Promise.all(Array.from({ length: Number(connections) }, loop));
const elapsed = (performance.now() - t0) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p) => (latencies.length ? Number(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(2)) : NaN);
process.stdout.write(
  `${JSON.stringify({
    requests: { average: latencies.length / elapsed, total: latencies.length },
    latency: { p50: pct(0.5), p99: pct(0.99) },
    errors,
    timeouts: 0,
    non2xx,
    resumed: latencies.length ? resumed / (latencies.length + non2xx) : 0,
    duration: elapsed,
  })}\n`,
);
