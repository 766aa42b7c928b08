// Services across services, end to end through the gatehouse CLI: a 90/10 canary over 1000 requests, a sticky
// canary, mirrors that get copies while the client only ever sees the main service, mirrors that are dead or never
// answer (nothing changes for the client), and a weighted service naming a missing one (only its router is off).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { burst as sendBurst } from '../helpers/burst.js';
import { startGatehouse, stopAllGatehouses, type GatehouseProcess } from '../helpers/gatehouse-process.js';
import { httpRequest } from '../helpers/raw-http.js';
import { closeAllUpstreams, refusedPort, startHttpUpstream, startSilentUpstream, type HttpUpstream } from '../helpers/upstreams.js';

let gh: GatehouseProcess;
let silent: Awaited<ReturnType<typeof startSilentUpstream>>;
let dead: string;
const named: Record<string, HttpUpstream> = {};
/** Bodies each upstream received, by name, in arrival order. */
const bodies: Record<string, string[]> = {};

/** An upstream that answers its name after reading the body, and records the body. */
async function nameServer(name: string): Promise<HttpUpstream> {
  bodies[name] = [];
  const u = await startHttpUpstream((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      bodies[name]!.push(body);
      res.writeHead(200, { 'content-type': 'text/plain', 'x-served-by': name }).end(name);
    });
  });
  named[name] = u;
  return u;
}

const lb = (...urls: string[]) => ({ loadBalancer: { servers: urls.map((url) => ({ url })), timeouts: { responseHeaders: '2s' } } });

beforeAll(async () => {
  for (const n of ['stable', 'canary', 'main', 'shadow']) await nameServer(n);
  dead = `http://127.0.0.1:${await refusedPort()}`;
  silent = await startSilentUpstream();
  const route = (host: string, service: string) => ({ rule: `Host(\`${host}\`)`, service });
  gh = await startGatehouse({
    log: { accessLog: false },
    entryPoints: { web: { address: '127.0.0.1:0' } },
    http: {
      routers: {
        canary: route('canary.test', 'release'),
        sticky: route('sticky.test', 'stickyRelease'),
        mirrored: route('mirrored.test', 'mirrored'),
        deadMirror: route('dead-mirror.test', 'deadMirrored'),
        missing: route('missing.test', 'brokenRelease'),
      },
      services: {
        release: { weighted: { services: [{ name: 'stable', weight: 9 }, { name: 'canary', weight: 1 }] } },
        stickyRelease: { weighted: { services: [{ name: 'stable', weight: 1 }, { name: 'canary', weight: 1 }], sticky: { cookie: { name: 'release' } } } },
        mirrored: { mirroring: { service: 'main', mirrors: [{ name: 'shadow', percent: 100 }], maxBodySize: 1024 } },
        deadMirrored: { mirroring: { service: 'main', mirrors: [{ name: 'dead', percent: 100 }, { name: 'silent', percent: 100 }] } },
        brokenRelease: { weighted: { services: [{ name: 'stable' }, { name: 'nowhere' }] } },
        stable: lb(named['stable']!.url),
        canary: lb(named['canary']!.url),
        main: lb(named['main']!.url),
        shadow: lb(named['shadow']!.url),
        dead: lb(dead),
        silent: lb(silent.url),
      },
    },
  });
});
afterAll(async () => {
  await stopAllGatehouses();
  await closeAllUpstreams();
});

/** `n` requests to `host`, `concurrency` at a time; each answer as "status body" (or "error …"), in order done. */
async function burst(host: string, n: number, concurrency: number, opts: { method?: string; body?: string } = {}): Promise<string[]> {
  const replies = await sendBurst(gh.ports['web']!, host, n, concurrency, opts);
  return replies.map((r) => (r.error !== undefined ? `error ${r.error}` : `${r.status} ${r.text}`));
}

function tally(answers: string[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const a of answers) t[a] = (t[a] ?? 0) + 1;
  return t;
}

