/**
 * Which certificates the config asks ACME for: one per router with `tls.certResolver` (the literal names of its
 * Host(...) rule, or each `tls.domains` entry), deduplicated. Everything that makes one of them impossible is found
 * here, once, at config load: `gatehouse check` reports it, and at start it disables that certificate only.
 */
import type { ChallengeType } from '../config/schema-acme.js';
import type { Config } from '../config/index.js';
import { GatehouseError } from '../errors.js';
import { parseRule, ruleCalls } from '../rules/index.js';

/** One certificate to obtain and keep renewed. */
export interface WantedCertificate {
  /** Stable id: the resolver and the names, for storage and logs. */
  readonly id: string;
  readonly resolver: string;
  /** The names, main first, lower case, without duplicates. */
  readonly names: readonly string[];
  /** The resolver's challenge types this config can answer, in its order of preference. */
  readonly challenges: readonly ChallengeType[];
}

/** The certificates wanted and the problems that disabled others. */
export interface WantedCertificates {
  readonly wanted: readonly WantedCertificate[];
  readonly problems: readonly GatehouseError[];
}

/** Lists the certificates `config` asks for; never throws for a broken piece, it becomes a problem. */
export function wantedCertificates(config: Config): WantedCertificates {
  const wanted = new Map<string, WantedCertificate>();
  const problems: GatehouseError[] = [];
  const resolvers = config.certificateResolvers ?? {};
  const entryPoints = Object.values(config.entryPoints);
  const hasTls = entryPoints.some((e) => e.tls !== undefined);
  const hasPlain = entryPoints.some((e) => e.tls === undefined);
  for (const [router, spec] of Object.entries(config.http?.routers ?? {})) {
    const tls = spec.tls;
    if (tls?.certResolver === undefined) continue;
    const path = `/http/routers/${router}/tls`;
    const fail = (message: string, sub = '') => problems.push(new GatehouseError('ACME_CONFIG', message, { location: { path: path + sub } }));
    const resolver = resolvers[tls.certResolver];
    if (!resolver) {
      const known = Object.keys(resolvers);
      fail(`router "${router}" names certResolver "${tls.certResolver}", which is not in certificateResolvers${known.length ? ` (known: ${known.join(', ')})` : ''}`, '/certResolver');
      continue;
    }
    const challenges = (resolver.acme.challenges ?? ['tls-alpn-01', 'http-01']).filter((c) => (c === 'tls-alpn-01' ? hasTls : hasPlain));
    if (challenges.length === 0) {
      fail(`router "${router}": resolver "${tls.certResolver}" has no challenge type this config can answer (tls-alpn-01 needs a TLS entry point, http-01 a plain HTTP one)`, '/certResolver');
      continue;
    }
    let sets: string[][];
    if (tls.domains) {
      sets = tls.domains.map((d) => [d.main, ...(d.sans ?? [])]);
    } else {
      let hosts: string[] = [];
      try {
        hosts = ruleCalls(parseRule(spec.rule)).filter((c) => c.name === 'Host').flatMap((c) => c.args);
      } catch {
        continue; // the router itself is reported (and disabled) for its rule
      }
      if (hosts.length === 0) {
        fail(`router "${router}" has a certResolver but its rule names no Host(...) and it has no tls.domains`, '/certResolver');
        continue;
      }
      sets = [hosts];
    }
    for (const set of sets) {
      const names = [...new Set(set.map((n) => n.toLowerCase()))];
      const wild = names.filter((n) => n.includes('*'));
      if (wild.length > 0) {
        fail(`router "${router}": ${wild.join(', ')} is a wildcard, which tls-alpn-01 and http-01 cannot obtain (a CA issues wildcards only by dns-01, RFC 8555 §7.1.3)`);
        continue;
      }
      const id = `${tls.certResolver}/${names[0]}${names.length > 1 ? `+${names.length - 1}` : ''}`;
      const key = `${tls.certResolver}|${[...names].sort().join(',')}`;
      if (![...wanted.values()].some((w) => `${w.resolver}|${[...w.names].sort().join(',')}` === key)) {
        wanted.set(key, { id, resolver: tls.certResolver, names, challenges });
      }
    }
  }
  return { wanted: [...wanted.values()], problems };
}
