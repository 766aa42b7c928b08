/**
 * The single source of the config's shape. The JSON Schema file shipped in schema/ (for editors, through
 * `"$schema"`) is generated from these definitions, and the TypeScript types below are derived from them:
 * nothing about the config's shape is written twice. Every field says what it means and its default.
 */
import { Type, type Static } from '@sinclair/typebox';
import { DEFAULTS } from './defaults.js';
import { BUILTIN_MIDDLEWARE_SCHEMAS } from './schema-middlewares.js';
import { CertificateResolversSchema, TlsDomainSchema } from './schema-acme.js';
import { EntryPointHttpSchema, EntryPointProxyProtocolSchema, EntryPointTlsSchema, TcpSchema, TlsSchema } from './schema-tls.js';

const DURATION_PATTERN = '^(0|[0-9]+(\\.[0-9]+)?(ms|s|m|h))$';

/** A duration such as `500ms`, `10s`, `2m`, `1h`; `0` turns the timeout off. */
const Duration = (description: string, def: string) =>
  Type.String({ pattern: DURATION_PATTERN, description, default: def, examples: ['500ms', '10s', '2m'] });

const Name = Type.String({ minLength: 1, pattern: '^[A-Za-z0-9][A-Za-z0-9_.@-]*$' });

/** An HTTP field name is an RFC 9110 §5.6.2 token; anything else would throw when the response is written. */
const HeaderName = Type.String({ pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" });

// additionalProperties: false on every record, or keys that miss the key pattern would pass unchecked.
const StringMap = (description: string) =>
  Type.Record(HeaderName, Type.String(), { description, additionalProperties: false });

export const EntryPointSchema = Type.Object(
  {
    address: Type.String({
      minLength: 1,
      description:
        'Where to listen: `:8080` (all interfaces), `127.0.0.1:8080`, `[::1]:8080`. Port 0 picks a free port (tests).',
      examples: [':80', ':8080', '127.0.0.1:8080'],
    }),
    forwardedHeaders: Type.Optional(
      Type.Object(
        {
          trustedIPs: Type.Optional(
            Type.Array(Type.String({ minLength: 1 }), {
              description:
                'Addresses or CIDRs of proxies in front of gatehouse. From them, incoming X-Forwarded-* headers are kept and appended to; from anyone else they are replaced.',
              examples: [['10.0.0.0/8', '192.168.1.1']],
            }),
          ),
          insecure: Type.Optional(
            Type.Boolean({ description: 'Trust X-Forwarded-* from every client. Only behind a proxy you control.', default: false }),
          ),
        },
        { additionalProperties: false, description: 'Whether to trust X-Forwarded-* headers that clients send.' },
      ),
    ),
    timeouts: Type.Optional(
      Type.Object(
        {
          headers: Type.Optional(Duration('Time a client has to send its request headers (slowloris guard).', DEFAULTS.headersTimeout)),
          request: Type.Optional(Duration('Time a client has to send a whole request, body included.', DEFAULTS.requestTimeout)),
          idle: Type.Optional(Duration('How long an idle keep-alive client connection stays open.', DEFAULTS.idleTimeout)),
        },
        { additionalProperties: false, description: 'Client-side timeouts of this entry point.' },
      ),
    ),
    maxHeaderSize: Type.Optional(
      Type.Integer({
        minimum: 1024,
        maximum: 1048576,
        description: 'Largest request head in bytes (request line and all headers); a larger one is answered 431.',
        default: DEFAULTS.maxHeaderSize,
      }),
    ),
    tls: Type.Optional(EntryPointTlsSchema),
    proxyProtocol: Type.Optional(EntryPointProxyProtocolSchema),
    http: Type.Optional(EntryPointHttpSchema),
  },
  { additionalProperties: false, description: 'A listening address and its client-side limits.' },
);

export const RespondSchema = Type.Object(
  {
    status: Type.Optional(Type.Integer({ minimum: 100, maximum: 599, description: 'Status code.', default: DEFAULTS.respondStatus })),
    headers: Type.Optional(StringMap('Response headers.')),
    body: Type.Optional(Type.String({ description: 'Response body (UTF-8). Empty when absent.' })),
  },
  { additionalProperties: false, description: 'Answer every matching request with a fixed response.' },
);

export const RedirectSchema = Type.Object(
  {
    location: Type.String({
      minLength: 1,
      description:
        'Target URL. Placeholders from the request: `{scheme}`, `{host}` (no port), `{port}`, `{path}`, `{query}` (with its `?`, or empty), `{uri}` (path and query).',
      examples: ['https://{host}{uri}', 'https://example.com/'],
    }),
    status: Type.Optional(
      Type.Union([Type.Literal(301), Type.Literal(302), Type.Literal(303), Type.Literal(307), Type.Literal(308)], {
        description: 'Redirect status. 307/308 keep the method and body; 301/302 let browsers switch to GET.',
        default: DEFAULTS.redirectStatus,
      }),
    ),
  },
  { additionalProperties: false, description: 'Answer every matching request with a redirect.' },
);

const PluginSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, description: 'Name it was registered under with the library API.' }),
    options: Type.Optional(Type.Unknown({ description: 'Passed as is to the factory.' })),
  },
  { additionalProperties: false, description: 'A custom handler or middleware registered through the library API.' },
);

