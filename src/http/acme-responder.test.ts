import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryChallengeRegistry } from '../challenges/index.js';
import type { HttpChallengeSettings } from '../challenges/http-settings.js';
import { LOOP_GUARD_HEADER } from '../challenges/peers.js';
import { validateConfig } from '../config/index.js';
import { entryPointSettings } from '../edge/entry-point.js';
import { listenHttp, type Listener } from '../edge/http-listener.js';
import { createLogger } from '../log.js';
import { buildRuntime, type Runtime } from '../runtime/index.js';
import { httpRequest } from '../../test/helpers/raw-http.js';
import { closeAllUpstreams, startHttpUpstream, startSilentUpstream, type HttpUpstream } from '../../test/helpers/upstreams.js';
import { parseLogLine, type LogLine } from '../../test/helpers/log-lines.js';
import { chainHooks, createAcmeResponder } from './acme-responder.js';
import { createHttpsRedirect } from './https-redirect.js';

const OWN = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA';
const OWN_KEY_AUTH = `${OWN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI`;
const AT_BACKEND = 'backendTokenbackendToken0123456789-_abcdef';
const AT_PEER = 'peerTokenpeerTokenpeerToken0123456789-_abc';
const UNKNOWN = 'unknownTokenunknownTokenunknownToken-_0123';
const SHARED = 'sharedTokensharedTokensharedToken0123-_abcd';
const THUMB = 'statelessThumbprintstatelessThumbprint01234';
const PATH = '/.well-known/acme-challenge/';
const CAROL = 'carol:{SHA}zDWP8f33jIgtzBU4G57UXp/L1Eg=';

let listener: Listener;
let runtime: Runtime;
let backend: HttpUpstream;
let peer404: HttpUpstream;
let peerHolding: HttpUpstream;
let silent: Awaited<ReturnType<typeof startSilentUpstream>>;
let settings: HttpChallengeSettings | undefined;
const lines: LogLine[] = [];

/** A peer (a stand-in upstream) answering `token` with `token.peer`, 404 otherwise. */
function holding(token: string) {
  return startHttpUpstream((req, res) => {
    const ok = req.url === `${PATH}${token}`;
    res.writeHead(ok ? 200 : 404, { 'content-type': 'text/plain' });
    res.end(ok ? `${token}.peer` : 'no');
  });
}

beforeAll(async () => {
  backend = await holding(AT_BACKEND);
  peer404 = await holding('none-at-all');
  peerHolding = await holding(AT_PEER);
  silent = await startSilentUpstream();
  const config = validateConfig({
    entryPoints: { web: { address: '127.0.0.1:0' } },
    http: {
      middlewares: { lan: { ipAllowList: { sourceRange: ['10.0.0.0/8'] } }, auth: { basicAuth: { users: [CAROL] } } },
      services: {
        app: { loadBalancer: { servers: [{ url: backend.url }] } },
        down: { loadBalancer: { servers: [{ url: 'http://127.0.0.1:1' }] } },
        slow: { loadBalancer: { servers: [{ url: silent.url }] } },
      },
      routers: {
        app: { rule: 'Host(`app.lab.test`) || Host(`managed.lab.test`)', service: 'app', middlewares: ['lan', 'auth'] },
        closed: { rule: 'Host(`closed.lab.test`)', service: 'app', acmeChallenges: 'off' },
        down: { rule: 'Host(`down.lab.test`)', service: 'down' },
        slow: { rule: 'Host(`slow.lab.test`)', service: 'slow' },
        static: { rule: 'Host(`static.lab.test`)', respond: { body: 'hi' } },
      },
    },
  });
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(parseLogLine(l));
      cb();
    },
  });
  const log = createLogger({ level: 'info', destination });
  runtime = buildRuntime(config, {}, log);
  const local = createMemoryChallengeRegistry();
  local.putHttp(OWN, OWN_KEY_AUTH);
  // A shared store stand-in behind the registry's own interface: another instance's token, asynchronously.
  const registry = {
    ...local,
    fetchHttpKeyAuthorization: async (token: string) => {
      await new Promise((r) => setTimeout(r, 5));
      return token === SHARED ? `${SHARED}.shared` : undefined;
    },
  };
  const responder = createAcmeResponder({
    registry: () => registry,
    settings: () => settings,
    routes: (ep) => runtime.routes(ep),
    bound: () => [listener.address()],
  });
  const hook = chainHooks(responder, createHttpsRedirect({ permanent: true, port: () => 8443 }));
  listener = await listenHttp(entryPointSettings('web', { address: '127.0.0.1:0' }), '127.0.0.1:0', { routes: (ep) => runtime.routes(ep) }, log, false, hook);
});

