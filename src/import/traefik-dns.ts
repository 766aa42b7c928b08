/**
 * Traefik's `certificatesResolvers.NAME.acme.dnsChallenge` as gatehouse's `dnsChallenge`. Traefik takes the
 * provider's credentials from lego's environment variables; the import keeps them there, as ${VAR} references
 * (RFC2136_*, CF_DNS_API_TOKEN, EXEC_PATH), so the same environment serves both. Providers gatehouse lacks are dropped.
 */
import type { DropList, Plain, TraefikNode } from './traefik-node.js';

/** Each provider gatehouse has, with its settings taken from lego's variables. */
const PROVIDERS: Record<string, { settings: Plain; note: string }> = {
  rfc2136: {
    settings: {
      nameserver: '${RFC2136_NAMESERVER}',
      tsigKey: '${RFC2136_TSIG_KEY}',
      tsigSecret: '${RFC2136_TSIG_SECRET}',
      // lego's default is hmac-sha1.
      tsigAlgorithm: '${RFC2136_TSIG_ALGORITHM:-hmac-sha1.}',
    },
    note: 'settings from lego\'s variables RFC2136_NAMESERVER, RFC2136_TSIG_KEY, RFC2136_TSIG_SECRET, RFC2136_TSIG_ALGORITHM: keep them in gatehouse\'s environment (RFC2136_TSIG_FILE: use tsigSecretFile instead)',
  },
  cloudflare: {
    settings: { apiToken: '${CF_DNS_API_TOKEN}' },
    note: "the API token from lego's variable CF_DNS_API_TOKEN, kept in gatehouse's environment (a global key, CF_API_KEY with CF_API_EMAIL, is not accepted: make a token with Zone:Read and DNS:Edit)",
  },
  exec: {
    settings: { path: '${EXEC_PATH}' },
    note: "the program from lego's variable EXEC_PATH, kept in gatehouse's environment (EXEC_MODE=RAW: set exec.mode to RAW)",
  },
};

/** The dnsChallenge of one resolver, or undefined (dropped) when its provider is not one gatehouse has. */
export function dnsChallengeOf(acme: TraefikNode, notes: DropList): Plain | undefined {
  const dns = acme.child('dnsChallenge');
  if (!dns) return undefined;
  const provider = dns.str('provider');
  const known = provider === undefined ? undefined : PROVIDERS[provider];
  if (!known) {
    dns.done('not read');
    acme.drops.add(dns.path, `DNS provider ${provider ?? '(none)'} is not built in: gatehouse has rfc2136, cloudflare and exec (exec runs any lego-style script)`);
    return undefined;
  }
  const out: Plain = { provider, [provider!]: known.settings };
  notes.add(dns.at('provider'), known.note);
  const resolvers = dns.strings('resolvers');
  if (resolvers) out['resolvers'] = resolvers;
  const propagation: Plain = {};
  const p = dns.child('propagation');
  const delay = duration(p?.get('delayBeforeChecks') ?? dns.get('delayBeforeCheck'));
  if (delay !== undefined) propagation['delayBeforeChecks'] = delay;
  const disable = p?.bool('disableChecks') ?? dns.bool('disablePropagationCheck');
  if (disable) propagation['disableChecks'] = true;
  if (p) {
    p.drop('disableANSChecks', 'the record is always checked at the authoritative servers (or propagation.nameservers)');
    p.drop('requireAllRNS', 'recursive resolvers are not checked: the CA asks the authoritative servers');
    p.done();
  }
  if (Object.keys(propagation).length > 0) out['propagation'] = propagation;
  dns.done();
  return out;
}

/** A Traefik duration (`42s`, `2m`, or seconds as a number) in gatehouse's form. */
function duration(v: unknown): string | undefined {
  if (typeof v === 'number' || (typeof v === 'string' && /^\d+$/.test(v))) return Number(v) === 0 ? undefined : `${Number(v)}s`;
  if (typeof v === 'string' && /^\d+(\.\d+)?(ms|s|m|h)$/.test(v)) return v;
  return undefined;
}
