/**
 * Who answers an acme-tls/1 handshake, on real sockets with the TLS entry point's sources built by hand: own pending
 * challenge → the shared store (another instance's challenge) → a passthrough route → the peers → nobody. Normal
 * handshakes never reach the shared store, and the peers are read per handshake (a reload swaps them).
 */
import { readFileSync } from 'node:fs';
import { createServer as createNetServer, type Server } from 'node:net';
import { Writable } from 'node:stream';
import { createSecureContext, createServer as createTlsServer } from 'node:tls';
import * as acme from 'acme-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TicketKeys } from '../../src/certs/index.js';
import { createMemoryChallengeRegistry, type PeerSettings } from '../../src/challenges/index.js';
import type { Config } from '../../src/config/index.js';
import { entryPointSettings } from '../../src/edge/entry-point.js';
import type { Listener } from '../../src/edge/http-listener.js';
import { listenTls } from '../../src/edge/tls-listener.js';
import { createLogger } from '../../src/log.js';
import { buildTcpRoutes, type TcpRouteTable } from '../../src/tcp/index.js';
import { probe } from '../helpers/acme-lab.js';
import { BACKEND_FINGERPRINT, closeAllTlsBackends, startTlsBackend } from '../helpers/tls-backend.js';

const fixture = (f: string) => readFileSync(new URL(`../fixtures/certs/${f}`, import.meta.url), 'utf8');
const HOST = '127.0.0.6';
const PEER = '127.0.0.7';
const OWN = 'own.example';
const SHARED = 'both.pass.example';
const PASSED = 'vm.pass.example';
const AUTH = { own: 'own-token.thumbprint', shared: 'shared-token.thumbprint', peer: 'peer-token.thumbprint' };

let listener: Listener;
let port: number;
let table: TcpRouteTable;
let peerServer: Server | undefined;
let peers: PeerSettings | undefined;
const fetched: string[] = [];
const lines: Record<string, unknown>[] = [];
const ticketKeys = new TicketKeys(3600_000);

async function alpnCert(name: string, keyAuthorization: string): Promise<{ cert: string; key: string }> {
  const authz = { identifier: { type: 'dns', value: name } } as acme.Authorization;
  const [key, cert] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization, await acme.crypto.createPrivateEcdsaKey());
  return { cert: cert.toString(), key: key.toString() };
}

/** Whether a handshake's certificate carries `keyAuthorization` (RFC 8737 §3 acmeIdentifier). */
const carries = (raw: Buffer | undefined, keyAuthorization: string): boolean =>
  raw !== undefined && acme.crypto.isAlpnCertificateAuthorizationValid(`-----BEGIN CERTIFICATE-----\n${raw.toString('base64')}\n-----END CERTIFICATE-----\n`, keyAuthorization);

const decisions = (sni: string) => lines.filter((l) => l['sni'] === sni && typeof l['answeredBy'] === 'string');

/** The decision lines for `sni` once there are `count` of them (the server logs "answered" when its side of the handshake ends, possibly after the client's); bounded. */
async function decided(sni: string, count: number): Promise<Record<string, unknown>[]> {
  for (let i = 0; i < 40 && decisions(sni).length < count; i++) await new Promise((r) => setTimeout(r, 25));
  return decisions(sni);
}

beforeAll(async () => {
  const own = createMemoryChallengeRegistry();
  const shared = createMemoryChallengeRegistry();
  const o = await alpnCert(OWN, AUTH.own);
  own.putAlpn(OWN, o.cert, o.key);
  const s = await alpnCert(SHARED, AUTH.shared);
  shared.putAlpn(SHARED, s.cert, s.key);
  const backend = await startTlsBackend((socket) => socket.end());
  table = buildTcpRoutes(
    {
      entryPoints: { websecure: { address: `${HOST}:0`, tls: {} } },
      tcp: { routers: { vm: { rule: 'HostSNI(`*.pass.example`)', service: 'vm' } }, services: { vm: { loadBalancer: { servers: [{ address: backend.address }] } } } },
    } as unknown as Config,
    createLogger({ level: 'silent' }),
  );
  const normal = createSecureContext({ cert: fixture('left-fullchain.pem'), key: fixture('left-key.pem') });
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  listener = await listenTls(
    entryPointSettings('websecure', { address: `${HOST}:0`, tls: {} }),
    `${HOST}:0`,
    {
      routes: () => [],
      tcpRoutes: (ep) => table.byEntryPoint.get(ep) ?? [],
      selectCertificate: () => normal,
      alpnChallenge: (sni) => own.alpnContext(sni),
      fetchAlpnChallenge: async (sni) => {
        fetched.push(sni);
        return shared.alpnContext(sni);
      },
      challengePeers: () => peers,
      ticketKeys,
    },
    createLogger({ level: 'info', destination }),
    false,
  );
  port = listener.address().port;
});

