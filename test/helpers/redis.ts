/**
 * A real redis-server for the tests: its own temp dir and config, a free loopback port, no persistence, optionally a
 * password and TLS (a throwaway CA and server certificate made with node-forge at start). Stopped by its PID; every
 * wait is bounded. Several test files can each run one side by side.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { freePort } from './ports.js';
export { freePort };

const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const REDIS_SERVER = '/usr/bin/redis-server';

/** What a test can ask of its Redis. */
export interface RedisOptions {
  /** `requirepass`: clients must AUTH with it. */
  password?: string;
  /** Serve TLS only (`--tls-port`, plain port off), with a certificate for 127.0.0.1 signed by `caFile`. */
  tls?: boolean;
  /** A fixed port (to start a server where a gatehouse already expects it); a free one by default. */
  port?: number;
}

/** A running redis-server. */
export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:PORT` or `rediss://…` with TLS. */
  readonly url: string;
  /** The CA that signed the server certificate (TLS only). */
  readonly caFile: string | undefined;
  readonly pid: number;
  /** The server's output so far. */
  log(): string;
  stop(): Promise<void>;
}

/** Throws with the install command when redis-server is missing. */
export function ensureRedisInstalled(): void {
  if (!existsSync(REDIS_SERVER)) throw new Error('redis-server is not installed: run `sudo apt-get install -y redis-server`');
}

/** Starts redis-server on 127.0.0.1 and resolves once it accepts connections. */
export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  ensureRedisInstalled();
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-redis-'));
  const port = options.port ?? (await freePort());
  const args = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'no', '--daemonize', 'no', '--logfile', ''];
  let caFile: string | undefined;
  if (options.tls) {
    const pki = serverPki();
    caFile = join(dir, 'ca.pem');
    await writeFile(caFile, pki.caPem);
    await writeFile(join(dir, 'server.pem'), pki.certPem);
    await writeFile(join(dir, 'server-key.pem'), pki.keyPem, { mode: 0o600 });
    args.push('--port', '0', '--tls-port', String(port), '--tls-cert-file', join(dir, 'server.pem'), '--tls-key-file', join(dir, 'server-key.pem'), '--tls-ca-cert-file', caFile, '--tls-auth-clients', 'no');
  } else {
    args.push('--port', String(port));
  }
  if (options.password !== undefined) args.push('--requirepass', options.password);
  const child = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (output += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (output += c));
  const stop = async () => {
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  // "Ready to accept connections" is printed once the listeners are bound.
  while (!/Ready to accept connections/.test(output) || !(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server not ready on port ${port}:\n${output.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return { port, url: `${options.tls ? 'rediss' : 'redis'}://127.0.0.1:${port}`, caFile, pid: child.pid!, log: () => output, stop };
}


function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.setTimeout(500, () => s.destroy());
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.once('close', () => resolve(false));
  });
}

/** A throwaway CA and a server certificate for 127.0.0.1 / localhost signed by it. */
function serverPki(): { caPem: string; certPem: string; keyPem: string } {
  const keys = () => generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  const ca = keys();
  const leaf = keys();
  const make = (publicPem: string, serial: string, subject: string, issuer: string, extensions: object[]) => {
    const cert = forge.pki.createCertificate();
    cert.publicKey = forge.pki.publicKeyFromPem(publicPem);
    cert.serialNumber = serial;
    cert.validity.notBefore = new Date(Date.now() - 3600_000);
    cert.validity.notAfter = new Date(Date.now() + 7 * 86_400_000);
    cert.setSubject([{ name: 'commonName', value: subject }]);
    cert.setIssuer([{ name: 'commonName', value: issuer }]);
    cert.setExtensions(extensions);
    cert.sign(forge.pki.privateKeyFromPem(ca.privateKey), forge.md.sha256.create());
    return forge.pki.certificateToPem(cert);
  };
  const caName = 'gatehouse test Redis CA';
  const caPem = make(ca.publicKey, '01', caName, caName, [
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
  ]);
  const certPem = make(leaf.publicKey, '02', '127.0.0.1', caName, [
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
  ]);
  return { caPem, certPem, keyPem: leaf.privateKey };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => child.pid !== undefined && child.exitCode === null && process.kill(child.pid, 'SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}
