import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { createUpstream, serverId, type ForwardInfo, type UpstreamOptions } from './index.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

interface Backend {
  url: string;
  name: string;
  /** Requests seen, health checks excluded. */
  hits: number;
  healthHits: number;
  bodies: string[];
  /** What /health answers. */
  healthStatus: number;
  /** Delay before answering other paths. */
  delayMs: number;
  /** Close the listener and every connection: the server is gone. */
  kill(): Promise<void>;
}

function listen(server: net.Server, port = 0): Promise<number> {
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** An HTTP backend that answers its name (after delayMs) and serves /health with healthStatus. */
async function backend(name: string): Promise<Backend> {
  const timers = new Set<NodeJS.Timeout>();
  const b: Backend = { url: '', name, hits: 0, healthHits: 0, bodies: [], healthStatus: 200, delayMs: 0, kill: async () => {} };
  const server = http.createServer((req, res) => {
    if (req.url === '/health') {
      b.healthHits++;
      res.writeHead(b.healthStatus).end();
      return;
    }
    b.hits++;
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      b.bodies.push(body);
      const answer = () => res.writeHead(200, { 'content-type': 'text/plain' }).end(name);
      if (b.delayMs === 0) answer();
      else {
        const t = setTimeout(() => (timers.delete(t), answer()), b.delayMs);
        timers.add(t);
      }
    });
  });
  b.url = `http://127.0.0.1:${await listen(server)}`;
  let killed: Promise<void> | undefined;
  b.kill = () => {
    for (const t of timers) clearTimeout(t);
    killed ??= closeServer(server);
    return killed;
  };
  closers.push(() => b.kill());
  return b;
}

/** A port that refuses connections. */
async function refused(): Promise<string> {
  const s = net.createServer();
  const port = await listen(s);
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}`;
}

type Line = Record<string, unknown> & { msg: string; level: number };

/** A proxy server in front of createUpstream(options); returns its URL and the log lines. */
async function proxy(options: Partial<UpstreamOptions> & Pick<UpstreamOptions, 'servers'>) {
  const lines: Line[] = [];
  const log = pino({ level: 'debug' }, new Writable({ write(chunk, _enc, cb) { lines.push(JSON.parse(String(chunk)) as Line); cb(); } }));
  const upstream = createUpstream(
    { passHostHeader: true, connectTimeoutMs: 2000, responseHeadersTimeoutMs: 3000, idleTimeoutMs: 5000, maxConnections: 16, ...options },
    log,
  );
  const server = http.createServer((req, res) => {
    const info: ForwardInfo = { clientIp: '127.0.0.1', scheme: 'http', trustForwarded: false, upstream: undefined, log };
    upstream.forward(req, res, info);
  });
  closers.push(() => closeServer(server));
  closers.push(() => upstream.close());
  const port = await listen(server);
  const waitFor = async (predicate: (l: Line) => boolean, timeoutMs = 3000): Promise<Line> => {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const hit = lines.find(predicate);
      if (hit) return hit;
      await sleep(20);
    }
    throw new Error(`no such log line within ${timeoutMs} ms:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`);
  };
  return { url: `http://127.0.0.1:${port}`, lines, upstream, waitFor };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Reply {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

function request(url: string, opts: http.RequestOptions = {}, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent: false, ...opts }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** `n` GETs, `concurrency` at a time; resolves with the replies in completion order. */
async function burst(url: string, n: number, concurrency: number): Promise<Reply[]> {
  const out: Reply[] = [];
  let next = 0;
  // Keep-alive client connections: 1000 requests on fresh sockets each would cost the test seconds.
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const worker = async () => {
    while (next < n) {
      next++;
      out.push(await request(url, { agent }));
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    agent.destroy();
  }
  return out;
}

function tally(replies: Reply[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const r of replies) {
    const key = r.status === 200 ? r.body : String(r.status);
    t[key] = (t[key] ?? 0) + 1;
  }
  return t;
}

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
    closers.push(() => closeServer(server));
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
    closers.push(() => upstream.close());
    const server = http.createServer((_req, res) => res.end());
    server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      upstream.upgrade(req, socket, head, { clientIp: '127.0.0.1', scheme: 'http', trustForwarded: false, upstream: undefined, log });
    });
    closers.push(() => closeServer(server));
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

