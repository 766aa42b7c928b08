// Scenario: gatehouse's upstream module alone (dist/upstream), behind a bare http.createServer: the cost of our
// forwarder with its header hygiene, without routing, middlewares or the access log.
import http from 'node:http';
import { pino } from 'pino';
import { createUpstream } from '../dist/upstream/index.js';

const log = pino({ level: 'warn' });
const upstream = createUpstream(
  {
    servers: [process.env.TARGET],
    passHostHeader: true,
    connectTimeoutMs: 5000,
    responseHeadersTimeoutMs: 60000,
    idleTimeoutMs: 30000,
    maxConnections: 128,
  },
  log,
);

const server = http.createServer((req, res) => {
  const s = req.socket;
  upstream.forward(req, res, {
    clientIp: s.remoteAddress ?? '',
    scheme: 'http',
    trustForwarded: false,
    upstream: undefined,
    log,
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));

// Exit on SIGTERM through process.exit, so `node --cpu-prof` writes its profile when the runner stops us.
process.on('SIGTERM', () => process.exit(0));
