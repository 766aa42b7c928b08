// The upstream of every scenario: /small answers a short body, /large a 1 MiB body (with Content-Length).
// Prints `listening <port>` on stdout once bound, so the runner knows where it is.
import http from 'node:http';

const small = Buffer.from('hello from the backend\n');
const large = Buffer.alloc(1024 * 1024, 'x');

const server = http.createServer((req, res) => {
  // Drain any request body so keep-alive stays usable.
  req.resume();
  const body = req.url === '/large' ? large : small;
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});

// Exit on SIGTERM through process.exit, so `node --cpu-prof` writes its profile when the runner stops us.
process.on('SIGTERM', () => process.exit(0));
