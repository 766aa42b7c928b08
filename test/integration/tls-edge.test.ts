/**
 * The TLS edge end to end, through a gatehouse child process: one TLS port that terminates some names (certificates
 * from certs/) and passes others through to a backend that owns its certificate; the default certificate; plain
 * HTTP redirected to HTTPS (but never ACME challenges); PROXY protocol from a trusted load balancer.
 */
import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect as tlsConnect, createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, stopAllGatehouses, type GatehouseProcess } from '../helpers/gatehouse-process.js';
import { httpRequest, rawExchange } from '../helpers/raw-http.js';
import { closeAllUpstreams, startEchoUpstream, type EchoReply, type HttpUpstream } from '../helpers/upstreams.js';

const fixtures = fileURLToPath(new URL('../fixtures/certs/', import.meta.url));
const ca = readFileSync(join(fixtures, 'ca.pem'));
const dirs: string[] = [];
const tempDir = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};

let echo: HttpUpstream;
let backend: TlsServer;
let backendPort: number;
let gh: GatehouseProcess;
let certsDir: string;
let stateDir: string;

function config() {
  return {
    entryPoints: {
      web: { address: '127.0.0.1:0', http: { redirections: { entryPoint: { to: 'websecure' } } } },
      plain: { address: '127.0.0.1:0' },
      websecure: { address: '127.0.0.1:0', tls: { clientHelloTimeout: '1s' }, timeouts: { headers: '1s' } },
      lb: { address: '127.0.0.1:0', tls: {}, proxyProtocol: { trustedIPs: ['127.0.0.1/8'] } },
      other: { address: '127.0.0.1:0', tls: {} },
    },
    tls: { certsDir },
    stateDir,
    http: {
      routers: {
        app: { rule: 'Host(`right.example`) || Host(`left.example`)', service: 'echo', tls: {} },
        open: { rule: 'Host(`open.example`)', respond: { body: 'open on every entry point' } },
      },
      services: { echo: { loadBalancer: { servers: [{ url: echo.url }] } } },
    },
    tcp: {
      routers: { vm: { rule: 'HostSNI(`*.wild.example`)', service: 'vm', entryPoints: ['websecure'] } },
      services: { vm: { loadBalancer: { servers: [{ address: `127.0.0.1:${backendPort}` }] } } },
    },
  };
}

beforeAll(async () => {
  echo = await startEchoUpstream();
  const wild = readFileSync(join(fixtures, 'wild.pem'));
  backend = createTlsServer({ cert: wild, key: wild }, (s) => {
    s.on('data', (d: Buffer) => s.write(`backend:${d.toString()}`));
    s.on('end', () => s.end());
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', () => r()));
  backendPort = (backend.address() as { port: number }).port;
  certsDir = tempDir('gatehouse-certs-');
  copyFileSync(join(fixtures, 'wrong.pem'), join(certsDir, 'wrong.pem'));
  copyFileSync(join(fixtures, 'left-fullchain.pem'), join(certsDir, 'left-fullchain.pem'));
  copyFileSync(join(fixtures, 'left-key.pem'), join(certsDir, 'left-key.pem'));
  stateDir = tempDir('gatehouse-state-');
  gh = await startGatehouse(config());
});

afterAll(async () => {
  await stopAllGatehouses();
  await closeAllUpstreams();
  await new Promise<void>((r) => backend.close(() => r()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** One TLS connection; resolves with the socket once the handshake is done (or rejects). */
function handshake(port: number, servername: string | undefined, extra: { socket?: import('node:net').Socket } = {}): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'], ...(servername ? { servername } : {}), ...extra });
    const timer = setTimeout(() => (s.destroy(), reject(new Error('handshake timed out'))), 5_000);
    s.once('secureConnect', () => (clearTimeout(timer), resolve(s)));
    s.once('error', (err) => (clearTimeout(timer), reject(err)));
  });
}

function fingerprint(s: TLSSocket): string {
  return createHash('sha256').update(s.getPeerCertificate().raw).digest('hex');
}

/** An HTTPS request with SNI `name`, verified against the test CA; resolves with status, headers and body. */
function get(port: number, name: string, path = '/'): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, servername: name, path, ca, agent: false, headers: { host: `${name}:${port}` } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.setTimeout(5_000, () => req.destroy(new Error('no response')));
    req.on('error', reject);
    req.end();
  });
}