describe('retries', () => {
  it.each([
    { description: 'GET goes to the next server', method: 'GET', body: undefined, retry: undefined, status: 200 },
    { description: 'DELETE goes to the next server', method: 'DELETE', body: undefined, retry: undefined, status: 200 },
    { description: 'POST is not retried by default', method: 'POST', body: 'payload', retry: undefined, status: 502 },
    { description: 'PATCH is not retried by default', method: 'PATCH', body: 'x', retry: undefined, status: 502 },
    { description: 'POST is retried with nonIdempotent, body intact', method: 'POST', body: 'payload', retry: { nonIdempotent: true }, status: 200 },
    { description: 'GET is not retried with attempts 1', method: 'GET', body: undefined, retry: { attempts: 1 }, status: 502 },
  ])('refused connection: $description', async ({ method, body, retry, status }) => {
    const a = await backend('a');
    // The first pick of a fresh round robin is the first server: the refused one.
    const p = await proxy({ servers: [await refused(), a.url], ...(retry && { retry }) });
    const r = await request(p.url, { method, headers: body ? { 'content-length': String(body.length) } : {} }, body);
    expect(r.status).toBe(status);
    if (status === 200) {
      expect(r.body).toBe('a');
      expect(a.bodies).toEqual([body ?? '']);
      expect(p.lines.find((l) => l.msg === 'upstream failed, retrying')).toMatchObject({ level: 40, code: 'UPSTREAM_CONNECT', retryOn: a.url });
    } else {
      expect(a.hits).toBe(0);
    }
  });

  it.each([
    { description: 'GET is replayed on the next server', method: 'GET', body: undefined, retry: undefined, status: 200 },
    { description: 'POST is not, even with nonIdempotent', method: 'POST', body: 'x', retry: { nonIdempotent: true }, status: 502 },
    { description: 'PUT with a body is not (the body is gone)', method: 'PUT', body: 'x', retry: undefined, status: 502 },
  ])('connection dropped after the request was written: $description', async ({ method, body, retry, status }) => {
    // Reads the request, then resets the connection without a byte of response.
    const dropper = net.createServer((s) => s.once('data', () => s.resetAndDestroy()).on('error', () => {}));
    closers.push(() => new Promise((r) => dropper.close(() => r())));
    const a = await backend('a');
    const p = await proxy({ servers: [`http://127.0.0.1:${await listen(dropper)}`, a.url], ...(retry && { retry }) });
    const r = await request(p.url, { method, headers: body ? { 'content-length': String(body.length) } : {} }, body);
    expect(r.status).toBe(status);
    expect(a.hits).toBe(status === 200 ? 1 : 0);
  });

  it('is bounded by attempts and by the servers not tried yet', async () => {
    const dead = [await refused(), await refused(), await refused()];
    const all = await proxy({ servers: dead });
    expect((await request(all.url)).status).toBe(502);
    expect(all.lines.filter((l) => l.msg === 'upstream failed, retrying')).toHaveLength(2);
    expect(new Set(all.lines.filter((l) => l.msg.startsWith('upstream failed')).map((l) => l['upstream']))).toEqual(new Set(dead));

    const two = await proxy({ servers: dead, retry: { attempts: 2 } });
    expect((await request(two.url)).status).toBe(502);
    expect(two.lines.filter((l) => l.msg === 'upstream failed, retrying')).toHaveLength(1);
  });
});

describe('sticky cookie', () => {
  const sticky = { name: 'lb', secure: false, httpOnly: true, sameSite: 'lax' as const, path: '/' };

  it('keeps a client on its server, and re-pins it when that server is gone', async () => {
    const a = await backend('a');
    const b = await backend('b');
    const p = await proxy({ servers: [a.url, b.url], sticky });
    const first = await request(p.url);
    expect(first.body).toBe('a');
    expect(first.headers['set-cookie']).toEqual([`lb=${serverId(a.url)}; Path=/; HttpOnly; SameSite=Lax`]);
    expect(first.headers['set-cookie']![0]).not.toContain('127.0.0.1');
    const cookie = `other=1; lb=${serverId(a.url)}`;
    for (let i = 0; i < 6; i++) {
      const r = await request(p.url, { headers: { cookie } });
      expect(r.body).toBe('a');
      expect(r.headers['set-cookie']).toBeUndefined();
    }
    await a.kill();
    // No health check configured: the refused connection is retried on b, and the client is pinned to b.
    const moved = await request(p.url, { headers: { cookie } });
    expect(moved.status).toBe(200);
    expect(moved.body).toBe('b');
    expect(moved.headers['set-cookie']).toEqual([`lb=${serverId(b.url)}; Path=/; HttpOnly; SameSite=Lax`]);
    const again = await request(p.url, { headers: { cookie: `lb=${serverId(b.url)}` } });
    expect(again.body).toBe('b');
    expect(again.headers['set-cookie']).toBeUndefined();
  });

  it('re-pins without a failed request when the health check took the server out', async () => {
    const a = await backend('a');
    const b = await backend('b');
    const check = { path: '/health', method: 'GET', intervalMs: 100, unhealthyIntervalMs: 100, timeoutMs: 500 };
    const p = await proxy({ servers: [a.url, b.url], sticky, healthCheck: check });
    a.healthStatus = 503;
    await p.waitFor((l) => l.msg === 'upstream server taken out');
    const r = await request(p.url, { headers: { cookie: `lb=${serverId(a.url)}` } });
    expect(r.body).toBe('b');
    expect(r.headers['set-cookie']).toEqual([`lb=${serverId(b.url)}; Path=/; HttpOnly; SameSite=Lax`]);
    expect(a.hits).toBe(0);
  });

  it('treats an unknown cookie value as no cookie', async () => {
    const a = await backend('a');
    const p = await proxy({ servers: [a.url], sticky: { ...sticky, maxAge: 3600, secure: true, sameSite: 'none' } });
    const r = await request(p.url, { headers: { cookie: 'lb=0123456789abcdef' } });
    expect(r.body).toBe('a');
    expect(r.headers['set-cookie']).toEqual([`lb=${serverId(a.url)}; Path=/; Max-Age=3600; Secure; HttpOnly; SameSite=None`]);
  });
});