const waitFor = async (cond: () => boolean, ms = 5_000): Promise<void> => {
  for (const end = Date.now() + ms; !cond() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
};

describe('weighted services', () => {
  it('a 90/10 canary is honoured over 1000 requests', async () => {
    const t = tally(await burst('canary.test', 1000, 8));
    expect(Object.keys(t).sort()).toEqual(['200 canary', '200 stable']);
    // Smooth weighted round robin is exact per pick (900/100); ±3 % allows only for a changed algorithm.
    expect(Math.abs(t['200 canary']! - 100)).toBeLessThanOrEqual(30);
    expect(t['200 stable']! + t['200 canary']!).toBe(1000);
  });

  it('a sticky canary keeps a client on the service it got first', async () => {
    const port = gh.ports['web']!;
    const first = await httpRequest(port, { host: 'sticky.test' });
    const cookie = (first.headers['set-cookie']?.[0] ?? '').split(';')[0]!;
    expect(cookie).toMatch(/^release=[0-9a-f]{16}$/);
    const again: string[] = [];
    for (let i = 0; i < 10; i++) again.push((await httpRequest(port, { host: 'sticky.test', headers: { cookie } })).text);
    expect(again).toEqual(Array(10).fill(first.text));
    // Without the cookie the two services alternate.
    const fresh = [(await httpRequest(port, { host: 'sticky.test' })).text, (await httpRequest(port, { host: 'sticky.test' })).text];
    expect(fresh.sort()).toEqual(['canary', 'stable']);
  });

  it('naming a missing service disables that service\'s router only', async () => {
    const line = gh.logs.find((l) => l.msg === 'router disabled' && l['router'] === 'missing');
    expect(line).toMatchObject({ code: 'CONFIG_REFERENCE', path: '/http/services/brokenRelease/weighted/services/1/name' });
    expect(String(line?.['reason'])).toContain('"nowhere" does not exist');
    expect((await httpRequest(gh.ports['web']!, { host: 'missing.test' })).status).toBe(404);
    expect((await httpRequest(gh.ports['web']!, { host: 'canary.test' })).status).toBe(200);
  });
});

describe('mirroring', () => {
  it('the mirror gets a copy of each request, body included; the client sees only the main service', async () => {
    const before = bodies['shadow']!.length;
    const answers = await burst('mirrored.test', 30, 4, { method: 'POST', body: 'payload-123' });
    expect(tally(answers)).toEqual({ '200 main': 30 });
    await waitFor(() => bodies['shadow']!.length - before >= 30);
    expect(bodies['shadow']!.slice(before)).toEqual(Array(30).fill('payload-123'));
    const copy = named['shadow']!.requests.at(-1)!;
    expect([copy.method, copy.headers.host]).toEqual(['POST', 'mirrored.test']);
  });

  it('a body over maxBodySize reaches the main service whole and is not mirrored', async () => {
    const before = bodies['shadow']!.length;
    const big = 'b'.repeat(4096);
    expect(await burst('mirrored.test', 1, 1, { method: 'POST', body: big })).toEqual(['200 main']);
    expect(bodies['main']!.at(-1)).toBe(big);
    await new Promise((r) => setTimeout(r, 200));
    expect(bodies['shadow']!.length).toBe(before);
  });

  it('a dead mirror and one that never answers change nothing for the client', async () => {
    const started = Date.now();
    const answers = await burst('dead-mirror.test', 20, 4, { method: 'POST', body: 'x' });
    expect(tally(answers)).toEqual({ '200 main': 20 });
    // The silent mirror holds each copy for its 2 s response timeout; the clients never wait for it.
    expect(Date.now() - started).toBeLessThan(1_500);
    // The copies were sent: the silent mirror took connections, and the dead one's failures were logged, not answered.
    await waitFor(() => silent.connections() > 0 && gh.logs.some((l) => l.msg === 'upstream failed' && l['upstream'] === dead));
    expect(silent.connections()).toBeGreaterThan(0);
    expect(gh.logs.some((l) => l.msg === 'upstream failed' && l['upstream'] === dead)).toBe(true);
  });
});
