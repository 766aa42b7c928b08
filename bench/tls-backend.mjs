// The upstream of SNI passthrough (S4), and the direct TLS target of every TLS scenario: an https server with its
// own certificate (test/fixtures/tls: backend.test and *.pass.test, ECDSA P-256) answering /small with the same
// 23-byte body as backend.mjs. Prints `listening <port>` on stdout once bound.
import { readFileSync } from 'node:fs';
import https from 'node:https';

const fixtures = new URL('../test/fixtures/tls/', import.meta.url);
const small = Buffer.from('hello from the backend\n');

const server = https.createServer(
  { cert: readFileSync(new URL('backend.pem', fixtures)), key: readFileSync(new URL('backend-key.pem', fixtures)), ALPNProtocols: ['http/1.1'] },
  (req, res) => {
    req.resume(); // drain any request body so keep-alive stays usable
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': small.length });
    res.end(small);
  },
);
server.keepAliveTimeout = 60_000;
server.on('tlsClientError', () => {});
// COUNT_HANDSHAKES (bench/https-upstream.mjs): count TLS handshakes, full and resumed; SIGUSR2 prints the counts.
if (process.env.COUNT_HANDSHAKES) {
  let full = 0;
  let resumed = 0;
  server.on('secureConnection', (socket) => (socket.isSessionReused() ? resumed++ : full++));
  process.on('SIGUSR2', () => process.stdout.write(`handshakes ${full + resumed} resumed ${resumed}\n`));
}
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});

process.on('SIGTERM', () => process.exit(0));
