/**
 * Where an instance keeps its state and how the CLI finds it, through real gatehouse processes: paths in a config
 * file are relative to that file (not to the working directory), each config file gets its own default state
 * directory, a CLI command never reaches the instance of another config file, the control socket is private, never
 * at a truncated path, and gone after exit, and a state directory the process cannot write stops it at start.
 */
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { freePort } from '../helpers/ports.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { MAIN_JS, runGatehouseCli, startGatehouse, stopAllGatehouses } from '../helpers/gatehouse-process.js';

const fixtures = fileURLToPath(new URL('../fixtures/certs/', import.meta.url));
const dirs: string[] = [];
/** A fresh directory, world-readable so that a process run as another user can read the config in it. */
function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(d, 0o755);
  dirs.push(d);
  return d;
}

/** A plain entry point and a TLS one (which needs the default certificate from the state directory). */
function tlsConfig(extra: object = {}): object {
  return {
    entryPoints: { web: { address: '127.0.0.1:0' }, websecure: { address: '127.0.0.1:0', tls: {} } },
    http: { routers: { hi: { rule: 'PathPrefix(`/`)', respond: { body: 'hi\n' } } } },
    ...extra,
  };
}

function writeConfig(dir: string, name: string, config: object): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(config, null, 2), { mode: 0o644 });
  return file;
}

/** The leaf certificate the TLS entry point on `port` serves for `servername`. */
function servedCertificate(port: number, servername: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      const raw = socket.getPeerX509Certificate();
      socket.destroy();
      if (raw) resolve(raw);
      else reject(new Error('no certificate'));
    });
    socket.on('error', reject);
    socket.setTimeout(5_000, () => socket.destroy(new Error('TLS handshake timed out')));
  });
}

function fingerprintOf(file: string): string {
  return new X509Certificate(readFileSync(file)).fingerprint256;
}

