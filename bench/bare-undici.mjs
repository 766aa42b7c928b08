// Baseline: the plainest undici forwarder, one keep-alive Pool and Pool.stream writing into `res`.
// No header hygiene, no error pages: the floor any real forwarder pays on top of undici.
import http from 'node:http';
import { Pool } from 'undici';

const target = process.env.TARGET;
const pool = new Pool(target, { connections: 128, pipelining: 1 });

const server = http.createServer((req, res) => {
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
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));

// Exit on SIGTERM through process.exit, so `node --cpu-prof` writes its profile when the runner stops us.
process.on('SIGTERM', () => process.exit(0));
