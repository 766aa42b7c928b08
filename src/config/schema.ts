/**
 * The single source of the config's shape. The JSON Schema file shipped in schema/ (for editors, through
 * `"$schema"`) is generated from these definitions, and the TypeScript types below are derived from them:
 * nothing about the config's shape is written twice. Every field says what it means and its default.
 */
import { Type, type Static } from '@sinclair/typebox';
import { DEFAULTS } from './defaults.js';

/** The access line's fields that `log.accessLog.fields.drop` may leave out (the rest are what every line is about). */
export const ACCESS_LOG_DROPPABLE = ['query', 'userAgent', 'referer', 'tlsVersion', 'tlsCipher', 'clientIp', 'router', 'service', 'upstream', 'upstreamStatus', 'upstreamMs'] as const;
import { Duration, Name, PluginSchema, StringMap } from './schema-common.js';
import { ServiceSchema } from './schema-services.js';
import { ServersTransportsSchema } from './schema-transports.js';
import { BUILTIN_MIDDLEWARE_SCHEMAS } from './schema-middlewares.js';
import { CertificateResolversSchema, ChallengesSchema, StorageSchema, TlsDomainSchema } from './schema-acme.js';
import { AdminSchema } from './schema-admin.js';
import { EntryPointHttpSchema, EntryPointProxyProtocolSchema, EntryPointTlsSchema, TcpSchema, TlsSchema } from './schema-tls.js';
import { EntryPointUdpSchema, UdpSchema } from './schema-udp.js';


