/**
 * dns-01 end to end: BIND 9 on loopback is authoritative for home.test and accepts RFC 2136 updates signed with a
 * TSIG key; Pebble's VA asks that BIND, so it really looks the TXT record up. A running gatehouse obtains one
 * certificate for `*.home.test` and `home.test`, serves it for a.home.test and home.test, renews it, and removes its
 * records. The failures (a bad TSIG key, a zone nobody serves, a record that never appears, a CA that refuses) each
 * end in a clear error and a retry later; a crash leaves no record past the next start. The exec provider runs a
 * script that itself runs nsupdate against the same BIND.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freshStateDir, probe, removeStateDirs } from '../helpers/acme-lab.js';
import { NS_ADDRESS, startDnsServer, type DnsLab } from '../helpers/dns-server.js';
import { runGatehouseCli, startGatehouse, stopAllGatehouses, type GatehouseProcess } from '../helpers/gatehouse-process.js';
import { startPebble, type Pebble } from '../helpers/pebble.js';

let dns: DnsLab;
let pebble: Pebble;
let dir: string;
beforeAll(async () => {
  dns = await startDnsServer({ port53: true });
  pebble = await startPebble({ dnsServer: dns.server });
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-dns01-'));
}, 60_000);
afterEach(async () => {
  await stopAllGatehouses();
});
afterAll(async () => {
  await stopAllGatehouses();
  await removeStateDirs();
  await pebble?.stop();
  await dns?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

type DnsChallenge = Record<string, unknown>;

/** One TLS entry point on a free port; one router whose certificate is `names` from resolver "pebble" by dns-01. */
function dnsConfig(dnsChallenge: DnsChallenge, names: readonly string[], rule = 'Host(`a.home.test`) || Host(`home.test`)'): object {
  return {
    log: { level: 'info', accessLog: false },
    entryPoints: { websecure: { address: '127.0.0.1:0', tls: {} } },
    certificateResolvers: {
      pebble: { acme: { caServer: pebble.directoryUrl, email: 'ops@home.test', caBundle: pebble.apiCaFile, dnsChallenge } },
    },
    http: {
      routers: { home: { rule, respond: { body: 'hello from home\n' }, tls: { certResolver: 'pebble', domains: [{ main: names[0], sans: names.slice(1) }] } } },
    },
  };
}

/** RFC 2136 against the test's BIND; the secret comes in through ${TSIG_SECRET}. */
const rfc2136 = (propagation: object = {}): DnsChallenge => ({
  provider: 'rfc2136',
  resolvers: [dns.server],
  propagation: { nameservers: [dns.server], interval: '200ms', ...propagation },
  rfc2136: { nameserver: dns.server, tsigKey: dns.keyName, tsigSecret: '${TSIG_SECRET}' },
});

async function script(name: string, body: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `#!/bin/sh\n${body}`);
  await chmod(path, 0o755);
  return path;
}

/** An exec script that writes `value` (the real one when empty) with nsupdate. */
const nsupdateScript = (name: string, wrongValue?: string) =>
  script(
    name,
    `set -e
case "$1" in present) op=add ;; cleanup) op=delete ;; *) exit 2 ;; esac
value="${wrongValue ?? '$3'}"
printf 'server 127.0.0.1 ${dns.port}\\nupdate %s %s 60 IN TXT "%s"\\nsend\\n' "$op" "$2" "$value" | nsupdate -k "${dns.keyFile}"
`,
  );

const failed = (gh: GatehouseProcess, failures: number, timeoutMs = 20_000) =>
  gh.waitForLog((l) => l.msg === 'certificate order failed' && l['failures'] === failures, timeoutMs);

