/**
 * The static half of a Traefik config → gatehouse: entry points (address, redirection to HTTPS, entry-point-wide
 * TLS and middlewares, forwarded headers, PROXY protocol, timeouts), certificate resolvers (ACME), logging, and
 * the list of keys that only make sense in Traefik (providers other than file, dashboard, metrics…).
 */
import { convertUdpEntryPoint } from './traefik-udp.js';
import { dnsChallengeOf } from './traefik-dns.js';
import { copyFields } from './traefik-fields.js';
import type { DropList, Plain, TraefikNode } from './traefik-node.js';

/** What an entry point gives every router on it in Traefik (`entryPoints.NAME.http.tls`, `.http.middlewares`). */
export interface EntryPointDefaults {
  tls?: Plain;
  middlewares?: string[];
}

export interface StaticPart {
  entryPoints: Record<string, Plain>;
  defaults: Map<string, EntryPointDefaults>;
  resolvers: Record<string, Plain>;
  log?: Plain;
  /** `core.defaultRuleSyntax` (Traefik v3): how rules without their own ruleSyntax are read. */
  ruleSyntax?: string;
}

const LETSENCRYPT: Readonly<Record<string, string>> = {
  'https://acme-v02.api.letsencrypt.org/directory': 'letsencrypt',
  'https://acme-staging-v02.api.letsencrypt.org/directory': 'letsencrypt-staging',
};

const LOG_LEVELS: Readonly<Record<string, string>> = {
  trace: 'trace', debug: 'debug', info: 'info', warn: 'warn', warning: 'warn', error: 'error', fatal: 'fatal', panic: 'fatal',
};

/** The port of a Traefik address (`:443`, `0.0.0.0:443`, `[::]:443/tcp`), or undefined. */
export function addressPort(address: string): number | undefined {
  const m = /:(\d+)(\/tcp)?$/.exec(address);
  return m ? Number(m[1]) : undefined;
}

function tlsOfRouterShape(node: TraefikNode): Plain {
  const out = copyFields(node, { certResolver: 'str' });
  const domains = node.children('domains').map((d) => {
    const domain = copyFields(d, { main: 'str', sans: 'strings' });
    d.done();
    return domain;
  });
  if (domains.length > 0) out['domains'] = domains;
  return out;
}

/** A router's (or an entry point's) `tls` block: certResolver and domains; options name TLS options gatehouse lacks. */
export function convertRouterTls(node: TraefikNode): Plain {
  const out = tlsOfRouterShape(node);
  const options = node.str('options');
  if (options !== undefined && options !== 'default' && options !== 'default@file') {
    node.drops.add(node.at('options'), `TLS options "${options}": gatehouse has one set of TLS options (tls.options); the router gets those`);
  }
  return out;
}

function entryPoint(name: string, node: TraefikNode, all: TraefikNode[], defaults: Map<string, EntryPointDefaults>): Plain | undefined {
  const address = node.str('address');
  if (address === undefined) {
    node.drops.add(node.path, 'no address');
    node.done();
    return undefined;
  }
  if (/\/udp$/i.test(address)) return convertUdpEntryPoint(node, address);
  const out: Plain = { address: address.replace(/\/tcp$/, '') };
  const http = node.child('http');
  if (http) {
    const own: EntryPointDefaults = {};
    const tls = http.child('tls');
    if (tls) {
      own.tls = convertRouterTls(tls);
      tls.done();
      out['tls'] = {};
    }
    const middlewares = http.strings('middlewares');
    if (middlewares) own.middlewares = middlewares;
    defaults.set(name, own);
    const outHttp: Plain = {};
    const redirect = http.child('redirections')?.child('entryPoint');
    if (redirect) outHttp['redirections'] = { entryPoint: redirection(redirect, all) };
    // Same names; the fields left out keep gatehouse's defaults (encoded /, \ and NUL refused), not Traefik's.
    const encoded = http.child('encodedCharacters');
    if (encoded) {
      const fields = copyFields(encoded, Object.fromEntries(ENCODED_CHARACTER_OPTIONS.map((o) => [o, 'bool' as const])));
      if (Object.keys(fields).length > 0) outHttp['encodedCharacters'] = fields;
      encoded.done();
    }
    if (http.bool('sanitizePath') === false) http.drop('sanitizePath', SANITIZE_ALWAYS);
    else http.ignore('sanitizePath');
    if (Object.keys(outHttp).length > 0) out['http'] = outHttp;
    http.done();
  }
  const fwd = node.child('forwardedHeaders');
  if (fwd) {
    out['forwardedHeaders'] = copyFields(fwd, { trustedIPs: 'strings', insecure: 'bool' });
    fwd.done();
  }
  const pp = node.child('proxyProtocol');
  if (pp) {
    pp.drop('insecure', 'PROXY protocol headers are only read from trustedIPs');
    const trusted = pp.strings('trustedIPs');
    if (trusted) out['proxyProtocol'] = { trustedIPs: trusted };
    pp.done();
  }
  const transport = node.child('transport');
  const responding = transport?.child('respondingTimeouts');
  if (responding) {
    const timeouts = copyFields(responding, { readTimeout: { type: 'str', to: 'request' }, idleTimeout: { type: 'str', to: 'idle' } });
    responding.drop('writeTimeout', 'gatehouse has no response write timeout; responses stream as long as the client reads');
    responding.done();
    if (Object.keys(timeouts).length > 0) out['timeouts'] = timeouts;
  }
  transport?.drop('lifeCycle', 'shutdown grace is global in gatehouse (lifecycle.graceTimeout)');
  transport?.done();
  node.drop('http2', 'HTTP/2 settings are not supported');
  node.drop('http3', 'HTTP/3 is not supported');
  node.drop('udp', 'udp.timeout applies to UDP entry points only (an address ending in "/udp")');
  node.ignore('asDefault');
  node.done();
  return out;
}

