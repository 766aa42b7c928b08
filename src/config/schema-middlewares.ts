/**
 * The built-in middlewares' options, one schema per kind, named and shaped as Traefik's
 * (`http.middlewares.NAME.KIND`) so a Traefik user's dynamic config carries over. Part of the single schema source:
 * schema.ts composes these into MiddlewareSchema; src/middlewares/ compiles them.
 */
import { Type, type Static } from '@sinclair/typebox';
import { DURATION_PATTERN, Name } from './schema-common.js';
import { MIDDLEWARE_DEFAULTS } from './option-defaults.js';

/** An HTTP field name is an RFC 9110 §5.6.2 token. */
const HeaderName = Type.String({ pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" });
const HeaderList = (description: string) => Type.Array(HeaderName, { description });
const HeaderMap = (description: string) => Type.Record(HeaderName, Type.String(), { description, additionalProperties: false });
const Permanent = Type.Optional(
  Type.Boolean({ description: 'Permanent redirect: 301 for GET/HEAD, 308 otherwise; temporary: 302 / 307.', default: false }),
);

export { MIDDLEWARE_DEFAULTS } from './option-defaults.js';

const IpStrategySchema = Type.Object(
  {
    depth: Type.Optional(
      Type.Integer({
        minimum: 0,
        description:
          'Take the client address from X-Forwarded-For, this many entries from the right (1 = the last proxy appended it). Only from a trusted proxy (entryPoints.forwardedHeaders.trustedIPs); otherwise the socket address is used. 0: the socket address.',
        default: 0,
      }),
    ),
    excludedIPs: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description:
          'Addresses or CIDRs of proxies to skip when reading X-Forwarded-For from the right; the first address not listed is the client. Ignored when depth is set.',
      }),
    ),
  },
  { additionalProperties: false, description: 'How the client address is found (Traefik ipStrategy).' },
);

export const BasicAuthSchema = Type.Object(
  {
    users: Type.Optional(
      Type.Array(Type.String({ minLength: 3 }), {
        description: 'htpasswd lines `user:hash` (bcrypt $2y$/$2a$/$2b$, apr1 $apr1$, {SHA}). Combined with usersFile; inline wins for a user in both.',
        examples: [['admin:$2y$10$…']],
      }),
    ),
    usersFile: Type.Optional(Type.String({ minLength: 1, description: 'Path of an htpasswd file, read once when the config loads.' })),
    realm: Type.Optional(Type.String({ minLength: 1, description: 'Realm in the WWW-Authenticate challenge.', default: MIDDLEWARE_DEFAULTS.realm })),
    removeHeader: Type.Optional(Type.Boolean({ description: 'Remove the Authorization header before the request goes upstream.', default: false })),
  },
  { additionalProperties: false, description: 'HTTP Basic authentication (RFC 7617) against htpasswd users; 401 otherwise.' },
);

export const ForwardAuthSchema = Type.Object(
  {
    address: Type.String({ minLength: 1, description: 'URL of the auth service (http:// or https://).', examples: ['http://authelia:9091/api/verify'] }),
    trustForwardHeader: Type.Optional(
      Type.Boolean({ description: "Pass the client's own X-Forwarded-* on to the auth service (only sensible behind a trusted proxy).", default: false }),
    ),
    authResponseHeaders: Type.Optional(HeaderList('Headers of a 2xx auth answer copied onto the upstream request (replacing what the client sent).')),
    authResponseHeadersRegex: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Regular expression over header names in canonical form (`X-Auth-User`, as Traefik sees them): request headers it matches are removed, then those of a 2xx auth answer it matches are copied onto the upstream request. Works alongside authResponseHeaders.',
        examples: ['^X-Auth-', '^Remote-'],
      }),
    ),
    authRequestHeaders: Type.Optional(HeaderList('Request headers sent to the auth service. Default: all of them.')),
    timeout: Type.Optional(
      Type.String({
        pattern: DURATION_PATTERN,
        description: 'Time the auth service has to answer; past it, 502. (Not in Traefik.)',
        default: MIDDLEWARE_DEFAULTS.forwardAuthTimeout,
      }),
    ),
  },
  { additionalProperties: false, description: 'Ask an auth service; a 2xx lets the request through, any other answer goes back to the client as is.' },
);

