/**
 * A throwaway PKI made at test start with node-forge (no key is committed): a lab CA, server certificates it signs
 * (for any names, expired if asked), a self-signed one, and client certificates from a second CA for mutual TLS.
 * RSA keys come from Node's native keygen (forge signs RSA only); one server key serves every server certificate,
 * so a whole PKI costs three key pairs.
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';

/** A certificate and its key, in PEM. */
export interface PemPair {
  readonly cert: string;
  readonly key: string;
}

/** One certificate to make. */
export interface CertSpec {
  readonly cn: string;
  /** DNS names (and IP addresses, detected by shape) for subjectAltName; default [cn]. */
  readonly names?: readonly string[];
  /** Valid until this many days from now (negative: already expired). Default 7. */
  readonly days?: number;
  readonly client?: boolean;
}

function rsaPair(): { publicKey: string; privateKey: string } {
  return generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
}

let serial = 1;

function sign(publicPem: string, subject: string, issuer: string, issuerKeyPem: string, extensions: object[], days: number): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicPem);
  cert.serialNumber = (serial++).toString(16).padStart(2, '0');
  const now = Date.now();
  cert.validity.notBefore = new Date(days < 0 ? now + (days - 30) * 86_400_000 : now - 3_600_000);
  cert.validity.notAfter = new Date(now + days * 86_400_000);
  cert.setSubject([{ name: 'commonName', value: subject }]);
  cert.setIssuer([{ name: 'commonName', value: issuer }]);
  cert.setExtensions(extensions);
  cert.sign(forge.pki.privateKeyFromPem(issuerKeyPem), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

const CA_EXTENSIONS = [
  { name: 'basicConstraints', cA: true, critical: true },
  { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
];

function leafExtensions(spec: CertSpec): object[] {
  const names = spec.names ?? [spec.cn];
  return [
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: !spec.client, clientAuth: spec.client === true },
    { name: 'subjectAltName', altNames: names.map((n) => (/^[0-9.]+$/.test(n) ? { type: 7, ip: n } : { type: 2, value: n })) },
  ];
}

/** A CA that signs certificates; `cert` is what clients put in rootCAs. */
export interface TestCa {
  readonly name: string;
  readonly cert: string;
  /** A certificate for `spec`, signed by this CA, with the PKI's shared leaf key. */
  issue(spec: CertSpec): PemPair;
}

/** A lab PKI. */
export interface TestPki {
  readonly ca: TestCa;
  /** A second CA, for client certificates (what an mTLS server trusts). */
  readonly clientCa: TestCa;
  /** A self-signed certificate for `cn` (its own CA). */
  selfSigned(spec: CertSpec): PemPair;
}

function makeCa(name: string, leafKey: { publicKey: string; privateKey: string }): TestCa {
  const own = rsaPair();
  const cert = sign(own.publicKey, name, name, own.privateKey, CA_EXTENSIONS, 30);
  return {
    name,
    cert,
    issue: (spec) => ({ cert: sign(leafKey.publicKey, spec.cn, name, own.privateKey, leafExtensions(spec), spec.days ?? 7), key: leafKey.privateKey }),
  };
}

/** Make a PKI (three RSA key pairs: about a quarter of a second). */
export function makeTestPki(): TestPki {
  const leafKey = rsaPair();
  return {
    ca: makeCa('gatehouse test lab CA', leafKey),
    clientCa: makeCa('gatehouse test client CA', leafKey),
    selfSigned: (spec) => ({ cert: sign(leafKey.publicKey, spec.cn, spec.cn, leafKey.privateKey, leafExtensions(spec), spec.days ?? 7), key: leafKey.privateKey }),
  };
}

/** Write `pair` as `<name>.pem` and `<name>-key.pem` in `dir`; returns the two paths. */
export function writePair(dir: string, name: string, pair: PemPair): { certFile: string; keyFile: string } {
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}-key.pem`);
  writeFileSync(certFile, pair.cert);
  writeFileSync(keyFile, pair.key, { mode: 0o600 });
  return { certFile, keyFile };
}
