/**
 * `gatehouse certs`: every ACME certificate in the state directory and every one the config asks for, with its
 * names, issuer, expiry, days left, next renewal and last error. It reads the files a running instance writes
 * (src/acme/storage.ts), so it works beside a running gatehouse and on a stopped one alike.
 */
import { X509Certificate } from 'node:crypto';
import { AcmeStorage, listStoredCertificates, wantedCertificates } from '../acme/index.js';
import type { Config } from '../config/index.js';
import { resolveStateDir } from '../config/paths.js';

/** One line of the listing. */
export interface CertificateRow {
  readonly names: readonly string[];
  readonly ca: string;
  readonly issuer: string;
  /** The challenge types the last order answered (dns-01, http-01, tls-alpn-01); empty when not known. */
  readonly challenges: readonly string[];
  readonly notAfter: Date | undefined;
  readonly renewAt: Date | undefined;
  readonly lastError: string | undefined;
}

/** Reads the rows: stored certificates first, then wanted ones not obtained yet. */
export async function certificateRows(config: Config, configFile: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<CertificateRow[]> {
  const stateDir = resolveStateDir(config, { configFile, env });
  const rows: CertificateRow[] = [];
  const seen = new Set<string>();
  for (const { caId, main } of await listStoredCertificates(stateDir)) {
    const storage = new AcmeStorage(stateDir, caId);
    const stored = await storage.readCertificate(main).catch(() => undefined);
    const status = stored?.status ?? (await storage.readStatus(main));
    let cert: X509Certificate | undefined;
    try {
      cert = stored ? new X509Certificate(stored.certPem) : undefined;
    } catch {
      cert = undefined;
    }
    const names = cert?.subjectAltName?.split(', ').filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4)) ?? [...(status?.names ?? [main])];
    names.forEach((n) => seen.add(n));
    rows.push({
      names,
      ca: caId,
      issuer: cert ? (/CN=([^\n]+)/.exec(cert.issuer)?.[1] ?? cert.issuer) : '-',
      challenges: status?.challenges ?? [],
      notAfter: cert ? new Date(cert.validTo) : undefined,
      renewAt: status?.renewAt ? new Date(status.renewAt) : undefined,
      lastError: status?.lastError,
    });
  }
  for (const w of wantedCertificates(config).wanted) {
    if (w.names.every((n) => seen.has(n))) continue;
    rows.push({ names: w.names, ca: w.resolver, issuer: '-', challenges: [], notAfter: undefined, renewAt: undefined, lastError: 'not obtained yet' });
  }
  return rows;
}

/** The rows as an aligned text table. */
export function formatCertificateRows(rows: readonly CertificateRow[], now = Date.now()): string {
  const header = ['NAMES', 'ISSUER', 'CHALLENGE', 'NOT AFTER', 'DAYS LEFT', 'NEXT RENEWAL', 'LAST ERROR'];
  const cells = rows.map((r) => [
    r.names.join(','),
    r.issuer,
    r.challenges.join(',') || '-',
    r.notAfter?.toISOString() ?? '-',
    r.notAfter ? ((r.notAfter.getTime() - now) / 86_400_000).toFixed(1) : '-',
    r.renewAt?.toISOString() ?? '-',
    r.lastError ?? '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]!))).join('  ');
  return [line(header), ...cells.map(line)].join('\n') + '\n';
}

