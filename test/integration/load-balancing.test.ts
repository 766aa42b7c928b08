// Load balancing end to end through the gatehouse CLI: weights over 1000 requests, a server killed mid-run behind
// active health checks (with and without retries), passive checks, every server down (503), retries on a refused
// connection, and sticky cookies that follow a server and move when it dies.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { burst as sendBurst, type BurstReply } from '../helpers/burst.js';
import { startGatehouse, stopAllGatehouses, type GatehouseProcess } from '../helpers/gatehouse-process.js';
import { httpRequest } from '../helpers/raw-http.js';
import { closeAllUpstreams, refusedPort, startHttpUpstream, type HttpUpstream } from '../helpers/upstreams.js';

let gh: GatehouseProcess;
const named: Record<string, HttpUpstream> = {};
let deadA: string;
let deadB: string;

/** An upstream that answers its name, and 200 on /health. */
async function nameServer(name: string): Promise<HttpUpstream> {
  const u = await startHttpUpstream((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain', 'x-body': String(body.length) }).end(name));
  });
  named[name] = u;
  return u;
}

const servers = (...names: string[]) => names.map((n) => ({ url: named[n]!.url }));
const check = { path: '/health', interval: '100ms', timeout: '500ms' };

beforeAll(async () => {
  for (const n of ['w1', 'w2', 'w3', 'k1', 'k2', 'k3', 'p1', 'r1', 's1', 's2']) await nameServer(n);
  deadA = `http://127.0.0.1:${await refusedPort()}`;
  deadB = `http://127.0.0.1:${await refusedPort()}`;
  const route = (host: string, service: string) => ({ rule: `Host(\`${host}\`)`, service });
  gh = await startGatehouse({
    log: { accessLog: false },
    entryPoints: { web: { address: '127.0.0.1:0' } },
    http: {
      routers: {
        weighted: route('weighted.test', 'weighted'),
        kill: route('kill.test', 'kill'),
        killRetry: route('kill-retry.test', 'killRetry'),
        passive: route('passive.test', 'passive'),
        down: route('down.test', 'down'),
        retryGet: route('retry-get.test', 'retryGet'),
        retryPost: route('retry-post.test', 'retryPost'),
        sticky: route('sticky.test', 'sticky'),
        broken: route('broken.test', 'broken'),
      },
      services: {
        weighted: { loadBalancer: { servers: [{ url: named['w1']!.url, weight: 1 }, { url: named['w2']!.url, weight: 2 }, { url: named['w3']!.url, weight: 7 }] } },
        kill: { loadBalancer: { servers: servers('k1', 'k2', 'k3'), healthCheck: check, retry: { attempts: 1 } } },
        killRetry: { loadBalancer: { servers: servers('k1', 'k2', 'k3'), healthCheck: check } },
        passive: {
          loadBalancer: { servers: [{ url: deadA }, { url: named['p1']!.url }], passiveHealthCheck: { cooldown: '1m' }, retry: { attempts: 1 } },
        },
        down: { loadBalancer: { servers: [{ url: deadA }, { url: deadB }], passiveHealthCheck: { cooldown: '1m' } } },
        retryGet: { loadBalancer: { servers: [{ url: deadA }, { url: named['r1']!.url }] } },
        retryPost: { loadBalancer: { servers: [{ url: deadA }, { url: named['r1']!.url }] } },
        sticky: {
          loadBalancer: { servers: servers('s1', 's2'), sticky: { cookie: { name: 'gh_pin', secure: true, sameSite: 'strict', maxAge: 600 } } },
        },
        // The schema accepts any URL string; only http:// can be forwarded to: this service alone is disabled.
        broken: { loadBalancer: { servers: [{ url: 'ftp://127.0.0.1:21' }] } },
      },
    },
  });
});
afterAll(async () => {
  await stopAllGatehouses();
  await closeAllUpstreams();
});

type Reply = BurstReply;

/** `n` GETs to `host` (or until `until()`), 3–8 at a time; replies go to `out`. */
function burst(host: string, n: number, concurrency: number, until?: () => boolean, out: Reply[] = []): Promise<Reply[]> {
  return sendBurst(gh.ports['web']!, host, n, concurrency, { ...(until ? { until } : {}), out });
}

function tally(replies: Reply[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const r of replies) {
    const key = r.status === 200 ? r.text : String(r.status);
    t[key] = (t[key] ?? 0) + 1;
  }
  return t;
}