afterAll(async () => {
  await listener?.close(0);
  await runtime?.dispose();
  await closeAllUpstreams();
});

function defaultSettings(timeoutMs = 1_000): HttpChallengeSettings {
  const self = listener.address();
  return {
    peers: {
      peers: [
        { host: '127.0.0.1', httpPort: self.port, tlsPort: 1 }, // this instance: skipped
        { host: '127.0.0.1', httpPort: peer404.port, tlsPort: 1 },
        { host: '127.0.0.1', httpPort: peerHolding.port, tlsPort: 1 },
      ],
      timeoutMs,
    },
    statelessThumbprints: new Map([['sl.lab.test', THUMB]]),
    managedNames: new Set(['sl.lab.test', 'managed.lab.test']),
    problems: [],
  };
}

function ask(host: string, token: string, opts: { method?: string; headers?: Record<string, string>; timeoutMs?: number } = {}) {
  return httpRequest(listener.address().port, { host: `${host}:5002`, path: `${PATH}${token}`, timeoutMs: 5_000, ...opts });
}

/** The responder's one decision line for `token` logged after index `from` (a backend's is logged on close). */
async function decision(from: number, token: string): Promise<LogLine> {
  const mine = () => lines.slice(from).filter((l) => String(l.msg).startsWith('acme challenge') && l['token'] === token.slice(0, 8));
  for (let i = 0; i < 100 && mine().length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 20));
  expect(mine(), JSON.stringify(lines.slice(from))).toHaveLength(1);
  return mine()[0]!;
}

