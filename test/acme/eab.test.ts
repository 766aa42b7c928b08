/**
 * External Account Binding (RFC 8555 §7.3.4) against a Pebble that requires it: without `eab` the registration is
 * refused with the CA's reason and the default certificate keeps serving; with the right kid and key the
 * certificate is obtained.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { acmeConfig, freshStateDir, probe, usePebble } from '../helpers/acme-lab.js';
import { startGatehouse } from '../helpers/gatehouse-process.js';

const ADDRESS = '127.0.0.8';
const KID = 'kid-gatehouse-test';
const HMAC = randomBytes(32).toString('base64url');
const pebble = usePebble({ eabKeys: { [KID]: HMAC } });

type Acme = { certificateResolvers: { pebble: { acme: Record<string, unknown> } } };

describe('ACME External Account Binding', () => {
  it.each<[string, Record<string, string> | undefined, string, RegExp | undefined]>([
    ['without eab: refused with the CA reason', undefined, 'certificate order failed', /account registration .* failed: externalAccountRequired: /],
    ['with a wrong HMAC key: refused', { kid: KID, hmacKey: randomBytes(32).toString('base64url') }, 'certificate order failed', /account registration .* failed: unauthorized: external account binding/],
    ['with the right kid and key: obtained', { kid: KID, hmacKey: HMAC }, 'certificate obtained', undefined],
  ])('%s', async (_d, eab, outcome, reason) => {
    const name = `eab-${eab ? (eab['hmacKey'] === HMAC ? 'ok' : 'bad') : 'none'}.lab.test`;
    await pebble.setA(name, ADDRESS);
    const config = acmeConfig(pebble, ADDRESS, [name], ['http-01']) as Acme;
    if (eab) config.certificateResolvers.pebble.acme['eab'] = eab;
    const gh = await startGatehouse(config, { env: { GATEHOUSE_STATE_DIR: await freshStateDir() } });
    const line = await gh.waitForLog((l) => l.msg === 'certificate obtained' || l.msg === 'certificate order failed', 15_000);
    expect(line.msg, JSON.stringify(line)).toBe(outcome);
    const served = await probe(ADDRESS, pebble.tlsPort, name, { ca: await pebble.root() });
    if (outcome === 'certificate obtained') {
      expect(served.authorized, served.error).toBe(true);
    } else {
      expect(String(line['reason'])).toMatch(reason!);
      expect(served.authorized).toBe(false);
      expect(served.cert?.subject.CN).toBe('gatehouse default');
    }
  });
});