describe('ACME dns-01 against Pebble and a real BIND', () => {
  it('obtains *.home.test + home.test in one certificate by RFC 2136 with TSIG, serves it for a.home.test and home.test, removes the records, and renews', async () => {
    const env = { GATEHOUSE_STATE_DIR: await freshStateDir(), TSIG_SECRET: dns.keySecret };
    const config = dnsConfig(rfc2136(), ['*.home.test', 'home.test']);
    const gh = await startGatehouse(config, { env });
    const started = await gh.waitForLog((l) => l.msg === 'gatehouse started');
    const obtained = await gh.waitForLog((l) => l.msg === 'certificate obtained' || l.msg === 'certificate order failed', 30_000);
    expect(obtained.msg, JSON.stringify(obtained)).toBe('certificate obtained');
    const issuanceMs = Date.parse(String(obtained['time'])) - Date.parse(String(started['time']));
    console.log(`dns-01 (RFC 2136, wildcard + apex) issuance: ${issuanceMs} ms after "gatehouse started" (order ${String(obtained['ms'])} ms)`);

    const root = await pebble.root();
    const port = gh.ports['websecure']!;
    const first = await probe('127.0.0.1', port, 'a.home.test', { ca: root });
    for (const sni of ['a.home.test', 'home.test', 'other.home.test']) {
      const served = await probe('127.0.0.1', port, sni, { ca: root });
      expect(served.authorized, `${sni}: ${served.error}`).toBe(true);
      expect(served.cert?.subjectaltname).toBe('DNS:*.home.test, DNS:home.test');
    }
    // Both authorizations put a value at _acme-challenge.home.test; Pebble's VA looked them up at BIND; both removed.
    const written = gh.logs.filter((l) => l.msg === 'dns-01 record written');
    expect(written.map((l) => l['domain']).sort()).toEqual(['*.home.test', 'home.test']);
    expect(written.every((l) => l['fqdn'] === '_acme-challenge.home.test' && l['zone'] === 'home.test')).toBe(true);
    expect(gh.logs.filter((l) => l.msg === 'acme challenge ready').every((l) => JSON.stringify(l['checkedAt']) === JSON.stringify([dns.server]))).toBe(true);
    expect(gh.logs.filter((l) => l.msg === 'dns-01 record removed')).toHaveLength(2);
    expect(await dns.txt('_acme-challenge.home.test')).toEqual([]);
    expect(pebble.log()).not.toMatch(/validate w\/ HTTP/i);
    // The TSIG secret is never printed.
    expect(JSON.stringify(gh.logs) + gh.stderr()).not.toContain(dns.keySecret);

    // `gatehouse certs` shows the challenge used.
    const listing = await runGatehouseCli(['certs'], { config, env });
    expect(listing.code, listing.stderr).toBe(0);
    expect(listing.stdout.split('\n').find((l) => l.startsWith('*.home.test,home.test'))).toMatch(/Pebble Intermediate CA \S+\s+dns-01\s/);

    // Renewal through the running instance: a new serial, records removed again.
    const renewed = await runGatehouseCli(['renew', 'home.test', '--config', gh.file], { env, timeoutMs: 30_000 });
    expect(renewed.stderr).toBe('');
    expect(renewed.stdout).toBe('home.test: renewed\n');
    const after = await probe('127.0.0.1', port, 'a.home.test', { ca: root });
    expect(after.authorized, after.error).toBe(true);
    expect(after.cert!.serialNumber).not.toBe(first.cert!.serialNumber);
    await gh.waitForLog((l) => l.msg === 'certificate obtained' && l !== obtained, 5_000); // log lines are batched
    expect(await dns.txt('_acme-challenge.home.test')).toEqual([]);
  }, 90_000);

  it('a bad TSIG secret: ACME_DNS naming the server and BADSIG, nothing written, retried later', async () => {
    const env = { GATEHOUSE_STATE_DIR: await freshStateDir(), TSIG_SECRET: Buffer.alloc(32, 9).toString('base64') };
    const orders = pebble.orders();
    const gh = await startGatehouse(dnsConfig(rfc2136(), ['badkey.home.test'], 'Host(`badkey.home.test`)'), { env });
    const first = await failed(gh, 1);
    expect(first['code']).toBe('ACME_DNS');
    expect(String(first['reason'])).toBe(`dns-01 for badkey.home.test: rfc2136 ${dns.server}: update of TXT _acme-challenge.badkey.home.test in zone home.test at ${dns.server} (TSIG key ${dns.keyName}) refused: NOTAUTH, the server answered TSIG BADSIG for key ${dns.keyName} (the server is not authoritative for the zone or did not accept the TSIG key)`);
    const second = await failed(gh, 2);
    expect(Date.parse(String(second['time']))).toBeGreaterThanOrEqual(Date.parse(String(first['retryAt'])) - 50);
    expect(await dns.txt('_acme-challenge.badkey.home.test')).toEqual([]);
    expect(pebble.orders()).toBeGreaterThan(orders); // ordered, never told to validate
    expect(JSON.stringify(gh.logs)).not.toContain(env.TSIG_SECRET);
    // `gatehouse status` says why the last attempt failed (which server answered what), without the secret.
    const status = await runGatehouseCli(['status', '--config', gh.file], { env });
    expect(status.code, status.stderr).toBe(0);
    const cert = (JSON.parse(status.stdout) as { certificates: { names: string[]; lastError?: string; failures?: number }[] }).certificates.find((c) => c.names[0] === 'badkey.home.test');
    expect(cert?.lastError).toContain(`refused: NOTAUTH, the server answered TSIG BADSIG for key ${dns.keyName}`);
    expect(status.stdout).not.toContain(env.TSIG_SECRET);
    // `gatehouse explain` too, offline on the file and its state directory: which server answered what.
    const explained = await runGatehouseCli(['explain', '--sni', 'badkey.home.test', '--config', gh.file], { env });
    expect(explained.stdout).toMatch(/ACME \(resolver pebble\) for badkey\.home\.test: last attempt failed at \S+: dns-01 for badkey\.home\.test: rfc2136 .*TSIG BADSIG/);
    expect(explained.stdout).not.toContain(env.TSIG_SECRET);
  }, 40_000);

  it('a zone nobody serves: ACME_DNS saying what the resolver answered, retried later', async () => {
    const env = { GATEHOUSE_STATE_DIR: await freshStateDir(), TSIG_SECRET: dns.keySecret };
    const gh = await startGatehouse(dnsConfig(rfc2136(), ['app.nowhere.example'], 'Host(`app.nowhere.example`)'), { env });
    const first = await failed(gh, 1);
    expect(first['code']).toBe('ACME_DNS');
    expect(String(first['reason'])).toMatch(new RegExp(`^dns-01 for app\\.nowhere\\.example: no zone found for _acme-challenge\\.app\\.nowhere\\.example by SOA look-ups \\(.*${dns.server.replace(/\./g, '\\.')} answered REFUSED`));
    await failed(gh, 2);
  }, 40_000);

  it('a record that never appears (a script that writes nothing): fails after the propagation timeout naming the server, retried later', async () => {
    const noop = await script('noop.sh', 'exit 0\n');
    const env = { GATEHOUSE_STATE_DIR: await freshStateDir() };
    const gh = await startGatehouse(dnsConfig({ provider: 'exec', resolvers: [dns.server], propagation: { nameservers: [dns.server], timeout: '1s', interval: '200ms' }, exec: { path: noop } }, ['late.home.test'], 'Host(`late.home.test`)'), { env });
    const first = await failed(gh, 1);
    expect(first['code']).toBe('ACME_DNS');
    expect(String(first['reason'])).toBe(`dns-01 for late.home.test: TXT _acme-challenge.late.home.test did not show the challenge value within 1 s at ${dns.server} (last answer: no TXT values)`);
    await failed(gh, 2);
  }, 40_000);

  it('the CA refuses (a script writes a wrong value, checks off): Pebble\'s reason, the record removed, retried later', async () => {
    const wrong = await nsupdateScript('wrong.sh', 'not-the-right-value');
    const env = { GATEHOUSE_STATE_DIR: await freshStateDir() };
    const gh = await startGatehouse(dnsConfig({ provider: 'exec', resolvers: [dns.server], propagation: { disableChecks: true }, exec: { path: wrong } }, ['refused.home.test'], 'Host(`refused.home.test`)'), { env });
    const first = await failed(gh, 1);
    expect(first['code']).toBe('ACME_ORDER_FAILED');
    expect(String(first['reason'])).toMatch(/dns-01 validation of refused\.home\.test failed: .*(Correct value not found|unauthorized)/i);
    expect(gh.logs.some((l) => l.msg === 'dns-01 record removed' && l['domain'] === 'refused.home.test')).toBe(true);
    expect(await dns.txt('_acme-challenge.refused.home.test')).toEqual([]);
    await failed(gh, 2);
  }, 40_000);

  it('exec provider: a script running nsupdate against the same BIND gets the certificate', async () => {
    const good = await nsupdateScript('nsupdate.sh');
    const env = { GATEHOUSE_STATE_DIR: await freshStateDir() };
    const gh = await startGatehouse(dnsConfig({ provider: 'exec', resolvers: [dns.server], propagation: { nameservers: [dns.server], interval: '200ms' }, exec: { path: good } }, ['exec.home.test'], 'Host(`exec.home.test`)'), { env });
    const obtained = await gh.waitForLog((l) => l.msg === 'certificate obtained' || l.msg === 'certificate order failed', 30_000);
    expect(obtained.msg, JSON.stringify(obtained)).toBe('certificate obtained');
    const served = await probe('127.0.0.1', gh.ports['websecure']!, 'exec.home.test', { ca: await pebble.root() });
    expect(served.authorized, served.error).toBe(true);
    expect(await dns.txt('_acme-challenge.exec.home.test')).toEqual([]);
  }, 40_000);

  it('without propagation.nameservers: the TXT is checked at the zone\'s own name server (NS ns1.home.test on port 53), then the certificate', async () => {
    // Root only: BIND listens on NS_ADDRESS:53 (the port the default asks) only when it may bind it.
    expect(dns.onPort53, 'run the ACME tests as root: the default propagation check asks the zone\'s name servers on port 53').toBe(true);
    const env = { GATEHOUSE_STATE_DIR: await freshStateDir(), TSIG_SECRET: dns.keySecret };
    const challenge = { provider: 'rfc2136', resolvers: [dns.server], propagation: { interval: '200ms' }, rfc2136: { nameserver: dns.server, tsigKey: dns.keyName, tsigSecret: '${TSIG_SECRET}' } };
    const gh = await startGatehouse(dnsConfig(challenge, ['ns.home.test'], 'Host(`ns.home.test`)'), { env });
    const obtained = await gh.waitForLog((l) => l.msg === 'certificate obtained' || l.msg === 'certificate order failed', 30_000);
    expect(obtained.msg, JSON.stringify(obtained)).toBe('certificate obtained');
    // Where the value was checked: the zone's NS (ns1.home.test) on port 53, not the resolver given for look-ups.
    const ready = await gh.waitForLog((l) => l.msg === 'acme challenge ready' && l['domain'] === 'ns.home.test');
    expect(JSON.stringify(ready['checkedAt'])).toContain(`${NS_ADDRESS}:53`);
    expect(JSON.stringify(ready['checkedAt'])).not.toContain(dns.server);
  }, 40_000);

  it('two instances on one state directory: one order, the records presented by the lock holder only, both serve its serial', async () => {
    const presents = join(dir, 'presents.log');
    await writeFile(presents, '');
    const logged = await script(
      'shared.sh',
      `set -e
echo "$1 $2 $INSTANCE" >> "${presents}"
case "$1" in present) op=add ;; cleanup) op=delete ;; *) exit 2 ;; esac
printf 'server 127.0.0.1 ${dns.port}\\nupdate %s %s 60 IN TXT "%s"\\nsend\\n' "$op" "$2" "$3" | nsupdate -k "${dns.keyFile}"
`,
    );
    const stateDir = await freshStateDir();
    const config = dnsConfig({ provider: 'exec', resolvers: [dns.server], propagation: { nameservers: [dns.server], interval: '200ms' }, exec: { path: logged } }, ['*.pair.home.test', 'pair.home.test'], 'Host(`a.pair.home.test`) || Host(`pair.home.test`)');
    const before = pebble.orders();
    const ghs = await Promise.all(['one', 'two'].map((instance) => startGatehouse(config, { env: { GATEHOUSE_STATE_DIR: stateDir, INSTANCE: instance } })));
    const root = await pebble.root();
    let serials: (string | undefined)[] = [];
    // The instance without the lock finds the stored certificate at its next look (within about 5 s).
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
      const served = await Promise.all(ghs.map((g) => probe('127.0.0.1', g.ports['websecure']!, 'a.pair.home.test', { ca: root })));
      serials = served.map((x) => (x.authorized ? x.cert?.serialNumber : undefined));
      if (serials[0] !== undefined && serials[0] === serials[1]) break;
    }
    expect(serials[0], `serials served: ${serials.join(', ')}`).toBeDefined();
    expect(serials[1]).toBe(serials[0]);
    expect(pebble.orders() - before).toBe(1);
    const lines = (await readFile(presents, 'utf8')).split('\n').filter((l) => l !== '');
    const by = new Set(lines.map((l) => l.split(' ')[2]));
    expect(by.size, lines.join('\n')).toBe(1);
    expect(lines.filter((l) => l.startsWith('present _acme-challenge.pair.home.test.'))).toHaveLength(2); // the wildcard's and the apex's
    expect(lines.filter((l) => l.startsWith('cleanup '))).toHaveLength(2);
    expect(await dns.txt('_acme-challenge.pair.home.test')).toEqual([]);
  }, 60_000);

  it('a crash while a record is out leaves it only until the next start, which removes it and then obtains the certificate', async () => {
    const env = { GATEHOUSE_STATE_DIR: await freshStateDir(), TSIG_SECRET: dns.keySecret };
    const gh = await startGatehouse(dnsConfig(rfc2136({ delayBeforeChecks: '60s' }), ['crash.home.test'], 'Host(`crash.home.test`)'), { env });
    const written = await gh.waitForLog((l) => l.msg === 'dns-01 record written', 20_000);
    expect(written['fqdn']).toBe('_acme-challenge.crash.home.test');
    expect(await dns.txt('_acme-challenge.crash.home.test')).toHaveLength(1);
    await gh.stop('SIGKILL');
    expect(await dns.txt('_acme-challenge.crash.home.test')).toHaveLength(1);

    const again = await startGatehouse(dnsConfig(rfc2136(), ['crash.home.test'], 'Host(`crash.home.test`)'), { env });
    const removed = await again.waitForLog((l) => l.msg === 'dns-01 record left by an earlier run removed', 20_000);
    expect(removed['fqdn']).toBe('_acme-challenge.crash.home.test');
    const obtained = await again.waitForLog((l) => l.msg === 'certificate obtained' || l.msg === 'certificate order failed', 30_000);
    expect(obtained.msg, JSON.stringify(obtained)).toBe('certificate obtained');
    expect(await dns.txt('_acme-challenge.crash.home.test')).toEqual([]);
  }, 60_000);
});
