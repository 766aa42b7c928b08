/**
 * The tls-alpn-01 relay on real sockets (src/edge/alpn-relay.ts): a gatehouse process on 127.0.0.2 with peers
 * 127.0.0.2/.3/.4 relays an acme-tls/1-only handshake it cannot answer to the peers in turn. The peers here are
 * real servers on the same port of .3 and .4: a TLS server offering acme-tls/1 (it "holds" the challenge), one that
 * refuses with an alert, one that closes, one that accepts and hangs; and, for the loop guard, real gatehouses.
 * Positive cases with a real pending challenge are in test/acme/alpn-peers.test.ts (Pebble).
 */
import { readFileSync } from 'node:fs';
import { connect as netConnect, createServer as createNetServer, type Server, type Socket } from 'node:net';
import { connect, createServer as createTlsServer, type PeerCertificate } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freshStateDir, probe, removeStateDirs } from '../helpers/acme-lab.js';
import { startGatehouse, stopAllGatehouses, type GatehouseProcess } from '../helpers/gatehouse-process.js';
import { BACKEND_FINGERPRINT } from '../helpers/tls-backend.js';

const A = '127.0.0.2';
const B = '127.0.0.3';
const C = '127.0.0.4';
const NAME = 'rr.relay.test';
const PEER_TIMEOUT_MS = 1_000;
const FIXTURES = new URL('../fixtures/tls/', import.meta.url);
const CERT = readFileSync(new URL('backend.pem', FIXTURES));
const KEY = readFileSync(new URL('backend-key.pem', FIXTURES));

let port: number;
let relay: GatehouseProcess;
const servers = new Set<{ server: Server; sockets: Set<Socket> }>();

/** A stand-in peer on `host:port`; `from` lists the source address of every connection it accepted. */
interface Stand {
  readonly from: string[];
}

async function listen(server: Server, host: string): Promise<Stand> {
  const from: string[] = [];
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    from.push(s.remoteAddress ?? '');
    sockets.add(s);
    s.on('error', () => undefined);
    s.once('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  servers.add({ server, sockets });
  return { from };
}

/** Holds the challenge: answers acme-tls/1 with the fixture certificate, then closes (RFC 8737 §3). */
const holder = (host: string) => listen(createTlsServer({ cert: CERT, key: KEY, ALPNProtocols: ['acme-tls/1'] }, (s) => s.end()), host);
/** A TLS server without acme-tls/1: Node answers the ClientHello with a no_application_protocol alert. */
const alerter = (host: string) => listen(createTlsServer({ cert: CERT, key: KEY, ALPNProtocols: ['http/1.1'] }, (s) => s.end()), host);
const closer = (host: string) => listen(createNetServer((s) => s.destroy()), host);
const hanger = (host: string) => listen(createNetServer(() => undefined), host);

/** An acme-tls/1-only handshake to the relay from `localAddress`; what it got and how long it took. */
function validate(localAddress = '127.0.0.1'): Promise<{ cert?: PeerCertificate; alpn?: string | false | null; error?: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    // tls.connect has no localAddress of its own: the TCP socket is made first, from the chosen source address.
    const tcp = netConnect({ host: A, port, localAddress });
    tcp.on('error', () => undefined);
    const socket = connect({ socket: tcp, servername: NAME, ALPNProtocols: ['acme-tls/1'], rejectUnauthorized: false, timeout: 5_000 });
    const done = (r: { cert?: PeerCertificate; alpn?: string | false | null; error?: string }) => {
      socket.destroy();
      resolve({ ...r, ms: performance.now() - t0 });
    };
    socket.once('secureConnect', () => done({ cert: socket.getPeerCertificate(), alpn: socket.alpnProtocol }));
    socket.on('timeout', () => done({ error: 'timeout' }));
    socket.on('error', (e: NodeJS.ErrnoException) => done({ error: e.code ?? e.message }));
  });
}

/** The relay's decision line for the handshake of the test (the last one logged). */
async function decision(gh: GatehouseProcess, count: number): Promise<Record<string, unknown>> {
  const lines = () => gh.logs.filter((l) => typeof l['answeredBy'] === 'string');
  await gh.waitForLog(() => lines().length >= count, 3_000);
  return lines()[count - 1]!;
}

