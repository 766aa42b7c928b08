/**
 * The TLS entry point's tls-alpn-01 branch on real sockets (RFC 8737 §3), with the challenge registry filled by
 * hand: an acme-tls/1 handshake for a name with a pending challenge gets the challenge certificate and is closed;
 * every other handshake for that name gets the normal certificate; an acme-tls/1-only handshake for a name without
 * a pending challenge gets nothing. The sources are the TlsSources interface with fixed values.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import * as acme from 'acme-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TicketKeys } from '../../src/certs/index.js';
import { createMemoryChallengeRegistry } from '../../src/challenges/index.js';
import { entryPointSettings } from '../../src/edge/entry-point.js';
import type { Listener } from '../../src/edge/http-listener.js';
import { listenTls } from '../../src/edge/tls-listener.js';
import { createLogger } from '../../src/log.js';
import { probe } from '../helpers/acme-lab.js';

const fixture = (f: string) => readFileSync(new URL(`../fixtures/certs/${f}`, import.meta.url), 'utf8');
const NAME = 'left.example';
const KEY_AUTHORIZATION = 'tok3n-for-the-test.thumbprint-of-the-account';
let listener: Listener;
let port: number;
const ticketKeys = new TicketKeys(3600_000);

beforeAll(async () => {
  const registry = createMemoryChallengeRegistry();
  const normal = createSecureContext({ cert: fixture('left-fullchain.pem'), key: fixture('left-key.pem') });
  const authz = { identifier: { type: 'dns', value: NAME } } as acme.Authorization;
  const [key, cert] = await acme.crypto.createAlpnCertificate(authz, KEY_AUTHORIZATION, await acme.crypto.createPrivateEcdsaKey());
  registry.putAlpn(NAME, cert.toString(), key.toString());
  const settings = entryPointSettings('websecure', { address: '127.0.0.1:0', tls: {} });
  listener = await listenTls(
    settings,
    '127.0.0.1:0',
    { routes: () => [], tcpRoutes: () => [], selectCertificate: () => normal, alpnChallenge: (sni) => registry.alpnContext(sni), ticketKeys },
    createLogger({ level: 'silent' }),
    false,
  );
  port = listener.address().port;
});

afterAll(async () => {
  await listener?.close(0);
  ticketKeys.close();
});

describe('tls-alpn-01 on the TLS entry point', () => {
  it('acme-tls/1 for the pending name: the challenge certificate with its acmeIdentifier, ALPN acme-tls/1', async () => {
    const served = await probe('127.0.0.1', port, NAME, { alpn: ['acme-tls/1'] });
    expect(served.error).toBeUndefined();
    expect(served.alpn).toBe('acme-tls/1');
    const pem = `-----BEGIN CERTIFICATE-----\n${served.cert!.raw.toString('base64')}\n-----END CERTIFICATE-----\n`;
    expect(acme.crypto.isAlpnCertificateAuthorizationValid(pem, KEY_AUTHORIZATION)).toBe(true);
    expect(acme.crypto.isAlpnCertificateAuthorizationValid(pem, 'another.key-authorization')).toBe(false);
  });

  it.each<[string, string[], string]>([
    ['h2 and http/1.1 for the pending name get the normal certificate', ['h2', 'http/1.1'], NAME],
    ['http/1.1 for the pending name gets the normal certificate', ['http/1.1'], NAME],
    ['acme-tls/1 with http/1.1 for a name without a pending challenge get the normal certificate', ['acme-tls/1', 'http/1.1'], 'other.example'],
  ])('%s', async (_d, alpn, sni) => {
    const served = await probe('127.0.0.1', port, sni, { alpn });
    expect(served.error).toBeUndefined();
    expect(served.cert?.subjectaltname).toBe(`DNS:${NAME}`);
    expect(served.cert?.issuer.CN).not.toBe(served.cert?.subject.CN); // the CA-signed fixture, not the self-signed challenge
    // gatehouse offers h2 first (HTTP/2 on TLS entry points), then http/1.1.
    expect(served.alpn).toBe(alpn[0] === 'h2' ? 'h2' : 'http/1.1');
  });

  it.each<[string, string[], string]>([
    ['acme-tls/1 only, for a name without a pending challenge', ['acme-tls/1'], 'other.example'],
    ['acme-tls/1 only, for a name without a pending challenge, mixed case', ['acme-tls/1'], 'Other.Example'],
  ])('%s: refused, never the normal certificate', async (_d, alpn, sni) => {
    const served = await probe('127.0.0.1', port, sni, { alpn });
    expect(served.cert).toBeUndefined();
    expect(served.error).toBeDefined();
  });

  it('the challenge connection is closed after the handshake: no HTTP is served on it', async () => {
    const { connect } = await import('node:tls');
    const result = await new Promise<string>((resolve) => {
      const s = connect({ host: '127.0.0.1', port, servername: NAME, ALPNProtocols: ['acme-tls/1'], rejectUnauthorized: false });
      let data = '';
      s.on('secureConnect', () => s.write('GET / HTTP/1.1\r\nHost: left.example\r\n\r\n'));
      s.on('data', (c: Buffer) => (data += c.toString()));
      s.on('close', () => resolve(data));
      s.on('error', () => resolve(data));
      setTimeout(() => {
        s.destroy();
        resolve('still open');
      }, 3_000).unref();
    });
    expect(result).toBe('');
  });
});
