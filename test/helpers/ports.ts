/**
 * Free loopback ports for the servers the tests start as child processes (Pebble, nginx, redis-server, BIND,
 * gatehouse itself). A port bound to 0 and closed comes from the kernel's ephemeral range, where an outgoing connection
 * of the test file running beside this one may take it before the child binds; so ports are drawn at random below
 * that range and checked by binding them. A child can still lose its port to another test file in between: helpers
 * that can see it (Pebble's) start again on other ports.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const FIRST_PORT = 20_000;

/** `n` distinct ports free on 127.0.0.1 now, below the ephemeral range. */
export async function freePorts(n: number): Promise<number[]> {
  const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  const top = Math.max(FIRST_PORT + 1000, Math.min(low ?? 32768, 65536));
  const ports = new Set<number>();
  for (let tries = 0; ports.size < n; tries++) {
    if (tries >= 200) throw new Error(`no ${n} free ports between ${FIRST_PORT} and ${top} on 127.0.0.1 in 200 tries`);
    const port = FIRST_PORT + Math.floor(Math.random() * (top - FIRST_PORT));
    if (!ports.has(port) && (await bindable(port))) ports.add(port);
  }
  return [...ports];
}

/** One port free on 127.0.0.1 now, below the ephemeral range. */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}