function peersConfig(address: string): object {
  return {
    log: { level: 'info', accessLog: false },
    entryPoints: { websecure: { address: `${address}:${port}`, tls: {} } },
    challenges: { peers: { addresses: [A, B, C], tlsPort: port, timeout: `${PEER_TIMEOUT_MS}ms` } },
  };
}

/**
 * One port free on every address: each peer listens on the same tlsPort, as behind round-robin DNS. The kernel's
 * port 0 is free on one address only (another test file may hold it on another), so each candidate is tried on all.
 */
async function portFreeOnAll(hosts: readonly string[]): Promise<number> {
  const bindOn = (host: string, p: number) =>
    new Promise<Server | undefined>((resolve) => {
      const server = createNetServer();
      server.once('error', () => resolve(undefined));
      server.listen(p, host, () => resolve(server));
    });
  for (let attempt = 0; attempt < 20; attempt++) {
    const first = await bindOn(hosts[0]!, 0);
    if (!first) continue;
    const candidate = (first.address() as { port: number }).port;
    const rest = await Promise.all(hosts.slice(1).map((h) => bindOn(h, candidate)));
    const all = [first, ...rest];
    await Promise.all(all.map((s) => (s ? new Promise<void>((resolve) => s.close(() => resolve())) : undefined)));
    if (rest.every((s) => s !== undefined)) return candidate;
  }
  throw new Error(`no port free on all of ${hosts.join(', ')} in 20 attempts`);
}

beforeAll(async () => {
  port = await portFreeOnAll([A, B, C]);
  relay = await startGatehouse(peersConfig(A), { env: { GATEHOUSE_STATE_DIR: await freshStateDir() }, startTimeoutMs: 20_000 });
}, 30_000);

afterEach(async () => {
  await Promise.all(
    [...servers].map(
      ({ server, sockets }) =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy();
          server.close(() => resolve());
        }),
    ),
  );
  servers.clear();
});

afterAll(async () => {
  await stopAllGatehouses();
  await removeStateDirs();
});

let decisions = 0;