export const RouterSchema = Type.Object(
  {
    rule: Type.String({
      minLength: 1,
      description:
        "Traefik v3 rule: Host, HostRegexp, Path, PathPrefix, PathRegexp, Method, Header, HeaderRegexp, Query, QueryRegexp, ClientIP, combined with &&, || and ! and parentheses. Example: Host(`app.example.com`) && PathPrefix(`/api`).",
      examples: ['Host(`app.example.com`)', 'Host(`*.lab.example`) && PathPrefix(`/api`)'],
    }),
    priority: Type.Optional(
      Type.Integer({
        minimum: 0,
        description: 'Higher is tried first. Default: the length of the rule, so more specific rules win (as in Traefik).',
      }),
    ),
    entryPoints: Type.Optional(
      Type.Array(Name, { description: 'Entry points this router listens on. Default: all of them.', uniqueItems: true }),
    ),
    middlewares: Type.Optional(
      Type.Array(Name, { description: 'Middlewares applied in order, by their name in http.middlewares.' }),
    ),
    service: Type.Optional(Type.String({ minLength: 1, description: 'Name of the service in http.services.' })),
    respond: Type.Optional(RespondSchema),
    redirect: Type.Optional(RedirectSchema),
    tls: Type.Optional(
      Type.Object(
        {
          certResolver: Type.Optional(
            Type.String({
              minLength: 1,
              description:
                'Name of a certificateResolvers entry that obtains the certificate for this router: for the literal names of its Host(...) rule, or for `domains` when given. Wildcard names cannot be obtained by tls-alpn-01 or http-01.',
            }),
          ),
          domains: Type.Optional(
            Type.Array(TlsDomainSchema, { minItems: 1, description: 'Certificates to obtain with certResolver, instead of the names of the Host(...) rule.' }),
          ),
        },
        {
          additionalProperties: false,
          description: 'Serve this router only on TLS entry points (terminated HTTPS); on plain HTTP entry points it does not match.',
        },
      ),
    ),
  },
  {
    additionalProperties: false,
    description: 'Sends the requests its rule matches to a service, or answers them itself (respond, redirect). Exactly one of service, respond, redirect.',
  },
);

export const ServerSchema = Type.Object(
  {
    url: Type.String({
      minLength: 1,
      description: 'Upstream base URL, http:// only for now; a path here is prefixed to the request path.',
      examples: ['http://127.0.0.1:3000', 'http://nas.lan:5000'],
    }),
    weight: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 1000000,
        description: 'Share of requests relative to the other servers: weight 3 gets three times the requests of weight 1.',
        default: DEFAULTS.serverWeight,
      }),
    ),
  },
  { additionalProperties: false, description: 'One upstream server.' },
);