describe('ACME http-01 decision chain (entry hook before the redirect, the routers and their middlewares)', () => {
  beforeAll(() => {
    settings = defaultSettings();
  });

  it.each<[string, string, string, string, number, string, string]>([
    ['own pending token: the key authorization, bare', 'GET', 'any.lab.test', OWN, 200, OWN_KEY_AUTH, 'own'],
    ['HEAD of an own token: no body', 'HEAD', 'any.lab.test', OWN, 200, '', 'own'],
    ['stateless name: token.thumbprint', 'GET', 'sl.lab.test', UNKNOWN, 200, `${UNKNOWN}.${THUMB}`, 'stateless'],
    ['own token wins over stateless', 'GET', 'sl.lab.test', OWN, 200, OWN_KEY_AUTH, 'own'],
    ['a token in the shared store (another instance\'s), before stateless and backends', 'GET', 'app.lab.test', SHARED, 200, `${SHARED}.shared`, 'shared'],
    ['backend route: forwarded past ipAllowList and basicAuth', 'GET', 'app.lab.test', AT_BACKEND, 200, `${AT_BACKEND}.peer`, `backend app`],
    ['backend 404 is final (peers not asked)', 'GET', 'app.lab.test', AT_PEER, 404, 'no', 'backend app'],
    ['unreachable backend: the service 502, not a 404 of ours', 'GET', 'down.lab.test', AT_PEER, 502, '', 'backend down'],
    ['acmeChallenges off: the peers answer', 'GET', 'closed.lab.test', AT_PEER, 200, `${AT_PEER}.peer`, `peer 127.0.0.1:PEER`],
    ['respond router is no backend: the peers answer', 'GET', 'static.lab.test', AT_PEER, 200, `${AT_PEER}.peer`, `peer 127.0.0.1:PEER`],
    ['a name gatehouse orders skips its backend: the peers answer', 'GET', 'managed.lab.test', AT_PEER, 200, `${AT_PEER}.peer`, `peer 127.0.0.1:PEER`],
    ['no route: the peers answer', 'GET', 'other.lab.test', AT_PEER, 200, `${AT_PEER}.peer`, `peer 127.0.0.1:PEER`],
    ['nobody knows the token: 404, never redirected', 'GET', 'other.lab.test', UNKNOWN, 404, 'acme challenge not found\n', 'none'],
  ])('%s', async (_d, method, host, token, status, body, by) => {
    const from = lines.length;
    const res = await ask(host, token, { method });
    expect(res.status).toBe(status);
    if (body !== '' || method === 'HEAD') expect(res.text).toBe(body);
    const line = await decision(from, token);
    expect(line['answeredBy']).toBe(by.replace('PEER', String(peerHolding.port)));
    expect(line['host']).toBe(host);
    expect(JSON.stringify(line)).not.toContain(OWN_KEY_AUTH);
  });

  it('the peers walk is logged: who was tried and why each failed; this instance is skipped', async () => {
    const from = lines.length;
    await ask('other.lab.test', UNKNOWN);
    const line = await decision(from, UNKNOWN);
    expect(line['tried']).toEqual([
      { peer: `127.0.0.1:${peer404.port}`, outcome: 'HTTP 404', ms: expect.any(Number) },
      { peer: `127.0.0.1:${peerHolding.port}`, outcome: 'HTTP 404', ms: expect.any(Number) },
    ]);
    // Peers got the CA's Host header and the loop guard.
    const seen = peerHolding.requests.at(-1)!;
    expect(seen.headers.host).toBe('other.lab.test:5002');
    expect(seen.headers[LOOP_GUARD_HEADER]).toBe('1');
  });

  it.each<[string, string, number]>([
    ['POST', 'app.lab.test', 405],
    ['PUT', 'app.lab.test', 405],
    ['DELETE', 'other.lab.test', 405],
  ])('%s to the challenge path of %s: 405 with Allow, never forwarded', async (method, host, status) => {
    const seen = backend.requests.length + peerHolding.requests.length;
    const from = lines.length;
    const res = await ask(host, AT_BACKEND, { method });
    expect(res.status).toBe(status);
    expect(res.headers.allow).toBe('GET, HEAD');
    expect(backend.requests.length + peerHolding.requests.length).toBe(seen);
    expect((await decision(from, AT_BACKEND)).msg).toBe('acme challenge refused');
  });

  // An encoded slash is refused (400) before the responder, by the path normalization of every request.
  it.each([['abc', 404], [`${OWN}.x`, 404], ['a'.repeat(300), 404], ['%2e%2e%2fetc', 400]])('malformed token %s: %i, never forwarded', async (token, status) => {
    const seen = backend.requests.length + peerHolding.requests.length;
    const res = await ask('app.lab.test', token as string);
    expect(res.status).toBe(status);
    expect(backend.requests.length + peerHolding.requests.length).toBe(seen);
  });

  it('a request that came from a peer (loop guard) is never forwarded to peers again, but a backend still answers', async () => {
    const seen = peerHolding.requests.length + peer404.requests.length;
    const from = lines.length;
    const res = await ask('other.lab.test', AT_PEER, { headers: { [LOOP_GUARD_HEADER]: '1' } });
    expect(res.status).toBe(404);
    expect(peerHolding.requests.length + peer404.requests.length).toBe(seen);
    expect((await decision(from, AT_PEER))['loopGuard']).toBe(true);
    const viaBackend = await ask('app.lab.test', AT_BACKEND, { headers: { [LOOP_GUARD_HEADER]: '1' } });
    expect(viaBackend.status).toBe(200);
  });

  it('a peer that accepts and hangs costs only its timeout; the next one answers', async () => {
    const silent = await startSilentUpstream();
    const base = defaultSettings(400);
    settings = { ...base, peers: { peers: [{ host: '127.0.0.1', httpPort: silent.port, tlsPort: 1 }, ...base.peers!.peers], timeoutMs: 400 } };
    try {
      const from = lines.length;
      const t0 = performance.now();
      const res = await ask('other.lab.test', AT_PEER);
      const ms = performance.now() - t0;
      expect(res.status).toBe(200);
      expect(ms).toBeGreaterThanOrEqual(390);
      expect(ms).toBeLessThan(1_500);
      const tried = (await decision(from, AT_PEER))['tried'] as { outcome: string }[];
      expect(tried.map((t) => t.outcome)).toEqual(['timeout', 'HTTP 404', 'answered']);
      expect(silent.connections()).toBe(1);
    } finally {
      settings = defaultSettings();
    }
  });

  it('a CA that hangs up before the backend answered is not logged as answered', async () => {
    const from = lines.length;
    await expect(ask('slow.lab.test', AT_PEER, { timeoutMs: 200 })).rejects.toThrow(/no complete response/);
    const line = await decision(from, AT_PEER);
    expect(line).toMatchObject({ msg: 'acme challenge not answered by the backend', answeredBy: 'backend slow', reason: 'closed before the answer was complete' });
    expect(line['status']).toBeUndefined();
  });

  it('reads its settings per request: swapped settings apply at once', async () => {
    settings = undefined;
    try {
      expect((await ask('other.lab.test', AT_PEER)).status).toBe(404);
      expect((await ask('sl.lab.test', UNKNOWN)).status).toBe(404);
      expect((await ask('any.lab.test', OWN)).text).toBe(OWN_KEY_AUTH);
    } finally {
      settings = defaultSettings();
    }
    expect((await ask('other.lab.test', AT_PEER)).status).toBe(200);
  });

  it('any other path is redirected by the next hook', async () => {
    const res = await httpRequest(listener.address().port, { host: 'a.lab.test:5002', path: '/x' });
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe('https://a.lab.test:8443/x');
  });
});