describe('termination', () => {
  it.each([
    ['RSA certificate from a file named wrong.pem', 'right.example'],
    ['ECDSA certificate with a separate key file', 'left.example'],
  ])('serves the %s, verified by the CA, and routes the request as HTTPS', async (_d, name) => {
    const port = gh.ports['websecure']!;
    const res = await get(port, name, '/x?y=1');
    expect(res.status).toBe(200);
    const seen = JSON.parse(res.text) as EchoReply;
    expect(seen.url).toBe('/x?y=1');
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    expect(seen.headers['x-forwarded-port']).toBe(String(port));
    expect(seen.headers['host']).toBe(`${name}:${port}`);
  });

  it('serves curl, which verifies the chain and the name', async () => {
    const port = gh.ports['websecure']!;
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        'curl',
        ['-sS', '--max-time', '5', '--cacert', join(fixtures, 'ca.pem'), '--resolve', `right.example:${port}:127.0.0.1`, `https://right.example:${port}/from-curl`],
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    expect(out.stderr, 'curl is needed for this test (Debian: apt-get install curl)').toBe('');
    expect(out.code).toBe(0);
    expect((JSON.parse(out.stdout) as EchoReply).url).toBe('/from-curl');
  });

  it('serves the default certificate for an unknown name and for a client without SNI, the same one', async () => {
    const port = gh.ports['websecure']!;
    const unknown = await handshake(port, 'nobody.example');
    const noSni = await handshake(port, undefined);
    const a = fingerprint(unknown);
    const b = fingerprint(noSni);
    unknown.destroy();
    noSni.destroy();
    expect(a).toBe(b);
    const known = await handshake(port, 'right.example');
    expect(fingerprint(known)).not.toBe(a);
    known.destroy();
  });

  it('refuses a client-initiated TLS 1.2 renegotiation (CVE-2011-1473)', async () => {
    const s = await new Promise<TLSSocket>((resolve, reject) => {
      const c = tlsConnect({ host: '127.0.0.1', port: gh.ports['websecure']!, servername: 'right.example', ca, maxVersion: 'TLSv1.2' });
      c.once('secureConnect', () => resolve(c));
      c.once('error', reject);
    });
    expect(s.getProtocol()).toBe('TLSv1.2');
    const outcome = await new Promise<string>((resolve) => {
      s.on('error', () => resolve('refused'));
      s.on('close', () => resolve('refused'));
      const accepted = s.renegotiate({}, (err) => resolve(err ? 'refused' : 'renegotiated'));
      if (!accepted) resolve('refused');
      setTimeout(() => resolve('no answer'), 3_000);
    });
    s.destroy();
    expect(outcome).toBe('refused');
  });

  it('answers plain HTTP on the TLS port with a 400 that says to use https', async () => {
    const res = await rawExchange(gh.ports['websecure']!, (write) => void write('GET / HTTP/1.1\r\nHost: right.example\r\n\r\n'), 3_000);
    expect(res.status).toBe(400);
    expect(res.data.toString()).toContain('use https://');
    expect(res.closedByServer).toBe(true);
  });

  /** An SSLv2 CLIENT-HELLO (draft-hickman-netscape-ssl-00 §2.2) offering `version`: one cipher kind, a 16-byte challenge. */
  const sslv2Hello = (version: number): Buffer => {
    const body = Buffer.from([1, version >> 8, version & 0xff, 0, 3, 0, 0, 0, 16, 0x01, 0x00, 0x80, ...Array<number>(16).fill(7)]);
    return Buffer.concat([Buffer.from([0x80 | (body.length >> 8), body.length & 0xff]), body]);
  };

  // The bytes OpenSSL 3.0 (nginx, HAProxy) sends for the same input, read from `openssl s_server`: a fatal alert
  // record (21), the record version, length 2, level fatal (2), then the description.
  it.each([
    { description: 'an SSLv2 CLIENT-HELLO: protocol_version (70) in a TLS 1.2 record', bytes: sslv2Hello(0x0002), alert: '15030300020246', name: 'protocol_version', reason: 'sslv2' },
    { description: 'a TLS 1.0 offer in SSLv2 framing: protocol_version in a TLS 1.0 record', bytes: sslv2Hello(0x0301), alert: '15030100020246', name: 'protocol_version', reason: 'sslv2' },
    {
      description: 'a ClientHello over maxClientHelloSize (16 KiB): illegal_parameter (47)',
      bytes: Buffer.concat([Buffer.from([22, 3, 1, 0x40, 0x00, 1, 0x01, 0x00, 0x00]), Buffer.alloc(16_380)]),
      alert: '1503030002022f',
      name: 'illegal_parameter',
      reason: 'too-large',
    },
  ])('sends $description, then closes', async ({ bytes, alert, name, reason }) => {
    const res = await rawExchange(gh.ports['websecure']!, (write) => void write(bytes), 3_000);
    expect(res.data.toString('hex')).toBe(alert);
    expect(res.closedByServer).toBe(true);
    const line = await gh.waitForLog((l) => l.msg === 'connection without a usable ClientHello' && l['alert'] === name && l['reason'] === reason, 3_000);
    expect(line['entryPoint']).toBe('websecure');
  });

  it('a TLS client whose ClientHello is too large reads the alert (47, illegal_parameter)', async () => {
    // 100 ALPN names of 200 bytes: a 20 KB ClientHello, over the 16 KiB default.
    const ALPNProtocols = Array.from({ length: 100 }, (_, i) => `p${i}`.padEnd(200, 'x'));
    const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      const c = tlsConnect({ host: '127.0.0.1', port: gh.ports['websecure']!, servername: 'right.example', ca, ALPNProtocols });
      c.once('secureConnect', () => (c.destroy(), resolve(undefined)));
      c.once('error', (e: NodeJS.ErrnoException) => resolve(e));
    });
    // OpenSSL 3.0 (Node 20) names it ERR_SSL_SSLV3_ALERT_ILLEGAL_PARAMETER, OpenSSL 3.5 (Node 24) ERR_SSL_SSL/TLS_ALERT_….
    expect(err?.code).toMatch(/^ERR_SSL_(SSLV3|SSL\/TLS)_ALERT_ILLEGAL_PARAMETER$/);
  });

  it('cuts a client that sends no ClientHello after clientHelloTimeout', async () => {
    const start = Date.now();
    const ended = await new Promise<string>((resolve) => {
      const s = netConnect(gh.ports['websecure']!, '127.0.0.1');
      s.on('close', () => resolve('closed'));
      s.on('error', () => undefined);
      setTimeout(() => (s.destroy(), resolve('still open')), 4_000);
    });
    expect(ended).toBe('closed');
    expect(Date.now() - start).toBeLessThan(3_000);
  });

  it('cuts a slowloris client on a terminated connection after the headers timeout', async () => {
    const s = await handshake(gh.ports['websecure']!, 'right.example');
    s.write('GET / HTTP/1.1\r\nHost: right.example\r\nX-Slow: ');
    let answer = '';
    s.on('data', (d: Buffer) => (answer += d.toString())); // reading is what lets the client see the server close
    const start = Date.now();
    const ended = await new Promise<string>((resolve) => {
      const tick = setInterval(() => s.writable && s.write('a'), 200);
      s.on('close', () => (clearInterval(tick), resolve('closed')));
      s.on('error', () => undefined);
      setTimeout(() => (clearInterval(tick), s.destroy(), resolve('still open')), 5_000);
    });
    expect(ended).toBe('closed');
    expect(Date.now() - start).toBeLessThan(4_000);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
  });
});