export const IpAllowListSchema = Type.Object(
  {
    sourceRange: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'Allowed addresses and CIDRs, IPv4 and IPv6.', examples: [['192.168.1.0/24', 'fd00::/8']] }),
    ipStrategy: Type.Optional(IpStrategySchema),
    rejectStatusCode: Type.Optional(
      Type.Integer({ minimum: 400, maximum: 599, description: 'Status for a refused client.', default: MIDDLEWARE_DEFAULTS.ipAllowListRejectStatus }),
    ),
  },
  { additionalProperties: false, description: 'Let through only clients whose address is in sourceRange.' },
);

export const RateLimitSchema = Type.Object(
  {
    average: Type.Integer({ minimum: 1, description: 'Requests allowed per period, on average, per client.' }),
    period: Type.Optional(Type.String({ pattern: DURATION_PATTERN, description: 'The period of `average`.', default: MIDDLEWARE_DEFAULTS.rateLimitPeriod })),
    burst: Type.Optional(Type.Integer({ minimum: 1, description: 'Requests a client may send at once before the average applies.', default: MIDDLEWARE_DEFAULTS.rateLimitBurst })),
    sourceCriterion: Type.Optional(
      Type.Object({ ipStrategy: Type.Optional(IpStrategySchema) }, { additionalProperties: false, description: 'What counts as one client.' }),
    ),
  },
  { additionalProperties: false, description: 'Token bucket per client address; over it, 429 with Retry-After.' },
);

export const HeadersSchema = Type.Object(
  {
    customRequestHeaders: Type.Optional(HeaderMap('Set on the request to the upstream; an empty value removes the header.')),
    customResponseHeaders: Type.Optional(HeaderMap('Set on the response to the client (over the upstream\'s); an empty value removes the header.')),
    stsSeconds: Type.Optional(Type.Integer({ minimum: 0, description: 'Strict-Transport-Security max-age (RFC 6797); 0 = no header. Sent on HTTPS only unless forceSTSHeader.', default: 0 })),
    stsIncludeSubdomains: Type.Optional(Type.Boolean({ description: 'Add includeSubDomains to Strict-Transport-Security.', default: false })),
    stsPreload: Type.Optional(Type.Boolean({ description: 'Add preload to Strict-Transport-Security.', default: false })),
    forceSTSHeader: Type.Optional(Type.Boolean({ description: 'Send Strict-Transport-Security on plain HTTP too.', default: false })),
    frameDeny: Type.Optional(Type.Boolean({ description: 'X-Frame-Options: DENY.', default: false })),
    customFrameOptionsValue: Type.Optional(Type.String({ minLength: 1, description: 'X-Frame-Options value (overrides frameDeny).' })),
    contentTypeNosniff: Type.Optional(Type.Boolean({ description: 'X-Content-Type-Options: nosniff.', default: false })),
    browserXssFilter: Type.Optional(Type.Boolean({ description: 'X-XSS-Protection: 1; mode=block.', default: false })),
    referrerPolicy: Type.Optional(Type.String({ minLength: 1, description: 'Referrer-Policy value.' })),
    contentSecurityPolicy: Type.Optional(Type.String({ minLength: 1, description: 'Content-Security-Policy value.' })),
    permissionsPolicy: Type.Optional(Type.String({ minLength: 1, description: 'Permissions-Policy value.' })),
    accessControlAllowOriginList: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), { description: 'CORS: origins allowed (`*` for any); a matching Origin is echoed back.' }),
    ),
    accessControlAllowMethods: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'CORS: methods a preflight allows.' })),
    accessControlAllowHeaders: Type.Optional(HeaderList('CORS: request headers a preflight allows.')),
    accessControlExposeHeaders: Type.Optional(HeaderList('CORS: response headers the browser may expose.')),
    accessControlMaxAge: Type.Optional(Type.Integer({ minimum: 0, description: 'CORS: seconds a preflight answer may be cached.' })),
    accessControlAllowCredentials: Type.Optional(Type.Boolean({ description: 'CORS: Access-Control-Allow-Credentials: true.', default: false })),
  },
  { additionalProperties: false, description: 'Set or remove request and response headers, security headers (HSTS, frame options…), CORS.' },
);

