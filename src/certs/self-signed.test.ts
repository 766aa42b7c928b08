import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../log.js';
import { DEFAULT_CERT_NAME, loadOrCreateDefaultCertificate } from './self-signed.js';

const silent = createLogger({ level: 'silent' });
let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const DAY = 86400_000;

describe('loadOrCreateDefaultCertificate', () => {
  it.each([
    { description: 'reused the next day', laterDays: 1, regenerated: false },
    { description: 'reused eleven months on', laterDays: 330, regenerated: false },
    { description: 'regenerated on its last day', laterDays: 364.5, regenerated: true },
    { description: 'regenerated once expired', laterDays: 400, regenerated: true },
  ])('$description', async ({ laterDays, regenerated }) => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-default-'));
    const now = new Date();
    const first = await loadOrCreateDefaultCertificate(dir, silent, now);
    expect(first.generated).toBe(true);
    const again = await loadOrCreateDefaultCertificate(dir, silent, new Date(now.getTime() + laterDays * DAY));
    expect(again.generated).toBe(regenerated);
    expect(again.pair.leaf.fingerprint === first.pair.leaf.fingerprint).toBe(!regenerated);
    // What is on disk is what is served.
    const onDisk = new X509Certificate(readFileSync(join(dir, 'default-cert', 'cert.pem')));
    expect(onDisk.fingerprint256).toBe(again.pair.leaf.fingerprint);
  });

  it('is an RSA 2048 self-signed server certificate named "gatehouse default"', async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-default-'));
    const { pair } = await loadOrCreateDefaultCertificate(dir, silent);
    const x509 = new X509Certificate(pair.chainPem);
    expect(x509.subject).toBe(`CN=${DEFAULT_CERT_NAME}`);
    expect(x509.issuer).toBe(x509.subject);
    expect(x509.verify(x509.publicKey)).toBe(true);
    expect(x509.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(x509.ca).toBe(false);
    expect(pair.leaf.names).toEqual([DEFAULT_CERT_NAME]);
  });
});
