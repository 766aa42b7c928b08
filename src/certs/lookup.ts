/**
 * The SNI index: from a ClientHello's server name to the certificate to present. Built once per change of the
 * certificate set (an immutable snapshot, swapped by the store) so a handshake only does two Map lookups.
 */

/** A certificate as the index sees it: the names it covers, how long it lives, and what to hand back. */
export interface IndexedCert<T> {
  readonly names: readonly string[];
  readonly notAfter: Date;
  readonly source: string;
  readonly value: T;
}

/** A name covered by several certificates, and which one won (the one valid longest). */
export interface NameConflict {
  readonly name: string;
  readonly chosen: string;
  readonly others: readonly string[];
}

/** A built index. `select` never throws and allocates nothing on an exact hit. */
export interface SniIndex<T> {
  /** Exact name, then a one-label wildcard, then the fallback (undefined: refuse). No SNI gets the fallback. */
  select(sni: string | undefined): T | undefined;
  /** Names claimed by more than one certificate, for a log line when the set changes. */
  readonly conflicts: readonly NameConflict[];
  /** How many names (exact plus wildcard) the index holds. */
  readonly size: number;
}

/**
 * Builds the index. Only a whole leftmost `*` label is a wildcard (RFC 6125 §6.4.3 lets clients reject partial
 * ones like `w*.example`, and browsers do), and it covers exactly one label: `*.example.com` matches
 * `a.example.com`, never `example.com` or `a.b.example.com`. When two certificates cover a name, the one with the
 * later notAfter wins, so a renewed certificate takes over even before the old file is deleted.
 */
export function buildSniIndex<T>(certs: readonly IndexedCert<T>[], fallback: T | undefined): SniIndex<T> {
  const exact = new Map<string, IndexedCert<T>>();
  const wild = new Map<string, IndexedCert<T>>();
  const claims = new Map<string, IndexedCert<T>[]>();
  for (const cert of certs) {
    for (const name of cert.names) {
      let table = exact;
      let key = name;
      if (name.startsWith('*.')) {
        table = wild;
        key = name.slice(2);
      } else if (name.includes('*')) {
        continue;
      }
      const all = claims.get(name) ?? [];
      all.push(cert);
      claims.set(name, all);
      const prev = table.get(key);
      // On a tie the later one wins: certificates put by the ACME manager come after the files.
      if (!prev || cert.notAfter.getTime() >= prev.notAfter.getTime()) table.set(key, cert);
    }
  }
  const conflicts: NameConflict[] = [];
  for (const [name, all] of claims) {
    if (all.length < 2) continue;
    const chosen = (name.startsWith('*.') ? wild.get(name.slice(2)) : exact.get(name)) as IndexedCert<T>;
    conflicts.push({ name, chosen: chosen.source, others: all.filter((c) => c !== chosen).map((c) => c.source) });
  }
  const exactValues = new Map([...exact].map(([k, c]) => [k, c.value]));
  const wildValues = new Map([...wild].map(([k, c]) => [k, c.value]));

  const lookup = (name: string): T | undefined => {
    const hit = exactValues.get(name);
    if (hit !== undefined) return hit;
    const dot = name.indexOf('.');
    return dot > 0 ? wildValues.get(name.slice(dot + 1)) : undefined;
  };

  return {
    conflicts,
    size: exact.size + wild.size,
    select(sni) {
      if (sni === undefined || sni === '') return fallback;
      const found = lookup(sni);
      if (found !== undefined) return found;
      // Names are case-insensitive (RFC 4343) and a client may send the absolute form with a trailing dot; clients
      // almost always send lower-case already, so the normalised retry runs only on a miss.
      const normal = sni.toLowerCase().replace(/\.$/, '');
      return (normal !== sni ? lookup(normal) : undefined) ?? fallback;
    },
  };
}
