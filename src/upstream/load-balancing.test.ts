import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { pino } from 'pino';
import { backend, burst, closeBalancerFixtures, closeServer, listen, onClose, proxy, refused, request, sleep, tally } from '../../test/helpers/balancer-proxy.js';
import { createUpstream } from './index.js';

afterEach(closeBalancerFixtures);

describe('strategies', () => {
  it.each([
    { description: 'round robin, equal weights', weights: [1, 1, 1], expected: [333, 333, 333] },
    { description: 'round robin, weights 5/3/2', weights: [5, 3, 2], expected: [500, 300, 200] },
    { description: 'round robin, weights 1/1/8', weights: [1, 1, 8], expected: [100, 100, 800] },
  ])('$description: 1000 requests split by weight', async ({ weights, expected }) => {
    const bs = await Promise.all(weights.map((_, i) => backend(`s${i}`)));
    const p = await proxy({ servers: bs.map((b, i) => ({ url: b.url, weight: weights[i]! })) });
    const replies = await burst(p.url, 1000, 16);
    const t = tally(replies);
    expect(replies.every((r) => r.status === 200)).toBe(true);
    // Smooth weighted round robin is exact per pick; ±1 % covers the equal-weights remainder.
    bs.forEach((b, i) => expect(Math.abs((t[b.name] ?? 0) - expected[i]!)).toBeLessThanOrEqual(10));
  });

  it.each([
    { description: 'least connections sends most requests to the fast server', strategy: 'leastConnections' as const, fastAtLeast: 32 },
    { description: 'round robin splits evenly whatever the speed', strategy: 'roundRobin' as const, fastAtLeast: 20 },
  ])('$description', async ({ strategy, fastAtLeast }) => {
    const slow = await backend('slow');
    const fast = await backend('fast');
    slow.delayMs = 150;
    const p = await proxy({ servers: [slow.url, fast.url], strategy });
    const t = tally(await burst(p.url, 40, 4));
    expect((t['slow'] ?? 0) + (t['fast'] ?? 0)).toBe(40);
    expect(t['fast']).toBeGreaterThanOrEqual(fastAtLeast);
    if (strategy === 'roundRobin') expect(t['fast']).toBe(20);
  });
});

describe('active health checks', () => {
  const check = { path: '/health', method: 'GET', intervalMs: 100, unhealthyIntervalMs: 100, timeoutMs: 500 };

  it('takes a killed server out: no client error once the check noticed', async () => {
    const bs = await Promise.all(['a', 'b', 'c'].map(backend));
    // No retries, so only the health check protects the clients.
    const p = await proxy({ servers: bs.map((b) => b.url), healthCheck: check, retry: { attempts: 1 } });
    expect(tally(await burst(p.url, 30, 3))).toEqual({ a: 10, b: 10, c: 10 });
    await bs[1]!.kill();
    await p.waitFor((l) => l.msg === 'upstream server taken out' && l['upstream'] === bs[1]!.url);
    const after = tally(await burst(p.url, 60, 3));
    expect(after).toEqual({ a: 30, c: 30 });
    const down = p.lines.find((l) => l.msg === 'upstream server taken out')!;
    expect(down).toMatchObject({ level: 40, code: 'UPSTREAM_UNHEALTHY', check: 'active', reason: 'ECONNREFUSED' });
  });

  it.each([
    { description: 'an unexpected status takes it out, 200 brings it back', status: undefined, bad: 500, good: 200 },
    { description: 'a configured status is the only healthy one', status: 204, bad: 200, good: 204 },
  ])('$description', async ({ status, bad, good }) => {
    const a = await backend('a');
    const b = await backend('b');
    a.healthStatus = good;
    b.healthStatus = bad;
    const p = await proxy({ servers: [a.url, b.url], healthCheck: { ...check, ...(status !== undefined && { status }) } });
    await p.waitFor((l) => l.msg === 'upstream server taken out');
    expect(p.lines.find((l) => l.msg === 'upstream server taken out')).toMatchObject({ reason: `status ${bad}` });
    expect(tally(await burst(p.url, 6, 2))).toEqual({ a: 6 });
    b.healthStatus = good;
    await p.waitFor((l) => l.msg === 'upstream server back up' && l['upstream'] === b.url);
    expect(tally(await burst(p.url, 6, 1))).toEqual({ a: 3, b: 3 });
  });

  it('sends the configured Host header and path, and stops checking on close', async () => {
    let host = '';
    const b = await backend('b');
    const server = http.createServer((req, res) => {
      host = req.headers.host ?? '';
      res.writeHead(req.url === '/ready?deep=1' ? 200 : 404).end();
    });
    onClose(() => closeServer(server));
    const port = await listen(server);
    const p = await proxy({ servers: [b.url], healthCheck: { ...check, path: '/ready?deep=1', hostname: 'app.internal', port } });
    const end = Date.now() + 2000;
    while (host === '' && Date.now() < end) await sleep(20);
    expect(host).toBe('app.internal');
    expect(p.lines.some((l) => l.msg === 'upstream server taken out')).toBe(false);
    await p.upstream.close();
    const seen = b.healthHits;
    host = '';
    await sleep(350);
    expect(host).toBe('');
    expect(b.healthHits).toBe(seen);
  });
});