describe('passthrough', () => {
  it('pipes a matching SNI to the backend untouched: the client sees the backend certificate', async () => {
    const s = await handshake(gh.ports['websecure']!, 'vm.wild.example');
    const cert = new X509Certificate(s.getPeerCertificate().raw);
    expect(cert.subjectAltName).toBe('DNS:*.wild.example');
    expect(s.authorized).toBe(true); // signed by the test CA, for this name
    const answer = await new Promise<string>((resolve) => {
      s.once('data', (d: Buffer) => resolve(d.toString()));
      s.write('ping');
    });
    expect(answer).toBe('backend:ping');
    s.end();
  });

  it('does not pass through on an entry point the TCP router does not list', async () => {
    const s = await handshake(gh.ports['other']!, 'vm.wild.example');
    expect(new X509Certificate(s.getPeerCertificate().raw).subjectAltName).not.toBe('DNS:*.wild.example');
    s.destroy();
  });
});

describe('plain HTTP entry points', () => {
  it.each([
    ['GET is redirected permanently with 301', 'GET', 301],
    ['POST keeps its method with 308', 'POST', 308],
  ])('%s to the TLS entry point', async (_d, method, status) => {
    const res = await httpRequest(gh.ports['web']!, { method, host: 'right.example', path: '/a/b?c=d', body: method === 'POST' ? 'x' : undefined });
    expect(res.status).toBe(status);
    expect(res.headers['location']).toBe(`https://right.example:${gh.ports['websecure']}/a/b?c=d`);
  });

  it('never redirects an ACME http-01 challenge', async () => {
    const res = await httpRequest(gh.ports['web']!, { host: 'right.example', path: '/.well-known/acme-challenge/abc' });
    expect(res.status).toBe(404);
  });

  it('does not serve a tls-only router on a plain entry point, but serves the others', async () => {
    expect((await httpRequest(gh.ports['plain']!, { host: 'right.example' })).status).toBe(404);
    expect((await httpRequest(gh.ports['plain']!, { host: 'open.example' })).text).toBe('open on every entry point');
    expect((await get(gh.ports['websecure']!, 'right.example')).status).toBe(200);
  });
});

