#!/usr/bin/env node
/**
 * A header-count flood (issue 20, row 3): `concurrency` loops, each sending a GET with `lines` header lines on a new
 * connection (Connection: close) and reading the answer, until told to stop (an IPC message) or `seconds` pass.
 * Prints (or sends to its parent) the statuses it got, and how many requests got no answer.
 *
 *   node scripts/hostile/header-flood.mjs HOST:PORT [lines=1000] [concurrency=50] [seconds=30]
 */
import net from 'node:net';

const [target, linesArg = '1000', concurrencyArg = '50', secondsArg = '30'] = process.argv.slice(2);
const [host, port] = target.split(':');
const lines = Number(linesArg);
const head = Buffer.from(
  `GET / HTTP/1.1\r\nHost: ${target}\r\nConnection: close\r\n${Array.from({ length: lines }, (_, i) => `X-Flood-${i}: ${i}\r\n`).join('')}\r\n`,
);
const statuses = {};
let stopping = false;

function one() {
  return new Promise((resolve) => {
    const s = net.connect(Number(port), host);
    let answer = '';
    const timer = setTimeout(() => s.destroy(), 5_000);
    s.on('connect', () => s.write(head));
    s.on('data', (d) => {
      if (answer.length < 64) answer += d.toString('latin1');
    });
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(answer);
      const key = m ? m[1] : 'none';
      statuses[key] = (statuses[key] ?? 0) + 1;
      resolve();
    });
  });
}

async function loop() {
  while (!stopping) await one();
}

const report = () => {
  if (process.send) process.send(statuses, () => process.exit(0));
  else {
    console.log(JSON.stringify({ target, lines, statuses }));
    process.exit(0);
  }
};
process.on('message', () => (stopping = true));
setTimeout(() => (stopping = true), Number(secondsArg) * 1000).unref();
await Promise.all(Array.from({ length: Number(concurrencyArg) }, loop));
report();
