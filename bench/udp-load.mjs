// The UDP load generator of bench/udp.mjs, in its own process: CLIENTS sockets (each its own source port, so its own
// session in gatehouse), each keeping WINDOW datagrams of SIZE bytes in flight to TARGET_PORT (a reply lets the next
// one go; a datagram lost is re-sent after 200 ms). Runs WARMUP then DURATION seconds; prints one JSON line:
// { datagrams (replies per second), p50, p99 (round trip, ms), lost }.
import { createSocket } from 'node:dgram';

const port = Number(process.env.TARGET_PORT);
const clients = Number(process.env.CLIENTS ?? 50);
const windowSize = Number(process.env.WINDOW ?? 4);
const size = Number(process.env.SIZE ?? 100);
const warmupMs = Number(process.env.WARMUP ?? 1) * 1000;
const durationMs = Number(process.env.DURATION ?? 5) * 1000;

let measuring = false;
let replies = 0;
let lost = 0;
/** Round trips in 10 µs buckets up to 100 ms: a histogram, not a list, so the generator allocates nothing per reply. */
const buckets = new Uint32Array(10_001);
const payload = Buffer.alloc(size, 0x61);

const sockets = [];
for (let c = 0; c < clients; c++) {
  const socket = createSocket('udp4');
  const sentAt = new Float64Array(windowSize);
  const timers = new Array(windowSize);
  const send = (slot) => {
    // The slot number rides in the first byte, so a reply says which datagram of the window it answers.
    const msg = Buffer.from(payload);
    msg[0] = slot;
    sentAt[slot] = performance.now();
    socket.send(msg, port, '127.0.0.1');
    clearTimeout(timers[slot]);
    timers[slot] = setTimeout(() => {
      if (measuring) lost++;
      send(slot);
    }, 200);
  };
  socket.on('message', (msg) => {
    const slot = msg[0];
    if (slot >= windowSize) return;
    if (measuring) {
      replies++;
      const us = (performance.now() - sentAt[slot]) * 1000;
      buckets[Math.min(10_000, Math.floor(us / 10))]++;
    }
    send(slot);
  });
  socket.bind(0, '127.0.0.1', () => {
    for (let s = 0; s < windowSize; s++) send(s);
  });
  sockets.push({ socket, timers });
}

const quantile = (q) => {
  let seen = 0;
  const want = replies * q;
  for (let i = 0; i < buckets.length; i++) {
    seen += buckets[i];
    if (seen >= want) return (i * 10) / 1000;
  }
  return 100;
};

setTimeout(() => {
  measuring = true;
  const t0 = performance.now();
  setTimeout(() => {
    measuring = false;
    const seconds = (performance.now() - t0) / 1000;
    process.stdout.write(`${JSON.stringify({ datagrams: replies / seconds, p50: quantile(0.5), p99: quantile(0.99), lost })}\n`);
    for (const { socket, timers } of sockets) {
      for (const t of timers) clearTimeout(t);
      socket.close();
    }
  }, durationMs);
}, warmupMs);
