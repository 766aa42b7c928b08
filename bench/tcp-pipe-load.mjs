// The client of bench/tcp-pipe.mjs, in its own process: CONNECTIONS loops, each connecting to TARGET_PORT (over TLS
// with TLS=1, SNI backend.test, certificate not checked: the bench measures bytes, not trust), reading until the
// source's FIN, and connecting again. Counts the bytes read during DURATION seconds after WARMUP; prints one JSON
// line: { mibps (MiB/s), connections (completed in the measured span) }.
import net from 'node:net';
import tls from 'node:tls';

const port = Number(process.env.TARGET_PORT);
const useTls = process.env.TLS === '1';
const loops = Number(process.env.CONNECTIONS ?? 4);
const warmupMs = Number(process.env.WARMUP ?? 1) * 1000;
const durationMs = Number(process.env.DURATION ?? 5) * 1000;

let measuring = false;
let stopping = false;
let bytes = 0;
let completed = 0;

function loop() {
  if (stopping) return;
  const socket = useTls
    ? tls.connect({ host: '127.0.0.1', port, servername: 'backend.test', rejectUnauthorized: false })
    : net.connect({ host: '127.0.0.1', port });
  socket.on('data', (c) => {
    if (measuring) bytes += c.length;
  });
  socket.once('end', () => {
    if (measuring) completed++;
    socket.destroy();
    loop();
  });
  socket.once('error', (err) => {
    process.stderr.write(`connection error: ${err.message}\n`);
    socket.destroy();
    setTimeout(loop, 50);
  });
}

for (let i = 0; i < loops; i++) loop();
setTimeout(() => {
  measuring = true;
  setTimeout(() => {
    measuring = false;
    stopping = true;
    process.stdout.write(`${JSON.stringify({ mibps: bytes / 1048576 / (durationMs / 1000), connections: completed })}\n`);
    process.exit(0);
  }, durationMs);
}, warmupMs);
