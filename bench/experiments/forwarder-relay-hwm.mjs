// The relay with a larger readable high-water mark on the upstream sockets, through undici's own connector (its
// `connect` options are spread into net.connect; undici's default is 64 KiB). undici reads its socket in paused
// mode ('readable' + socket.read()): a 64 KiB read fills a 64 KiB buffer to its mark, so Node stops reading
// (epoll_ctl) until undici's read() empties it and starts again (epoll_ctl): syscalls and an extra event-loop turn
// per read. Env RELAY_HWM: the mark in bytes (default 1 MiB). It also bounds how much request body undici may
// queue in the upstream socket (Duplex `highWaterMark` sets both sides).
import { Pool } from 'undici';
import { Relay, requestHeaders, serve } from './relay.mjs';

const highWaterMark = Number(process.env.RELAY_HWM ?? 1024 * 1024);
const pool = new Pool(process.env.TARGET, { connections: 128, pipelining: 1, connect: { highWaterMark } });
serve((req, res) => {
  pool.dispatch({ path: req.url, method: req.method, headers: requestHeaders(req.rawHeaders), body: null }, new Relay(res));
});
