/**
 * PEM files as an operator leaves them: certificates and keys in any files under any names (certbot's
 * cert/chain/fullchain/privkey, one combined file, Kubernetes' tls.crt/tls.key). Blocks are parsed with Node's own
 * X509Certificate and KeyObject, and keys are paired with certificates by public key, never by file name.
 */
import { X509Certificate, createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';

/** The key algorithms a server certificate may use here: what browsers accept for TLS server authentication. */
export type KeyType = 'rsa' | 'ec';

/** A parsed certificate. `names` are its DNS SANs, lower-case, without a trailing dot. */
export interface ParsedCert {
  readonly pem: string;
  readonly names: readonly string[];
  readonly notAfter: Date;
  /** SHA-256 of the DER, colon-separated hex, as browsers show it. */
  readonly fingerprint: string;
  /** SHA-256 of the SubjectPublicKeyInfo: equal for a certificate and its private key. */
  readonly publicKeyId: string;
  readonly isCa: boolean;
}

/** A parsed private key. */
export interface ParsedKey {
  readonly pem: string;
  readonly publicKeyId: string;
  readonly keyType: KeyType;
}

/** Everything one file holds, in file order, and what was wrong with it (empty when nothing). */
export interface PemFile {
  readonly path: string;
  readonly certs: readonly ParsedCert[];
  readonly keys: readonly ParsedKey[];
  readonly problems: readonly string[];
}

/** A leaf certificate with its chain (leaf first) and the private key that matches it. */
export interface CertPair {
  readonly leaf: ParsedCert;
  readonly chainPem: string;
  readonly key: ParsedKey;
  readonly certFile: string;
  readonly keyFile: string;
}

/** A file that is part of no usable pair, and why (for a warn line). */
export interface PairProblem {
  readonly file: string;
  readonly reason: string;
}

// RFC 7468 §2: the label between BEGIN and END must match; text outside the blocks is allowed (explanatory text).
const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
const BEGIN = /-----BEGIN [A-Z0-9 ]+-----/g;
const KEY_LABELS = new Set(['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY']);

/** Whether the text holds anything PEM at all (files that do not are skipped quietly: a README in certs/). */
export function looksLikePem(text: string): boolean {
  return text.includes('-----BEGIN ');
}

/** Parses every block of a file. Never throws: what cannot be used is named in `problems`. */
export function parsePemFile(path: string, text: string): PemFile {
  const certs: ParsedCert[] = [];
  const keys: ParsedKey[] = [];
  const problems: string[] = [];
  let blocks = 0;
  for (const m of text.matchAll(BLOCK)) {
    blocks++;
    const label = m[1] ?? '';
    const pem = `${m[0]}\n`;
    try {
      if (label === 'CERTIFICATE') certs.push(parseCert(pem));
      else if (KEY_LABELS.has(label)) keys.push(parseKey(pem));
      else if (label === 'ENCRYPTED PRIVATE KEY') problems.push('encrypted private keys are not supported (gatehouse has no passphrase)');
      // Other blocks (EC PARAMETERS, TRUSTED CERTIFICATE, CRLs) carry nothing a server needs.
    } catch (e) {
      problems.push(`unreadable ${label.toLowerCase()}: ${(e as Error).message}`);
    }
  }
  // A BEGIN without its END is the usual sign of a file caught half-written.
  const begins = text.match(BEGIN)?.length ?? 0;
  if (begins > blocks) problems.push('a PEM block has no END line (file half-written?)');
  return { path, certs, keys, problems };
}

function parseCert(pem: string): ParsedCert {
  const x509 = new X509Certificate(pem);
  return {
    pem,
    names: dnsNames(x509.subjectAltName),
    notAfter: new Date(x509.validTo),
    fingerprint: x509.fingerprint256,
    publicKeyId: publicKeyId(x509.publicKey),
    isCa: x509.ca,
  };
}

function parseKey(pem: string): ParsedKey {
  const key = createPrivateKey(pem);
  const type = key.asymmetricKeyType;
  if (type !== 'rsa' && type !== 'ec') throw new Error(`key type ${String(type)} is not supported (RSA or ECDSA only)`);
  return { pem, publicKeyId: publicKeyId(createPublicKey(key)), keyType: type };
}

function publicKeyId(key: KeyObject): string {
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex');
}

/**
 * The DNS names of a subjectAltName string (`DNS:a.example, DNS:*.b.example, IP Address:…`). Node quotes an entry
 * holding separators as a JSON string; DNS names never need it, but a quoted one is still read right. Names are
 * compared case-insensitively (RFC 4343), so they are stored lower-case.
 */
export function dnsNames(subjectAltName: string | undefined): string[] {
  if (!subjectAltName) return [];
  const names: string[] = [];
  for (const part of subjectAltName.split(', ')) {
    if (!part.startsWith('DNS:')) continue;
    let name = part.slice(4);
    if (name.startsWith('"')) {
      try {
        name = JSON.parse(name) as string;
      } catch {
        continue;
      }
    }
    name = name.toLowerCase().replace(/\.$/, '');
    if (name !== '' && !names.includes(name)) names.push(name);
  }
  return names;
}

/**
 * Pairs keys with leaf certificates across all files by public key. A leaf found in several files (certbot's
 * cert.pem and fullchain.pem) is served from the file with the longest chain. Leaves without a key and keys
 * without a leaf are reported, so a half-replaced pair shows up instead of silently vanishing.
 */
export function pairCertificates(files: readonly PemFile[]): { pairs: CertPair[]; problems: PairProblem[] } {
  const keys = new Map<string, { key: ParsedKey; file: string }>();
  for (const f of files) for (const key of f.keys) if (!keys.has(key.publicKeyId)) keys.set(key.publicKeyId, { key, file: f.path });

  const best = new Map<string, CertPair & { chainLength: number }>();
  const leafless = new Set(keys.keys());
  const unpaired: PairProblem[] = [];
  for (const f of files) {
    for (const leaf of f.certs) {
      if (leaf.isCa) continue; // an intermediate or a root: chain material, never served on its own
      const key = keys.get(leaf.publicKeyId);
      if (!key) {
        unpaired.push({ file: f.path, reason: `certificate for ${leaf.names.join(', ') || 'no DNS name'} has no matching private key` });
        continue;
      }
      leafless.delete(leaf.publicKeyId);
      // The chain is the leaf, then the other certificates of its file in their order (RFC 8446 §4.4.2).
      const rest = f.certs.filter((c) => c !== leaf);
      const prev = best.get(leaf.fingerprint);
      if (prev && (prev.chainLength > rest.length + 1 || (prev.chainLength === rest.length + 1 && prev.certFile <= f.path))) continue;
      best.set(leaf.fingerprint, {
        leaf,
        chainPem: [leaf, ...rest].map((c) => c.pem).join(''),
        key: key.key,
        certFile: f.path,
        keyFile: key.file,
        chainLength: rest.length + 1,
      });
    }
  }
  const problems = unpaired;
  for (const id of leafless) {
    const k = keys.get(id);
    if (k) problems.push({ file: k.file, reason: 'private key has no matching certificate' });
  }
  const pairs = [...best.values()].map(({ chainLength: _, ...pair }) => pair);
  return { pairs, problems };
}
