/**
 * Who answers `/.well-known/acme-challenge/<token>`, end to end without a CA (issue 6): real gatehouse processes,
 * real upstreams. One process shows 405, malformed tokens, stateless answers, backend forwarding past the router's
 * middlewares and `acmeChallenges: 'off'`; three processes on 127.0.0.2/.3/.4 sharing one config file with
 * ${VAR}s show the peers walk, the loop guard, and the time bound with a peer that accepts and hangs; a reload
 * through the library API shows the chain reads its settings per request.
 */
import { generateKeyPairSync } from 'node:crypto';
import { request } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGatehouse } from '../../src/api.js';
import { jwkThumbprint } from '../../src/challenges/http-stateless.js';
import { LOOP_GUARD_HEADER } from '../../src/challenges/peers.js';
import { createLogger } from '../../src/log.js';
import { startGatehouse, stopAllGatehouses, writeConfigFile, type GatehouseProcess } from '../helpers/gatehouse-process.js';
import type { LogLine } from '../helpers/log-lines.js';
import { httpRequest } from '../helpers/raw-http.js';
import { closeAllUpstreams, startHttpUpstream, type HttpUpstream } from '../helpers/upstreams.js';
import { freePort } from '../helpers/ports.js';

const PATH = '/.well-known/acme-challenge/';
const HELD = 'heldTokenheldTokenheldToken0123456789-_abcd';
const UNKNOWN = 'unknownTokenunknownTokenunknownToken-_0123';
const CAROL = 'carol:{SHA}zDWP8f33jIgtzBU4G57UXp/L1Eg=';
const CAROL_AUTH = `Basic ${Buffer.from('carol:carol-secret').toString('base64')}`;

/** A backend with its own ACME client, as far as http-01 goes: it holds HELD and answers 404 for the rest. */
function startHolder(): Promise<HttpUpstream> {
  return startHttpUpstream((req, res) => {
    const held = req.url === `${PATH}${HELD}`;
    res.writeHead(held ? 200 : req.url?.startsWith(PATH) ? 404 : 200, { 'content-type': 'text/plain' });
    res.end(held ? `${HELD}.backend` : 'app');
  });
}

/** Decision lines of a gatehouse for a token. */
function decisions(gh: GatehouseProcess, token: string): LogLine[] {
  return gh.logs.filter((l) => String(l.msg).startsWith('acme challenge') && l['token'] === token.slice(0, 8));
}

afterAll(async () => {
  await stopAllGatehouses();
  await closeAllUpstreams();
});

