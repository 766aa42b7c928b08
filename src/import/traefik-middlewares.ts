/**
 * Traefik `http.middlewares` → gatehouse middlewares. gatehouse's built-in kinds carry Traefik's names and option
 * names (src/config/schema-middlewares.ts), so each kind is a field table; Traefik's v2 `ipWhiteList` becomes
 * `ipAllowList`. A kind gatehouse does not have drops the whole middleware, and the routers using it are dropped
 * by the caller: a router must never lose an auth or allow-list step silently.
 */
import { copyFields, type FieldSpec } from './traefik-fields.js';
import type { Plain, TraefikNode } from './traefik-node.js';

type Table = Readonly<Record<string, FieldSpec>>;

const IP_STRATEGY: Table = { depth: 'int', excludedIPs: 'strings' };

const KINDS: Readonly<Record<string, { to: string; fields: Table; nested?: (node: TraefikNode, out: Plain) => void }>> = {
  basicAuth: { to: 'basicAuth', fields: { users: 'strings', usersFile: 'str', realm: 'str', removeHeader: 'bool' } },
  forwardAuth: {
    to: 'forwardAuth',
    fields: {
      address: 'str',
      trustForwardHeader: 'bool',
      authResponseHeaders: 'strings',
      authResponseHeadersRegex: 'str',
      authRequestHeaders: 'strings',
    },
  },
  ipAllowList: { to: 'ipAllowList', fields: { sourceRange: 'strings', rejectStatusCode: 'int' }, nested: ipStrategyOf },
  ipWhiteList: { to: 'ipAllowList', fields: { sourceRange: 'strings' }, nested: ipStrategyOf },
  rateLimit: { to: 'rateLimit', fields: { average: 'int', period: 'str', burst: 'int' }, nested: sourceCriterionOf },
  headers: {
    to: 'headers',
    fields: {
      customRequestHeaders: 'map',
      customResponseHeaders: 'map',
      stsSeconds: 'int',
      stsIncludeSubdomains: 'bool',
      stsPreload: 'bool',
      forceSTSHeader: 'bool',
      frameDeny: 'bool',
      customFrameOptionsValue: 'str',
      contentTypeNosniff: 'bool',
      browserXssFilter: 'bool',
      referrerPolicy: 'str',
      contentSecurityPolicy: 'str',
      permissionsPolicy: 'str',
      accessControlAllowOriginList: 'strings',
      accessControlAllowMethods: 'strings',
      accessControlAllowHeaders: 'strings',
      accessControlExposeHeaders: 'strings',
      accessControlMaxAge: 'int',
      accessControlAllowCredentials: 'bool',
    },
  },
  redirectScheme: { to: 'redirectScheme', fields: { scheme: 'str', port: 'str', permanent: 'bool' } },
  redirectRegex: { to: 'redirectRegex', fields: { regex: 'str', replacement: 'str', permanent: 'bool' } },
  stripPrefix: { to: 'stripPrefix', fields: { prefixes: 'strings' } },
  stripPrefixRegex: { to: 'stripPrefixRegex', fields: { regex: 'strings' } },
  addPrefix: { to: 'addPrefix', fields: { prefix: 'str' } },
  replacePath: { to: 'replacePath', fields: { path: 'str' } },
  replacePathRegex: { to: 'replacePathRegex', fields: { regex: 'str', replacement: 'str' } },
  compress: {
    to: 'compress',
    fields: { excludedContentTypes: 'strings', includedContentTypes: 'strings', minResponseBodyBytes: 'int', encodings: 'strings', defaultEncoding: 'str' },
  },
  buffering: { to: 'buffering', fields: { maxRequestBodyBytes: 'int', maxResponseBodyBytes: 'int' } },
  chain: { to: 'chain', fields: { middlewares: 'strings' } },
};

/** Why a Traefik kind gatehouse lacks is dropped, where there is more to say than "not supported". */
const MISSING_KINDS: Readonly<Record<string, string>> = {
  plugin: 'plugins are not supported (gatehouse plugins are registered through its library API)',
  digestAuth: 'digest authentication is not supported; use basicAuth',
  retry: 'the retry middleware is not supported; use the service\'s loadBalancer.retry',
  circuitBreaker: 'the circuitBreaker middleware is not supported; passive health checks (loadBalancer.passiveHealthCheck) take failing servers out',
  errors: 'the errors middleware (custom error pages) is not supported',
  inFlightReq: 'the inFlightReq middleware is not supported',
  passTLSClientCert: 'client certificates are not supported',
  contentType: 'the contentType middleware is not supported',
  grpcWeb: 'the grpcWeb middleware is not supported',
};

const strategy = (parent: TraefikNode): Plain | undefined => {
  const node = parent.child('ipStrategy');
  if (!node) return undefined;
  node.drop('ipv6Subnet', 'ipv6Subnet is not supported; each IPv6 address is its own client');
  const out = copyFields(node, IP_STRATEGY);
  node.done();
  return out;
};

function ipStrategyOf(node: TraefikNode, out: Plain): void {
  const s = strategy(node);
  if (s) out['ipStrategy'] = s;
}

function sourceCriterionOf(node: TraefikNode, out: Plain): void {
  const criterion = node.child('sourceCriterion');
  if (!criterion) return;
  criterion.drop('requestHeaderName', 'rate limits are per client address only');
  criterion.drop('requestHost', 'rate limits are per client address only');
  const s = strategy(criterion);
  criterion.done();
  if (s) out['sourceCriterion'] = { ipStrategy: s };
}

/** One converted middleware, or undefined when it was dropped (the reason is on the node's drop list). */
export function convertMiddleware(node: TraefikNode): Plain | undefined {
  const kinds = Object.keys(node.value);
  if (kinds.length !== 1) {
    node.drops.add(node.path, `a middleware has exactly one kind, found ${kinds.length}`);
    return undefined;
  }
  const kind = kinds[0]!;
  const known = Object.keys(KINDS).find((k) => k.toLowerCase() === kind.toLowerCase());
  if (!known) {
    node.drop(kind, MISSING_KINDS[kind] ?? `the ${kind} middleware is not in gatehouse`);
    return undefined;
  }
  const spec = KINDS[known]!;
  const options = node.child(kind);
  if (!options) return undefined;
  const out = copyFields(options, spec.fields);
  spec.nested?.(options, out);
  options.done();
  return { [spec.to]: out };
}
