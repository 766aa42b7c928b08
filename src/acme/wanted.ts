/**
 * Which certificates the config asks ACME for: one per router with `tls.certResolver` (the literal names of its
 * Host(...) rule, or each `tls.domains` entry), deduplicated. Everything that makes one of them impossible is found
 * here, once, at config load: `gatehouse check` reports it, and at start it disables that certificate only. That
 * includes a multi-instance set-up whose challenges some instance could not answer (field notes 002 and 004).
 */
import type { AcmeResolverConfig, ChallengeType } from '../config/schema-acme.js';
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
  /** Per resolver in use: whether it passed the multi-instance check. */
  const multiInstance = new Map<string, boolean>();
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
    const listed = resolverChallenges(resolver.acme);
    if (typeof listed === 'string') {
      // Reported once, at the resolver.
      if (!multiInstance.has(tls.certResolver)) {
        problems.push(new GatehouseError('ACME_CONFIG', listed, { location: { path: `/certificateResolvers/${tls.certResolver}/acme` } }));
        multiInstance.set(tls.certResolver, false);
      }
      continue;
    }
    const challenges = listed.filter((c) => (c === 'dns-01' ? true : c === 'tls-alpn-01' ? hasTls : hasPlain));
    if (challenges.length === 0) {
      fail(`router "${router}": resolver "${tls.certResolver}" has no challenge type this config can answer (tls-alpn-01 needs a TLS entry point, http-01 a plain HTTP one)`, '/certResolver');
      continue;
    }
    // Reported once per resolver, at the resolver; every router using it loses its certificate.
    if (!multiInstance.has(tls.certResolver)) {
      const problem = multiInstanceProblem(config, tls.certResolver, resolver.acme, challenges);
      if (problem) problems.push(problem);
      multiInstance.set(tls.certResolver, problem === undefined);
    }
    if (!multiInstance.get(tls.certResolver)) continue;
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
      if (wild.length > 0 && !challenges.includes('dns-01')) {
        fail(`router "${router}": ${wild.join(', ')} is a wildcard, which tls-alpn-01 and http-01 cannot obtain (a CA issues wildcards only by dns-01, RFC 8555 §7.1.3): give resolver "${tls.certResolver}" a dnsChallenge`);
        continue;
      }
      // RFC 8555 §7.1.3: only a whole leftmost label may be a wildcard, and one label covers one level.
      const malformed = wild.filter((n) => !/^\*\.[^*]+\.[^*]+$/.test(n));
      if (malformed.length > 0) {
        fail(`router "${router}": ${malformed.join(', ')} is not a wildcard a CA issues: only "*." followed by a name of at least two labels (*.home.example.com)`);
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

/** The TSIG algorithms src/acme/dns/tsig.ts signs with (RFC 8945 §6). */
const TSIG_ALGORITHMS = ['hmac-sha256', 'hmac-sha384', 'hmac-sha512', 'hmac-sha224', 'hmac-sha1'];

/**
 * The challenge types a resolver lists, in its order of preference, or why its list cannot be used. With
 * dnsChallenge and no list, dns-01 alone; dns-01 needs dnsChallenge, and dnsChallenge needs dns-01 in the list.
 */
export function resolverChallenges(acme: AcmeResolverConfig): readonly ChallengeType[] | string {
  const dns = acme.dnsChallenge;
  const listed = acme.challenges ?? (dns ? ['dns-01'] : ['tls-alpn-01', 'http-01']);
  if (listed.includes('dns-01') && !dns) return 'challenges lists dns-01 but the resolver has no dnsChallenge (which DNS provider writes the TXT record)';
  if (dns && !listed.includes('dns-01')) return `the resolver has a dnsChallenge but its challenges (${listed.join(', ')}) do not list dns-01: add it, or remove challenges to use dns-01 alone`;
  if (dns && dns[dns.provider] === undefined) return `dnsChallenge.provider is "${dns.provider}" but dnsChallenge.${dns.provider} (its settings) is missing`;
  const cf = dns?.provider === 'cloudflare' ? dns.cloudflare : undefined;
  if (cf && (cf.apiToken === undefined) === (cf.apiTokenFile === undefined)) return 'dnsChallenge.cloudflare needs one of apiToken (through a ${VAR}) and apiTokenFile';
  const ns = dns?.provider === 'rfc2136' ? dns.rfc2136 : undefined;
  if (ns?.tsigSecret !== undefined && ns.tsigSecretFile !== undefined) return 'dnsChallenge.rfc2136 has both tsigSecret and tsigSecretFile: keep one';
  if (ns?.tsigKey !== undefined && ns.tsigSecret === undefined && ns.tsigSecretFile === undefined) return 'dnsChallenge.rfc2136 has a tsigKey but no tsigSecret or tsigSecretFile';
  const algorithm = ns?.tsigAlgorithm?.toLowerCase().replace(/\.$/, '');
  if (algorithm !== undefined && !TSIG_ALGORITHMS.includes(algorithm)) return `dnsChallenge.rfc2136.tsigAlgorithm "${ns!.tsigAlgorithm}" is not one of ${TSIG_ALGORITHMS.join(', ')}`;
  if (ns?.tsigSecret !== undefined && ns.tsigKey === undefined) return 'dnsChallenge.rfc2136 has a tsigSecret but no tsigKey (the key name the server knows it by)';
  return listed;
}

/**
 * A resolver whose challenges some instance of a multi-instance set-up could not answer, or undefined. Several
 * instances are meant when a resolver is stateless, or peers or a Redis store are configured. Behind round-robin DNS
 * the CA validates at any of them, so each must answer every instance's challenges: stateless http-01 needs the same
 * account key everywhere; a tls-alpn-01 handshake carries only the SNI, not the token (RFC 8737 §3), so a stateless
 * instance cannot compute its answer and needs the peer that holds it (relay) or the shared store. Peers and Redis
 * answer both challenge types on their own.
 */
function multiInstanceProblem(config: Config, name: string, acme: AcmeResolverConfig, challenges: readonly ChallengeType[]): GatehouseError | undefined {
  if (acme.stateless !== true) return undefined;
  const path = `/certificateResolvers/${name}/acme`;
  if (acme.accountKeyFile === undefined) {
    return new GatehouseError(
      'ACME_CONFIG',
      `resolver "${name}" is stateless, so every instance answers the others' http-01 tokens with the account key's thumbprint, but it has no accountKeyFile: set accountKeyFile, the same key on every instance`,
      { location: { path: `${path}/stateless` } },
    );
  }
  if (challenges.includes('tls-alpn-01') && config.challenges?.peers === undefined && config.storage?.redis === undefined) {
    return new GatehouseError(
      'ACME_CONFIG',
      `resolver "${name}" is stateless but may use tls-alpn-01, which stateless mode cannot answer on another instance (the CA's handshake carries only the name, not the token): use challenges: ['http-01'], or add challenges.peers, or storage.redis`,
      { location: { path: `${path}/challenges` } },
    );
  }
  return undefined;
}
