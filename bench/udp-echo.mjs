// A UDP echo server for bench/udp.mjs: every datagram goes back to its sender as it came. Prints `listening <port>`.
import { createSocket } from 'node:dgram';

const socket = createSocket('udp4');
socket.on('message', (msg, rinfo) => socket.send(msg, rinfo.port, rinfo.address));
socket.bind(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${socket.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