describe('one instance: the chain before redirects, routers and middlewares', () => {
  let gh: GatehouseProcess;
  let holder: HttpUpstream;
  let thumbprint: string;

  beforeAll(async () => {
    holder = await startHolder();
    const keyPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    thumbprint = jwkThumbprint(keyPem);
    // The key sits next to the config file, named relative to it.
    const keyDir = dirname(await writeConfigFile('{}', 'placeholder.json'));
    await writeFile(join(keyDir, 'account.pem'), keyPem, { mode: 0o600 });
    gh = await startGatehouse({
      log: { level: 'info', accessLog: false },
      entryPoints: { web: { address: '127.0.0.1:0' } },
      // No TLS entry point: ACME never runs here, yet stateless answers are given for the resolver's names.
      certificateResolvers: {
        shared: { acme: { caServer: 'https://127.0.0.1:1/dir', email: 'ops@lab.test', challenges: ['http-01'], stateless: true, accountKeyFile: join(keyDir, 'account.pem') } },
      },
      http: {
        middlewares: { lan: { ipAllowList: { sourceRange: ['10.0.0.0/8'] } }, auth: { basicAuth: { users: [CAROL] } } },
        services: { vm: { loadBalancer: { servers: [{ url: holder.url }] } } },
        routers: {
          sl: { rule: 'Host(`sl.lab.test`)', respond: { body: 'sl' }, tls: { certResolver: 'shared' } },
          vm: { rule: 'Host(`vm.lab.test`)', service: 'vm', middlewares: ['auth'] },
          lan: { rule: 'Host(`lan.lab.test`)', service: 'vm', middlewares: ['lan'] },
          closed: { rule: 'Host(`closed.lab.test`)', service: 'vm', acmeChallenges: 'off' },
        },
      },
    });
  });

  const ask = (host: string, token: string, method = 'GET', headers: Record<string, string> = {}) =>
    httpRequest(gh.ports['web']!, { method, host: `${host}:5002`, path: `${PATH}${token}`, headers, timeoutMs: 5_000, ...(method === 'POST' || method === 'PUT' ? { body: 'x' } : {}) });

  it.each(['POST', 'PUT'])('%s to the challenge path: 405 with Allow, never reaching the backend', async (method) => {
    const seen = holder.requests.length;
    const res = await ask('vm.lab.test', HELD, method, { authorization: CAROL_AUTH });
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD');
    expect(holder.requests.length).toBe(seen);
  });

  it('a malformed token: 404, never forwarded', async () => {
    const seen = holder.requests.length;
    expect((await ask('vm.lab.test', 'short')).status).toBe(404);
    expect((await ask('vm.lab.test', `${HELD}/../x`)).status).toBe(404);
    expect(holder.requests.length).toBe(seen);
  });

  it('stateless: a name the stateless resolver orders gets token.thumbprint of the shared account key', async () => {
    const res = await ask('sl.lab.test', UNKNOWN);
    expect(res.status).toBe(200);
    expect(res.text).toBe(`${UNKNOWN}.${thumbprint}`);
    const line = await gh.waitForLog((l) => l.msg === 'acme challenge answered' && l['token'] === UNKNOWN.slice(0, 8));
    expect(line).toMatchObject({ answeredBy: 'stateless', host: 'sl.lab.test', status: 200 });
  });

  it('stateless coexists with backend forwarding for other names', async () => {
    const res = await ask('vm.lab.test', HELD);
    expect(res.status).toBe(200);
    expect(res.text).toBe(`${HELD}.backend`);
  });

  it.each([
    ['basicAuth', 'vm.lab.test', 401],
    ['ipAllowList', 'lan.lab.test', 403],
  ])('backend forward skips the router\'s %s; normal requests still need it', async (_d, host, normal) => {
    const res = await ask(host, HELD);
    expect(res.status).toBe(200);
    expect(res.text).toBe(`${HELD}.backend`);
    await gh.waitForLog((l) => l.msg === 'acme challenge answered' && l['host'] === host && l['answeredBy'] === 'backend vm');
    expect((await httpRequest(gh.ports['web']!, { host, path: '/' })).status).toBe(normal);
  });

  it("acmeChallenges 'off': not forwarded, 404 with the reason logged", async () => {
    const seen = holder.requests.length;
    const res = await ask('closed.lab.test', HELD);
    expect(res.status).toBe(404);
    expect(holder.requests.length).toBe(seen);
    const line = await gh.waitForLog((l) => l.msg === 'acme challenge not found' && l['host'] === 'closed.lab.test');
    expect(line).toMatchObject({ answeredBy: 'none', token: HELD.slice(0, 8), backend: 'skipped: router "closed" has acmeChallenges off' });
  });

  it('a stateless account key file that cannot be read: logged at start with its JSON path; everything else serves', async () => {
    const other = await startGatehouse({
      log: { level: 'info', accessLog: false },
      entryPoints: { web: { address: '127.0.0.1:0' } },
      certificateResolvers: { shared: { acme: { caServer: 'https://127.0.0.1:1/dir', email: 'ops@lab.test', challenges: ['http-01'], stateless: true, accountKeyFile: 'missing.pem' } } },
      http: {
        routers: {
          sl: { rule: 'Host(`sl.lab.test`)', respond: { body: 'sl' }, tls: { certResolver: 'shared' } },
          app: { rule: 'Host(`app.lab.test`)', respond: { body: 'app' } },
        },
      },
    });
    const line = await other.waitForLog((l) => l.msg === 'stateless http-01 disabled');
    expect(line).toMatchObject({ code: 'ACME_CONFIG', path: '/certificateResolvers/shared/acme/accountKeyFile' });
    expect(String(line['reason'])).toMatch(/missing\.pem cannot be read \(ENOENT\)/);
    expect((await httpRequest(other.ports['web']!, { host: 'sl.lab.test', path: `${PATH}${UNKNOWN}` })).status).toBe(404);
    expect((await httpRequest(other.ports['web']!, { host: 'app.lab.test' })).text).toBe('app');
    await other.stop();
  });
});

/** A listener on `host:port` that accepts connections and never answers: a peer that hangs. */
async function startHangingPeer(host: string, port: number): Promise<{ connections: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    connections: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}


