import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestPki, type TestPki } from '../../test/helpers/test-pki.js';
import type { Config } from '../config/index.js';
import type { GatehouseError } from '../errors.js';
import { buildServices } from '../http/services.js';
import { createLogger } from '../log.js';
import { compileTransport, compileTransports, TransportError } from './transport.js';

let dir: string;
let pki: TestPki;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-transport-'));
  pki = makeTestPki();
  writeFileSync(join(dir, 'ca.pem'), pki.ca.cert);
  const client = pki.clientCa.issue({ cn: 'client', client: true });
  writeFileSync(join(dir, 'client.pem'), client.cert);
  writeFileSync(join(dir, 'client-key.pem'), client.key);
  writeFileSync(join(dir, 'not-pem.txt'), 'hello');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('compileTransport', () => {
  it('reads rootCAs relative to the base directory, names their subjects, and sets verification on', () => {
    const t = compileTransport('lab', { rootCAs: ['ca.pem'], serverName: 'backend.lab' }, dir);
    expect(t.tls.options.rejectUnauthorized).toBe(true);
    expect(t.tls.options.ca).toEqual([pki.ca.cert]);
    expect(t.tls.rootCaNames).toEqual(['CN=gatehouse test lab CA']);
    expect(t.tls.serverName).toBe('backend.lab');
  });

  it('takes PEM text in place of a file (Traefik FileOrContent), and a client certificate with its key', () => {
    const t = compileTransport('m', { rootCAs: [pki.ca.cert], certificates: [{ certFile: 'client.pem', keyFile: 'client-key.pem' }] }, dir);
    expect(t.tls.clientCertificate).toBe('CN=client');
    expect(t.tls.options.cert).toContain('BEGIN CERTIFICATE');
  });

  it('maps Traefik timeouts and maxIdleConnsPerHost; 0 means the default', () => {
    const t = compileTransport('t', { forwardingTimeouts: { dialTimeout: '2s', responseHeaderTimeout: '1m', idleConnTimeout: '0' }, maxIdleConnsPerHost: 0 }, dir);
    expect([t.connectTimeoutMs, t.responseHeadersTimeoutMs, t.idleTimeoutMs, t.maxConnections]).toEqual([2000, 60_000, 0, undefined]);
    expect(compileTransport('t', { maxIdleConnsPerHost: -1 }, dir).maxConnections).toBe(-1);
  });

  it('changes its key when a file behind the same path changes (a reload then makes new connections)', () => {
    const before = compileTransport('k', { rootCAs: ['ca.pem'] }, dir).key;
    writeFileSync(join(dir, 'ca2.pem'), pki.ca.cert);
    expect(compileTransport('k', { rootCAs: ['ca2.pem'] }, dir).key).not.toBe(before);
    writeFileSync(join(dir, 'ca2.pem'), pki.clientCa.cert);
    const a = compileTransport('k', { rootCAs: ['ca2.pem'] }, dir).key;
    writeFileSync(join(dir, 'ca2.pem'), pki.ca.cert);
    expect(compileTransport('k', { rootCAs: ['ca2.pem'] }, dir).key).not.toBe(a);
  });

  it.each([
    ['a missing rootCAs file', { rootCAs: ['nope.pem'] }, '/http/serversTransports/bad/rootCAs/0', /cannot read rootCAs file ".*nope\.pem"/],
    ['a rootCAs file that is not PEM', { rootCAs: ['not-pem.txt'] }, '/http/serversTransports/bad/rootCAs/0', /holds no PEM certificate/],
    ['a keyFile that is not a key', { certificates: [{ certFile: 'client.pem', keyFile: 'not-pem.txt' }] }, '/http/serversTransports/bad/certificates/0/keyFile', /no usable private key/],
    ['a key of another certificate', { certificates: [{ certFile: 'ca.pem', keyFile: 'client-key.pem' }] }, '/http/serversTransports/bad/certificates/0/keyFile', /does not belong to certFile/],
  ])('%s is a TransportError naming the field', (_what, spec, path, message) => {
    const built = compileTransports({ bad: spec }, dir).get('bad');
    expect(built).toBeInstanceOf(TransportError);
    expect((built as TransportError).path).toBe(path);
    expect((built as TransportError).message).toMatch(message);
  });
});

describe('services and their transports', () => {
  it('a broken transport disables the services using it (TRANSPORT_CONFIG), an unknown name CONFIG_REFERENCE; the others serve', async () => {
    const config = {
      entryPoints: { web: { address: ':80' } },
      http: {
        serversTransports: { bad: { rootCAs: ['nope.pem'] }, good: { rootCAs: ['ca.pem'] } },
        services: {
          broken: { loadBalancer: { servers: [{ url: 'https://127.0.0.1:1' }], serversTransport: 'bad' } },
          typo: { loadBalancer: { servers: [{ url: 'https://127.0.0.1:1' }], serversTransport: 'goood' } },
          fine: { loadBalancer: { servers: [{ url: 'https://127.0.0.1:1' }], serversTransport: 'good' } },
        },
      },
    } as unknown as Config;
    const set = buildServices(config, { handlers: {}, middlewares: {} }, createLogger({ level: 'silent' }), undefined, dir);
    try {
      const broken = set.handlers.get('broken') as GatehouseError;
      expect([broken.code, broken.location.path]).toEqual(['TRANSPORT_CONFIG', '/http/serversTransports/bad/rootCAs/0']);
      const typo = set.handlers.get('typo') as GatehouseError;
      expect([typo.code, typo.location.path]).toEqual(['CONFIG_REFERENCE', '/http/services/typo/loadBalancer/serversTransport']);
      expect(typo.message).toContain('serversTransport "goood" does not exist in http.serversTransports (defined: bad, good)');
      expect(typeof set.handlers.get('fine')).toBe('function');
    } finally {
      await set.close();
    }
  });
});
