/**
 * The certificate store behind real TLS: a `tls.createServer` whose SNICallback asks the store (as the TLS
 * listener does), real `tls.connect` clients verifying against the fixtures' test CA, and `openssl s_client`.
 * Certificate files live in a fresh temporary certsDir per test, so hot-add, breakage and removal are real
 * file-system events.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { connect, createServer, type PeerCertificate, type Server } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCertStore, generateSelfSigned, loadOrCreateDefaultCertificate, type CertStore, type CertStoreOptions } from '../../src/certs/index.js';
import { createLogger } from '../../src/log.js';
import { linesWith, parseLogLine, type LogLine } from '../helpers/log-lines.js';

const FIXTURES = new URL('../fixtures/certs/', import.meta.url).pathname;
const CA = readFileSync(join(FIXTURES, 'ca.pem'));

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

// One default certificate generated for the whole file and copied into each test's state directory: an RSA
// keygen per test would be most of this file's time. The tests about generation pass their own empty stateDir.
let templateState: string;
beforeAll(async () => {
  templateState = mkdtempSync(join(tmpdir(), 'gatehouse-state-'));
  await loadOrCreateDefaultCertificate(templateState, createLogger({ level: 'silent' }));
});
afterAll(() => rmSync(templateState, { recursive: true, force: true }));

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-certs-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function fixture(dir: string, name: string, as = name): void {
  copyFileSync(join(FIXTURES, name), join(dir, as));
}

interface Harness {
  store: CertStore;
  port: number;
  logs: LogLine[];
  certsDir: string;
  stateDir: string;
}

/** A store over a temporary certsDir holding `files`, and a TLS server that selects through it. */
async function start(files: string[], overrides: Partial<CertStoreOptions> = {}): Promise<Harness> {
  const certsDir = overrides.certsDir ?? tempDir();
  for (const f of files) fixture(certsDir, f);
  let stateDir = overrides.stateDir;
  if (stateDir === undefined) {
    stateDir = tempDir();
    cpSync(join(templateState, 'default-cert'), join(stateDir, 'default-cert'), { recursive: true });
  }
  const logs: LogLine[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) logs.push(parseLogLine(line));
      cb();
    },
  });
  const store = await createCertStore({
    certsDir,
    files: [],
    stateDir,
    defaultCertificate: { onUnknownName: 'serve' },
    settings: { minVersion: 'TLSv1.2' },
    log: createLogger({ level: 'debug', destination }),
    debounceMs: 50,
    rescanIntervalMs: 60_000,
    ...overrides,
  });
  cleanups.push(() => store.close());
  const server = createServer({
    ...store.serverOptions(),
    SNICallback: (name, cb) => {
      const context = store.select(name);
      if (context) cb(null, context);
      else cb(new Error('no certificate for this name'));
    },
  });
  server.on('secureConnection', (socket) => socket.end('hello'));
  server.on('tlsClientError', () => undefined);
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
  cleanups.push(() => closeServer(server));
  return { store, port, logs, certsDir, stateDir };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** The certificate the server presents for `servername` (undefined: no SNI), or the handshake's error. */
function handshake(port: number, servername: string | undefined, options: { verify?: boolean; maxVersion?: 'TLSv1.1' | 'TLSv1.2' } = {}) {
  return new Promise<{ cert?: PeerCertificate; error?: string; protocol?: string | null; cipher?: string }>((resolve) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      ...(servername !== undefined ? { servername } : {}),
      ca: CA,
      rejectUnauthorized: options.verify ?? false,
      ...(options.maxVersion ? { maxVersion: options.maxVersion, minVersion: 'TLSv1' as const } : {}),
    });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ error: 'timeout' });
    }, 5000);
    socket.on('secureConnect', () => {
      clearTimeout(timer);
      resolve({ cert: socket.getPeerCertificate(), protocol: socket.getProtocol(), cipher: socket.getCipher().name });
      socket.destroy();
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ error: e.code ?? e.message });
    });
  });
}

