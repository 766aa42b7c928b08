#!/usr/bin/env node
/**
 * An idle flood beside a probe of legitimate requests (issue 20, row 4): one child process holds N TCP connections
 * to the target that never send a byte (opening a new one whenever the target closes one), while this process sends
 * legitimate requests at a steady rate, each on a new connection, and samples the target's RSS from /proc.
 * Prints one JSON line: the probe's latency percentiles and answers, the target's RSS before and at its peak, and how
 * many idle connections the flood held and how many the target closed.
 *
 *   node scripts/hostile/idle-flood.mjs --target 127.0.0.1:8080 --url http://127.0.0.1:8080/ --pid 1234
 *        [--connections 5000] [--seconds 30] [--rate 20] [--no-reconnect]   (https:// is probed without verifying)
 *
 * Loopback only, every wait bounded; the flood child is stopped by its PID.
 */
import { fork } from 'node:child_process';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { probe } from './probe.mjs';

const { values: opts } = parseArgs({
  options: {
    role: { type: 'string', default: 'probe' },
    target: { type: 'string' },
    url: { type: 'string' },
    pid: { type: 'string' },
    connections: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '30' },
    rate: { type: 'string', default: '20' },
    'no-reconnect': { type: 'boolean', default: false },
  },
});

if (opts.role === 'flood') flood();
else await standalone();

/**
 * The flood child (`--role flood`, also started by run.mjs): holds `connections` idle sockets until told to stop
 * (an IPC message), reopening each one the target closes; reports its counts then.
 */
function flood() {
  const [host, portText] = opts.target.split(':');
  const port = Number(portText);
  const want = Number(opts.connections);
  let open = 0;
  let opened = 0;
  let closedByTarget = 0;
  let stopping = false;
  let peakOpen = 0;
  const sockets = new Set();
  const openOne = () => {
    if (stopping) return;
    const s = net.connect({ host, port });
    sockets.add(s);
    s.on('connect', () => {
      open++;
      opened++;
      peakOpen = Math.max(peakOpen, open);
    });
    s.on('data', () => {}); // whatever the target answers is read and dropped
    s.on('error', () => {});
    s.on('close', () => {
      sockets.delete(s);
      if (s.connecting === false && s.bytesRead !== undefined) open = Math.max(0, open - 1);
      if (!stopping) {
        closedByTarget++;
        // Reopen at a bounded pace: an attacker keeps the pressure, but not as a tight loop.
        if (!opts['no-reconnect']) setTimeout(openOne, 10);
      }
    });
  };
  // Open in batches so the connects do not all wait in one backlog.
  let started = 0;
  const batch = setInterval(() => {
    for (let i = 0; i < 250 && started < want; i++, started++) openOne();
    if (started >= want) clearInterval(batch);
  }, 20);
  process.on('message', (m) => {
    if (m !== 'stop') return;
    stopping = true;
    clearInterval(batch);
    for (const s of sockets) s.destroy();
    process.send({ opened, peakOpen, closedByTarget }, () => process.exit(0));
  });
  process.send('ready');
}

async function standalone() {
  const args = ['--role', 'flood', '--target', opts.target, '--connections', opts.connections, ...(opts['no-reconnect'] ? ['--no-reconnect'] : [])];
  const child = fork(new URL(import.meta.url).pathname, args, { stdio: 'inherit' });
  const stopChild = () => {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {}
  };
  process.once('exit', stopChild);
  await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', () => reject(new Error('the flood process exited before it was ready')));
    setTimeout(() => reject(new Error('the flood process did not start in 10 s')), 10_000).unref();
  });
  const figures = await probe({ url: opts.url, pid: Number(opts.pid), seconds: Number(opts.seconds), rate: Number(opts.rate) });
  const counts = await new Promise((resolve) => {
    child.once('message', resolve);
    child.send('stop');
    setTimeout(() => resolve({}), 10_000).unref();
  });
  stopChild();
  console.log(JSON.stringify({ url: opts.url, idle: Number(opts.connections), ...figures, ...counts }));
  process.exit(0);
}
