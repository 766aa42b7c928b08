// Baseline of TLS termination (S2, S3): a bare https.Server with one certificate, forwarding with the plainest
// undici Pool.stream (as bare-undici.mjs) to the plain backend at TARGET. CERT names a PEM file holding the
// certificate and its key (the runner passes the same file gatehouse serves as its default certificate).
// No header hygiene, no error pages, no SNI selection: the floor any TLS-terminating Node forwarder pays.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { Pool } from 'undici';

const target = process.env.TARGET;
const pem = readFileSync(process.env.CERT);
const pool = new Pool(target, { connections: 128, pipelining: 1 });

// Node's defaults otherwise (TLS 1.3, X25519, session tickets on), which is what gatehouse negotiates with wrk too.
const server = https.createServer({ cert: pem, key: pem, ALPNProtocols: ['http/1.1'] }, (req, res) => {
  pool
    .stream(
      { path: req.url, method: req.method, headers: req.headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : req },
      ({ statusCode, headers }) => {
        res.writeHead(statusCode, headers);
        return res;
      },
    )
    .catch(() => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
});
server.keepAliveTimeout = 60_000;
// A load generator cutting connections at the end of a run is not worth a crash.
server.on('tlsClientError', () => {});
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));

// Exit on SIGTERM through process.exit, so `node --cpu-prof` writes its profile when the runner stops us.
process.on('SIGTERM', () => process.exit(0));
