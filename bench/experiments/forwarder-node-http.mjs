// Node's own http client (native llhttp parsing straight from the socket, body pushed as slices of each read) with
// a keep-alive agent, piped into the response: what http-proxy does, without http-proxy's per-request work.
import http from 'node:http';
import { requestHeaders, serve } from './relay.mjs';

const target = new URL(process.env.TARGET);
const agent = new http.Agent({ keepAlive: true, maxSockets: 128 });
serve((req, res) => {
  const up = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: requestHeaders(req.rawHeaders), agent });
  up.on('response', (ur) => {
    res.writeHead(ur.statusCode, ur.statusMessage, ur.rawHeaders.filter((_, i, a) => i % 2 === 1 || !/^(connection|keep-alive|transfer-encoding)$/i.test(a[i])).flatMap((v, i, a) => (i % 2 === 0 ? [v, a[i + 1]] : [])));
    ur.pipe(res);
  });
  up.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  res.on('close', () => {
    if (!res.writableFinished) up.destroy();
  });
  up.end();
});
