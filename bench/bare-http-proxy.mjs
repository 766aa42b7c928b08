// Baseline: http-proxy 1.18.1 with a keep-alive agent, the classic Node reverse proxy.
import http from 'node:http';
import httpProxy from 'http-proxy';

const agent = new http.Agent({ keepAlive: true, maxSockets: 128 });
const proxy = httpProxy.createProxyServer({ target: process.env.TARGET, agent, xfwd: true });
proxy.on('error', (_err, _req, res) => {
  if (!res.headersSent) res.writeHead?.(502);
  res.end();
});

// http-proxy 1.18.1 listens for the request's 'aborted' event to cancel the upstream request, which Node 20 no
// longer emits when the client goes away mid-response: without this, every response a client abandons (wrk at
// the end of each run) keeps its agent socket busy forever, and after 128 of them the proxy serves nothing.
proxy.on('proxyReq', (proxyReq, _req, res) => {
  res.on('close', () => {
    if (!res.writableFinished) proxyReq.destroy();
  });
});

const server = http.createServer((req, res) => proxy.web(req, res));
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));

// Exit on SIGTERM through process.exit, so `node --cpu-prof` writes its profile when the runner stops us.
process.on('SIGTERM', () => process.exit(0));