const HealthCheckSchema = Type.Object(
  {
    path: Type.String({
      minLength: 1,
      pattern: '^/',
      description: 'Path (and query) requested on each server; the server is up while the answer has the expected status.',
      examples: ['/health', '/ping'],
    }),
    method: Type.Optional(Type.String({ minLength: 1, pattern: '^[A-Z]+$', description: 'Request method.', default: DEFAULTS.healthCheckMethod })),
    scheme: Type.Optional(
      Type.Union([Type.Literal('http'), Type.Literal('https')], { description: "Scheme of the check request. Default: the server URL's." }),
    ),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: "Port of the check request. Default: the server URL's." })),
    hostname: Type.Optional(Type.String({ minLength: 1, description: "Host header of the check request. Default: the server URL's host." })),
    headers: Type.Optional(StringMap('Extra request headers of the check request.')),
    status: Type.Optional(
      Type.Integer({ minimum: 100, maximum: 599, description: 'Status that means healthy. Default: any 2xx.' }),
    ),
    interval: Type.Optional(Duration('Time between two checks of a server.', DEFAULTS.healthCheckInterval)),
    unhealthyInterval: Type.Optional(
      Type.String({ pattern: DURATION_PATTERN, description: 'Time between two checks of a server that is down. Default: interval.' }),
    ),
    timeout: Type.Optional(Duration('Time the answer has to arrive; past it, the check fails.', DEFAULTS.healthCheckTimeout)),
  },
  {
    additionalProperties: false,
    description:
      'Active health checks: each server is requested every interval (the first check at start); a server that fails one is skipped until one passes again. Servers count as up until their first check.',
  },
);

const PassiveHealthCheckSchema = Type.Object(
  {
    maxFailedAttempts: Type.Optional(
      Type.Integer({
        minimum: 1,
        description: 'Failures (connection refused or reset, timeouts) within failureWindow that take a server out.',
        default: DEFAULTS.passiveMaxFailedAttempts,
      }),
    ),
    failureWindow: Type.Optional(Duration('The window in which failures are counted.', DEFAULTS.passiveFailureWindow)),
    cooldown: Type.Optional(Duration('How long a server that failed stays out before it gets requests again.', DEFAULTS.passiveCooldown)),
  },
  {
    additionalProperties: false,
    description: 'Passive health checks: servers are judged by the requests they fail, with no extra traffic. `{}` turns them on with the defaults.',
  },
);

const RetrySchema = Type.Object(
  {
    attempts: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Servers one request may try in all (1 = no retry). Default: the number of servers.' }),
    ),
    nonIdempotent: Type.Optional(
      Type.Boolean({
        description:
          'Also retry POST, PATCH and other non-idempotent methods. Off by default: RFC 9110 §9.2.2 only lets idempotent requests be repeated automatically.',
        default: DEFAULTS.retryNonIdempotent,
      }),
    ),
  },
  {
    additionalProperties: false,
    description:
      'A request whose connection to a server failed before anything was sent (refused, connect timeout) goes to the next server; so does an idempotent request without a body whose connection dropped before any response (a keep-alive connection the server closed as it was reused). A request body already read is never sent twice; a response timeout is never retried.',
  },
);

const StickyCookieSchema = Type.Object(
  {
    name: Type.Optional(
      Type.String({
        minLength: 1,
        pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$",
        description: 'Cookie name. Default: `_gh_` and a hash of the service name.',
      }),
    ),
    secure: Type.Optional(Type.Boolean({ description: 'Mark the cookie Secure (sent over HTTPS only).', default: DEFAULTS.stickyCookieSecure })),
    httpOnly: Type.Optional(Type.Boolean({ description: 'Mark the cookie HttpOnly (hidden from scripts).', default: DEFAULTS.stickyCookieHttpOnly })),
    sameSite: Type.Optional(
      Type.Union([Type.Literal('none'), Type.Literal('lax'), Type.Literal('strict')], {
        description: 'SameSite attribute; browsers accept `none` only together with secure.',
        default: DEFAULTS.stickyCookieSameSite,
      }),
    ),
    maxAge: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Max-Age in seconds. Default: none (a session cookie, gone when the browser closes).' }),
    ),
    path: Type.Optional(Type.String({ minLength: 1, pattern: '^/[^;\\s]*$', description: 'Cookie Path.', default: DEFAULTS.stickyCookiePath })),
  },
  {
    additionalProperties: false,
    description:
      'The cookie carries a hash of the server (not its address); a client that has it keeps going to that server while it is up, and is re-pinned to another one when it is not.',
  },
);