describe('load balancing through gatehouse', () => {
  it('honours weights 1/2/7 over 1000 requests', async () => {
    const t = tally(await burst('weighted.test', 1000, 8));
    expect(Object.values(t).reduce((a, b) => a + b, 0)).toBe(1000);
    // Smooth weighted round robin is exact per pick; the tolerance (±3 %) only allows for a changed algorithm.
    expect(Math.abs((t['w1'] ?? 0) - 100)).toBeLessThanOrEqual(30);
    expect(Math.abs((t['w2'] ?? 0) - 200)).toBeLessThanOrEqual(30);
    expect(Math.abs((t['w3'] ?? 0) - 700)).toBeLessThanOrEqual(30);
  });

  it('a server killed mid-run: no error once the health check noticed, none at all with retries', async () => {
    let stop = false;
    const plain: Reply[] = [];
    const retried: Reply[] = [];
    const load = Promise.all([burst('kill.test', 100_000, 3, () => stop, plain), burst('kill-retry.test', 100_000, 3, () => stop, retried)]);
    await new Promise((r) => setTimeout(r, 300));
    const killedAt = Date.now();
    await named['k2']!.close();
    const noticed = await gh.waitForLog((l) => l.msg === 'upstream server taken out' && l['upstream'] === named['k2']!.url, 5_000);
    expect(noticed).toMatchObject({ level: 'warn', code: 'UPSTREAM_UNHEALTHY', check: 'active', service: expect.any(String) });
    const noticedAt = Date.parse(String(noticed['time']));
    // Requests started after the check noticed (both services' checks run every 100 ms: allow one more round).
    const isLate = (r: Reply) => r.startedAt > noticedAt + 150;
    for (let waited = 0; plain.filter(isLate).length <= 20 && waited < 5_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    stop = true;
    await load;
    const late = plain.filter(isLate);
    expect(late.length).toBeGreaterThan(20);
    expect(late.every((r) => r.status === 200 && r.text !== 'k2')).toBe(true);
    // Without retries, failures are only those between the kill and the check.
    expect(plain.filter((r) => r.status !== 200).every((r) => r.startedAt >= killedAt - 50 && r.startedAt <= noticedAt + 150)).toBe(true);
    // With retries a refused connection never reaches the client; only requests in flight on k2 (3 at most) may be cut.
    expect(tally(retried)['502']).toBeUndefined();
    expect(retried.filter((r) => r.status !== 200).length).toBeLessThanOrEqual(3);
    expect(retried.filter((r) => r.startedAt > killedAt).length).toBeGreaterThan(20);
  });

  it('passive check: the first failure takes the server out, the others carry on', async () => {
    const first = await httpRequest(gh.ports['web']!, { host: 'passive.test' });
    expect(first.status).toBe(502);
    const t = tally(await burst('passive.test', 20, 2));
    expect(t).toEqual({ p1: 20 });
    await gh.waitForLog((l) => l.msg === 'upstream server taken out' && l['check'] === 'passive' && l['upstream'] === deadA);
  });

  it('every server down: 503 with a clear body, one warn line', async () => {
    // The first request tries both dead servers (one retry), which takes both out.
    expect((await httpRequest(gh.ports['web']!, { host: 'down.test' })).status).toBe(502);
    for (let i = 0; i < 3; i++) {
      const r = await httpRequest(gh.ports['web']!, { host: 'down.test' });
      expect(r.status).toBe(503);
      expect(r.text).toBe('Service Unavailable: no healthy upstream\n');
    }
    await gh.waitForLog((l) => l.msg === 'no healthy upstream' && l['service'] === 'down');
    expect(gh.logs.filter((l) => l.msg === 'no healthy upstream' && l['service'] === 'down')).toHaveLength(1);
  });

  it.each([
    { description: 'GET after a refused connection goes to the next server', host: 'retry-get.test', method: 'GET', status: 200 },
    { description: 'POST after a refused connection is not retried', host: 'retry-post.test', method: 'POST', status: 502 },
  ])('$description', async ({ host, method, status }) => {
    const before = named['r1']!.requests.length;
    const r = await httpRequest(gh.ports['web']!, { host, method, ...(method === 'POST' && { body: 'form=1' }) });
    expect(r.status).toBe(status);
    expect(named['r1']!.requests.length - before).toBe(status === 200 ? 1 : 0);
  });

  it('a server URL that cannot be used disables its service only', async () => {
    const line = gh.logs.find((l) => l.msg === 'router disabled' && l['router'] === 'broken');
    expect(line).toMatchObject({ code: 'CONFIG_SCHEMA', path: '/http/services/broken/loadBalancer' });
    expect(String(line?.['reason'])).toContain('ftp://127.0.0.1:21');
    expect((await httpRequest(gh.ports['web']!, { host: 'broken.test' })).status).toBe(404);
    expect((await httpRequest(gh.ports['web']!, { host: 'retry-get.test' })).status).toBe(200);
  });

  it('sticky cookie: kept, and re-pinned when its server is gone', async () => {
    const port = gh.ports['web']!;
    const first = await httpRequest(port, { host: 'sticky.test' });
    const setCookie = first.headers['set-cookie']?.[0] ?? '';
    expect(setCookie).toMatch(/^gh_pin=[0-9a-f]{16}; Path=\/; Max-Age=600; Secure; HttpOnly; SameSite=Strict$/);
    expect(setCookie).not.toContain('127.0.0.1');
    const pinned = first.text;
    const cookie = setCookie.split(';')[0]!;
    for (let i = 0; i < 5; i++) {
      const r = await httpRequest(port, { host: 'sticky.test', headers: { cookie } });
      expect(r.text).toBe(pinned);
      expect(r.headers['set-cookie']).toBeUndefined();
    }
    await named[pinned]!.close();
    const moved = await httpRequest(port, { host: 'sticky.test', headers: { cookie } });
    expect(moved.status).toBe(200);
    expect(moved.text).not.toBe(pinned);
    const newCookie = (moved.headers['set-cookie']?.[0] ?? '').split(';')[0]!;
    expect(newCookie).toMatch(/^gh_pin=[0-9a-f]{16}$/);
    expect(newCookie).not.toBe(cookie);
    const again = await httpRequest(port, { host: 'sticky.test', headers: { cookie: newCookie } });
    expect(again.text).toBe(moved.text);
  });
});
