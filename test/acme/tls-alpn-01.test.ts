/**
 * tls-alpn-01 against a real Pebble: the VA's acme-tls/1 handshakes reach gatehouse's TLS entry point (127.0.0.3 at
 * Pebble's tlsPort) and get the challenge certificate from the ClientHello peek; no HTTP validation happens.
 */
import { describe, expect, it } from 'vitest';
import { acmeConfig, freshStateDir, probe, usePebble } from '../helpers/acme-lab.js';
import { runGatehouseCli, startGatehouse } from '../helpers/gatehouse-process.js';

const ADDRESS = '127.0.0.3';
const pebble = usePebble();

describe('ACME tls-alpn-01 against Pebble', () => {
  it('obtains a certificate by tls-alpn-01 only: no HTTP validation, the new certificate served without restart', async () => {
    const name = 'alpn.lab.test';
    await pebble.setA(name, ADDRESS);
    const env = { GATEHOUSE_STATE_DIR: await freshStateDir() };
    const config = acmeConfig(pebble, ADDRESS, [name], ['tls-alpn-01']);
    const gh = await startGatehouse(config, { env });
    const started = await gh.waitForLog((l) => l.msg === 'gatehouse started');
    const obtained = await gh.waitForLog((l) => l.msg === 'certificate obtained' || l.msg === 'certificate order failed', 20_000);
    expect(obtained.msg, JSON.stringify(obtained)).toBe('certificate obtained');
    const issuanceMs = Date.parse(String(obtained['time'])) - Date.parse(String(started['time']));
    console.log(`tls-alpn-01 issuance: ${issuanceMs} ms after "gatehouse started" (order ${String(obtained['ms'])} ms)`);
    // The target is 2 s (measured 0.6–0.7 s on an idle machine); 3 s leaves room for a loaded CI runner.
    expect(issuanceMs).toBeLessThan(3_000);

    const served = await probe(ADDRESS, pebble.tlsPort, name, { ca: await pebble.root() });
    expect(served.authorized, served.error).toBe(true);
    expect(served.cert?.subjectaltname).toContain(`DNS:${name}`);
    expect(served.alpn).toBe('http/1.1');

    // The VA made its acme-tls/1 handshakes (3 concurrent attempts, plus our own self-test) and no HTTP request.
    const answered = gh.logs.filter((l) => l.msg === 'acme tls-alpn-01 challenge answered' && l['sni'] === name);
    expect(answered.length).toBeGreaterThanOrEqual(3);
    expect(gh.logs.some((l) => l.msg === 'acme challenge answered')).toBe(false);
    expect(pebble.log()).not.toMatch(/validate w\/ HTTP/i);

    // After the order, an acme-tls/1-only handshake for the name no longer gets anything.
    const late = await probe(ADDRESS, pebble.tlsPort, name, { alpn: ['acme-tls/1'] });
    expect(late.cert).toBeUndefined();

    // `gatehouse renew NAME` reaches the running instance through its control socket: a new certificate, served.
    const renewed = await runGatehouseCli(['renew', name, '--config', gh.file], { env, timeoutMs: 20_000 });
    expect(renewed.stderr).toBe('');
    expect(renewed.stdout).toBe(`${name}: renewed\n`);
    const after = await probe(ADDRESS, pebble.tlsPort, name, { ca: await pebble.root() });
    expect(after.authorized, after.error).toBe(true);
    expect(after.cert!.serialNumber).not.toBe(served.cert!.serialNumber);
    const unknown = await runGatehouseCli(['renew', 'nobody.lab.test', '--config', gh.file], { env });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no certificate resolver manages nobody.lab.test');
  }, 40_000);
});
