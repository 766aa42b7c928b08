// The UDP listener on real loopback sockets, below the config: the per-session queue while a session's socket opens
// (bounded: the rest dropped and counted), a server that refuses (ICMP port unreachable ends the session, counted),
// and idle expiry following a timeout changed in place.
import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../log.js';
import { parseUdpServer } from './balancer.js';
import { listenUdp, type UdpListener } from './listener.js';
import type { UdpRoute } from './routes.js';

const open: (Socket | UdpListener)[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) {
    if ('counters' in s) await s.close(0);
    else s.close();
  }
});

async function socket(): Promise<Socket> {
  const s = createSocket('udp4');
  open.push(s);
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
  return s;
}

/** An echo server that counts what it got. */
async function echo(): Promise<{ port: number; got: () => number }> {
  const s = await socket();
  let got = 0;
  s.on('message', (m, r) => {
    got++;
    s.send(m, r.port, r.address);
  });
  return { port: s.address().port, got: () => got };
}

async function listen(server: string, timeoutMs = 3000): Promise<UdpListener> {
  const route: UdpRoute = { router: 'r', service: 's', pick: () => parseUdpServer(server)! };
  const l = await listenUdp('e', { host: '127.0.0.1', port: 0 }, '127.0.0.1:0/udp', { timeoutMs, maxSessions: 100 }, { udpRoute: () => route }, createLogger({ level: 'silent' }));
  open.push(l);
  return l;
}

async function until(ok: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

describe('UDP listener', () => {
  it('holds at most 8 datagrams while a session opens (a server by name is looked up first); the rest are dropped and counted', async () => {
    const server = await echo();
    const l = await listen(`localhost:${server.port}`);
    const client = await socket();
    let replies = 0;
    client.on('message', () => replies++);
    // 20 datagrams in one go: the first opens the session, its socket is not connected before the lookup answers.
    for (let i = 0; i < 20; i++) client.send(Buffer.from(`d${i}`), l.address().port, '127.0.0.1');
    await until(() => l.counters().datagramsIn === 20 && replies >= 8);
    await new Promise((r) => setTimeout(r, 100));
    expect(l.counters().datagramsIn).toBe(20);
    expect(l.counters().sessionsOpened).toBe(1);
    // The first and 7 more (8 in all) reach the server; 12 were dropped.
    expect(server.got()).toBe(8);
    expect(replies).toBe(8);
    expect(l.counters().droppedQueueFull).toBe(12);
    // Once open, nothing waits: the next datagrams go straight through.
    client.send(Buffer.from('after'), l.address().port, '127.0.0.1');
    await until(() => replies === 9);
    expect(replies).toBe(9);
  });

  it('a server that refuses (nothing listens: ICMP port unreachable) ends the session; the next datagram opens a new one', async () => {
    const gone = await socket();
    const port = gone.address().port;
    gone.close();
    open.splice(open.indexOf(gone), 1);
    const l = await listen(`127.0.0.1:${port}`);
    const client = await socket();
    client.send(Buffer.from('a'), l.address().port, '127.0.0.1');
    await until(() => l.counters().sessionsOpened === 1);
    // The kernel rate-limits ICMP errors (a flood test next door can spend the budget): ask again until one comes.
    const again = setInterval(() => client.send(Buffer.from('b'), l.address().port, '127.0.0.1'), 100);
    await until(() => l.counters().upstreamErrors >= 1 && l.connections() === 0, 5000);
    clearInterval(again);
    expect(l.counters().upstreamErrors).toBeGreaterThanOrEqual(1);
    expect(l.connections()).toBe(0);
    const opened = l.counters().sessionsOpened;
    client.send(Buffer.from('c'), l.address().port, '127.0.0.1');
    await until(() => l.counters().sessionsOpened === opened + 1);
    expect(l.counters().sessionsOpened).toBe(opened + 1);
  });

  it('ends idle sessions after the timeout, and a timeout changed in place applies to the open ones', async () => {
    const server = await echo();
    const l = await listen(`127.0.0.1:${server.port}`, 60_000);
    const client = await socket();
    client.send(Buffer.from('x'), l.address().port, '127.0.0.1');
    await until(() => l.connections() === 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(l.connections()).toBe(1);
    const t0 = Date.now();
    l.reconfigure({ timeoutMs: 200, maxSessions: 100 });
    await until(() => l.connections() === 0);
    expect(l.connections()).toBe(0);
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});
