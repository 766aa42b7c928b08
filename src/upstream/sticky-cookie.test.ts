import { afterEach, describe, expect, it } from 'vitest';
import { backend, closeBalancerFixtures, proxy, request } from '../../test/helpers/balancer-proxy.js';
import { serverId } from './index.js';
import { cookieValue, StickyCookie } from './sticky-cookie.js';
import type { UpstreamServer } from './upstream-server.js';

afterEach(closeBalancerFixtures);

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

describe('cookie parsing and Set-Cookie', () => {
  it.each([
    { description: 'alone', header: 'lb=abc', expected: 'abc' },
    { description: 'among others', header: 'x=1; lb=abc; y=2', expected: 'abc' },
    { description: 'last', header: 'x=1;lb=abc', expected: 'abc' },
    { description: 'not a suffix of another name', header: 'xlb=zzz; lb=abc', expected: 'abc' },
    { description: 'only as a suffix', header: 'xlb=zzz', expected: undefined },
    { description: 'absent', header: 'x=1; y=2', expected: undefined },
    { description: 'empty value', header: 'lb=; x=1', expected: '' },
  ])('finds the value $description', ({ header, expected }) => {
    expect(cookieValue(header, 'lb=')).toBe(expected);
  });

  it('maps the id back to its server and writes the configured attributes', () => {
    const list = [0, 1].map((index) => ({ index, id: serverId(`http://127.0.0.1:${9000 + index}`) }) as UpstreamServer);
    const sticky = new StickyCookie({ name: 'lb', secure: true, httpOnly: true, sameSite: 'strict', maxAge: 60, path: '/' }, list);
    expect(sticky.pinned(['Host', 'x', 'Cookie', `a=1; lb=${list[1]!.id}`])).toBe(list[1]);
    expect(sticky.pinned(['cookie', 'lb=unknown'])).toBeUndefined();
    expect(sticky.setCookie(list[1]!)).toBe(`lb=${list[1]!.id}; Path=/; Max-Age=60; Secure; HttpOnly; SameSite=Strict`);
    expect(sticky.setCookie(list[0]!)).not.toContain('127.0.0.1');
  });
});