export const RedirectSchemeSchema = Type.Object(
  {
    scheme: Type.String({ minLength: 1, pattern: '^[A-Za-z][A-Za-z0-9+.-]*$', description: 'Target scheme.', examples: ['https'] }),
    port: Type.Optional(Type.String({ pattern: '^[0-9]{1,5}$', description: "Target port; absent keeps none (the scheme's default)." })),
    permanent: Permanent,
  },
  { additionalProperties: false, description: 'Redirect to another scheme (HTTP → HTTPS). Requests already on that scheme pass. ACME http-01 challenges are never redirected.' },
);

export const RedirectRegexSchema = Type.Object(
  {
    regex: Type.String({ minLength: 1, description: 'Regular expression over the full URL (`scheme://host[:port]/path?query`).' }),
    replacement: Type.String({ description: 'Target URL; `$1`, `${name}` refer to the regex groups.' }),
    permanent: Permanent,
  },
  { additionalProperties: false, description: 'Redirect when the URL matches; ACME http-01 challenges are never redirected.' },
);

export const StripPrefixSchema = Type.Object(
  { prefixes: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'Path prefixes to remove (the first that matches); X-Forwarded-Prefix tells the upstream.' }) },
  { additionalProperties: false, description: 'Remove a path prefix before forwarding.' },
);

export const StripPrefixRegexSchema = Type.Object(
  { regex: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'Regular expressions; the part of the path the first one matches (from the start) is removed.' }) },
  { additionalProperties: false, description: 'Remove a path prefix found by regular expression.' },
);

export const AddPrefixSchema = Type.Object(
  { prefix: Type.String({ minLength: 1, pattern: '^/', description: 'Prefix put before the path.' }) },
  { additionalProperties: false, description: 'Add a path prefix before forwarding.' },
);

export const ReplacePathSchema = Type.Object(
  { path: Type.String({ minLength: 1, pattern: '^/', description: 'The new path; the original goes to X-Replaced-Path.' }) },
  { additionalProperties: false, description: 'Replace the whole path (the query is kept).' },
);

export const ReplacePathRegexSchema = Type.Object(
  {
    regex: Type.String({ minLength: 1, description: 'Regular expression over the path.' }),
    replacement: Type.String({ description: 'The new path; `$1` refers to groups. The original goes to X-Replaced-Path.' }),
  },
  { additionalProperties: false, description: 'Rewrite the path by regular expression (the query is kept).' },
);

const CompressEncoding = Type.Union([Type.Literal('br'), Type.Literal('gzip'), Type.Literal('zstd')]);

export const CompressSchema = Type.Object(
  {
    excludedContentTypes: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description: 'Media types never compressed, added to the built-in list of compressed formats (images, video, audio, archives, text/event-stream).',
      }),
    ),
    includedContentTypes: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), { description: 'When set, only these media types are compressed (excludedContentTypes is then ignored).' }),
    ),
    minResponseBodyBytes: Type.Optional(
      Type.Integer({ minimum: 0, description: 'Responses with a smaller Content-Length are sent as they are.', default: MIDDLEWARE_DEFAULTS.compressMinBytes }),
    ),
    encodings: Type.Optional(
      Type.Array(CompressEncoding, {
        minItems: 1,
        uniqueItems: true,
        description:
          'Encodings offered, first = preferred when the client\'s q-values tie (or it sends `*`). `zstd` is accepted for Traefik configs but not offered (Node 20\'s zlib has none); a list of only zstd is a config error.',
        default: [...MIDDLEWARE_DEFAULTS.compressEncodings],
      }),
    ),
    defaultEncoding: Type.Optional(
      Type.Union([Type.Literal('br'), Type.Literal('gzip')], {
        description: 'Encoding used when the request has no Accept-Encoding, or for its `*`. Default: none without the header, the first of encodings for `*`.',
      }),
    ),
  },
  { additionalProperties: false, description: 'Compress responses with brotli or gzip, as the client\'s Accept-Encoding prefers (ties: the order of encodings).' },
);

