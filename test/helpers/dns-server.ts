/**
 * A real authoritative DNS server for the dns-01 tests: BIND 9 (Debian package `bind9`) on 127.0.0.1 at a free port,
 * in a temp dir, serving `home.test` (NS ns1.home.test, A records for the apex and every name under it) and
 * `acme.test` (a zone that `_acme-challenge.delegated.home.test` points into by CNAME, as acme-dns set-ups do), both
 * updatable by one TSIG key (RFC 2136), recursion off. Pebble is pointed at it, so the CA really looks the TXT record
 * up. Stopped by its PID; every wait bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { query, rcodeOf } from '../../src/acme/dns/query.js';
import { ensureAptTools } from './apt.js';
import { stopChild } from './pebble.js';
import { freePort } from './ports.js';

const READY_TIMEOUT_MS = 15_000;

/** A running BIND. */
export interface DnsLab {
  /** `127.0.0.1:PORT`: Pebble's -dnsserver, gatehouse's resolver, nameserver and propagation server. */
  readonly server: string;
  readonly port: number;
  /** Whether this BIND answers as ns1.home.test (NS_ADDRESS) on port 53: asked for, and the test runs as root. */
  readonly onPort53: boolean;
  readonly keyName: string;
  /** The key's base64 secret (hmac-sha256). */
  readonly keySecret: string;
  /** A BIND key file of the same key (`key "NAME" { algorithm ...; secret "..."; };`). */
  readonly keyFile: string;
  /** The TXT values at `name` now, asked authoritatively. */
  txt(name: string): Promise<string[]>;
  /** named's output so far. */
  log(): string;
  stop(): Promise<void>;
}

/** Installs bind9 with apt when missing and running as root; otherwise throws saying how. */
export function ensureBindInstalled(): void {
  ensureAptTools({
    what: 'BIND',
    packages: ['bind9', 'bind9-dnsutils'],
    present: () => existsSync('/usr/sbin/named') && existsSync('/usr/bin/nsupdate'),
    noRecommends: true,
  });
}

/**
 * Where home.test's NS (ns1.home.test) points, and where BIND also listens on port 53 (as root only): there the
 * propagation check's default, asking the zone's own name servers, is tested as it runs in production. (BIND binds
 * only addresses an interface has: 127.0.0.1, not any other loopback address.)
 */
export const NS_ADDRESS = '127.0.0.1';

/**
 * Starts BIND on 127.0.0.1 at a free port (and, with `port53` as root, on NS_ADDRESS:53: one test file at a time may
 * ask for it); resolves when it answers home.test's SOA.
 */
export async function startDnsServer(options: { port53?: boolean } = {}): Promise<DnsLab> {
  ensureBindInstalled();
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-bind-'));
  const port = await freePort();
  const keyName = 'gatehouse-test-key';
  const keySecret = randomBytes(32).toString('base64');
  const keyBlock = `key "${keyName}" {\n  algorithm hmac-sha256;\n  secret "${keySecret}";\n};\n`;
  const keyFile = join(dir, 'gatehouse.key');
  await writeFile(keyFile, keyBlock, { mode: 0o600 });
  const zone = (name: string, records: string) => `$TTL 60
@ IN SOA ns1.home.test. hostmaster.home.test. ( 1 60 60 600 60 )
@ IN NS ns1.home.test.
${records}
`;
  const onPort53 = options.port53 === true && process.getuid?.() === 0;
  await writeFile(join(dir, 'home.test.zone'), zone('home.test', `ns1 IN A ${onPort53 ? NS_ADDRESS : '127.0.0.1'}\n@ IN A 127.0.0.1\n* IN A 127.0.0.1\n_acme-challenge.delegated IN CNAME delegated.acme.test.\n`));
  await writeFile(join(dir, 'acme.test.zone'), zone('acme.test', ''));
  const policy = `update-policy { grant ${keyName} zonesub TXT; };`;
  await writeFile(
    join(dir, 'named.conf'),
    `${keyBlock}
options {
  directory "${dir}";
  pid-file "${join(dir, 'named.pid')}";
  session-keyfile "${join(dir, 'session.key')}";
  managed-keys-directory "${dir}";
  listen-on port ${port} { 127.0.0.1; };${onPort53 ? `\n  listen-on port 53 { ${NS_ADDRESS}; };` : ''}
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  notify no;
  allow-transfer { none; };
};
controls { };
zone "home.test" { type primary; file "${join(dir, 'home.test.zone')}"; ${policy} };
zone "acme.test" { type primary; file "${join(dir, 'acme.test.zone')}"; ${policy} };
`,
  );
  let output = '';
  const child: ChildProcess = spawn('/usr/sbin/named', ['-g', '-4', '-c', join(dir, 'named.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (output += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (output += c));
  const server = { host: '127.0.0.1', port };
  const stop = async () => {
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`named exited with ${child.exitCode}:\n${output.slice(-3000)}`);
      const ok = await query(server, 'home.test', 'SOA', { recursion: false, timeoutMs: 500 }).then((p) => rcodeOf(p) === 'NOERROR', () => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`named not answering on 127.0.0.1:${port}:\n${output.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    server: `127.0.0.1:${port}`,
    port,
    onPort53,
    keyName,
    keySecret,
    keyFile,
    async txt(name) {
      const p = await query(server, name, 'TXT', { recursion: false });
      return (p.answers ?? []).filter((a) => a.type === 'TXT').map((a) => ((a as { data: Buffer[] }).data).map((b) => b.toString()).join(''));
    },
    log: () => output,
    stop,
  };
}


