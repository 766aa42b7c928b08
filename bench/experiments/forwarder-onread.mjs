// The relay with upstream sockets that read into buffers of READ_BYTES (default 256 KiB) instead of libuv's 64 KiB:
// `net.connect({ onread })` with a generator handing out a fresh buffer per read, each read pushed into the socket's
// own readable side, where undici's `socket.read()` finds it. One read can then take all that the socket holds, so
// a 1 MiB response is ~4 reads, parser calls and client writes instead of ~16.
import net from 'node:net';
import { Pool } from 'undici';
import { Relay, requestHeaders, serve } from './relay.mjs';

const READ_BYTES = Number(process.env.READ_BYTES ?? 256 * 1024);
// RING=n: an experiment only (unsafe): hand out n preallocated buffers in turn instead of a fresh one per read, to
// see what the per-read ArrayBuffers cost in GC. A buffer comes back before its bytes were surely written out.
const RING = Number(process.env.RING ?? 0);
const ring = Array.from({ length: RING }, () => Buffer.allocUnsafeSlow(READ_BYTES));
let next = 0;
const nextBuffer = RING ? () => ring[next++ % RING] : () => Buffer.allocUnsafeSlow(READ_BYTES);

function connect({ hostname, port }, callback) {
  const socket = net.connect({
    host: hostname,
    port: Number(port),
    onread: { buffer: nextBuffer, callback: (n, buf) => socket.push(buf.subarray(0, n)) },
  });
  socket.setNoDelay(true);
  const onError = (err) => callback(err);
  socket.once('error', onError).once('connect', () => {
    socket.off('error', onError);
    callback(null, socket);
  });
  return socket;
}

const pool = new Pool(process.env.TARGET, { connections: 128, pipelining: 1, connect });
serve((req, res) => {
  pool.dispatch({ path: req.url, method: req.method, headers: requestHeaders(req.rawHeaders), body: null }, new Relay(res));
});
