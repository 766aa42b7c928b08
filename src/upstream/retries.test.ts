import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { backend, closeBalancerFixtures, listen, onClose, proxy, refused, request } from '../../test/helpers/balancer-proxy.js';

afterEach(closeBalancerFixtures);

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
    onClose(() => new Promise((r) => dropper.close(() => r())));
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
