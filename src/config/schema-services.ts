/**
 * The config's services: load balancers over upstream servers (strategy, health checks, retries, sticky cookies),
 * weighted services (canary) and mirroring. Part of the single schema source (schema.ts composes it).
 */
import { Type, type Static } from '@sinclair/typebox';
import { DEFAULTS } from './defaults.js';
import { DURATION_PATTERN, Duration, PluginSchema, StringMap } from './schema-common.js';

export const ServerSchema = Type.Object(
  {
    url: Type.String({
      minLength: 1,
      description:
        "Upstream base URL: http://, https:// (TLS, verified as the load balancer's serversTransport says: by default against the system's CAs, for the URL's host), or h2c:// (HTTP/2 without TLS, for gRPC-style servers). A path here is prefixed to the request path.",
      examples: ['http://127.0.0.1:3000', 'https://pve.lan:8006', 'h2c://127.0.0.1:50051'],
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
    serversTransport: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Name of an entry of http.serversTransports: TLS to https:// servers (CAs, server name, client certificate), pool size, timeouts. Default: the one named `default` if there is one, else verification against the system\'s CAs. A name that does not exist disables this service (CONFIG_REFERENCE).',
      }),
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
          queue: Type.Optional(
            Duration(
              'With a `maxConnections` limit: how long a request may wait for one of a server\'s connections; past it, 503 with Retry-After (this many seconds) and the warn line `upstream busy, request not sent` (UPSTREAM_BUSY). 0: no waiting.',
              DEFAULTS.upstreamQueueTimeout,
            ),
          ),
        },
        { additionalProperties: false, description: 'Upstream-side timeouts of this load balancer.' },
      ),
    ),
    maxConnections: Type.Optional(
      Type.Integer({
        minimum: 0,
        description:
          'Requests in flight to one server at once; 0 = no limit (as nginx, HAProxy, Caddy and Traefik by default). Each holds one keep-alive connection from the moment it is sent until its whole response has been read from the server, and the response is read only as fast as the client reads it (backpressure): a slow client holds its connection that long. Past the limit a request waits (at most `timeouts.queue`, behind at most `maxQueued` others), then gets 503 with Retry-After.',
        default: DEFAULTS.upstreamConnections,
      }),
    ),
    maxQueued: Type.Optional(
      Type.Integer({
        minimum: 0,
        description: 'With a `maxConnections` limit: requests that may wait per server for a connection; one more gets 503 with Retry-After at once (UPSTREAM_BUSY).',
        default: DEFAULTS.upstreamMaxQueued,
      }),
    ),
    readBufferSize: Type.Optional(
      Type.Integer({
        minimum: 4096,
        maximum: 1048576,
        description:
          'Bytes per read from an http:// server\'s connection (reused buffers). A response whose client stops reading holds about one such buffer (its last write to the client keeps it) and ~10 KB of connection state, until the client reads on or leaves (the server\'s socket stops reading until the client drains): 1000 stalled readers (slowhttptest -X, scripts/hostile/slow-readers.sh) cost +47 to +49 MB of RSS on Node 20 and +36 to +46 on Node 24 at the default (with a 16 MiB young generation; the launchers now pass 8), and +52 to +59 on Node 20 with net.ipv4.tcp_notsent_lowat=131072, where the kernel holds less and more responses stall in the proxy (16384: about 12 MB less, for about 2x the CPU per 1 MiB response) (README, Memory; +88 to +98 before issue 20). Larger reads cost less CPU on large bodies. https:// servers read TLS records instead.',
        default: DEFAULTS.upstreamReadBufferSize,
      }),
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

export type ServiceConfig = Static<typeof ServiceSchema>;
export type LoadBalancerConfig = Static<typeof LoadBalancerSchema>;
export type WeightedConfig = Static<typeof WeightedSchema>;
export type MirroringConfig = Static<typeof MirroringSchema>;