describe('three instances with peers (127.0.0.2, .3, .4) and a fourth peer that hangs (.5)', () => {
  const ADDRS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'] as const;
  const PEER_TIMEOUT_MS = 1_000;
  let port: number;
  let holder: HttpUpstream;
  let hanging: Awaited<ReturnType<typeof startHangingPeer>>;
  const gh: GatehouseProcess[] = [];

  beforeAll(async () => {
    port = await freePort();
    holder = await startHolder();
    hanging = await startHangingPeer('127.0.0.5', port);
    // One file for every instance; only the variables differ. Only the third forwards challenges to the backend.
    const config = JSON.stringify({
      log: { level: 'info', accessLog: false },
      entryPoints: { web: { address: '${ADDR}:${PORT}' } },
      challenges: { peers: { addresses: [...ADDRS, '127.0.0.5'], httpPort: '${PORT}', timeout: `${PEER_TIMEOUT_MS}ms` } },
      http: {
        services: { vm: { loadBalancer: { servers: [{ url: '${HOLDER}' }] } } },
        routers: { vm: { rule: 'Host(`held.lab.test`)', service: 'vm', acmeChallenges: '${FORWARD}' } },
      },
    });
    for (const [i, addr] of ADDRS.entries()) {
      gh.push(await startGatehouse(config, { env: { ADDR: addr, PORT: String(port), HOLDER: holder.url, FORWARD: i === 2 ? 'forward' : 'off' } }));
    }
  });

  afterAll(async () => {
    await hanging?.close();
  });

  const ask = (i: number, host: string, token: string, headers: Record<string, string> = {}) => getAt(ADDRS[i]!, port, `${host}:${port}`, `${PATH}${token}`, headers);

  it('instance 1 relays a token only instance 3 can reach (through its backend); 2 is asked with the loop guard and says 404', async () => {
    const t0 = performance.now();
    const res = await ask(0, 'held.lab.test', HELD);
    const ms = Math.round(performance.now() - t0);
    expect(res.status).toBe(200);
    expect(res.text).toBe(`${HELD}.backend`);
    console.log(`peer-forwarded http-01 answer (1 → 2: 404, 1 → 3 → backend: 200): ${ms} ms`);
    const first = await gh[0]!.waitForLog((l) => l.msg === 'acme challenge answered' && l['token'] === HELD.slice(0, 8));
    expect(first['answeredBy']).toBe(`peer 127.0.0.4:${port}`);
    expect((first['tried'] as { peer: string; outcome: string }[]).map((t) => [t.peer, t.outcome])).toEqual([
      [`127.0.0.3:${port}`, 'HTTP 404'],
      [`127.0.0.4:${port}`, 'answered'],
    ]);
    const second = await gh[1]!.waitForLog((l) => l.msg === 'acme challenge not found' && l['token'] === HELD.slice(0, 8));
    expect(second['loopGuard']).toBe(true);
    const third = await gh[2]!.waitForLog((l) => l['answeredBy'] === 'backend vm' && l['token'] === HELD.slice(0, 8));
    expect(third['status']).toBe(200);
    // The backend saw the CA's Host header and the loop guard, so a gatehouse behind it would not fan out again.
    const seen = holder.requests.at(-1)!;
    expect(seen.headers.host).toBe(`held.lab.test:${port}`);
    expect(seen.headers[LOOP_GUARD_HEADER]).toBe('1');
    expect(hanging.connections()).toBe(0);
  });

  it('a request that carries the loop guard is never forwarded to peers', async () => {
    const before = gh.map((g) => g.logs.length);
    const res = await ask(0, 'held.lab.test', HELD, { [LOOP_GUARD_HEADER]: '1' });
    expect(res.status).toBe(404);
    const line = await gh[0]!.waitForLog((l, i = gh[0]!.logs.indexOf(l)) => i >= before[0]! && l['loopGuard'] === true && l['token'] === HELD.slice(0, 8));
    expect(line['tried']).toBeUndefined();
    // Logs leave in batches of at most 250 ms: give the others' lines time to show, had they been asked.
    await new Promise((r) => setTimeout(r, 400));
    expect(decisions({ logs: gh[1]!.logs.slice(before[1]) } as GatehouseProcess, HELD)).toHaveLength(0);
    expect(decisions({ logs: gh[2]!.logs.slice(before[2]) } as GatehouseProcess, HELD)).toHaveLength(0);
  });

  it('an unknown token gets 404 within the bounded peer time; the peer that hangs costs only its timeout', async () => {
    const t0 = performance.now();
    const res = await ask(1, 'other.lab.test', UNKNOWN);
    const ms = Math.round(performance.now() - t0);
    expect(res.status).toBe(404);
    console.log(`unknown token, 3 other peers (one hanging, timeout ${PEER_TIMEOUT_MS} ms): 404 after ${ms} ms`);
    expect(ms).toBeGreaterThanOrEqual(PEER_TIMEOUT_MS - 10);
    expect(ms).toBeLessThan(3 * PEER_TIMEOUT_MS);
    const line = await gh[1]!.waitForLog((l) => l.msg === 'acme challenge not found' && l['token'] === UNKNOWN.slice(0, 8) && l['tried'] !== undefined);
    const tried = line['tried'] as { peer: string; outcome: string; ms: number }[];
    expect(tried.map((t) => [t.peer, t.outcome])).toEqual([
      [`127.0.0.2:${port}`, 'HTTP 404'],
      [`127.0.0.4:${port}`, 'HTTP 404'],
      [`127.0.0.5:${port}`, 'timeout'],
    ]);
    expect(tried[2]!.ms).toBeLessThan(PEER_TIMEOUT_MS + 300);
    expect(hanging.connections()).toBe(1);
  });
});

