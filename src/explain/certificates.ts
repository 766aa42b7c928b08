/**
 * The certificate a TLS entry point would serve for a name, worked out offline: the same SNI index the store builds
 * (src/certs/lookup.ts), over the config's certificate files, certsDir, and the ACME certificates in the state
 * directory, but holding descriptions instead of SecureContexts and never generating a default certificate.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listStoredCertificates, type CertificateStatus } from '../acme/index.js';
import { buildSniIndex, pairCertificates, parsePemFile, resolveTlsPaths, type IndexedCert, type PemFile, type SniIndex } from '../certs/index.js';
import { listCertsDir } from '../certs/source-files.js';
import type { Config } from '../config/index.js';

/** A certificate the store would hold, as explain reports it. */
export interface CertificateFacts {
  /** `file`: tls.certificates or certsDir; `acme`: obtained by a certificate resolver (state directory). */
  readonly from: 'file' | 'acme';
  readonly source: string;
  readonly names: readonly string[];
  readonly notAfter: string;
}

/** Which certificate a handshake for a name gets. */
export interface CertificateChoice {
  /** `default`: no certificate covers the name (or no SNI); `refused`: the same, with onUnknownName 'refuse'. */
  readonly served: 'certificate' | 'default' | 'refused';
  /** The certificate's name that covers the SNI: itself or a one-label wildcard. */
  readonly coveredBy?: string;
  readonly certificate?: CertificateFacts;
  /** For the default certificate: the configured file, or the generated self-signed one. */
  readonly defaultSource?: string;
  /**
   * The ACME state of a certificate that covers the name (from its status in the state directory): the challenges
   * its last order used and why its last attempt failed, when it did (for dns-01: the server and what it answered).
   */
  readonly acme?: AcmeFacts;
}

/** What the state directory says of an ACME certificate. */
export interface AcmeFacts {
  readonly resolver: string;
  readonly names: readonly string[];
  readonly challenges?: readonly string[];
  readonly lastError?: string;
  readonly lastErrorAt?: string;
  readonly retryAt?: string;
}

/** The offline certificate index of a config and what could not be read for it. */
export interface CertificateCatalog {
  choose(sni: string | undefined): CertificateChoice;
  /** Files that hold no usable pair, and why (unreadable, key missing). */
  readonly problems: readonly string[];
  /** Whether ACME certificates were left out (Redis storage: explain reads only the state directory). */
  readonly acmeNotRead: boolean;
}

/** Reads every certificate the store would load at start; `configFile` anchors the config's relative paths. */
export async function loadCertificateCatalog(config: Config, configFile: string, env: NodeJS.ProcessEnv): Promise<CertificateCatalog> {
  const paths = resolveTlsPaths(config, { configFile, env });
  const files: PemFile[] = [];
  const problems: string[] = [];
  const listed = (await listCertsDir(paths.certsDir)) ?? [];
  const configured = paths.files.flatMap((f) => [f.certFile, f.keyFile]);
  for (const path of new Set([...listed, ...configured])) {
    const text = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
      problems.push(`${path}: ${e.code === 'ENOENT' ? 'file not found' : (e.code ?? e.message)}`);
      return undefined;
    });
    if (text === undefined || !text.includes('-----BEGIN ')) continue;
    const file = parsePemFile(path, text);
    for (const p of file.problems) problems.push(`${path}: ${p}`);
    files.push(file);
  }
  const paired = pairCertificates(files);
  for (const p of paired.problems) problems.push(`${p.file}: ${p.reason}`);
  const indexed: IndexedCert<CertificateFacts>[] = paired.pairs.map((pair) => facts('file', pair.certFile, pair.leaf.names, pair.leaf.notAfter));

  // The ACME manager puts the certificates it finds in storage after the files (they win a tie in the index).
  const acmeNotRead = config.storage?.redis !== undefined;
  const statuses: AcmeFacts[] = [];
  if (!acmeNotRead && config.certificateResolvers) {
    for (const { caId, main } of await listStoredCertificates(paths.stateDir)) {
      const dir = join(paths.stateDir, 'acme', caId, 'certificates', main);
      const file = join(dir, 'fullchain.pem');
      const text = await readFile(file, 'utf8').catch(() => undefined);
      const leaf = text === undefined ? undefined : parsePemFile(file, text).certs[0];
      if (leaf) indexed.push(facts('acme', file, leaf.names, leaf.notAfter));
      const status = await readFile(join(dir, 'status.json'), 'utf8').then((t) => JSON.parse(t) as CertificateStatus, () => undefined);
      if (status !== undefined) statuses.push(acmeFacts(status, main));
    }
  }

  const refuse = config.tls?.defaultCertificate?.onUnknownName === 'refuse';
  const defaultSource = paths.defaultCertificate.certFile ?? `generated self-signed certificate in ${join(paths.stateDir, 'default-cert')}`;
  return catalogOf(indexed, { refuse, defaultSource, problems, acmeNotRead, statuses });
}

function acmeFacts(s: CertificateStatus, main: string): AcmeFacts {
  return {
    resolver: s.resolver,
    names: s.names.length > 0 ? s.names : [main],
    ...(s.challenges !== undefined && { challenges: s.challenges }),
    ...(s.lastError !== undefined && { lastError: s.lastError }),
    ...(s.lastErrorAt !== undefined && { lastErrorAt: s.lastErrorAt }),
    ...(s.retryAt !== undefined && { retryAt: s.retryAt }),
  };
}

/** The status whose names cover `name` (exactly, or by a one-label wildcard). */
function coveringStatus(statuses: readonly AcmeFacts[], name: string): AcmeFacts | undefined {
  const wildcard = `*.${name.slice(name.indexOf('.') + 1)}`;
  return statuses.find((s) => s.names.includes(name)) ?? statuses.find((s) => s.names.includes(wildcard));
}

/** A catalog over certificates already described (offline from files; on a running instance from its store). */
export function catalogOf(
  indexed: readonly IndexedCert<CertificateFacts>[],
  options: { refuse: boolean; defaultSource: string; problems: readonly string[]; acmeNotRead: boolean; statuses?: readonly AcmeFacts[] },
): CertificateCatalog {
  const index: SniIndex<CertificateFacts> = buildSniIndex(indexed, undefined);
  return {
    problems: options.problems,
    acmeNotRead: options.acmeNotRead,
    choose(sni) {
      const hit = index.select(sni);
      const name = (sni ?? '').toLowerCase().replace(/\.$/, '');
      const status = name === '' ? undefined : coveringStatus(options.statuses ?? [], name);
      const acme = status === undefined ? {} : { acme: status };
      if (hit === undefined) return options.refuse ? { served: 'refused', ...acme } : { served: 'default', defaultSource: options.defaultSource, ...acme };
      const coveredBy = hit.names.includes(name) ? name : `*.${name.slice(name.indexOf('.') + 1)}`;
      return { served: 'certificate', coveredBy, certificate: hit, ...acme };
    },
  };
}

/** One certificate as the catalog indexes it. */
export function facts(from: 'file' | 'acme', source: string, names: readonly string[], notAfter: Date): IndexedCert<CertificateFacts> {
  return { names, notAfter, source, value: { from, source, names, notAfter: notAfter.toISOString() } };
}
