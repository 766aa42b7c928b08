/**
 * The CA side of ACME: which directory URL a resolver means, the directory's id on disk, the HTTPS trust for the
 * CA's API (a private CA's bundle on top of the system roots), and a bounded check of the directory that names the
 * real cause when the CA cannot be reached (acme-client hides it behind a TypeError after 75 s of retries).
 */
import { request, Agent } from 'node:https';
import { rootCertificates } from 'node:tls';
import { GatehouseError } from '../errors.js';

const KNOWN: Record<string, string> = {
  letsencrypt: 'https://acme-v02.api.letsencrypt.org/directory',
  'letsencrypt-staging': 'https://acme-staging-v02.api.letsencrypt.org/directory',
};

/** The directory URL of a `caServer` value: a known short name or the URL itself. */
export function directoryUrl(caServer: string): string {
  return KNOWN[caServer] ?? caServer;
}

/** A file-name-safe id of a directory URL, so each CA keeps its own accounts and certificates. */
export function caId(url: string): string {
  const u = new URL(url);
  return `${u.hostname}${u.port ? `_${u.port}` : ''}${u.pathname.replace(/\/+$/, '')}`.replace(/[^A-Za-z0-9._-]+/g, '-');
}

/** An HTTPS agent trusting the system roots plus `extraCaPem` (Node's `ca` replaces the roots, so both are given). */
export function caAgent(extraCaPem: readonly string[]): Agent {
  return new Agent({ ca: extraCaPem.length ? [...rootCertificates, ...extraCaPem] : undefined, keepAlive: false });
}

/** What the directory offers (RFC 8555 §7.1.1), `renewalInfo` (RFC 9773) included when present. */
export interface AcmeDirectory {
  readonly newNonce: string;
  readonly newAccount: string;
  readonly newOrder: string;
  readonly renewalInfo?: string;
}

/** Reads the directory within `timeoutMs`; rejects with ACME_CA_UNREACHABLE naming the cause. */
export function checkDirectory(url: string, agent: Agent, timeoutMs = 5_000): Promise<AcmeDirectory> {
  return new Promise((resolve, reject) => {
    const fail = (cause: string, err?: unknown) =>
      reject(new GatehouseError('ACME_CA_UNREACHABLE', `ACME directory ${url} unreachable: ${cause}`, { cause: err }));
    const req = request(url, { agent, timeout: timeoutMs, headers: { accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > 1 << 20) req.destroy(new Error('directory larger than 1 MiB'));
        else chunks.push(c);
      });
      res.on('end', () => {
        if (res.statusCode !== 200) return fail(`HTTP ${res.statusCode}`);
        try {
          const dir = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Partial<AcmeDirectory>;
          if (typeof dir.newOrder !== 'string' || typeof dir.newAccount !== 'string') return fail('not an ACME directory (no newOrder/newAccount)');
          resolve(dir as AcmeDirectory);
        } catch (e) {
          fail('not JSON', e);
        }
      });
      res.on('error', (e) => fail(e.message, e));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => fail(describeNetworkError(e), e));
    req.end();
  });
}

/** A readable cause for a network or TLS error, with the code an operator can search for. */
export function describeNetworkError(e: NodeJS.ErrnoException): string {
  const code = e.code ?? '';
  if (code === 'ECONNREFUSED') return `connection refused (${code})`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `name not resolved (${code})`;
  if (code === 'ETIMEDOUT') return `timed out (${code})`;
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(code)) return `CA's HTTPS certificate not trusted (${code}); set caBundle for a private CA`;
  return code ? `${e.message} (${code})` : e.message;
}