afterAll(async () => {
  await listener?.close(0);
  await table?.close();
  await closeAllTlsBackends();
  await new Promise<void>((resolve) => (peerServer ? peerServer.close(() => resolve()) : resolve()));
  ticketKeys.close();
});

describe('who answers an acme-tls/1 handshake', () => {
  it('own pending challenge first: the shared store is not asked', async () => {
    const got = await probe(HOST, port, OWN, { alpn: ['acme-tls/1'] });
    expect(carries(got.cert?.raw, AUTH.own)).toBe(true);
    expect(fetched).toEqual([]);
    expect((await decided(OWN, 1)).map((l) => l['answeredBy'])).toEqual(['own']);
  });

  it('then the shared store, even for a name a passthrough route matches', async () => {
    const got = await probe(HOST, port, SHARED, { alpn: ['acme-tls/1'] });
    expect(got.alpn).toBe('acme-tls/1');
    expect(carries(got.cert?.raw, AUTH.shared)).toBe(true);
    expect(fetched).toEqual([SHARED]);
    expect(await decided(SHARED, 1)).toMatchObject([{ answeredBy: 'shared', msg: 'acme tls-alpn-01 challenge answered' }]);
  });

  it('then the passthrough route: the backend answers with its own certificate', async () => {
    const got = await probe(HOST, port, PASSED, { alpn: ['acme-tls/1'] });
    expect(got.cert?.fingerprint256).toBe(BACKEND_FINGERPRINT);
    expect(fetched).toEqual([SHARED, PASSED]);
    expect(await decided(PASSED, 1)).toMatchObject([{ answeredBy: 'passthrough', router: 'vm' }]);
  });

  it('normal handshakes never ask the shared store', async () => {
    for (const alpn of [['h2', 'http/1.1'], ['acme-tls/1', 'http/1.1'], ['http/1.1']]) {
      const got = await probe(HOST, port, 'nobody.example', { alpn });
      expect(got.alpn).toBe(alpn[0] === 'h2' ? 'h2' : 'http/1.1'); // h2 is offered first (docs/http2.md)
    }
    expect(fetched).toEqual([SHARED, PASSED]);
    expect(decisions('nobody.example')).toEqual([]);
  });

  it('then the peers, read per handshake: none configured → refused; peers set (a reload) → relayed; removed → refused', async () => {
    const NAME = 'elsewhere.example';
    const before = await probe(HOST, port, NAME, { alpn: ['acme-tls/1'] });
    expect(before.cert).toBeUndefined();

    const p = await alpnCert(NAME, AUTH.peer);
    peerServer = createTlsServer({ cert: p.cert, key: p.key, ALPNProtocols: ['acme-tls/1'] }, (s) => s.end());
    peerServer.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => peerServer!.listen(port, PEER, resolve));
    peers = { peers: [{ host: HOST, httpPort: 80, tlsPort: port }, { host: PEER, httpPort: 80, tlsPort: port }], timeoutMs: 1_000 };
    const relayed = await probe(HOST, port, NAME, { alpn: ['acme-tls/1'] });
    expect(carries(relayed.cert?.raw, AUTH.peer)).toBe(true);

    peers = undefined;
    const after = await probe(HOST, port, NAME, { alpn: ['acme-tls/1'] });
    expect(after.cert).toBeUndefined();

    const seen = await decided(NAME, 3);
    expect(seen.map((l) => l['answeredBy'])).toEqual(['none', 'peer', 'none']);
    // The entry point itself (first in the list) is skipped: only the other peer was asked.
    expect(seen[1]).toMatchObject({ peer: PEER, tried: [{ peer: PEER, outcome: 'answered' }] });
  });

  it('a peer list naming a host that does not answer: refused once every peer failed, within the timeouts', async () => {
    const NAME = 'gone.example';
    const held: import('node:net').Socket[] = [];
    const silent = createNetServer((s) => void held.push(s));
    await new Promise<void>((resolve) => silent.listen(port, '127.0.0.8', resolve));
    try {
      peers = { peers: [{ host: '127.0.0.8', httpPort: 80, tlsPort: port }, { host: '127.0.0.9', httpPort: 80, tlsPort: port }], timeoutMs: 300 };
      const t0 = performance.now();
      const got = await probe(HOST, port, NAME, { alpn: ['acme-tls/1'] });
      const ms = performance.now() - t0;
      expect(got.cert).toBeUndefined();
      expect(ms).toBeLessThan(300 + 1_000);
      const [line] = await decided(NAME, 1);
      expect(line).toMatchObject({ answeredBy: 'none', msg: 'acme-tls/1 handshake refused: no peer holds the challenge' });
      expect((line!['tried'] as { outcome: string }[]).map((t) => t.outcome)).toEqual(['timeout', 'ECONNREFUSED']);
    } finally {
      peers = undefined;
      for (const s of held) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});
