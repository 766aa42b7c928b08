/**
 * ARI (RFC 9773) against a real Pebble behind a stand-in: Debian's Pebble 2.4 has no `renewalInfo`, so the stand-in
 * adds it to the directory and answers it with a window two seconds ahead; everything else is Pebble's. gatehouse
 * asks with the right certificate identifier (checked against openssl's reading of the served certificate), renews
 * inside the window rather than at two thirds of Pebble's 5-year lifetime, and serves the new certificate.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAcmeFront, type AcmeFront, type FrontAnswer } from '../helpers/acme-front.js';
import { acmeConfig, freshStateDir, probe, usePebble } from '../helpers/acme-lab.js';
import { startGatehouse } from '../helpers/gatehouse-process.js';

const ADDRESS = '127.0.0.7';
// Pebble and its hooks (gatehouses stopped after each test, state removed); the stand-in in front is this file's.
const pebble = usePebble();
let front: AcmeFront;
let directory = '';
const asked: { id: string; at: number; window: { start: string; end: string } }[] = [];

function getText(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, agent: false, timeout: 3_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  front = await startAcmeFront(pebble, (method, path): FrontAnswer | undefined => {
    if (method === 'GET' && path === '/dir') return { status: 200, headers: { 'content-type': 'application/json' }, body: directory };
    if (method === 'GET' && path.startsWith('/renewal-info/')) {
      const now = Date.now();
      const window = { start: new Date(now + 2_000).toISOString(), end: new Date(now + 3_000).toISOString() };
      asked.push({ id: path.slice('/renewal-info/'.length), at: now, window });
      return { status: 200, headers: { 'content-type': 'application/json', 'retry-after': '21600' }, body: JSON.stringify({ suggestedWindow: window }) };
    }
    return undefined;
  });
  const frontBase = new URL(front.directoryUrl).origin;
  const pebbleBase = new URL(pebble.directoryUrl).origin;
  const dir = JSON.parse((await getText(pebble.directoryUrl, pebble.apiCertPem)).split(pebbleBase).join(frontBase)) as Record<string, unknown>;
  directory = JSON.stringify({ ...dir, renewalInfo: `${frontBase}/renewal-info` });
}, 30_000);

afterAll(async () => {
  await front?.close(); // the gatehouses were stopped after each test by usePebble's hook
});

/** RFC 9773 §4.1 computed by openssl, independently of gatehouse's DER reading. */
async function opensslCertId(certDer: Buffer): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-ari-'));
  const file = join(dir, 'leaf.pem');
  await writeFile(file, `-----BEGIN CERTIFICATE-----\n${certDer.toString('base64')}\n-----END CERTIFICATE-----\n`);
  const text = execFileSync('openssl', ['x509', '-in', file, '-noout', '-serial', '-ext', 'authorityKeyIdentifier'], { encoding: 'utf8' });
  const serialHex = /serial=([0-9A-F]+)/i.exec(text)![1]!;
  const akiHex = /Authority Key Identifier:\s*\n\s*(?:keyid:)?([0-9A-F:]+)/i.exec(text)![1]!.replace(/:/g, '');
  let serial = Buffer.from(serialHex.length % 2 ? `0${serialHex}` : serialHex, 'hex');
  if (serial[0]! & 0x80) serial = Buffer.concat([Buffer.from([0]), serial]);
  return `${Buffer.from(akiHex, 'hex').toString('base64url')}.${serial.toString('base64url')}`;
}

describe('ACME renewal information (RFC 9773)', () => {
  it('renews inside the CA window, asking with the certificate identifier', async () => {
    const name = 'ari.lab.test';
    await pebble.setA(name, ADDRESS);
    const config = acmeConfig(pebble, ADDRESS, [name], ['http-01']) as { certificateResolvers: { pebble: { acme: { caServer: string } } } };
    config.certificateResolvers.pebble.acme.caServer = front.directoryUrl;
    const gh = await startGatehouse(config, { env: { GATEHOUSE_STATE_DIR: await freshStateDir() } });
    const obtained = await gh.waitForLog((l) => l.msg === 'certificate obtained' || l.msg === 'certificate order failed', 15_000);
    expect(obtained.msg, JSON.stringify(obtained)).toBe('certificate obtained');
    expect(obtained['ari']).toBe(true);
    const first = await probe(ADDRESS, pebble.tlsPort, name, { ca: await pebble.root() });
    expect(first.authorized, first.error).toBe(true);
    expect(asked[0]!.id).toBe(await opensslCertId(first.cert!.raw));
    const renewAt = Date.parse(String(obtained['renewAt']));
    expect(renewAt).toBeGreaterThanOrEqual(Date.parse(asked[0]!.window.start));
    expect(renewAt).toBeLessThanOrEqual(Date.parse(asked[0]!.window.end));

    const renewed = await gh.waitForLog((l) => l.msg === 'certificate obtained' && l !== obtained, 10_000);
    expect(Date.parse(String(renewed['time']))).toBeGreaterThanOrEqual(renewAt);
    const second = await probe(ADDRESS, pebble.tlsPort, name, { ca: await pebble.root() });
    expect(second.authorized, second.error).toBe(true);
    expect(second.cert!.serialNumber).not.toBe(first.cert!.serialNumber);
  }, 30_000);
});
