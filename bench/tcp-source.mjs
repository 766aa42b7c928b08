// The backend of bench/tcp-pipe.mjs: each connection gets BYTES bytes (default 64 MiB, one 256 KiB buffer written
// again and again under backpressure) and then our FIN. TLS=1 serves it over TLS with the passthrough fixtures'
// certificate (test/fixtures/tls, backend.test), as tls-backend.mjs does. Prints `listening <port>` once bound.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

const total = Number(process.env.BYTES ?? 64 * 1024 * 1024);
const chunk = Buffer.alloc(256 * 1024, 0x5a);

function pour(socket) {
  socket.on('error', () => {});
  socket.resume();
  let sent = 0;
  const pump = () => {
    while (sent < total) {
      sent += chunk.length;
      if (!socket.write(chunk)) return void socket.once('drain', pump);
    }
    socket.end();
  };
  pump();
}

const fixtures = new URL('../test/fixtures/tls/', import.meta.url);
const server =
  process.env.TLS === '1'
    ? tls.createServer({ cert: readFileSync(new URL('backend.pem', fixtures)), key: readFileSync(new URL('backend-key.pem', fixtures)) }, pour)
    : net.createServer(pour);
server.on('tlsClientError', () => {});
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));

process.on('SIGTERM', () => process.exit(0));