describe('PROXY protocol from a trusted load balancer', () => {
  it.each([
    ['v1', Buffer.from('PROXY TCP4 203.0.113.7 127.0.0.1 5555 443\r\n')],
    [
      'v2',
      Buffer.concat([
        Buffer.from('0d0a0d0a000d0a515549540a', 'hex'),
        Buffer.from([0x21, 0x11, 0x00, 0x0c]),
        Buffer.from([203, 0, 113, 7, 127, 0, 0, 1]),
        Buffer.from([0x15, 0xb3, 0x01, 0xbb]),
      ]),
    ],
  ])('%s: the request is seen as coming from the address in the header', async (_d, header) => {
    const port = gh.ports['lb']!;
    const raw = netConnect(port, '127.0.0.1');
    await new Promise((r) => raw.once('connect', r));
    raw.write(header);
    const s = await handshake(port, 'right.example', { socket: raw });
    s.write('GET /who HTTP/1.1\r\nHost: right.example\r\nConnection: close\r\n\r\n');
    const text = await new Promise<string>((resolve) => {
      let t = '';
      s.on('data', (d: Buffer) => (t += d.toString()));
      s.on('end', () => resolve(t));
    });
    const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as EchoReply;
    expect(body.headers['x-forwarded-for']).toBe('203.0.113.7');
    const line = await gh.waitForLog((l) => l['msg'] === 'request' && l['path'] === '/who' && l['clientIp'] === '203.0.113.7');
    expect(line['entryPoint']).toBe('lb');
  });
});

describe('certificates added while running', () => {
  it('serves a pair dropped into certs/ without a restart', async () => {
    const port = gh.ports['websecure']!;
    const before = await handshake(port, 'left2.example');
    expect(new X509Certificate(before.getPeerCertificate().raw).subjectAltName).not.toContain('left2.example');
    before.destroy();
    copyFileSync(join(fixtures, 'left2.pem'), join(certsDir, 'left2.pem'));
    let san = '';
    for (let i = 0; i < 50 && !san.includes('DNS:left2.example'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      const s = await handshake(port, 'left2.example');
      san = new X509Certificate(s.getPeerCertificate().raw).subjectAltName ?? '';
      s.destroy();
    }
    expect(san).toContain('DNS:left2.example');
  });
});

describe('the default certificate', () => {
  it('is the same after a restart on the same state directory', async () => {
    const before = await handshake(gh.ports['websecure']!, 'nobody.example');
    const fp = fingerprint(before);
    before.destroy();
    const again = await startGatehouse(config());
    const after = await handshake(again.ports['websecure']!, 'nobody.example');
    expect(fingerprint(after)).toBe(fp);
    after.destroy();
    expect(await again.stop()).toBe(0);
  });
});
