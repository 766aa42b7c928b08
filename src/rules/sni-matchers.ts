/**
 * The SNI matcher table: what each matcher of a `tcp.routers` rule means for a peeked ClientHello. A second
 * table over the same parser and compiler as HTTP (STYLE 4); every row checks its arguments at compile time and
 * returns a closure that only reads the SniMatchInput.
 */
import { compileRule, matcherError, type MatcherSite, type MatcherSpec, type MatcherTable } from './compile.js';
import { CLIENT_IP_SPEC } from './client-ip-match.js';
import { compileHostPatterns, hostMatcher } from './host-match.js';
import { compileUserRegExp } from './user-regexp.js';

/** What an SNI matcher reads. The edge fills it once per connection, from the ClientHello it peeked. */
export interface SniMatchInput {
  /** server_name from the ClientHello, lower-cased; '' when the client sent none. */
  sni: string;
  /** The ALPN protocol names the client offered, in its order; empty when it sent no ALPN extension. */
  alpn: readonly string[];
  /** Socket peer address as Node gives it (may be '::ffff:127.0.0.1'), or the one a trusted PROXY header carried. */
  clientIp: string;
}

/** A compiled SNI rule: true when the connection matches. Never throws. */
export type SniMatcher = (input: SniMatchInput) => boolean;

type Spec = MatcherSpec<SniMatchInput>;

const CATCH_ALL = '*';

const hostSni: Spec = {
  minArgs: 1,
  maxArgs: Infinity,
  build(args, site) {
    // Traefik's HostSNI(`*`) matches every connection, those without SNI too: it is how a catch-all
    // passthrough (or a non-TLS TCP router) is written, so a name-less client must not fall through it.
    if (args.some((a) => a.trim() === CATCH_ALL)) return () => true;
    const test = hostMatcher(compileHostPatterns(args, site));
    return (input) => input.sni !== '' && test(input.sni);
  },
};

const hostSniRegexp: Spec = {
  minArgs: 1,
  maxArgs: 1,
  build([source], site) {
    // Names are case-insensitive (RFC 6066 §3 carries a DNS host name), as HostRegexp treats them.
    const re = compileUserRegExp(source!, site, { ignoreCase: true });
    return (input) => re.test(input.sni);
  },
};

/** ALPN protocol ids are opaque byte strings compared exactly (RFC 7301 §3.1), so no case folding. */
function protocols(args: readonly string[], site: MatcherSite): Set<string> {
  for (const arg of args) {
    if (arg === '' || arg.length > 255) {
      throw matcherError(`${site.name} expects a protocol name of 1 to 255 bytes, got "${arg}" (column ${site.column})`, site);
    }
  }
  return new Set(args);
}

const alpn: Spec = {
  minArgs: 1,
  maxArgs: Infinity,
  build(args, site) {
    const wanted = protocols(args, site);
    return ({ alpn: offered }) => {
      for (let i = 0; i < offered.length; i++) if (wanted.has(offered[i]!)) return true;
      return false;
    };
  },
};

/**
 * Traefik v3's TCP matchers for TLS connections. HostSNI takes exact names, one-label wildcards (`*.zone`) and
 * `*`; HostSNI, ALPN and ClientIP also take several arguments, meaning any of them.
 */
export const SNI_MATCHERS: MatcherTable<SniMatchInput> = {
  HostSNI: hostSni,
  HostSNIRegexp: hostSniRegexp,
  ALPN: alpn,
  ClientIP: CLIENT_IP_SPEC,
};

/**
 * Compiles tcp router rule text; throws GatehouseError RULE_SYNTAX (with column) or RULE_MATCHER (unknown
 * matcher with a suggestion, wrong argument count, a port or misplaced `*` in HostSNI, invalid regexp or CIDR).
 */
export function compileSniRule(text: string): SniMatcher {
  return compileRule(text, SNI_MATCHERS);
}