/** The top-level keys of a dynamic config. */
export const DYNAMIC_SECTIONS = ['http', 'tcp', 'udp', 'tls'] as const;

const SANITIZE_ALWAYS = 'gatehouse always resolves dot segments and duplicate slashes: the path a router matches must be the path the backend receives';
const ENCODED_CHARACTER_OPTIONS = [
  'allowEncodedSlash',
  'allowEncodedBackSlash',
  'allowEncodedNullCharacter',
  'allowEncodedSemicolon',
  'allowEncodedPercent',
  'allowEncodedQuestionMark',
  'allowEncodedHash',
] as const;

/** `http.redirections.entryPoint`: `to` names an entry point, or an address (`:443`) that is one's. */
function redirection(node: TraefikNode, all: TraefikNode[]): Plain {
  const out: Plain = {};
  const to = node.str('to');
  if (to !== undefined) {
    if (to.startsWith(':')) {
      const port = addressPort(to);
      const target = all.find((ep) => typeof ep.value['address'] === 'string' && addressPort(ep.value['address']) === port);
      out['to'] = target ? target.path.split('.').pop() : to;
    } else out['to'] = to;
  }
  const scheme = node.str('scheme');
  if (scheme !== undefined && scheme !== 'https') node.drops.add(node.at('scheme'), 'redirections go to https only');
  const permanent = node.bool('permanent');
  // Traefik's redirection is permanent unless told otherwise, as gatehouse's is.
  if (permanent !== undefined) out['permanent'] = permanent;
  node.ignore('priority');
  node.done();
  return out;
}

