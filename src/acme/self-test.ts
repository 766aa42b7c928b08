/**
 * gatehouse asks its own challenge responder before it tells the CA to validate: a failed validation costs the
 * account a failed-validation rate limit, a self-test costs a loopback round trip. acme-client's own check cannot be
 * used: it goes through the system resolver to port 80/443 and cannot do tls-alpn-01 at all.
 */
import { request } from 'node:http';
import { connect } from 'node:tls';
import * as acme from 'acme-client';
import { AcmeError } from './problems.js';

/** Where this instance answers challenges: its plain and TLS entry points, as bound. */
export interface ChallengeEndpoints {
  readonly http: readonly { host: string; port: number }[];
  readonly tls: readonly { host: string; port: number }[];
}

const TIMEOUT_MS = 2_000;

/**
 * Resolves when the own responder answers `keyAuthorization` for `name`; rejects with ACME_SELF_TEST otherwise.
 * With no testable entry point of the type (all of them expect a PROXY header), the test is skipped.
 */
export async function selfTest(type: 'http-01' | 'tls-alpn-01', name: string, token: string, keyAuthorization: string, endpoints: ChallengeEndpoints): Promise<void> {
  const targets = type === 'http-01' ? endpoints.http : endpoints.tls;
  const target = targets[0];
  if (!target) return;
  const host = reachable(target.host);
  const problem = type === 'http-01' ? await testHttp(host, target.port, name, token, keyAuthorization) : await testAlpn(host, target.port, name, keyAuthorization);
  if (problem !== undefined) throw new AcmeError('ACME_SELF_TEST', `${type} self-test for ${name} at ${host}:${target.port} failed: ${problem}`);
}

/** A wildcard bind address is reached on loopback. */
function reachable(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}

function testHttp(host: string, port: number, name: string, token: string, expected: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    // The CA sends Host with the port when it is not 80 (RFC 9112 §3.2); routing ignores the port either way.
    const req = request({ host, port, path: `/.well-known/acme-challenge/${token}`, headers: { host: name }, timeout: TIMEOUT_MS, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        if (body.length < 4096) body += c;
      });
      res.on('end', () => resolve(res.statusCode === 200 && body.trim() === expected ? undefined : `got HTTP ${res.statusCode} ${JSON.stringify(body.slice(0, 80))}`));
      res.on('error', (e) => resolve(e.message));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    req.on('error', (e) => resolve(e.message));
    req.end();
  });
}

function testAlpn(host: string, port: number, name: string, keyAuthorization: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, servername: name, ALPNProtocols: ['acme-tls/1'], rejectUnauthorized: false, timeout: TIMEOUT_MS });
    const done = (problem: string | undefined) => {
      socket.destroy();
      resolve(problem);
    };
    socket.once('secureConnect', () => {
      if (socket.alpnProtocol !== 'acme-tls/1') return done(`ALPN ${String(socket.alpnProtocol)} instead of acme-tls/1`);
      const raw = socket.getPeerX509Certificate();
      if (!raw) return done('no certificate');
      // RFC 8737 §3: the acmeIdentifier extension must hold SHA-256 of the key authorization.
      done(acme.crypto.isAlpnCertificateAuthorizationValid(raw.toString(), keyAuthorization) ? undefined : 'the certificate does not carry this key authorization');
    });
    socket.on('timeout', () => done(`no handshake within ${TIMEOUT_MS} ms`));
    socket.on('error', (e) => done(e.message));
  });
}