describe('passive health checks', () => {
  it('takes a failing server out for the cooldown, then tries it again', async () => {
    const a = await backend('a');
    const dead = await refused();
    const p = await proxy({
      servers: [dead, a.url],
      passiveHealthCheck: { maxFailedAttempts: 1, failureWindowMs: 10_000, cooldownMs: 400 },
      retry: { attempts: 1 },
    });
    expect((await request(p.url)).status).toBe(502);
    expect(tally(await burst(p.url, 10, 2))).toEqual({ a: 10 });
    expect(p.lines.find((l) => l.msg === 'upstream server taken out')).toMatchObject({ check: 'passive', upstream: dead, cooldownMs: 400 });
    await sleep(450);
    // Back in rotation: the dead server gets its turn again and fails again.
    expect(tally(await burst(p.url, 2, 1))).toEqual({ 502: 1, a: 1 });
  });

  it('kill one of three mid-run: only requests in flight or before the first failure may fail', async () => {
    const bs = await Promise.all(['a', 'b', 'c'].map(backend));
    const p = await proxy({
      servers: bs.map((b) => b.url),
      passiveHealthCheck: { maxFailedAttempts: 1, failureWindowMs: 10_000, cooldownMs: 60_000 },
      retry: { attempts: 1 },
    });
    const first = tally(await burst(p.url, 30, 3));
    expect(first).toEqual({ a: 10, b: 10, c: 10 });
    await bs[1]!.kill();
    const during = await burst(p.url, 60, 3);
    const failures = during.filter((r) => r.status !== 200).length;
    expect(failures).toBeLessThanOrEqual(1);
    expect(tally(during)['b']).toBeUndefined();
  });
});

describe('no usable server', () => {
  it('answers 503 with a clear body and logs the outage once', async () => {
    const check = { path: '/health', method: 'GET', intervalMs: 100, unhealthyIntervalMs: 100, timeoutMs: 500 };
    const p = await proxy({ servers: [await refused(), await refused()], healthCheck: check });
    const end = Date.now() + 3000;
    while (p.lines.filter((l) => l.msg === 'upstream server taken out').length < 2 && Date.now() < end) await sleep(20);
    const replies = await burst(p.url, 3, 1);
    for (const r of replies) {
      expect(r.status).toBe(503);
      expect(r.body).toBe('Service Unavailable: no healthy upstream\n');
      expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
    }
    const warns = p.lines.filter((l) => l.msg === 'no healthy upstream');
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatchObject({ level: 40, code: 'UPSTREAM_UNAVAILABLE', servers: 2 });
  });
});

describe('upgrades', () => {
  it('answers an upgrade 503 on the raw socket when no server is usable', async () => {
    const log = pino({ level: 'silent' });
    const check = { path: '/health', method: 'GET', intervalMs: 100, unhealthyIntervalMs: 100, timeoutMs: 500 };
    const upstream = createUpstream(
      { servers: [await refused()], passHostHeader: true, connectTimeoutMs: 1000, responseHeadersTimeoutMs: 1000, idleTimeoutMs: 1000, maxConnections: 2, healthCheck: check },
      log,
    );
    onClose(() => upstream.close());
    const server = http.createServer((_req, res) => res.end());
    server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      upstream.upgrade(req, socket, head, { clientIp: '127.0.0.1', scheme: 'http', trustForwarded: false, upstream: undefined, log });
    });
    onClose(() => closeServer(server));
    const port = await listen(server);
    await sleep(300);
    const answer = await new Promise<string>((resolve, reject) => {
      const c = net.connect(port, '127.0.0.1', () => {
        c.write('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
      });
      let text = '';
      c.setEncoding('utf8').on('data', (d: string) => (text += d));
      c.on('end', () => resolve(text));
      c.on('error', reject);
      c.setTimeout(3000, () => c.destroy(new Error('no answer')));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
    expect(answer.endsWith('\r\n\r\nService Unavailable: no healthy upstream\n')).toBe(true);
  });
});
