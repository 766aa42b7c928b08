/**
 * The SNI matcher table: what each matcher of a `tcp.routers` rule means for a peeked ClientHello. A second
 * table over the same parser and compiler as HTTP (STYLE 4); every row checks its arguments at compile time and
 * returns a closure that only reads the SniMatchInput.
 */
import { compileRule, matcherError, type MatcherSite, type MatcherSpec, type MatcherTable } from './compile.js';
import { CLIENT_IP_SPEC } from './client-ip-match.js';
import { compileHostPatterns, hostMatcher, isAscii, nonAsciiError } from './host-match.js';
import { compileUserRegExp } from './user-regexp.js';

/** What an SNI matcher reads. The edge fills it once per connection, from the ClientHello it peeked. */
export interface SniMatchInput {
  /** server_name from the ClientHello, lower-cased (as Traefik's NewConnData does); '' when the client sent none. */
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

/**
 * What Traefik takes as a HostSNI value (pkg/muxer/tcp/matcher.go hostOrIP): ASCII word characters, dots,
 * dashes and colons (so IPv6 literals, without brackets), optionally led by one `*.` label.
 */
const HOST_OR_IP = /^(\*\.)?[0-9A-Za-z_.\-:]+$/;

const hostSni: Spec = {
  minArgs: 1,
  maxArgs: Infinity,
  build(args, site) {
    // Traefik's HostSNI(`*`) matches every connection, those without SNI too: it is how a catch-all
    // passthrough (or a non-TLS TCP router) is written, so a name-less client must not fall through it.
    if (args.includes(CATCH_ALL)) return () => true;
    for (const arg of args) {
      if (!isAscii(arg)) throw nonAsciiError(arg, site);
      if (!HOST_OR_IP.test(arg)) {
        throw matcherError(
          `${site.name} expects a host name or an IP address without brackets (letters, digits, "_", "-", ".", ":", ` +
            `optionally led by "*."), got "${arg}" (column ${site.column})`,
          site,
        );
      }
    }
    // An SNI holding an IPv6 literal (RFC 6066 §3 forbids it, clients still send it) comes without brackets.
    const test = hostMatcher(compileHostPatterns(args, site, { ipv6Brackets: false }));
    return (input) => input.sni !== '' && test(input.sni);
  },
};

const hostSniRegexp: Spec = {
  minArgs: 1,
  maxArgs: 1,
  build([source], site) {
    if (!isAscii(source!)) throw nonAsciiError(source!, site);
    // As written, case-sensitive, against the lower-cased SNI (Traefik's NewConnData lower-cases it, then the
    // regexp runs as compiled: pkg/muxer/tcp/matcher.go hostSNIRegexp); `(?i)` is the way to ignore case.
    const re = compileUserRegExp(source!, site);
    return (input) => re.test(input.sni);
  },
};

/**
 * ALPN protocol ids are opaque byte strings compared exactly (RFC 7301 §3.1), so no case folding.
 *
 * `acme-tls/1` is accepted, unlike Traefik (pkg/muxer/tcp/matcher.go alpn refuses it so that a router cannot take
 * Traefik's own tls-alpn-01 validations). gatehouse answers the validations it (or a shared store) holds before any
 * TCP router is tried (src/edge/tls-listener.ts, docs/acme.md "tls-alpn-01 across proxies"), so such a router only
 * receives the validations of a backend's own ACME client, which is what it is for (field note 001).
 */
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