afterEach(async () => {
  await stopAllGatehouses();
});

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('paths in a config file', () => {
  it('prod and test files in one directory, started from elsewhere: state/prod and state/test beside them, each its own default certificate and control socket', async () => {
    const confDir = tempDir('gh-conf-');
    const elsewhere = tempDir('gh-cwd-');
    const prodFile = writeConfig(confDir, 'config.prod.json', tlsConfig());
    const testFile = writeConfig(confDir, 'config.test.json', tlsConfig());
    const prod = await startGatehouse({}, { file: prodFile, cwd: elsewhere });
    const test = await startGatehouse({}, { file: testFile, cwd: elsewhere });

    const prodCert = join(confDir, 'state', 'prod', 'default-cert', 'cert.pem');
    const testCert = join(confDir, 'state', 'test', 'default-cert', 'cert.pem');
    expect(existsSync(prodCert) && existsSync(testCert)).toBe(true);
    expect(fingerprintOf(prodCert)).not.toBe(fingerprintOf(testCert));
    expect((await servedCertificate(prod.ports['websecure']!, 'unknown.example')).fingerprint256).toBe(fingerprintOf(prodCert));
    expect((await servedCertificate(test.ports['websecure']!, 'unknown.example')).fingerprint256).toBe(fingerprintOf(testCert));
    // Nothing in the working directory.
    expect(existsSync(join(elsewhere, 'state'))).toBe(false);

    // Each socket is private and each file's CLI reaches its own instance.
    for (const env of ['prod', 'test']) {
      expect(statSync(join(confDir, 'state', env, 'control.sock')).mode & 0o777).toBe(0o600);
    }
    const reloaded = await runGatehouseCli(['reload', '--config', testFile], { cwd: elsewhere });
    expect(reloaded.code, reloaded.stderr).toBe(0);
    await test.waitForLog((l) => l.msg === 'config reloaded');
    expect(prod.logs.some((l) => l.msg === 'config reloaded' || l.msg === 'control request')).toBe(false);
    const status = await runGatehouseCli(['status', '--config', prodFile], { cwd: elsewhere });
    expect(status.code, status.stderr).toBe(0);
    expect((JSON.parse(status.stdout) as { configFile: string }).configFile).toBe(prodFile);

    // The socket is removed when the instance exits.
    expect(await test.stop()).toBe(0);
    expect(existsSync(join(confDir, 'state', 'test', 'control.sock'))).toBe(false);
  });

  it('certsDir and stateDir written relative are relative to the config file, not the working directory', async () => {
    const confDir = tempDir('gh-conf-');
    const elsewhere = tempDir('gh-cwd-');
    mkdirSync(join(confDir, 'mycerts'));
    copyFileSync(join(fixtures, 'left-fullchain.pem'), join(confDir, 'mycerts', 'left.pem'));
    copyFileSync(join(fixtures, 'left-key.pem'), join(confDir, 'mycerts', 'left-key.pem'));
    const file = writeConfig(confDir, 'edge.json', tlsConfig({ stateDir: 'var/edge', tls: { certsDir: 'mycerts' } }));
    const gh = await startGatehouse({}, { file, cwd: elsewhere });
    const served = await servedCertificate(gh.ports['websecure']!, 'left.example');
    expect(served.fingerprint256).toBe(fingerprintOf(join(confDir, 'mycerts', 'left.pem')));
    expect(existsSync(join(confDir, 'var', 'edge', 'default-cert', 'cert.pem'))).toBe(true);
    expect(existsSync(join(confDir, 'var', 'edge', 'control.sock'))).toBe(true);
  });

  it('state left in the old default (state/ in the working directory) is named in a warning with the fix, not used', async () => {
    const confDir = tempDir('gh-conf-');
    const cwd = tempDir('gh-cwd-');
    mkdirSync(join(cwd, 'state', 'default-cert'), { recursive: true });
    writeFileSync(join(cwd, 'state', 'default-cert', 'cert.pem'), 'old');
    const file = writeConfig(confDir, 'config.prod.json', tlsConfig());
    const gh = await startGatehouse({}, { file, cwd });
    const warning = await gh.waitForLog((l) => l.msg === 'state found in the old default state directory; not used');
    expect(warning['legacyDir']).toBe(join(cwd, 'state'));
    expect(warning['stateDir']).toBe(join(confDir, 'state', 'prod'));
    expect(String(warning['fix'])).toContain(join(confDir, 'state', 'prod'));
  });
});

describe('a CLI command reaches the instance of its own config file only', () => {
  it('two files sharing one stateDir: reload of the second is refused naming both files, and the first instance is not reloaded', async () => {
    const confDir = tempDir('gh-conf-');
    const a = writeConfig(confDir, 'a.json', tlsConfig({ stateDir: 'shared' }));
    const b = writeConfig(confDir, 'b.json', tlsConfig({ stateDir: 'shared' }));
    const first = await startGatehouse({}, { file: a });
    const second = await startGatehouse({}, { file: b });
    await second.waitForLog((l) => l.msg === 'control socket in use by another instance, not listening');

    const refused = await runGatehouseCli(['reload', '--config', b]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`runs ${a}, not ${b}`);
    expect(refused.stderr).toContain('stateDir');
    expect(refused.stderr).not.toMatch(/\n\s+at /);
    expect(refused.stdout).toBe('');
    await new Promise((r) => setTimeout(r, 300));
    expect(first.logs.some((l) => l.msg === 'config reloaded')).toBe(false);

    // Its own file still works.
    const ok = await runGatehouseCli(['reload', '--config', a]);
    expect(ok.code, ok.stderr).toBe(0);
    await first.waitForLog((l) => l.msg === 'config reloaded');
  });
});

