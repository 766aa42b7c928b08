/**
 * Renewal against a real Pebble issuing 9-second certificates: the renewal comes by itself at two thirds of the
 * lifetime and the new serial is served without a restart; then Pebble is restarted (it forgets the account and
 * gets a new root), and the next renewal registers the same key again and still gets its certificate.
 */
import { describe, expect, it } from 'vitest';
import { acmeConfig, freshStateDir, probe, usePebble } from '../helpers/acme-lab.js';
import { startGatehouse } from '../helpers/gatehouse-process.js';

const ADDRESS = '127.0.0.4';
const VALIDITY_S = 9;
const pebble = usePebble({ certValidity: VALIDITY_S });

describe('ACME renewal against Pebble', () => {
  it('renews a short-lived certificate without restart, and again after Pebble forgot the account', async () => {
    const name = 'renew.lab.test';
    await pebble.setA(name, ADDRESS);
    const gh = await startGatehouse(acmeConfig(pebble, ADDRESS, [name], ['http-01']), { env: { GATEHOUSE_STATE_DIR: await freshStateDir() } });
    const obtained = (n: number) => gh.waitForLog(() => gh.logs.filter((l) => l.msg === 'certificate obtained').length >= n, 20_000);

    await obtained(1);
    const first = await probe(ADDRESS, pebble.tlsPort, name, { ca: await pebble.root() });
    expect(first.authorized, first.error).toBe(true);
    const renewAt = Date.parse(String(gh.logs.find((l) => l.msg === 'certificate obtained')!['renewAt']));
    const notAfter = Date.parse(first.cert!.valid_to);
    // Two thirds of the lifetime, minus at most 2 % jitter.
    expect(notAfter - renewAt).toBeGreaterThanOrEqual((VALIDITY_S * 1000) / 3 - 1500);
    expect(notAfter - renewAt).toBeLessThanOrEqual((VALIDITY_S * 1000) / 3 + 1500);

    await obtained(2);
    const second = await probe(ADDRESS, pebble.tlsPort, name, { ca: await pebble.root() });
    expect(second.authorized, second.error).toBe(true);
    expect(second.cert!.serialNumber).not.toBe(first.cert!.serialNumber);

    // Pebble restarted: every account, order and root is gone.
    await pebble.restart();
    await obtained(3);
    expect(gh.logs.some((l) => l.msg === 'acme account unknown to the CA, registering again')).toBe(true);
    expect(gh.logs.filter((l) => l.msg === 'acme account registered').length).toBe(2);
    const third = await probe(ADDRESS, pebble.tlsPort, name, { ca: await pebble.root() });
    expect(third.authorized, third.error).toBe(true); // chains to the new root
    expect(third.cert!.serialNumber).not.toBe(second.cert!.serialNumber);
  }, 60_000);
});
