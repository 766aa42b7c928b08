/**
 * A real ACME CA on loopback for the tests: Pebble (Debian package `pebble`) with pebble-challtestsrv as its DNS,
 * each in a temp dir with its own config and free ports, so several test files can run side by side. Validation is
 * real (PEBBLE_VA_ALWAYS_VALID removed): the VA connects to the name's A record at `httpPort` (http-01) or `tlsPort`
 * (tls-alpn-01). Every process is stopped by its PID, every wait is bounded. Facts from ../shared/acme/README.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { ensureAptTools } from './apt.js';
import { freePorts } from './ports.js';

const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

/** What a test can set. */
export interface PebbleOptions {
  /** Pebble's `certificateValidityPeriod` in seconds (default: Pebble's 5 years). */
  certValidity?: number;
  /** Require External Account Binding (RFC 8555 §7.3.4) with these key ids and base64url HMAC keys. */
  eabKeys?: Record<string, string>;
  /**
   * `host:port` of the DNS server Pebble's VA asks (A records for http-01/tls-alpn-01, TXT records for dns-01)
   * instead of the challtestsrv started with it (still started; `setA` then has no effect on validation).
   */
  dnsServer?: string;
}

/** A running Pebble + challtestsrv pair. */
export interface Pebble {
  readonly directoryUrl: string;
  /** PEM file of the CA that signed Pebble's own HTTPS certificate: the resolver's `caBundle`. */
  readonly apiCaFile: string;
  /** Pebble's own HTTPS certificate and key (self-signed, so also its CA), for a stand-in server in front of it. */
  readonly apiCertPem: string;
  readonly apiKeyPem: string;
  /** Where the VA sends http-01 requests and tls-alpn-01 handshakes, on the name's A address. */
  readonly httpPort: number;
  readonly tlsPort: number;
  /** Replaces the A records of `name` (loopback addresses only). */
  setA(name: string, ...addresses: string[]): Promise<void>;
  /** Pebble's issuing root, PEM (new on every Pebble start). */
  root(): Promise<string>;
  /** Pebble's output so far. */
  log(): string;
  /** How many orders Pebble received (`POST /order-plz`). */
  orders(): number;
  /** Stops and starts Pebble alone (it forgets every account, order and root; the ports stay). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Installs Pebble with apt when missing and running as root; otherwise throws saying how. */
export function ensurePebbleInstalled(): void {
  ensureAptTools({
    what: 'pebble',
    packages: ['pebble'],
    present: () => existsSync('/usr/bin/pebble') && existsSync('/usr/bin/pebble-challtestsrv'),
    timeoutMs: 180_000,
    note: 'it brings pebble-challtestsrv',
  });
}

/**
 * Starts challtestsrv and Pebble on free loopback ports; resolves when the directory answers. A port can still be
 * taken between the check and the bind (another test file, an outgoing connection): when a child exits saying so,
 * the pair is started again on other ports, at most START_ATTEMPTS times.
 */
export async function startPebble(options: PebbleOptions = {}): Promise<Pebble> {
  ensurePebbleInstalled();
  for (let attempt = 1; ; attempt++) {
    try {
      return await startPebbleOnce(options);
    } catch (e) {
      if (!(e instanceof PortTaken) || attempt >= START_ATTEMPTS) throw e;
    }
  }
}

const START_ATTEMPTS = 3;

/** A child exited because a port it was given was taken after freePorts checked it. */
class PortTaken extends Error {}

async function startPebbleOnce(options: PebbleOptions): Promise<Pebble> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-pebble-'));
  const [acmePort, mgmtPort, dnsPort, ctsPort, httpPort, tlsPort] = (await freePorts(6)) as [number, number, number, number, number, number];
  const api = apiCertificate();
  const apiCaFile = join(dir, 'api-ca.pem');
  await writeFile(apiCaFile, api.certPem);
  await writeFile(join(dir, 'api-cert.pem'), api.certPem);
  await writeFile(join(dir, 'api-key.pem'), api.keyPem, { mode: 0o600 });
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${acmePort}`,
      managementListenAddress: `127.0.0.1:${mgmtPort}`,
      certificate: join(dir, 'api-cert.pem'),
      privateKey: join(dir, 'api-key.pem'),
      httpPort,
      tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: options.eabKeys !== undefined,
      ...(options.eabKeys ? { externalAccountMACKeys: options.eabKeys } : {}),
      ...(options.certValidity !== undefined ? { certificateValidityPeriod: options.certValidity } : {}),
    },
  };
  await writeFile(join(dir, 'pebble.json'), JSON.stringify(config));
  let output = '';
  const children: ChildProcess[] = [];
  let exited: string | undefined; // set when a child exits before it was stopped
  const spawnLogged = (cmd: string, args: string[], env: NodeJS.ProcessEnv) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.once('exit', (code, signal) => {
      if (!stopping) exited = `${cmd} exited (${signal ?? `code ${code}`})`;
    });
    children.push(child);
    return child;
  };
  let stopping = false;
  // challtestsrv as DNS only: its own responders would take the VA ports; no AAAA answers, or the VA dials [::1].
  const dns = spawnLogged('pebble-challtestsrv', ['-dns01', `127.0.0.1:${dnsPort}`, '-management', `127.0.0.1:${ctsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-defaultIPv4', '127.0.0.1', '-defaultIPv6', ''], process.env);
  const pebbleEnv: NodeJS.ProcessEnv = { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0', PEBBLE_CHAIN_LENGTH: '1' };
  delete pebbleEnv['PEBBLE_VA_ALWAYS_VALID'];
  delete pebbleEnv['PEBBLE_VA_SLEEPTIME'];
  const startCa = () => spawnLogged('pebble', ['-config', join(dir, 'pebble.json'), '-dnsserver', options.dnsServer ?? `127.0.0.1:${dnsPort}`, '-strict=false'], pebbleEnv);
  let ca = startCa();
  const directoryUrl = `https://127.0.0.1:${acmePort}/dir`;
  // A child that exits ends the wait at once; its output says why (a taken port: PortTaken, the caller retries).
  const up = async (check: () => Promise<boolean>, what: string) => {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (exited !== undefined) {
        await new Promise((r) => setTimeout(r, 100)); // the rest of its output
        const why = `${what}: ${exited}:\n${output.slice(-2000)}`;
        throw /address already in use/i.test(output) ? new PortTaken(why) : new Error(why);
      }
      if (await check().catch(() => false)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${what} within ${READY_TIMEOUT_MS} ms:\n${output.slice(-2000)}`);
  };
  const ready = () => up(async () => (await get(directoryUrl, api.certPem)).status === 200, `pebble not ready at ${directoryUrl}`);

  const stopAll = async () => {
    stopping = true;
    await Promise.all(children.map((c) => stopChild(c)));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await up(async () => (await post(`http://127.0.0.1:${ctsPort}/set-default-ipv4`, { ip: '127.0.0.1' })) === 200, 'challtestsrv not ready');
    await ready();
  } catch (e) {
    await stopAll();
    throw e;
  }
  void dns;
  return {
    directoryUrl,
    apiCaFile,
    apiCertPem: api.certPem,
    apiKeyPem: api.keyPem,
    httpPort,
    tlsPort,
    async setA(name, ...addresses) {
      for (const a of addresses) if (!a.startsWith('127.')) throw new Error(`not a loopback address: ${a}`);
      await post(`http://127.0.0.1:${ctsPort}/clear-a`, { host: name });
      // add-a appends, in order; the VA dials the first address only.
      if (addresses.length) await post(`http://127.0.0.1:${ctsPort}/add-a`, { host: name, addresses });
    },
    async root() {
      const r = await get(`https://127.0.0.1:${mgmtPort}/roots/0`, api.certPem);
      if (r.status !== 200) throw new Error(`pebble roots: HTTP ${r.status}`);
      return r.body;
    },
    log: () => output,
    orders: () => (output.match(/POST \/order-plz/g) ?? []).length,
    async restart() {
      stopping = true;
      await stopChild(ca);
      stopping = false;
      exited = undefined; // a crash before this restart is not this start's
      ca = startCa();
      await ready();
    },
    stop: stopAll,
  };
}

/** A throwaway self-signed certificate for Pebble's HTTPS API (SAN localhost and 127.0.0.1). */
function apiCertificate(): { certPem: string; keyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  // A name and serial of its own: a client trusting two Pebbles (one bundle) finds each issuer by its subject.
  const unique = randomBytes(8).toString('hex');
  cert.serialNumber = `01${unique}`;
  cert.validity.notBefore = new Date(Date.now() - 3600_000);
  cert.validity.notAfter = new Date(Date.now() + 7 * 86_400_000);
  const subject = [{ name: 'commonName', value: `gatehouse test Pebble API ${unique}` }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyCertSign: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: privateKey };
}

function get(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca, timeout: 2_000, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

function post(url: string, body: object): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', timeout: 2_000, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** Stops a child server by SIGTERM, then SIGKILL after STOP_TIMEOUT_MS; resolves when it has exited. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}