export const LoadBalancerSchema = Type.Object(
  {
    servers: Type.Array(ServerSchema, { minItems: 1, description: 'Upstreams; requests are spread over them by `strategy`.' }),
    strategy: Type.Optional(
      Type.Union([Type.Literal('roundRobin'), Type.Literal('leastConnections')], {
        description:
          'roundRobin: in turn, honouring weights (smooth weighted round robin, as nginx does). leastConnections: the server with the fewest requests in flight relative to its weight; ties in turn.',
        default: DEFAULTS.lbStrategy,
      }),
    ),
    healthCheck: Type.Optional(HealthCheckSchema),
    passiveHealthCheck: Type.Optional(PassiveHealthCheckSchema),
    retry: Type.Optional(RetrySchema),
    sticky: Type.Optional(
      Type.Object({ cookie: StickyCookieSchema }, { additionalProperties: false, description: 'Sticky sessions: a client keeps its server.' }),
    ),
    passHostHeader: Type.Optional(
      Type.Boolean({
        description: "Send the client's Host header upstream (true), or the upstream URL's host (false).",
        default: DEFAULTS.passHostHeader,
      }),
    ),
    timeouts: Type.Optional(
      Type.Object(
        {
          connect: Type.Optional(Duration('Time to open a connection to an upstream; past it, 502.', DEFAULTS.connectTimeout)),
          responseHeaders: Type.Optional(
            Duration('Time from sending a request to receiving the response headers; past it, 504.', DEFAULTS.responseHeadersTimeout),
          ),
          idle: Type.Optional(Duration('How long an idle upstream keep-alive connection is kept.', DEFAULTS.upstreamIdleTimeout)),
        },
        { additionalProperties: false, description: 'Upstream-side timeouts of this load balancer.' },
      ),
    ),
    maxConnections: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Connections per upstream server in the keep-alive pool.', default: DEFAULTS.upstreamConnections }),
    ),
  },
  { additionalProperties: false, description: 'Forward requests to one or more upstream servers.' },
);

const WeightedSchema = Type.Object(
  {
    services: Type.Array(
      Type.Object(
        {
          name: Type.String({ minLength: 1, description: 'Name of another service in http.services.' }),
          weight: Type.Optional(
            Type.Integer({ minimum: 0, maximum: 1000000, description: 'Share of requests relative to the others; 0 = none (a canary switched off).', default: DEFAULTS.serverWeight }),
          ),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, description: 'The services requests are spread over, by weight (smooth weighted round robin).' },
    ),
    sticky: Type.Optional(
      Type.Object(
        { cookie: StickyCookieSchema },
        { additionalProperties: false, description: 'A client keeps the service it got first (the cookie holds a hash of its name), while that service is listed with a weight.' },
      ),
    ),
  },
  { additionalProperties: false, description: 'Spread requests over other services by weight (canary releases, blue/green), as Traefik does.' },
);

const MirroringSchema = Type.Object(
  {
    service: Type.String({ minLength: 1, description: 'The service that answers the client.' }),
    mirrors: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: Type.String({ minLength: 1, description: 'Name of the service that gets copies.' }),
            percent: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, description: 'Share of requests copied to it, evenly spread.', default: 0 })),
          },
          { additionalProperties: false },
        ),
        { description: 'Services that get copies of the requests.' },
      ),
    ),
    maxBodySize: Type.Optional(
      Type.Integer({
        minimum: -1,
        description: 'Largest request body copied, in bytes; a request with a larger body is not mirrored (the client is unaffected). -1: no limit (Traefik\'s default; the body is held in memory for the copies).',
        default: DEFAULTS.mirrorMaxBodySize,
      }),
    ),
    mirrorBody: Type.Optional(Type.Boolean({ description: 'Copy request bodies; false sends the copies without one.', default: true })),
  },
  {
    additionalProperties: false,
    description: `Answer from one service and send copies of requests to others, as Traefik does. Copies are fire and forget: their responses are discarded and their failures never reach the client; at most ${DEFAULTS.mirrorMaxInFlight} are in flight per mirroring service (more are skipped). Upgrade (WebSocket) requests are not copied.`,
  },
);

