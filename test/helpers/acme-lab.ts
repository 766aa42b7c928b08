/**
 * What the ACME tests share: a gatehouse config whose resolver points at a test Pebble, and TLS probes that say
 * which certificate an entry point serves for a name (and whether it chains to Pebble's root), and `usePebble()`, the
 * hooks every Pebble test file shares.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { stopAllGatehouses } from './gatehouse-process.js';
import { startPebble, type Pebble, type PebbleOptions } from './pebble.js';

/**
 * The hooks every Pebble test file needs: one Pebble for the file (started before its tests), every gatehouse
 * stopped after each test, and at the end the gatehouses, the state directories and Pebble stopped. Returns the
 * file's Pebble; reading it before the file's tests start throws.
 */
export function usePebble(options: PebbleOptions = {}): Pebble {
  let current: Pebble | undefined;
  beforeAll(async () => {
    current = await startPebble(options);
  }, 60_000);
  afterEach(async () => {
    await stopAllGatehouses();
  });
  afterAll(async () => {
    await stopAllGatehouses();
    await removeStateDirs();
    await current?.stop();
  });
  return new Proxy({} as Pebble, {
    get(_target, key) {
      if (current === undefined) throw new Error('Pebble is not started yet: use it inside a test or a later hook');
      const value = Reflect.get(current, key) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(current) : value;
    },
  });
}

/** A config with a plain and a TLS entry point on `address` (at the VA's ports) and one router per name. */
export function acmeConfig(pebble: Pebble, address: string, names: readonly string[], challenges: readonly string[]): object {
  return {
    log: { level: 'info', accessLog: false },
    entryPoints: {
      web: { address: `${address}:${pebble.httpPort}` },
      websecure: { address: `${address}:${pebble.tlsPort}`, tls: {} },
    },
    certificateResolvers: {
      pebble: { acme: { caServer: pebble.directoryUrl, email: 'ops@lab.test', caBundle: pebble.apiCaFile, challenges } },
    },
    http: {
      routers: Object.fromEntries(
        names.map((n, i) => [`r${i}`, { rule: `Host(\`${n}\`)`, respond: { body: `hello ${n}\n` }, tls: { certResolver: 'pebble' } }]),
      ),
    },
  };
}

const stateDirs = new Set<string>();

/** A fresh state directory for one gatehouse (kept across its restarts by the test; `removeStateDirs` deletes it). */
export async function freshStateDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-acme-state-'));
  stateDirs.add(dir);
  return dir;
}

/** Deletes every state directory made by `freshStateDir` (call in afterAll, after the gatehouses stopped). */
export async function removeStateDirs(): Promise<void> {
  await Promise.all([...stateDirs].map((d) => rm(d, { recursive: true, force: true })));
  stateDirs.clear();
}

/** What a handshake for `sni` got: the leaf, whether it verified against `ca`, the ALPN chosen. */
export interface Served {
  readonly cert: PeerCertificate | undefined;
  readonly authorized: boolean;
  readonly alpn: string | false | null;
  readonly error?: string;
}

/** One TLS handshake to `host:port` for `sni`, verified against `ca` when given; never rejects, bounded. */
export function probe(host: string, port: number, sni: string, options: { ca?: string; alpn?: string[] } = {}): Promise<Served> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, servername: sni, rejectUnauthorized: false, ALPNProtocols: options.alpn ?? ['http/1.1'], ...(options.ca ? { ca: options.ca } : {}), timeout: 3_000 });
    const done = (s: Served) => {
      socket.destroy();
      resolve(s);
    };
    socket.once('secureConnect', () => done({ cert: socket.getPeerCertificate(), authorized: socket.authorized, alpn: socket.alpnProtocol }));
    socket.on('timeout', () => done({ cert: undefined, authorized: false, alpn: false, error: 'timeout' }));
    socket.on('error', (e: NodeJS.ErrnoException) => done({ cert: undefined, authorized: false, alpn: false, error: e.code ?? e.message }));
  });
}
