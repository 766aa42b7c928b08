// SNI passthrough end to end: a gatehouse process with a TLS entry point, real TLS backends with their own
// certificate (test/fixtures/tls), node TLS clients, and nginx reading the PROXY protocol header we send.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, stopAllGatehouses, type GatehouseProcess } from '../helpers/gatehouse-process.js';
import { startNginx, type Nginx } from '../helpers/nginx.js';
import {
  BACKEND_CA,
  BACKEND_FINGERPRINT,
  closeAllTlsBackends,
  patternBytes,
  sha256,
  startTlsBackend,
  type TlsBackend,
} from '../helpers/tls-backend.js';

const MiB = 1024 * 1024;

let gh: GatehouseProcess;
let port: number;
let nginx: Nginx;
let stateDir: string;
const backends: Record<string, TlsBackend> = {};

/** A backend that answers with its label and the SNI it received, so each row shows where it landed. */
function labelled(label: string): Promise<TlsBackend> {
  return startTlsBackend((socket) => socket.end(`${label} ${socket.servername || '-'}\n`));
}

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'gatehouse-passthrough-state-'));
  nginx = await startNginx();
  backends['exact'] = await labelled('exact');
  backends['zone'] = await labelled('zone');
  backends['any'] = await labelled('any');
  backends['alpn'] = await labelled('alpn');
  backends['bulk'] = await startTlsBackend((socket) => {
    const received: Buffer[] = [];
    socket.on('data', (c: Buffer) => received.push(c));
    socket.write(patternBytes(10 * MiB, 'down'));
    // Sent after the client's end: the half-close must not have closed our way back (RFC 8446 §6.1).
    socket.once('end', () => socket.end(`${sha256(Buffer.concat(received))}\n`));
  });
  const service = (b: TlsBackend, extra: object = {}) => ({ loadBalancer: { servers: [{ address: b.address }], ...extra } });
  gh = await startGatehouse(
    {
      entryPoints: { websecure: { address: '127.0.0.1:0', tls: {} } },
      tcp: {
        routers: {
          exact: { rule: 'HostSNI(`backend.test`)', service: 'exact' },
          zone: { rule: 'HostSNI(`*.pass.test`)', service: 'zone' },
          bulk: { rule: 'HostSNI(`bulk.pass.test`)', service: 'bulk' },
          v1: { rule: 'HostSNI(`v1.pass.test`)', service: 'nginx-v1' },
          v2: { rule: 'HostSNI(`v2.pass.test`)', service: 'nginx-v2' },
          any: { rule: 'HostSNI(`*`)', service: 'any' },
          // Field note 001: the VM's tls-alpn-01 handshakes go to the VM too, here to a backend of their own.
          challenge: { rule: 'HostSNI(`vm.pass.test`) && ALPN(`acme-tls/1`)', service: 'alpn' },
          broken: { rule: 'HostSNI(`broken.test`)', service: 'missing' },
        },
        services: {
          exact: service(backends['exact']),
          zone: service(backends['zone']),
          any: service(backends['any']),
          alpn: service(backends['alpn']),
          bulk: service(backends['bulk']),
          'nginx-v1': { loadBalancer: { servers: [{ address: `127.0.0.1:${nginx.tlsPort}` }], proxyProtocol: { version: 1 } } },
          'nginx-v2': { loadBalancer: { servers: [{ address: `127.0.0.1:${nginx.tlsPort}` }], proxyProtocol: { version: 2 } } },
        },
      },
    },
    { env: { GATEHOUSE_STATE_DIR: stateDir, GATEHOUSE_LOG_LEVEL: 'debug' } },
  );
  port = gh.ports['websecure']!;
}, 30_000);

afterAll(async () => {
  await stopAllGatehouses();
  await closeAllTlsBackends();
  await nginx?.stop();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

/** A TLS client through gatehouse; `servername: undefined` sends no SNI (node sends none for an IP host). */
function client(servername: string | undefined, opts: { checkName?: boolean; alpn?: string[] } = {}): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      port,
      host: '127.0.0.1',
      ca: BACKEND_CA,
      ...(servername === undefined ? {} : { servername }),
      // The catch-all backend's certificate does not name every SNI a row sends; the fingerprint is checked instead.
      ...(opts.checkName ? {} : { checkServerIdentity: () => undefined }),
      ...(opts.alpn ? { ALPNProtocols: opts.alpn } : {}),
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no TLS handshake within 5 s'));
    }, 5000);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