export const ServiceSchema = Type.Object(
  {
    loadBalancer: Type.Optional(LoadBalancerSchema),
    weighted: Type.Optional(WeightedSchema),
    mirroring: Type.Optional(MirroringSchema),
    plugin: Type.Optional(PluginSchema),
  },
  {
    additionalProperties: false,
    description:
      'Where matched requests go. Exactly one of loadBalancer, weighted, mirroring, plugin. A weighted or mirroring service that names a missing or broken service, or itself through others, is disabled (CONFIG_REFERENCE), not the rest.',
  },
);

export const MiddlewareSchema = Type.Object(
  {
    ...BUILTIN_MIDDLEWARE_SCHEMAS,
    plugin: Type.Optional(PluginSchema),
  },
  { additionalProperties: false, description: 'A step between router and service, configured as in Traefik. Exactly one kind.' },
);

export const ConfigSchema = Type.Object(
  {
    $schema: Type.Optional(Type.String({ description: 'Path or URL of this JSON Schema, for editors.' })),
    log: Type.Optional(
      Type.Object(
        {
          level: Type.Optional(
            Type.Union(
              [Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug'), Type.Literal('trace'), Type.Literal('silent')],
              { description: 'Log level; the GATEHOUSE_LOG_LEVEL environment variable overrides it.', default: DEFAULTS.logLevel },
            ),
          ),
          accessLog: Type.Optional(Type.Boolean({ description: 'One JSON line per request.', default: DEFAULTS.accessLog })),
        },
        { additionalProperties: false, description: 'Logging.' },
      ),
    ),
    lifecycle: Type.Optional(
      Type.Object(
        {
          graceTimeout: Type.Optional(
            Duration('After SIGTERM/SIGINT, how long in-flight requests may finish before they are cut.', DEFAULTS.graceTimeout),
          ),
        },
        { additionalProperties: false, description: 'Process lifecycle: how shutdown goes.' },
      ),
    ),
    entryPoints: Type.Record(Name, EntryPointSchema, {
      description: 'Named listening addresses, e.g. {"web": {"address": ":80"}}.',
      minProperties: 1,
      additionalProperties: false,
    }),
    http: Type.Optional(
      Type.Object(
        {
          routers: Type.Optional(Type.Record(Name, RouterSchema, { description: 'Named routers.', additionalProperties: false })),
          services: Type.Optional(Type.Record(Name, ServiceSchema, { description: 'Named services.', additionalProperties: false })),
          middlewares: Type.Optional(Type.Record(Name, MiddlewareSchema, { description: 'Named middlewares.', additionalProperties: false })),
        },
        { additionalProperties: false, description: 'HTTP routing: routers, services, middlewares.' },
      ),
    ),
    tcp: Type.Optional(TcpSchema),
    tls: Type.Optional(TlsSchema),
    certificateResolvers: Type.Optional(CertificateResolversSchema),
    stateDir: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Directory for what gatehouse generates and must keep (the default certificate; ACME accounts and certificates). GATEHOUSE_STATE_DIR overrides it. Relative to the working directory.',
        default: DEFAULTS.stateDir,
      }),
    ),
  },
  {
    additionalProperties: false,
    $id: 'https://gatehouse.dev/schema/gatehouse.schema.json',
    title: 'gatehouse config',
    description: 'One file per environment (config.prod.json, config.test.json). String values may use ${VAR} and ${VAR:-default}.',
  },
);

export type Config = Static<typeof ConfigSchema>;
export type EntryPointConfig = Static<typeof EntryPointSchema>;
export type RouterConfig = Static<typeof RouterSchema>;
export type ServiceConfig = Static<typeof ServiceSchema>;
export type LoadBalancerConfig = Static<typeof LoadBalancerSchema>;
export type WeightedConfig = Static<typeof WeightedSchema>;
export type MirroringConfig = Static<typeof MirroringSchema>;
export type MiddlewareConfig = Static<typeof MiddlewareSchema>;
export type RespondConfig = Static<typeof RespondSchema>;
export type RedirectConfig = Static<typeof RedirectSchema>;
export type { EntryPointRedirectionConfig, EntryPointTlsConfig, TcpConfig, TcpRouterConfig, TcpServiceConfig, TlsConfig } from './schema-tls.js';
