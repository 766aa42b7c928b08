/**
 * TCP health checks on real sockets (Traefik's fields): a connect check, send/expect, a wrong answer, a silent server,
 * a refused port, the `port` override; and the balancers skipping what the checks took out.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../log.js';
import { parseBackendAddress, TcpServerRing, TcpWeighted, type TcpServer } from './backend.js';
import { startTcpHealthChecks, type TcpHealthCheckOptions, type TcpHealthChecks } from './health-check.js';

const log = createLogger({ level: 'silent' });
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serve(onConnection: (s: Socket) => void): Promise<number> {
  const server: Server = createServer((s) => {
    s.on('error', () => {});
    onConnection(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const sockets = new Set<Socket>();
  server.on('connection', (s) => (sockets.add(s), s.once('close', () => sockets.delete(s))));
  cleanups.push(() => sockets.forEach((s) => s.destroy()));
  return (server.address() as AddressInfo).port;
}

const link = { service: 's', connectTimeoutMs: 1000, idleTimeoutMs: 0, proxyHeader: undefined };
const server = (port: number, up = true): TcpServer => ({ backend: parseBackendAddress(`127.0.0.1:${port}`)!, link, up });

function check(target: TcpServer, options: Partial<TcpHealthCheckOptions>): TcpHealthChecks {
  const checks = startTcpHealthChecks([target], { port: undefined, send: Buffer.alloc(0), expect: Buffer.alloc(0), intervalMs: 50, unhealthyIntervalMs: 50, timeoutMs: 200, ...options }, log);
  cleanups.push(() => checks.stop());
  return checks;
}

async function settles(target: TcpServer, up: boolean, ms = 2000): Promise<void> {
  const until = performance.now() + ms;
  while (target.up !== up) {
    if (performance.now() > until) throw new Error(`server still ${target.up ? 'up' : 'down'} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const refusedPort = async (): Promise<number> => {
  const port = await serve(() => {});
  await cleanups.shift()!(); // close it again: nothing listens there now
  return port;
};

describe('TCP health checks', () => {
  it.each([
    ['a refused connection takes a server out', async () => server(await refusedPort()), {}, false],
    ['a connect check passes on any listener', async () => server(await serve(() => {})), {}, true],
    ['send/expect passes on the expected answer', async () => server(await serve((s) => s.once('data', (d) => String(d) === 'PING\r\n' && s.write('+PONG\r\n')))), { send: Buffer.from('PING\r\n'), expect: Buffer.from('+PONG') }, true],
    ['an answer in pieces still counts', async () => server(await serve((s) => (s.write('+PO'), setTimeout(() => s.write('NG'), 20)))), { expect: Buffer.from('+PONG') }, true],
    ['a wrong answer fails', async () => server(await serve((s) => s.write('-ERR unknown command\r\n'))), { expect: Buffer.from('+PONG'), timeoutMs: 2000 }, false],
    ['a server that never answers fails after the timeout', async () => server(await serve(() => {})), { expect: Buffer.from('+PONG'), timeoutMs: 100 }, false],
    ['a server that closes before the whole answer fails', async () => server(await serve((s) => s.end('+P'))), { expect: Buffer.from('+PONG') }, false],
  ])('%s', async (_d, make, options, up) => {
    const target = await make();
    target.up = !up;
    check(target, options);
    await settles(target, up);
  });

  it('port checks another port than the server address, and a server comes back when it answers again', async () => {
    const health = await refusedPort();
    const target = server(await serve(() => {}));
    check(target, { port: health });
    await settles(target, false);
    let answered = false;
    const again = createServer((s) => ((answered = true), s.destroy()));
    await new Promise<void>((resolve) => again.listen(health, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => again.close(() => resolve())));
    await settles(target, true);
    expect(answered).toBe(true);
  });
});

describe('balancers skip servers that are down', () => {
  it('round robin skips a down server and says undefined when none is up', () => {
    const [a, b] = [server(1), server(2)];
    const ring = new TcpServerRing([a, b]);
    b.up = false;
    expect([ring.next(), ring.next(), ring.next()]).toEqual([a, a, a]);
    a.up = false;
    expect(ring.next()).toBeUndefined();
    expect(ring.up()).toBe(false);
  });

  it('weighted: 3:1 in every run of four; with healthCheck a service with no server up is skipped, without it keeps its share', () => {
    const [blue, green] = [server(1), server(2)];
    const children = [
      { name: 'blue', weight: 3, balancer: new TcpServerRing([blue]) },
      { name: 'green', weight: 1, balancer: new TcpServerRing([green]) },
    ];
    const skipping = new TcpWeighted(children, true);
    const picks = Array.from({ length: 8 }, () => skipping.next()?.backend.port);
    expect(picks.filter((p) => p === 1)).toHaveLength(6);
    green.up = false;
    expect(Array.from({ length: 4 }, () => skipping.next()?.backend.port)).toEqual([1, 1, 1, 1]);
    const keeping = new TcpWeighted(children, false);
    expect(Array.from({ length: 4 }, () => keeping.next()?.backend.port).filter((p) => p === undefined)).toHaveLength(1);
  });
});
