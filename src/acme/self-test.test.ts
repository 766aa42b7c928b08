import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import * as acme from 'acme-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfTest } from './self-test.js';

const TOKEN = 'selfTestTokenselfTestToken';
const RIGHT = `${TOKEN}.right-thumbprint`;
let http: HttpServer;
let tls: TlsServer;
let httpPort: number;
let tlsPort: number;
let closedPort: number;

beforeAll(async () => {
  // Answers the right key authorization for a.lab.test only, something else for any other Host.
  http = createHttpServer((req, res) => res.end(req.headers.host === 'a.lab.test' && req.url === `/.well-known/acme-challenge/${TOKEN}` ? RIGHT : 'wrong'));
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  httpPort = (http.address() as AddressInfo).port;
  const authz = { identifier: { type: 'dns', value: 'a.lab.test' } } as acme.Authorization;
  const [key, cert] = await acme.crypto.createAlpnCertificate(authz, RIGHT, await acme.crypto.createPrivateEcdsaKey());
  tls = createTlsServer({ key, cert, ALPNProtocols: ['acme-tls/1'] }, (s) => s.end());
  await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
  tlsPort = (tls.address() as AddressInfo).port;
  const probe = createHttpServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  closedPort = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
});

afterAll(async () => {
  await new Promise((r) => http?.close(r));
  await new Promise((r) => tls?.close(r));
});

describe('selfTest', () => {
  it.each<[string, 'http-01' | 'tls-alpn-01', string, string, () => number, RegExp | undefined]>([
    ['http-01: the right body', 'http-01', 'a.lab.test', RIGHT, () => httpPort, undefined],
    ['http-01: another body', 'http-01', 'b.lab.test', RIGHT, () => httpPort, /got HTTP 200 "wrong"/],
    ['http-01: nothing listening', 'http-01', 'a.lab.test', RIGHT, () => closedPort, /ECONNREFUSED/],
    ['tls-alpn-01: the certificate carries this key authorization', 'tls-alpn-01', 'a.lab.test', RIGHT, () => tlsPort, undefined],
    ['tls-alpn-01: another key authorization', 'tls-alpn-01', 'a.lab.test', `${TOKEN}.other`, () => tlsPort, /does not carry this key authorization/],
    ['tls-alpn-01: nothing listening', 'tls-alpn-01', 'a.lab.test', RIGHT, () => closedPort, /ECONNREFUSED/],
  ])('%s', async (_d, type, name, keyAuthorization, port, failure) => {
    const endpoint = [{ host: '0.0.0.0', port: port() }]; // a wildcard bind is tested on loopback
    const run = selfTest(type, name, TOKEN, keyAuthorization, { http: endpoint, tls: endpoint });
    if (failure === undefined) await expect(run).resolves.toBeUndefined();
    else await expect(run).rejects.toMatchObject({ code: 'ACME_SELF_TEST', message: expect.stringMatching(failure) });
  });

  it('no testable entry point of the type: skipped', async () => {
    await expect(selfTest('http-01', 'a.lab.test', TOKEN, RIGHT, { http: [], tls: [] })).resolves.toBeUndefined();
  });
});