describe('acme-tls/1 relay to peers', () => {
  it('an alert from the first peer moves on to the next: the client completes its handshake with that peer, source address kept', async () => {
    const b = await alerter(B);
    const c = await holder(C);
    const got = await validate();
    expect(got.error).toBeUndefined();
    expect(got.alpn).toBe('acme-tls/1');
    expect(got.cert?.fingerprint256).toBe(BACKEND_FINGERPRINT);
    // The relayed connection leaves from the relay's bound address, so a peer's loop guard can see who sent it.
    expect(b.from).toEqual([A]);
    expect(c.from).toEqual([A]);
    const line = await decision(relay, ++decisions);
    expect(line).toMatchObject({ msg: 'acme-tls/1 handshake relayed to a peer', sni: NAME, answeredBy: 'peer', peer: C });
    expect((line['tried'] as { peer: string; outcome: string }[]).map((t) => [t.peer, t.outcome])).toEqual([
      [B, 'alert'],
      [C, 'answered'],
    ]);
  });

  it.each<[string, (h: string) => Promise<Stand>, string[]]>([
    ['a peer that closes', closer, ['closed', 'ECONNRESET']],
    ['a peer that is not listening', async () => ({ from: [] }), ['ECONNREFUSED']],
  ])('%s moves on to the next', async (_d, start, outcomes) => {
    await start(B);
    await holder(C);
    const got = await validate();
    expect(got.cert?.fingerprint256).toBe(BACKEND_FINGERPRINT);
    const line = await decision(relay, ++decisions);
    const tried = line['tried'] as { peer: string; outcome: string }[];
    expect(tried[0]!.peer).toBe(B);
    expect(outcomes).toContain(tried[0]!.outcome);
    expect(line['peer']).toBe(C);
  });

  it('a peer that accepts and hangs costs only its timeout', async () => {
    await hanger(B);
    await holder(C);
    const got = await validate();
    expect(got.cert?.fingerprint256).toBe(BACKEND_FINGERPRINT);
    expect(got.ms).toBeGreaterThanOrEqual(PEER_TIMEOUT_MS - 50);
    expect(got.ms).toBeLessThan(PEER_TIMEOUT_MS + 1_000);
    const line = await decision(relay, ++decisions);
    expect((line['tried'] as { outcome: string }[]).map((t) => t.outcome)).toEqual(['timeout', 'answered']);
  });

  it('no peer holds it: the handshake fails, logged with every peer and why', async () => {
    await alerter(B);
    await closer(C);
    const got = await validate();
    expect(got.cert).toBeUndefined();
    expect(got.error).toBeDefined();
    const line = await decision(relay, ++decisions);
    expect(line).toMatchObject({ msg: 'acme-tls/1 handshake refused: no peer holds the challenge', answeredBy: 'none', sni: NAME });
    expect((line['tried'] as { peer: string }[]).map((t) => t.peer)).toEqual([B, C]);
  });

  it('a handshake coming from a peer address is never relayed again (loop guard)', async () => {
    const b = await holder(B);
    const c = await holder(C);
    const got = await validate(B);
    expect(got.cert).toBeUndefined();
    expect(b.from).toEqual([]);
    expect(c.from).toEqual([]);
    const line = await decision(relay, ++decisions);
    expect(line).toMatchObject({ answeredBy: 'none', fromPeer: true, clientIp: B });
  });

  it('normal handshakes are not relayed: h2/http1.1 and acme-tls/1 with http/1.1 get the local certificate', async () => {
    const b = await holder(B);
    const c = await holder(C);
    for (const alpn of [['h2', 'http/1.1'], ['acme-tls/1', 'http/1.1']]) {
      const got = await probe(A, port, NAME, { alpn });
      expect(got.error).toBeUndefined();
      expect(got.cert?.fingerprint256).not.toBe(BACKEND_FINGERPRINT);
      expect(got.alpn).toBe(alpn[0] === 'h2' ? 'h2' : 'http/1.1'); // h2 is offered first (docs/http2.md)
    }
    expect(b.from).toEqual([]);
    expect(c.from).toEqual([]);
  });

  it('relay overhead against a direct handshake with the peer (measured)', async () => {
    await holder(B);
    const direct: number[] = [];
    const relayed: number[] = [];
    for (let i = 0; i < 15; i++) {
      const t0 = performance.now();
      const d = await probe(B, port, NAME, { alpn: ['acme-tls/1'] });
      direct.push(performance.now() - t0);
      expect(d.alpn).toBe('acme-tls/1');
      const r = await validate();
      expect(r.alpn).toBe('acme-tls/1');
      relayed.push(r.ms);
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    console.log(`acme-tls/1 handshake: direct median ${median(direct).toFixed(1)} ms, through the relay ${median(relayed).toFixed(1)} ms`);
    // The relay adds a connect and a round trip on loopback: well under the CA's patience, bounded loosely for load.
    expect(median(relayed)).toBeLessThan(median(direct) + 200);
    decisions += 15;
  });
});

describe('loop guard between gatehouses', () => {
  it('three gatehouses, nobody holds the challenge: the relay asks .3 and .4 once each, neither relays again', async () => {
    const env = async () => ({ GATEHOUSE_STATE_DIR: await freshStateDir() });
    const [gb, gc] = await Promise.all([startGatehouse(peersConfig(B), { env: await env(), startTimeoutMs: 20_000 }), startGatehouse(peersConfig(C), { env: await env(), startTimeoutMs: 20_000 })]);
    const got = await validate();
    expect(got.cert).toBeUndefined();
    const line = await decision(relay, ++decisions);
    expect(line['answeredBy']).toBe('none');
    expect((line['tried'] as { peer: string }[]).map((t) => t.peer)).toEqual([B, C]);
    for (const gh of [gb, gc]) {
      const seen = await decision(gh, 1);
      expect(seen).toMatchObject({ answeredBy: 'none', fromPeer: true, clientIp: A });
      expect(gh.logs.filter((l) => typeof l['answeredBy'] === 'string')).toHaveLength(1);
    }
    // Well within two peer timeouts: every refusal was immediate.
    expect(got.ms).toBeLessThan(PEER_TIMEOUT_MS);
  }, 45_000);
});