export const EntryPointSchema = Type.Object(
  {
    address: Type.String({
      minLength: 1,
      description:
        'Where to listen: `:8080` (all interfaces), `127.0.0.1:8080`, `[::1]:8080`. Port 0 picks a free port (tests). A `/udp` suffix (`:53/udp`, as Traefik writes it) makes it a UDP entry point, served by `udp.routers`; `/tcp` is the default and may be written.',
      examples: [':80', ':8080', '127.0.0.1:8080', ':53/udp'],
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
          headers: Type.Optional(Duration("Time a client has to send its request head (slowloris guard), counted from the head's first byte. A connection that sends nothing at all is closed after this time without an answer or a line of its own: such closes are summed up in one 'connections closed before sending anything' line at most every 10 s (an idle flood costs a socket each, not a parser and a 408).", DEFAULTS.headersTimeout)),
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
    maxHeaderCount: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 10000,
        description:
          'Most header lines a request may carry (Host included; over HTTP/2 the pseudo-headers do not count and the Cookie crumbs count as one line). A request with more is answered 431 and logged (`client error`, code TOO_MANY_HEADERS; on Node 22 and later, which stop parsing a head at line maxHeaderCount + 2, HPE_HEADER_OVERFLOW for more than one line over) before any router sees it: never forwarded with some headers dropped. Browsers send 10–30; the default is Apache\'s LimitRequestFields, and HAProxy refuses past 101 lines counting the request line, so a client that passes those passes here.',
        default: DEFAULTS.maxHeaderCount,
      }),
    ),
    tls: Type.Optional(EntryPointTlsSchema),
    proxyProtocol: Type.Optional(EntryPointProxyProtocolSchema),
    http: Type.Optional(EntryPointHttpSchema),
    udp: Type.Optional(EntryPointUdpSchema),
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
        description: 'Higher is tried first. Default (and 0, as in Traefik): the length of the rule, so more specific rules win.',
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
    acmeChallenges: Type.Optional(
      Type.Union([Type.Literal('forward'), Type.Literal('off')], {
        description:
          "ACME http-01 requests (`/.well-known/acme-challenge/<token>`, GET/HEAD) that match this router and that gatehouse does not answer itself: `forward` sends them to this router's service (a backend running its own ACME client, a proxy behind this one), skipping its middlewares (a CA cannot log in); `off` leaves them to the peers and then 404.",
        default: 'forward',
      }),
    ),
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
          accessLog: Type.Optional(
            Type.Union(
              [
                Type.Boolean(),
                Type.Object(
                  {
                    format: Type.Optional(
                      Type.Union([Type.Literal('json'), Type.Literal('common')], {
                        description: "`json`: gatehouse's JSON line with named fields (default). `common`: Traefik's Common Log Format line, for tools that read it (fixed columns: `fields` and `headers` do not apply).",
                        default: 'json',
                      }),
                    ),
                    fields: Type.Optional(
                      Type.Object(
                        {
                          drop: Type.Optional(
                            Type.Array(Type.Union(ACCESS_LOG_DROPPABLE.map((f) => Type.Literal(f))), {
                              uniqueItems: true,
                              description: 'Fields left out of every request line (a query string may carry tokens; a client address may be personal data).',
                            }),
                          ),
                        },
                        { additionalProperties: false },
                      ),
                    ),
                    headers: Type.Optional(
                      Type.Object(
                        {
                          redact: Type.Optional(
                            Type.Array(Type.String({ pattern: '^([Uu][Ss][Ee][Rr]-[Aa][Gg][Ee][Nn][Tt]|[Rr][Ee][Ff][Ee][Rr][Ee][Rr])$' }), {
                              uniqueItems: true,
                              description: 'Logged request headers (User-Agent, Referer) shown as "[redacted]": the line says the request had one, not its value.',
                            }),
                          ),
                        },
                        { additionalProperties: false },
                      ),
                    ),
                  },
                  { additionalProperties: false },
                ),
              ],
              {
                description:
                  'One line per HTTP request (msg "request") and per passthrough connection when it closes (msg "passthrough connection closed"); false turns both off. The object form keeps it on and chooses the request line\'s format and fields. See docs/logs.md.',
                default: DEFAULTS.accessLog,
              },
            ),
          ),
          format: Type.Optional(
            Type.Union([Type.Literal('json'), Type.Literal('pretty')], {
              description:
                '`json`: one JSON object per line, for journald, files and collectors. `pretty`: `HH:MM:SS.mmm LEVEL message key=value …`, for a person at a terminal. Default: pretty when stdout is a terminal (and no `file`), else json. Read at start.',
            }),
          ),
          file: Type.Optional(
            Type.String({
              minLength: 1,
              description:
                'Append the log to this file (created with mode 0640; relative to the config file) instead of stdout. SIGUSR1 reopens it, for logrotate (`postrotate kill -USR1`). Read at start.',
            }),
          ),
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
          watch: Type.Optional(
            Type.Boolean({
              description: "Watch the config file's directory and reload when the file's content changes (editors that write a new file and rename it are seen). SIGHUP and `gatehouse reload` reload in any case.",
              default: DEFAULTS.watchConfig,
            }),
          ),
          reloadDebounce: Type.Optional(Duration('Quiet time after a change to the config file before it is read.', DEFAULTS.reloadDebounce)),
          reload: Type.Optional(
            Type.Union([Type.Literal('partial'), Type.Literal('strict')], {
              description:
                "What a reload does with a config that disables part of itself (a router with a broken rule or an unknown service or middleware, a certificate that cannot be obtained: what `gatehouse check` lists). `partial`: apply it, the rest serves, and the reload says 'applied with N problems' (warn log, status, metrics, `gatehouse reload` exits 3). `strict`: refuse it, the running config stays (`gatehouse reload` exits 1). A config that fails the schema is refused either way; at start the config is applied as `partial`.",
              default: DEFAULTS.reloadMode,
            }),
          ),
          closeRemovedConnections: Type.Optional(
            Type.Boolean({
              description: 'On reload, close the websockets and passthrough streams whose router was removed. By default they stay open until they end.',
              default: DEFAULTS.closeRemovedConnections,
            }),
          ),
        },
        { additionalProperties: false, description: 'Process lifecycle: reloads and shutdown.' },
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
          serversTransports: Type.Optional(ServersTransportsSchema),
        },
        { additionalProperties: false, description: 'HTTP routing: routers, services, middlewares, and the transports services connect to their servers with.' },
      ),
    ),
    tcp: Type.Optional(TcpSchema),
    udp: Type.Optional(UdpSchema),
    tls: Type.Optional(TlsSchema),
    certificateResolvers: Type.Optional(CertificateResolversSchema),
    challenges: Type.Optional(ChallengesSchema),
    storage: Type.Optional(StorageSchema),
    admin: Type.Optional(AdminSchema),
    workers: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1, maximum: 256 }), Type.Literal('auto')], {
        description:
          'How many processes serve the entry points (`gatehouse start` only; the library API runs one). 1 (default): one process, as without this field. N > 1: a primary process owns what must exist once (the control socket, the admin entry point, ACME orders and renewals, config reloads) and N worker processes share the listening sockets; a worker that dies is restarted. `auto`: as many workers as cores this process may use (os.availableParallelism()). Per-process state is not shared: a rate limit of L allows up to N × L across the workers, passive health and round-robin positions are per worker. Costs: N + 1 processes (each a Node process with its pools), about 1.1x the CPU per request of one worker; it pays where each worker gets its own core (measured on 2 cores shared with the load generator: 1.23x the throughput of one worker, median; docs/workers.md). Read at start: a reload that changes it is logged and takes effect at the next start.',
        default: DEFAULTS.workers,
      }),
    ),
    stateDir: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Directory for what gatehouse generates and must keep (the default certificate; ACME accounts and certificates; the control socket). GATEHOUSE_STATE_DIR overrides it. Relative to the config file\'s directory. Default: `state/<environment>` beside the config file, the environment taken from its name (`config.prod.json` → `state/prod`), so two config files never share one; `state` in the working directory for a config given as an object. Must be writable by the user gatehouse runs as, or it does not start (STATE_DIR).',
        default: DEFAULTS.stateDir,
      }),
    ),
  },
  {
    additionalProperties: false,
    $id: 'https://gatehouse.dev/schema/gatehouse.schema.json',
    title: 'gatehouse config',
    description: 'One file per environment (config.prod.json, config.test.json). JSON with comments (`//`, `/* */`) and trailing commas, as VS Code reads JSONC (name the file .jsonc for editors to agree), or YAML in a .yaml/.yml file (`# yaml-language-server: $schema=...` on the first line for completion). String values may use ${VAR} and ${VAR:-default}.',
  },
);

export type Config = Static<typeof ConfigSchema>;
export type EntryPointConfig = Static<typeof EntryPointSchema>;
export type RouterConfig = Static<typeof RouterSchema>;
export type { LoadBalancerConfig, MirroringConfig, ServiceConfig, WeightedConfig } from './schema-services.js';
export type { ServersTransportConfig } from './schema-transports.js';
export type MiddlewareConfig = Static<typeof MiddlewareSchema>;
export type RespondConfig = Static<typeof RespondSchema>;
export type RedirectConfig = Static<typeof RedirectSchema>;
export type { AdminConfig } from './schema-admin.js';
export type { EntryPointRedirectionConfig, EntryPointTlsConfig, TcpConfig, TcpRouterConfig, TcpServiceConfig, TlsConfig } from './schema-tls.js';
export type { EntryPointUdpConfig, UdpConfig, UdpRouterConfig, UdpServiceConfig } from './schema-udp.js';