/** Polls the handshake for `servername` until `test` holds on the presented certificate; bounded. */
async function eventually(port: number, servername: string, test: (cert: PeerCertificate | undefined) => boolean, ms = 5000) {
  const until = Date.now() + ms;
  let last: PeerCertificate | undefined;
  while (Date.now() < until) {
    last = (await handshake(port, servername)).cert;
    if (test(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`condition not met within ${ms} ms; last certificate: ${last?.subjectaltname ?? 'none'}`);
}

const ALL = ['wrong.pem', 'left-fullchain.pem', 'left-key.pem', 'wild.pem', 'long.pem', 'short.pem', 'ca.pem'];

describe('selection by SNI, real handshakes', () => {
  it.each([
    { description: 'exact name, RSA key, cert and key in one file named wrong.pem', sni: 'right.example', san: 'DNS:right.example, DNS:WWW.Right.Example', key: 'rsa' },
    { description: 'a second SAN, sent in upper case', sni: 'WWW.RIGHT.EXAMPLE', san: 'DNS:right.example, DNS:WWW.Right.Example', key: 'rsa' },
    { description: 'ECDSA key, chain and key in separate files', sni: 'left.example', san: 'DNS:left.example', key: 'ec' },
    { description: 'one-label wildcard', sni: 'a.wild.example', san: 'DNS:*.wild.example', key: 'ec' },
    { description: 'the longer-lived of two certificates for one name', sni: 'dup.example', san: 'DNS:dup.example', key: 'ec', long: true },
    { description: 'a name only the shorter-lived certificate has', sni: 'only-short.example', san: 'DNS:dup.example, DNS:only-short.example', key: 'ec' },
  ])('$description', async ({ sni, san, key, long }) => {
    const h = await start(ALL);
    const { cert, error } = await handshake(h.port, sni, { verify: true });
    expect(error).toBeUndefined();
    expect(cert?.subjectaltname).toBe(san);
    // Node reports the curve for EC keys and the modulus size for RSA keys.
    expect(key === 'ec' ? cert?.asn1Curve : cert?.bits).toBe(key === 'ec' ? 'prime256v1' : 2048);
    if (long) expect(new Date(cert?.valid_to ?? 0).getTime()).toBeGreaterThan(Date.now() + 365 * 86400_000);
    if (long) expect(linesWith(h.logs, 'name covered by several certificates, the longest-valid serves', { domain: 'dup.example' })).toHaveLength(1);
  });

  it.each([
    { description: 'the wildcard does not cover its apex', sni: 'wild.example' },
    { description: 'the wildcard does not cover two labels', sni: 'a.b.wild.example' },
    { description: 'a name with no certificate', sni: 'unknown.example' },
    { description: 'a client without SNI', sni: undefined },
  ])('default certificate: $description', async ({ sni }) => {
    const h = await start(ALL);
    const { cert, error } = await handshake(h.port, sni);
    expect(error).toBeUndefined();
    expect(cert?.subject.CN).toBe('gatehouse default');
    expect(cert?.subjectaltname).toBe('DNS:gatehouse default');
  });

  it.each([
    { description: 'a name with no certificate is refused', sni: 'unknown.example', refused: true },
    { description: 'a client without SNI is refused', sni: undefined, refused: true },
    { description: 'a known name still works', sni: 'right.example', refused: false },
  ])('onUnknownName refuse: $description', async ({ sni, refused }) => {
    const h = await start(ALL, { defaultCertificate: { onUnknownName: 'refuse' } });
    const result = await handshake(h.port, sni, { verify: !refused });
    if (refused) expect(result.error).toMatch(/ALERT|ECONNRESET|socket disconnected/i);
    else expect(result.cert?.subjectaltname).toContain('DNS:right.example');
  });
});

describe('protocol settings', () => {
  it.each([
    { description: 'TLS 1.3 by default', maxVersion: undefined, protocol: 'TLSv1.3', cipher: /^TLS_(AES|CHACHA20)/ },
    { description: 'TLS 1.2 gets ECDHE with an AEAD', maxVersion: 'TLSv1.2' as const, protocol: 'TLSv1.2', cipher: /^ECDHE-(ECDSA|RSA)-(AES\d+-GCM|CHACHA20)/ },
    { description: 'TLS 1.1 is refused', maxVersion: 'TLSv1.1' as const, protocol: undefined, cipher: undefined },
  ])('$description', async ({ maxVersion, protocol, cipher }) => {
    const h = await start(ALL);
    const result = await handshake(h.port, 'left.example', maxVersion ? { maxVersion } : {});
    if (protocol === undefined) {
      expect(result.error).toBeDefined();
    } else {
      expect(result.protocol).toBe(protocol);
      expect(result.cipher).toMatch(cipher as RegExp);
    }
  });
});

describe('the default certificate', () => {
  it('is generated once, kept in the state directory (key 0600, directory 0700) and reused by the next store', async () => {
    const stateDir = tempDir();
    const first = await start([], { stateDir });
    const a = (await handshake(first.port, undefined)).cert;
    expect(linesWith(first.logs, 'default certificate generated')).toHaveLength(1);
    const second = await start([], { stateDir });
    const b = (await handshake(second.port, 'unknown.example')).cert;
    expect(linesWith(second.logs, 'default certificate generated')).toHaveLength(0);
    expect(b?.fingerprint256).toBe(a?.fingerprint256);
    expect(statSync(join(stateDir, 'default-cert', 'key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(join(stateDir, 'default-cert')).mode & 0o777).toBe(0o700);
    // The key never reaches the log, in any field.
    const key = readFileSync(join(stateDir, 'default-cert', 'key.pem'), 'utf8').split('\n')[1] ?? 'x';
    expect(JSON.stringify([...first.logs, ...second.logs])).not.toContain(key);
    // Valid for about a year.
    const days = (new Date(a?.valid_to ?? 0).getTime() - Date.now()) / 86400_000;
    expect(days).toBeGreaterThan(360);
    expect(days).toBeLessThan(367);
  });

  it('is replaced when its key no longer matches (a crash between the two writes)', async () => {
    const stateDir = tempDir();
    const first = await start([], { stateDir });
    const a = (await handshake(first.port, undefined)).cert;
    copyFileSync(join(FIXTURES, 'left-key.pem'), join(stateDir, 'default-cert', 'key.pem'));
    const second = await start([], { stateDir });
    const b = (await handshake(second.port, undefined)).cert;
    expect(b?.subject.CN).toBe('gatehouse default');
    expect(b?.fingerprint256).not.toBe(a?.fingerprint256);
  });

  it('comes from the configured files when given, and a broken one falls back to the generated certificate', async () => {
    const dir = tempDir();
    fixture(dir, 'wrong.pem');
    const configured = await start([], { defaultCertificate: { certFile: join(dir, 'wrong.pem'), keyFile: join(dir, 'wrong.pem'), onUnknownName: 'serve' } });
    expect((await handshake(configured.port, 'nothing.example')).cert?.subjectaltname).toContain('DNS:right.example');
    const broken = await start([], { defaultCertificate: { certFile: join(dir, 'missing.pem'), keyFile: join(dir, 'wrong.pem'), onUnknownName: 'serve' } });
    expect((await handshake(broken.port, 'nothing.example')).cert?.subject.CN).toBe('gatehouse default');
    expect(linesWith(broken.logs, 'default certificate unusable, generating one')).toHaveLength(1);
  });
});

describe('changes in certsDir without a restart', () => {
  it('a pair added to certsDir is served within a bounded wait', async () => {
    const h = await start(['wrong.pem']);
    expect((await handshake(h.port, 'a.wild.example')).cert?.subject.CN).toBe('gatehouse default');
    fixture(h.certsDir, 'wild.pem', 'added-later.pem');
    const cert = await eventually(h.port, 'a.wild.example', (c) => c?.subjectaltname === 'DNS:*.wild.example');
    expect(cert?.subjectaltname).toBe('DNS:*.wild.example');
    expect(linesWith(h.logs, 'certificate loaded', { source: join(h.certsDir, 'added-later.pem') })).toHaveLength(1);
  });

  it('a certsDir created after start is picked up', async () => {
    const parent = tempDir();
    const certsDir = join(parent, 'certs');
    const h = await start([], { certsDir });
    expect(linesWith(h.logs, 'certificates directory missing, watching for it')).toHaveLength(1);
    const staging = tempDir();
    fixture(staging, 'wild.pem');
    // rename: the directory appears with its file already inside, as a deploy would do it
    const { renameSync } = await import('node:fs');
    renameSync(staging, certsDir);
    await eventually(h.port, 'x.wild.example', (c) => c?.subjectaltname === 'DNS:*.wild.example');
  });

  it.each([
    {
      description: 'a half-written certificate file',
      breakIt: (dir: string) => truncateSync(join(dir, 'left-fullchain.pem'), 300),
      reason: /no END line/,
    },
    {
      description: 'a certificate replaced while its key is not yet',
      breakIt: (dir: string) => writeFileSync(join(dir, 'left-fullchain.pem'), readFileSync(join(FIXTURES, 'mismatch-cert.pem'))),
      reason: /no matching private key/,
    },
    {
      description: 'a key that is not PEM any more',
      breakIt: (dir: string) => writeFileSync(join(dir, 'left-key.pem'), '-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n'),
      reason: /unreadable private key/,
    },
  ])('keeps the previous certificate in service after $description, with a warning', async ({ breakIt, reason }) => {
    const h = await start(['left-fullchain.pem', 'left-key.pem']);
    const before = (await handshake(h.port, 'left.example')).cert;
    expect(before?.subjectaltname).toBe('DNS:left.example');
    breakIt(h.certsDir);
    await h.store.rescan();
    const warned = linesWith(h.logs, 'certificate file unusable');
    expect(warned.length).toBeGreaterThan(0);
    expect(warned.map((l) => String(l['reason'])).join(' ')).toMatch(reason);
    expect(warned.some((l) => l['keptPrevious'] === true)).toBe(true);
    expect((await handshake(h.port, 'left.example')).cert?.fingerprint256).toBe(before?.fingerprint256);
    // No key material in any line.
    expect(JSON.stringify(h.logs)).not.toContain('PRIVATE KEY');
  });

  it('an expired certificate is loaded with a warning and loses its name to a valid one', async () => {
    const expired = await generateSelfSigned('dup.example', new Date(Date.now() - 400 * 86400_000), 30);
    const h = await start(['long.pem']);
    writeFileSync(join(h.certsDir, 'expired.pem'), expired.certPem + expired.keyPem);
    await h.store.rescan();
    expect(linesWith(h.logs, 'certificate expired', { source: join(h.certsDir, 'expired.pem') })).toHaveLength(1);
    expect((await handshake(h.port, 'dup.example', { verify: true })).cert?.subject.CN).toBe('long');
  });

  it('a certificate whose files are removed stops being served', async () => {
    const h = await start(['wrong.pem', 'left-fullchain.pem', 'left-key.pem']);
    unlinkSync(join(h.certsDir, 'wrong.pem'));
    await eventually(h.port, 'right.example', (c) => c?.subject.CN === 'gatehouse default');
    expect(linesWith(h.logs, 'certificate removed', { source: join(h.certsDir, 'wrong.pem') })).toHaveLength(1);
    expect((await handshake(h.port, 'left.example')).cert?.subjectaltname).toBe('DNS:left.example');
  });

  it('a changed pair replaces the old one, and the unchanged files keep their compiled context', async () => {
    const h = await start(['left-fullchain.pem', 'left-key.pem', 'wrong.pem']);
    const right = h.store.select('right.example');
    rmSync(join(h.certsDir, 'left-key.pem'));
    writeFileSync(join(h.certsDir, 'left-fullchain.pem'), readFileSync(join(FIXTURES, 'left2.pem')));
    await eventually(h.port, 'left2.example', (c) => c?.subjectaltname === 'DNS:left.example, DNS:left2.example');
    expect((await handshake(h.port, 'left.example')).cert?.subjectaltname).toBe('DNS:left.example, DNS:left2.example');
    expect(h.store.select('right.example')).toBe(right);
  });
});

describe('put()', () => {
  it('installs and replaces a certificate live, and refuses a pair that does not match', async () => {
    const h = await start([]);
    const left = readFileSync(join(FIXTURES, 'left-fullchain.pem'), 'utf8');
    h.store.put('acme:left.example', left, readFileSync(join(FIXTURES, 'left-key.pem'), 'utf8'));
    expect((await handshake(h.port, 'left.example', { verify: true })).cert?.subjectaltname).toBe('DNS:left.example');
    const left2 = readFileSync(join(FIXTURES, 'left2.pem'), 'utf8');
    h.store.put('acme:left.example', left2, left2);
    expect((await handshake(h.port, 'left.example', { verify: true })).cert?.subjectaltname).toBe('DNS:left.example, DNS:left2.example');
    expect(() => h.store.put('acme:bad', readFileSync(join(FIXTURES, 'mismatch-cert.pem'), 'utf8'), readFileSync(join(FIXTURES, 'mismatch-key.pem'), 'utf8'))).toThrow(
      expect.objectContaining({ code: 'CERT_INVALID' }),
    );
    expect(h.store.list().map((c) => [c.source, c.keyType, c.isDefault])).toEqual([
      ['acme:left.example', 'ec', false],
      [join(h.stateDir, 'default-cert', 'cert.pem'), 'rsa', true],
    ]);
  });
});

const hasOpenssl = await new Promise<boolean>((resolve) => execFile('openssl', ['version'], (err) => resolve(!err)));

describe('openssl s_client', () => {
  // A missing tool fails here with how to get it, instead of silently skipping what the client-side checks prove.
  it('has the openssl command', () => {
    expect(hasOpenssl, 'openssl is missing: install it (Debian: apt-get install openssl)').toBe(true);
  });

  function sClient(port: number, args: string[]): Promise<string> {
    return new Promise((resolve) => {
      const child = execFile(
        'openssl',
        ['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', join(FIXTURES, 'ca.pem'), ...args],
        { timeout: 10_000 },
        (_err, stdout, stderr) => resolve(stdout + stderr),
      );
      child.stdin?.end();
    });
  }

  it.each([
    { description: 'verifies the RSA chain for right.example', args: ['-servername', 'right.example', '-verify_hostname', 'right.example'], expect: /Verify return code: 0 \(ok\)/ },
    { description: 'verifies the ECDSA chain for left.example over TLS 1.2', args: ['-servername', 'left.example', '-tls1_2', '-verify_hostname', 'left.example'], expect: /Cipher is ECDHE-ECDSA-AES128-GCM-SHA256[\s\S]*Verify return code: 0 \(ok\)/ },
    { description: 'gets the default certificate without SNI', args: ['-noservername'], expect: /subject=CN ?= ?gatehouse default/ },
    { description: 'cannot negotiate TLS 1.1', args: ['-servername', 'left.example', '-tls1_1'], expect: /alert|no protocols available|wrong version/i },
  ])('$description', async ({ args, expect: pattern }) => {
    const h = await start(ALL);
    expect(await sClient(h.port, args)).toMatch(pattern);
  });
});