describe('the control socket path', () => {
  it('a state directory too long for a Unix socket path: the socket moves to a private directory under TMPDIR, 0600, works, and is removed at exit', async () => {
    const confDir = tempDir('gh-conf-');
    const longState = join(confDir, 'a'.repeat(60), 'b'.repeat(60));
    expect(Buffer.byteLength(join(longState, 'control.sock'))).toBeGreaterThan(107);
    const file = writeConfig(confDir, 'config.prod.json', tlsConfig({ stateDir: longState }));
    const gh = await startGatehouse({}, { file });
    expect(existsSync(join(longState, 'control.sock'))).toBe(false);
    const privateDir = join(tmpdir(), `gatehouse-${process.getuid!()}`);
    expect(statSync(privateDir).mode & 0o777).toBe(0o700);
    const sockets = readdirSockets(privateDir);
    expect(sockets.length).toBeGreaterThan(0);
    for (const s of sockets) expect(statSync(s).mode & 0o777).toBe(0o600);
    const health = await runGatehouseCli(['status', '--config', file]);
    expect(health.code, health.stderr).toBe(0);
    expect(gh.logs.some((l) => l.msg === 'control socket not available')).toBe(false);
    const before = new Set(readdirSockets(privateDir));
    expect(await gh.stop()).toBe(0);
    const after = new Set(readdirSockets(privateDir));
    expect([...before].filter((s) => !after.has(s)).length).toBe(1);
  });

  it('a private directory for it that another user could enter is refused with a message, never used', async () => {
    const confDir = tempDir('gh-conf-');
    const fakeTmp = tempDir('gh-tmp-');
    mkdirSync(join(fakeTmp, `gatehouse-${process.getuid!()}`), { mode: 0o777 });
    chmodSync(join(fakeTmp, `gatehouse-${process.getuid!()}`), 0o777);
    const longState = join(confDir, 'a'.repeat(60), 'b'.repeat(60));
    const file = writeConfig(confDir, 'config.prod.json', tlsConfig({ stateDir: longState }));
    const gh = await startGatehouse({}, { file, env: { TMPDIR: fakeTmp } });
    const line = await gh.waitForLog((l) => l.msg === 'control socket not available');
    expect(String(line['reason'])).toContain('is not a private directory');
    expect(readdirSockets(join(fakeTmp, `gatehouse-${process.getuid!()}`))).toEqual([]);
  });
});

function readdirSockets(dir: string): string[] {
  const out = spawnSync('find', [dir, '-maxdepth', '1', '-type', 's'], { encoding: 'utf8' });
  return out.stdout.split('\n').filter((l) => l !== '');
}

describe('a state directory the process cannot write', () => {
  const root = process.getuid?.() === 0;
  it('stops the start with STATE_DIR naming the directory, the uid and the fix; nothing listens', async () => {
    const confDir = tempDir('gh-conf-');
    const stateDir = join(confDir, 'state-root-owned');
    mkdirSync(stateDir, { mode: 0o755 });
    // As root (CI, containers): run gatehouse as uid 1000 against a root-owned directory, exactly what a Docker
    // volume created by the daemon looks like. Otherwise: a directory this user may not write.
    if (!root) chmodSync(stateDir, 0o555);
    else chownSync(stateDir, 0, 0);
    const port = await freePort();
    const file = writeConfig(confDir, 'config.prod.json', { ...tlsConfig({ stateDir }), entryPoints: { web: { address: `127.0.0.1:${port}` }, websecure: { address: '127.0.0.1:0', tls: {} } } });
    const uid = root ? 1000 : process.getuid!();
    const run = spawnSync(process.execPath, [MAIN_JS, 'start', '--config', file], {
      encoding: 'utf8',
      timeout: 10_000,
      ...(root ? { uid: 1000, gid: 1000 } : {}),
      env: { ...process.env, GATEHOUSE_CONFIG: '' },
    });
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(1);
    expect(run.stderr).toContain(`state directory ${stateDir} is not writable by uid ${uid}`);
    expect(run.stderr).toContain(`chown -R ${uid}:`);
    expect(run.stderr).toContain('[STATE_DIR]');
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.stdout).not.toContain('entry point listening');
    expect(await connects(port)).toBe(false);
  });
});


function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.setTimeout(2_000, () => {
      s.destroy();
      resolve(false);
    });
  });
}