export const BufferingSchema = Type.Object(
  {
    maxRequestBodyBytes: Type.Optional(
      Type.Integer({
        minimum: 0,
        description: 'Largest request body; a larger one is answered 413 (from Content-Length before anything is read, or while a chunked body arrives). Absent: no limit.',
      }),
    ),
    maxResponseBodyBytes: Type.Optional(
      Type.Integer({
        minimum: 0,
        description:
          'Largest response body. A Content-Length over it is answered 500 before any of the response is sent; a body without a length that grows past it is cut (the connection is closed mid-body, so the client sees it incomplete). Absent: no limit.',
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'Request and response body limits. A chunked request body is held in memory (up to the limit) before it is forwarded; responses stream, never held.',
  },
);

export const ChainSchema = Type.Object(
  { middlewares: Type.Array(Name, { minItems: 1, description: 'Middlewares applied in order, by name; a chain may name chains, not itself.' }) },
  { additionalProperties: false, description: 'A reusable list of middlewares.' },
);

/** Every built-in kind's options by kind name, for MiddlewareSchema. */
export const BUILTIN_MIDDLEWARE_SCHEMAS = {
  basicAuth: Type.Optional(BasicAuthSchema),
  forwardAuth: Type.Optional(ForwardAuthSchema),
  ipAllowList: Type.Optional(IpAllowListSchema),
  rateLimit: Type.Optional(RateLimitSchema),
  headers: Type.Optional(HeadersSchema),
  redirectScheme: Type.Optional(RedirectSchemeSchema),
  redirectRegex: Type.Optional(RedirectRegexSchema),
  stripPrefix: Type.Optional(StripPrefixSchema),
  stripPrefixRegex: Type.Optional(StripPrefixRegexSchema),
  addPrefix: Type.Optional(AddPrefixSchema),
  replacePath: Type.Optional(ReplacePathSchema),
  replacePathRegex: Type.Optional(ReplacePathRegexSchema),
  compress: Type.Optional(CompressSchema),
  buffering: Type.Optional(BufferingSchema),
  chain: Type.Optional(ChainSchema),
};

export type IpStrategyConfig = Static<typeof IpStrategySchema>;
export type BasicAuthConfig = Static<typeof BasicAuthSchema>;
export type ForwardAuthConfig = Static<typeof ForwardAuthSchema>;
export type IpAllowListConfig = Static<typeof IpAllowListSchema>;
export type RateLimitConfig = Static<typeof RateLimitSchema>;
export type HeadersConfig = Static<typeof HeadersSchema>;
export type RedirectSchemeConfig = Static<typeof RedirectSchemeSchema>;
export type RedirectRegexConfig = Static<typeof RedirectRegexSchema>;
export type StripPrefixConfig = Static<typeof StripPrefixSchema>;
export type StripPrefixRegexConfig = Static<typeof StripPrefixRegexSchema>;
export type AddPrefixConfig = Static<typeof AddPrefixSchema>;
export type ReplacePathConfig = Static<typeof ReplacePathSchema>;
export type ReplacePathRegexConfig = Static<typeof ReplacePathRegexSchema>;
export type CompressConfig = Static<typeof CompressSchema>;
export type BufferingConfig = Static<typeof BufferingSchema>;
export type ChainConfig = Static<typeof ChainSchema>;
