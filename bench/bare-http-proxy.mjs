// Baseline: http-proxy 1.18.1 with a keep-alive agent, the classic Node reverse proxy.
import http from 'node:http';
import httpProxy from 'http-proxy';

const agent = new http.Agent({ keepAlive: true, maxSockets: 128 });
const proxy = httpProxy.createProxyServer({ target: process.env.TARGET, agent, xfwd: true });
proxy.on('error', (_err, _req, res) => {
  if (!res.headersSent) res.writeHead?.(502);
  res.end();
});

const server = http.createServer((req, res) => proxy.web(req, res));
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));

// Exit on SIGTERM through process.exit, so `node --cpu-prof` writes its profile when the runner stops us.
process.on('SIGTERM', () => process.exit(0));