function resolver(node: TraefikNode, notes: DropList): Plain | undefined {
  const acme = node.child('acme');
  node.done();
  if (!acme) {
    node.drops.add(node.path, 'only ACME resolvers are supported');
    return undefined;
  }
  const out = copyFields(acme, { email: 'str', keyType: 'str' });
  const ca = acme.str('caServer');
  out['caServer'] = ca === undefined ? 'letsencrypt' : LETSENCRYPT[ca] ?? ca;
  if (acme.has('storage')) {
    acme.ignore('storage');
    notes.add(acme.at('storage'), "not read: gatehouse keeps ACME accounts and certificates in its stateDir, so they are obtained again on first start");
  }
  const challenges: string[] = [];
  if (acme.child('tlsChallenge')) challenges.push('tls-alpn-01');
  const http = acme.child('httpChallenge');
  if (http) {
    challenges.push('http-01');
    // gatehouse answers http-01 on every plain HTTP entry point, so the one Traefik names needs no setting.
    http.ignore('entryPoint');
    http.done();
  }
  const dns = dnsChallengeOf(acme, notes);
  if (dns) {
    out['dnsChallenge'] = dns;
    challenges.push('dns-01');
  }
  const eab = acme.child('eab');
  if (eab) {
    out['eab'] = copyFields(eab, { kid: 'str', hmacEncoded: { type: 'str', to: 'hmacKey' } });
    eab.done();
  }
  const bundle = acme.strings('caCertificates');
  if (bundle?.length === 1) out['caBundle'] = bundle[0];
  else if (bundle) acme.drops.add(acme.at('caCertificates'), 'gatehouse takes one CA bundle file (caBundle)');
  if (typeof out['keyType'] === 'string' && !['EC256', 'RSA2048', 'RSA4096'].includes(out['keyType'])) {
    acme.drops.add(acme.at('keyType'), `key type ${out['keyType']} is not supported; EC256 is used`);
    delete out['keyType'];
  }
  acme.drop('preferredChain', 'the CA\'s default chain is used');
  acme.drop('certificatesDuration', 'renewal follows the certificate\'s own lifetime');
  acme.ignore('caSystemCertPool');
  acme.done();
  if (challenges.length === 0) {
    if (acme.has('dnsChallenge')) {
      acme.drops.add(node.path, 'no challenge gatehouse can answer (tlsChallenge, httpChallenge, or a dnsChallenge provider it has)');
      return undefined;
    }
  } else if (challenges.join() !== 'dns-01') out['challenges'] = challenges;
  return { acme: out };
}

function logOf(root: TraefikNode): Plain | undefined {
  const out: Plain = {};
  const log = root.child('log');
  if (log) {
    const level = log.str('level');
    if (level !== undefined) {
      const mapped = LOG_LEVELS[level.toLowerCase()];
      if (mapped) out['level'] = mapped;
      else log.drops.add(log.at('level'), `unknown log level ${level}`);
    }
    // Traefik's `common` log format is its human one: gatehouse's is `pretty`.
    const format = log.str('format');
    if (format !== undefined) out['format'] = format.toLowerCase() === 'json' ? 'json' : 'pretty';
    const file = log.str('filePath');
    if (file !== undefined) out['file'] = file;
    log.done('not carried over (docs/logs.md)');
  }
  const access = root.child('accessLog');
  if (access) {
    // Traefik writes CLF unless told JSON; gatehouse's JSON line is the better default, CLF when it was asked for.
    const format = access.str('format');
    out['accessLog'] = format?.toLowerCase() === 'common' ? { format: 'common' } : true;
    access.done('the access log shares the log\'s destination (log.file or stdout); its fields: docs/logs.md');
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Reads the static file's parts gatehouse has; `notes` gets what is ignored on purpose. */
export function convertStatic(root: TraefikNode, notes: DropList): StaticPart {
  const entryPoints: Record<string, Plain> = {};
  const defaults = new Map<string, EntryPointDefaults>();
  const eps = root.entries('entryPoints');
  for (const [name, node] of eps) {
    const ep = entryPoint(name, node, eps.map(([, n]) => n), defaults);
    if (ep) entryPoints[name] = ep;
  }
  const resolvers: Record<string, Plain> = {};
  for (const [name, node] of root.entries('certificatesResolvers')) {
    const r = resolver(node, notes);
    if (r) resolvers[name] = r;
  }
  const log = logOf(root);
  const core = root.child('core');
  const ruleSyntax = core?.str('defaultRuleSyntax');
  core?.done();
  const providers = root.child('providers');
  if (providers) {
    const file = providers.child('file');
    file?.ignore('filename');
    file?.ignore('directory');
    file?.ignore('watch');
    file?.done();
    providers.ignore('providersThrottleDuration');
    providers.done('only the file provider is imported');
  }
  root.ignore('global');
  root.drop('api', 'the Traefik dashboard and API are not in gatehouse');
  root.drop('ping', 'the ping endpoint is not in gatehouse; a router with `respond` does the same');
  root.drop('metrics', 'metrics are not in gatehouse yet');
  root.drop('tracing', 'tracing is not supported');
  root.drop('experimental', 'plugins and experimental features are not supported');
  root.ignore('serversTransport'); // read by traefik.ts: the transport named `default` (traefik-transports.ts)
  // A single-file setup keeps its dynamic sections here too; the caller reads them as a dynamic source.
  for (const section of DYNAMIC_SECTIONS) root.ignore(section);
  root.done();
  return { entryPoints, defaults, resolvers, ...(log ? { log } : {}), ...(ruleSyntax ? { ruleSyntax } : {}) };
}