/** One GET to `addr:port` (httpRequest only dials 127.0.0.1) over a fresh connection; bounded. */
function getAt(addr: string, port: number, host: string, path: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: addr, port, path, headers: { host, ...headers }, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    const timer = setTimeout(() => req.destroy(new Error('no answer within 10 s')), 10_000);
    req.on('close', () => clearTimeout(timer));
    req.on('error', reject);
    req.end();
  });
}

describe('a reload swaps what the chain reads', () => {
  it('peers, stateless names and a router\'s acmeChallenges apply to the next request, without a restart', async () => {
    const holder = await startHolder();
    const peer = await startHolder();
    const keyPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const keyFile = join(dirname(await writeConfigFile('{}', 'placeholder.json')), 'account.pem');
    await writeFile(keyFile, keyPem, { mode: 0o600 });
    const base = {
      entryPoints: { web: { address: '127.0.0.1:0' } },
      http: {
        services: { vm: { loadBalancer: { servers: [{ url: holder.url }] } } },
        routers: { vm: { rule: 'Host(`vm.lab.test`)', service: 'vm' } },
      },
    };
    const gh = createGatehouse({ config: base, logger: createLogger({ level: 'silent' }) });
    await gh.start();
    try {
      const port = gh.addresses()['web']!.port;
      const ask = (host: string, token: string) => httpRequest(port, { host, path: `${PATH}${token}` });
      expect((await ask('vm.lab.test', HELD)).status).toBe(200);
      expect((await ask('other.lab.test', HELD)).status).toBe(404);
      expect((await ask('sl.lab.test', UNKNOWN)).status).toBe(404);

      // The peer stands on 127.0.0.1 at its own port; this instance's own port is another, so it is not "self".
      const next = {
        ...base,
        challenges: { peers: { addresses: ['127.0.0.1'], httpPort: peer.port, timeout: '1s' } },
        certificateResolvers: { shared: { acme: { caServer: 'https://127.0.0.1:1/dir', email: 'ops@lab.test', challenges: ['http-01'], stateless: true, accountKeyFile: keyFile } } },
        http: {
          ...base.http,
          routers: {
            vm: { rule: 'Host(`vm.lab.test`)', service: 'vm', acmeChallenges: 'off' },
            sl: { rule: 'Host(`sl.lab.test`)', respond: { body: 'sl' }, tls: { certResolver: 'shared' } },
          },
        },
      };
      const result = await gh.reload(next as never);
      expect(result.ok, result.errors.join('\n')).toBe(true);
      const seen = holder.requests.length;
      const viaPeer = await ask('vm.lab.test', HELD);
      expect(viaPeer.status).toBe(200);
      expect(holder.requests.length).toBe(seen);
      expect(peer.requests.at(-1)?.headers[LOOP_GUARD_HEADER]).toBe('1');
      expect((await ask('sl.lab.test', UNKNOWN)).text).toBe(`${UNKNOWN}.${jwkThumbprint(keyPem)}`);

      expect((await gh.reload(base as never)).ok).toBe(true);
      const peerSeen = peer.requests.length;
      expect((await ask('other.lab.test', HELD)).status).toBe(404);
      expect(peer.requests.length).toBe(peerSeen);
      expect((await ask('sl.lab.test', UNKNOWN)).status).toBe(404);
    } finally {
      await gh.stop({ graceMs: 0 });
    }
  });
});
