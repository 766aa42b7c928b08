/**
 * http-01 against a real Pebble: the VA fetches /.well-known/acme-challenge/<token> from gatehouse's plain entry
 * point (127.0.0.2 at Pebble's httpPort); the certificate is stored (key 0600) and served without a restart, and a
 * restart serves it from disk without a new order.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acmeConfig, freshStateDir, probe, usePebble } from '../helpers/acme-lab.js';
import { runGatehouseCli, startGatehouse } from '../helpers/gatehouse-process.js';

const ADDRESS = '127.0.0.2';
const pebble = usePebble();

const isPebble = (issuer: string | string[] | undefined) => /Pebble/.test(String(issuer ?? ''));

describe('ACME http-01 against Pebble', () => {
  it('obtains a certificate by http-01 only, serves it at once, keeps the key 0600, and a restart orders nothing', async () => {
    const name = 'http01.lab.test';
    await pebble.setA(name, ADDRESS);
    const stateDir = await freshStateDir();
    const config = acmeConfig(pebble, ADDRESS, [name], ['http-01']);
    const gh = await startGatehouse(config, { env: { GATEHOUSE_STATE_DIR: stateDir } });
    // Until the certificate arrives, the default certificate is served.
    const before = await probe(ADDRESS, pebble.tlsPort, name);
    expect(before.error).toBeUndefined();
    const started = await gh.waitForLog((l) => l.msg === 'gatehouse started');
    const obtained = await gh.waitForLog((l) => l.msg === 'certificate obtained' || l.msg === 'certificate order failed', 20_000);
    expect(obtained.msg, JSON.stringify(obtained)).toBe('certificate obtained');
    const issuanceMs = Date.parse(String(obtained['time'])) - Date.parse(String(started['time']));
    console.log(`http-01 issuance: ${issuanceMs} ms after "gatehouse started" (order ${String(obtained['ms'])} ms)`);
    // The target is 2 s (measured 0.6–0.7 s on an idle machine); 3 s leaves room for a loaded CI runner.
    expect(issuanceMs).toBeLessThan(3_000);

    const root = await pebble.root();
    const served = await probe(ADDRESS, pebble.tlsPort, name, { ca: root });
    expect(served.authorized, served.error).toBe(true);
    expect(served.cert?.subjectaltname).toContain(`DNS:${name}`);
    expect(isPebble(served.cert?.issuer.CN)).toBe(true);

    // Pebble's VA really fetched the token over HTTP, and never tried tls-alpn-01.
    expect(pebble.log()).toMatch(/Attempting to validate w\/ HTTP/);
    expect(gh.logs.some((l) => l.msg === 'acme challenge answered')).toBe(true);
    // A first issuance stores its certificate as the ordinary case, and no line repeats a key (the logger's `name`).
    await gh.waitForLog((l) => l.msg === 'certificate stored');
    expect(gh.logs.filter((l) => l.msg === 'certificate stored once storage was back')).toEqual([]);
    expect(gh.logs.find((l) => l.msg === 'acme challenge valid')).toMatchObject({ name: 'gatehouse', domain: name, challenge: 'http-01' });
    expect(gh.logs.filter((l) => l.duplicateKeys !== undefined)).toEqual([]);

    const certDir = join(stateDir, 'acme', `127.0.0.1_${new URL(pebble.directoryUrl).port}-dir`, 'certificates', name);
    expect((await stat(join(certDir, 'key.pem'))).mode & 0o777).toBe(0o600);
    const accountKey = join(stateDir, 'acme', `127.0.0.1_${new URL(pebble.directoryUrl).port}-dir`, 'accounts', 'ops@lab.test', 'account-key.pem');
    expect((await stat(accountKey)).mode & 0o777).toBe(0o600);

    // `gatehouse certs` lists it from the state directory: names, issuer, days left, next renewal.
    const listing = await runGatehouseCli(['certs'], { config, env: { GATEHOUSE_STATE_DIR: stateDir } });
    expect(listing.code, listing.stderr).toBe(0);
    const row = listing.stdout.split('\n').find((l) => l.startsWith(name));
    expect(row).toMatch(/Pebble Intermediate.*\d{4}-\d\d-\d\dT\S+\s+\d+\.\d\s+\d{4}-\d\d-\d\dT\S+\s+-$/);

    // Restart on the same state: the stored certificate is served, and Pebble receives no new order.
    const orders = pebble.orders();
    await gh.stop();
    const again = await startGatehouse(config, { env: { GATEHOUSE_STATE_DIR: stateDir } });
    const reloaded = await probe(ADDRESS, pebble.tlsPort, name, { ca: root });
    expect(reloaded.authorized, reloaded.error).toBe(true);
    expect(reloaded.cert?.fingerprint256).toBe(served.cert?.fingerprint256);
    await new Promise((r) => setTimeout(r, 500));
    expect(pebble.orders()).toBe(orders);
    expect(again.logs.some((l) => l.msg === 'acme order placed')).toBe(false);
    await again.stop();
  }, 40_000);

  it('a name whose A record points where nobody listens fails clearly, retries with backoff, and the default certificate keeps serving', async () => {
    const name = 'unreachable.lab.test';
    await pebble.setA(name, '127.0.0.9');
    const stateDir = await freshStateDir();
    const gh = await startGatehouse(acmeConfig(pebble, ADDRESS, [name], ['http-01']), { env: { GATEHOUSE_STATE_DIR: stateDir } });
    const failed = await gh.waitForLog((l) => l.msg === 'certificate order failed', 20_000);
    expect(failed['code']).toBe('ACME_ORDER_FAILED');
    expect(String(failed['reason'])).toMatch(/127\.0\.0\.9.*(refused|connect)/i);
    expect(failed['names']).toEqual([name]);
    expect(typeof failed['retryAt']).toBe('string');
    const served = await probe(ADDRESS, pebble.tlsPort, name);
    expect(served.error).toBeUndefined();
    expect(isPebble(served.cert?.issuer.CN)).toBe(false);
    // The retry comes by itself, after the backoff (about 1 s, then 2 s), and fails the same way.
    const second = await gh.waitForLog((l) => l.msg === 'certificate order failed' && l['failures'] === 2, 10_000);
    expect(Date.parse(String(second['time']))).toBeGreaterThanOrEqual(Date.parse(String(failed['retryAt'])) - 50);
    await gh.stop();
    const listing = await runGatehouseCli(['certs'], { config: acmeConfig(pebble, ADDRESS, [name], ['http-01']), env: { GATEHOUSE_STATE_DIR: stateDir } });
    expect(listing.stdout.split('\n').find((l) => l.startsWith(name))).toMatch(/ACME_ORDER_FAILED|validation of unreachable\.lab\.test failed.*127\.0\.0\.9/);
  }, 40_000);

  it('one failing name does not hold up the others; an imported account key is used and kept', async () => {
    const good = 'good.lab.test';
    const bad = 'bad.lab.test';
    await pebble.setA(good, ADDRESS);
    await pebble.setA(bad, '127.0.0.9');
    const stateDir = await freshStateDir();
    const keyFile = join(stateDir, 'imported-account.pem');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256', privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    await writeFile(keyFile, privateKey);
    const config = acmeConfig(pebble, ADDRESS, [bad, good], ['http-01']) as { certificateResolvers: { pebble: { acme: Record<string, unknown> } } };
    config.certificateResolvers.pebble.acme['accountKeyFile'] = keyFile;
    const gh = await startGatehouse(config, { env: { GATEHOUSE_STATE_DIR: stateDir } });
    const obtained = await gh.waitForLog((l) => l.msg === 'certificate obtained', 20_000);
    expect(obtained['names']).toEqual([good]);
    expect(gh.logs.some((l) => l.msg === 'certificate order failed' && (l['names'] as string[])[0] === bad)).toBe(true);
    expect((await probe(ADDRESS, pebble.tlsPort, good, { ca: await pebble.root() })).authorized).toBe(true);
    expect(gh.logs.some((l) => l.msg === 'acme account key imported')).toBe(true);
    const stored = join(stateDir, 'acme', `127.0.0.1_${new URL(pebble.directoryUrl).port}-dir`, 'accounts', 'ops@lab.test', 'account-key.pem');
    expect(await readFile(stored, 'utf8')).toBe(privateKey);
    expect((await stat(stored)).mode & 0o777).toBe(0o600);
  }, 40_000);
  it('orders an RSA 2048 certificate when the resolver says keyType RSA2048', async () => {
    const name = 'rsa.lab.test';
    await pebble.setA(name, ADDRESS);
    const stateDir = await freshStateDir();
    const config = acmeConfig(pebble, ADDRESS, [name], ['http-01']) as { certificateResolvers: { pebble: { acme: Record<string, unknown> } } };
    config.certificateResolvers.pebble.acme['keyType'] = 'RSA2048';
    const gh = await startGatehouse(config, { env: { GATEHOUSE_STATE_DIR: stateDir } });
    const obtained = await gh.waitForLog((l) => l.msg === 'certificate obtained' || l.msg === 'certificate order failed', 20_000);
    expect(obtained.msg, JSON.stringify(obtained)).toBe('certificate obtained');
    const served = await probe(ADDRESS, pebble.tlsPort, name, { ca: await pebble.root() });
    expect(served.authorized, served.error).toBe(true);
    expect(served.cert?.subjectaltname).toContain(`DNS:${name}`);
    expect(served.cert?.bits).toBe(2048);
    expect(served.cert?.modulus).toMatch(/^[0-9A-F]+$/); // RSA: an EC key has no modulus
  });
});