function readAll(socket: TLSSocket, ms = 10_000): Promise<Buffer> {
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`stream not ended after ${ms} ms`)), ms);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    socket.once('error', reject);
  });
}

describe('routing by SNI', () => {
  it.each<[description: string, servername: string | undefined, answer: string]>([
    ['exact name', 'backend.test', 'exact backend.test'],
    ['one-label wildcard', 'app.pass.test', 'zone app.pass.test'],
    ['wildcard: two labels fall to the catch-all', 'a.b.pass.test', 'any a.b.pass.test'],
    ['a name no router lists: catch-all', 'elsewhere.test', 'any elsewhere.test'],
    ['no SNI at all: catch-all', undefined, 'any -'],
    // Matched case-insensitively, and the backend gets the ClientHello as the client wrote it.
    ['name in upper case', 'BACKEND.TEST', 'exact BACKEND.TEST'],
  ])('%s', async (_d, servername, answer) => {
    const socket = await client(servername);
    // The backend's own certificate, never one of ours: gatehouse did not terminate this connection.
    expect(socket.getPeerCertificate().fingerprint256).toBe(BACKEND_FINGERPRINT);
    expect(socket.authorized).toBe(true);
    expect((await readAll(socket)).toString()).toBe(`${answer}\n`);
  });

  it.each<[description: string, alpn: string[] | undefined, answer: string]>([
    ['ALPN acme-tls/1 goes to the challenge route', ['acme-tls/1'], 'alpn vm.pass.test'],
    ['other ALPN: the wildcard route', ['h2', 'http/1.1'], 'zone vm.pass.test'],
    ['no ALPN: the wildcard route', undefined, 'zone vm.pass.test'],
  ])('%s', async (_d, alpn, answer) => {
    const socket = await client('vm.pass.test', alpn ? { alpn } : {});
    expect((await readAll(socket)).toString()).toBe(`${answer}\n`);
  });

  it('a router naming a missing service is disabled and reported; the others serve', async () => {
    const line = await gh.waitForLog((l) => l.msg === 'router disabled' && l['router'] === 'broken', 2000);
    expect(line).toMatchObject({ code: 'CONFIG_REFERENCE' });
  });
});

describe('the pipe', () => {
  it('carries 10 MiB both ways intact and honours the client half-close', async () => {
    const up = patternBytes(10 * MiB, 'up');
    const socket = await client('bulk.pass.test');
    const reply = readAll(socket, 20_000);
    socket.end(up);
    const got = await reply;
    expect(got.length).toBe(10 * MiB + 65);
    expect(sha256(got.subarray(0, 10 * MiB))).toBe(sha256(patternBytes(10 * MiB, 'down')));
    expect(got.subarray(10 * MiB).toString()).toBe(`${sha256(up)}\n`);
    const line = await gh.waitForLog((l) => l.msg === 'passthrough connection closed' && l['router'] === 'bulk', 3000);
    expect(line).toMatchObject({ level: 'info', entryPoint: 'websecure', sni: 'bulk.pass.test', service: 'bulk', backend: backends['bulk']!.address, end: 'client-closed' });
    expect(line['bytesUp']).toBeGreaterThan(10 * MiB);
    expect(line['bytesDown']).toBeGreaterThan(10 * MiB);
  }, 30_000);
});

describe('PROXY protocol to the backend, read by nginx', () => {
  it.each<[description: string, servername: string]>([
    ['version 1 (text)', 'v1.pass.test'],
    ['version 2 (binary)', 'v2.pass.test'],
  ])('%s: nginx sees the real client address and port', async (_d, servername) => {
    const socket = await client(servername, { checkName: true });
    expect(socket.getPeerCertificate().fingerprint256).toBe(BACKEND_FINGERPRINT);
    const reply = readAll(socket);
    socket.write(`GET / HTTP/1.1\r\nHost: ${servername}\r\nConnection: close\r\n\r\n`);
    const text = (await reply).toString();
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(text.slice(text.indexOf('\r\n\r\n') + 4)).toBe(`127.0.0.1:${socket.localPort}\n`);
  });
});
