/**
 * The config's TLS edge: TLS entry points (ClientHello peek, then passthrough or termination), certificates, the
 * default certificate, TCP (SNI passthrough) routers and services, PROXY protocol. Part of the single schema source
 * (schema.ts composes it); nothing here is written twice.
 */
import { Type, type Static } from '@sinclair/typebox';
import { DEFAULTS } from './defaults.js';
import { DURATION_PATTERN, Duration, Name, NamedMap } from './schema-common.js';


/** `entryPoints.NAME.tls`: present, the entry point speaks TLS and every connection's ClientHello is peeked. */
export const EntryPointTlsSchema = Type.Object(
  {
    clientHelloTimeout: Type.Optional(
      Duration("Time a client has to send its whole ClientHello, counted from the accept. A client that sends nothing is closed after it silently (no alert, no line of its own: one 'connections closed before sending anything' line sums them up at most every 10 s).", DEFAULTS.clientHelloTimeout),
    ),
    maxClientHelloSize: Type.Optional(
      Type.Integer({
        minimum: 512,
        maximum: 65536,
        description:
          'Largest ClientHello accepted, in bytes (all its records); a larger one gets a fatal TLS alert, `illegal_parameter` as OpenSSL sends for an oversize handshake message, and the connection is closed.',
        default: DEFAULTS.maxClientHelloSize,
      }),
    ),
    http2: Type.Optional(
      Type.Boolean({
        description:
          'Offer HTTP/2 (ALPN h2) on terminated connections, with HTTP/1.1 for clients that do not speak it; requests go through the same routers, middlewares and access log, and to upstreams as HTTP/1.1. Websockets use HTTP/1.1 (RFC 8441 extended CONNECT is not supported). false offers HTTP/1.1 only.',
        default: true,
      }),
    ),
  },
  {
    additionalProperties: false,
    description:
      'Makes this a TLS entry point: by SNI, a connection is passed through untouched (tcp.routers) or terminated with the certificate for its name and routed as HTTPS (http.routers).',
  },
);

/** `entryPoints.NAME.proxyProtocol`: accept a PROXY protocol header from a load balancer in front. */
export const EntryPointProxyProtocolSchema = Type.Object(
  {
    trustedIPs: Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      description:
        'Addresses or CIDRs allowed to send a PROXY protocol (v1 or v2) header; their connections must start with one. Other clients are served as they are, and a PROXY header from them is refused.',
    }),
  },
  { additionalProperties: false, description: 'Read the real client address from a PROXY protocol header sent by a trusted load balancer.' },
);

/** `entryPoints.NAME.http.redirections.entryPoint`: send every plain HTTP request to the HTTPS entry point. */
export const EntryPointRedirectionSchema = Type.Object(
  {
    to: Type.String({ minLength: 1, description: 'The TLS entry point to redirect to; its port goes into the Location unless `port` is set.' }),
    scheme: Type.Optional(Type.Literal('https', { description: 'Scheme of the Location.', default: 'https' })),
    permanent: Type.Optional(
      Type.Boolean({
        description: 'Permanent (301 for GET/HEAD, 308 for other methods) or temporary (302/307). ACME http-01 challenges are never redirected.',
        default: true,
      }),
    ),
    port: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 65535,
        description: 'Port for the Location when clients reach the TLS entry point on another port than it listens on (a container mapping 443 → 8443). 443 is left out of the URL.',
      }),
    ),
  },
  { additionalProperties: false, description: 'Redirect plain HTTP on this entry point to HTTPS.' },
);

const allowEncoded = (what: string, fallback: boolean, why: string) =>
  Type.Optional(Type.Boolean({ description: `Let a request path hold an encoded ${what}. ${why}`, default: fallback }));

/**
 * `entryPoints.NAME.http.encodedCharacters`: Traefik's option names; gatehouse refuses encoded `/`, `\` and NUL by
 * default (Traefik allows them), since a backend that decodes them acts on another path than the routers matched.
 */
export const EncodedCharactersSchema = Type.Object(
  {
    allowEncodedSlash: allowEncoded('slash (%2F)', false, 'Off by default: a backend that decodes it sees another path than the routers matched (Traefik allows it).'),
    allowEncodedBackSlash: allowEncoded('backslash (%5C)', false, 'Off by default: some servers treat it as a slash (Traefik allows it).'),
    allowEncodedNullCharacter: allowEncoded('NUL (%00)', false, 'Off by default: it truncates paths in C-based backends (Traefik allows it).'),
    allowEncodedSemicolon: allowEncoded('semicolon (%3B)', true, 'As in Traefik.'),
    allowEncodedPercent: allowEncoded('percent sign (%25)', true, 'As in Traefik.'),
    allowEncodedQuestionMark: allowEncoded('question mark (%3F)', true, 'As in Traefik.'),
    allowEncodedHash: allowEncoded('hash (%23)', true, 'As in Traefik.'),
  },
  {
    additionalProperties: false,
    description:
      'Which percent-encoded characters a request path may hold; a refused one gets 400 before any router. Whatever is allowed, paths are normalized before routing (unreserved encodings decoded, dot segments and duplicate slashes resolved) and forwarded as normalized.',
  },
);

export const EntryPointHttpSchema = Type.Object(
  {
    redirections: Type.Optional(
      Type.Object({ entryPoint: EntryPointRedirectionSchema }, { additionalProperties: false, description: 'Redirections of this entry point, as in Traefik.' }),
    ),
    encodedCharacters: Type.Optional(EncodedCharactersSchema),
  },
  { additionalProperties: false, description: 'HTTP settings of this entry point.' },
);

const CertificatePairSchema = Type.Object(
  {
    certFile: Type.String({ minLength: 1, description: 'PEM certificate chain (leaf first). Relative paths start at the config file\'s directory.' }),
    keyFile: Type.String({ minLength: 1, description: 'PEM private key (RSA or ECDSA) of the leaf. Relative paths start at the config file\'s directory.' }),
  },
  { additionalProperties: false },
);

export const TlsSchema = Type.Object(
  {
    certificates: Type.Optional(
      Type.Array(CertificatePairSchema, { description: 'Certificate and key files to serve, besides those in certsDir. The names served come from each certificate\'s SANs.' }),
    ),
    certsDir: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Directory scanned for PEM certificate/key pairs (any file names; the names served come from the SANs), watched for changes. Relative to the config file\'s directory.',
        default: DEFAULTS.certsDir,
      }),
    ),
    defaultCertificate: Type.Optional(
      Type.Object(
        {
          certFile: Type.Optional(Type.String({ minLength: 1, description: 'Use this certificate as the default instead of a generated self-signed one.' })),
          keyFile: Type.Optional(Type.String({ minLength: 1, description: 'Key of certFile.' })),
          onUnknownName: Type.Optional(
            Type.Union([Type.Literal('serve'), Type.Literal('refuse')], {
              description:
                'For a name with no certificate, and for clients without SNI: serve the default certificate, or refuse the handshake.',
              default: 'serve',
            }),
          ),
        },
        {
          additionalProperties: false,
          description:
            'The certificate for names without one. By default a self-signed certificate generated on first start and kept in the state directory, so a browser exception survives restarts.',
        },
      ),
    ),
    options: Type.Optional(
      Type.Object(
        {
          minVersion: Type.Optional(
            Type.Union([Type.Literal('TLSv1.2'), Type.Literal('TLSv1.3')], { description: 'Oldest TLS version accepted.', default: 'TLSv1.2' }),
          ),
          ciphers: Type.Optional(
            Type.String({ minLength: 1, description: 'OpenSSL cipher list for TLS 1.2 (TLS 1.3 suites are always the strong defaults). Default: ECDHE with AES-GCM or ChaCha20-Poly1305 only.' }),
          ),
          sessionTicketRotation: Type.Optional(
            Duration('How often the session ticket keys (RFC 5077) are replaced. Tickets issued before a rotation no longer resume: those clients make one full handshake.', DEFAULTS.sessionTicketRotation),
          ),
        },
        { additionalProperties: false, description: 'Protocol settings of TLS termination.' },
      ),
    ),
  },
  { additionalProperties: false, description: 'TLS termination: certificates and protocol settings.' },
);

export const TcpRouterSchema = Type.Object(
  {
    rule: Type.String({
      minLength: 1,
      description:
        'HostSNI(`a.example`), HostSNI(`*.test.example`), HostSNI(`*`) (catch-all), HostSNIRegexp, ClientIP, ALPN, with && || ! and parentheses. On an entry point without `tls` nothing is read before routing, so only HostSNI(`*`) and ClientIP can be used there (as in Traefik, where a HostSNI name needs TLS); a router with another matcher on such an entry point is disabled.',
      examples: ['HostSNI(`*.test.example.com`)', 'HostSNI(`vm.example.com`) && !ALPN(`acme-tls/1`)'],
    }),
    priority: Type.Optional(
      Type.Integer({
        minimum: 0,
        description:
          'Higher is tried first; equal priorities by router name. Default (also when 0, as in Traefik): the length of the rule, except −1 for a rule that is exactly HostSNI(`*`), so every other router is tried before the catch-all. On a TLS entry point, an HTTP router whose Host names the SNI comes before every TCP router, and an HTTP router without Host before HostSNI(`*`) (Traefik\'s order).',
      }),
    ),
    entryPoints: Type.Optional(
      Type.Array(Name, {
        uniqueItems: true,
        description:
          'Entry points this router listens on. Default: all TLS entry points. An entry point without `tls` named here carries raw TCP (SSH, databases, MQTT, game servers): every connection is piped to the service as it comes, and no HTTP router may name that entry point (a plain port cannot tell the two apart; `check` refuses it, and at load the TCP routers there are disabled). HTTP routers without entryPoints do not listen on it.',
      }),
    ),
    middlewares: Type.Optional(
      Type.Array(Name, { description: 'Names in tcp.middlewares, applied in order before the connection is piped (an allow list, a connection limit).' }),
    ),
    service: Type.String({ minLength: 1, description: 'Name of the service in tcp.services.' }),
  },
  {
    additionalProperties: false,
    description:
      'On a TLS entry point: passes a TLS connection through untouched (the backend terminates it with its own certificate) when its rule matches the ClientHello. On an entry point without `tls`: pipes every connection its rule matches to its service, byte for byte.',
  },
);

/** `tcp.middlewares.NAME`: Traefik's TCP middlewares, with their field names. */
export const TcpMiddlewareSchema = Type.Object(
  {
    ipAllowList: Type.Optional(
      Type.Object(
        {
          sourceRange: Type.Array(Type.String({ minLength: 1 }), {
            minItems: 1,
            description:
              'Addresses or CIDR blocks allowed to connect; any other client is closed at once. The client address is the socket\'s, or the one a trusted PROXY header on the entry point carried.',
            examples: [['192.168.1.0/24', '10.0.0.7']],
          }),
        },
        { additionalProperties: false, description: 'Only clients from these addresses get through (Traefik\'s ipAllowList).' },
      ),
    ),
    inFlightConn: Type.Optional(
      Type.Object(
        {
          amount: Type.Integer({
            minimum: 1,
            description:
              'Most connections one client address may hold open at once through the router using this middleware; one more is closed at once (as Traefik\'s inFlightConn, which counts by client IP).',
          }),
        },
        { additionalProperties: false, description: 'Limit on simultaneous connections per client address (Traefik\'s inFlightConn).' },
      ),
    ),
  },
  {
    additionalProperties: false,
    description:
      'A TCP middleware: exactly one of ipAllowList, inFlightConn. Each router that names it gets its own instance (its own connection counts). A router naming a missing or malformed middleware is disabled.',
  },
);

/** `loadBalancer.healthCheck` of a TCP service: Traefik's TCP health check fields. */
export const TcpHealthCheckSchema = Type.Object(
  {
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: "Port to check instead of the server address's." })),
    send: Type.Optional(
      Type.String({ maxLength: 65535, description: 'Bytes sent once connected (e.g. "PING\\r\\n"). Default: nothing, a connect check.' }),
    ),
    expect: Type.Optional(
      Type.String({
        maxLength: 65535,
        description: 'Bytes the server must answer with, compared with the first bytes it sends (as many as this holds). Default: no answer awaited.',
      }),
    ),
    interval: Type.Optional(Duration('Time between two checks of a server that is up.', DEFAULTS.healthCheckInterval)),
    unhealthyInterval: Type.Optional(
      Type.String({ pattern: DURATION_PATTERN, description: 'Time between two checks of a server that is down. Default: interval.' }),
    ),
    timeout: Type.Optional(Duration('Time the connection (and the expected answer) has to come; past it, the check fails.', DEFAULTS.healthCheckTimeout)),
  },
  {
    additionalProperties: false,
    description:
      'Active health checks, as Traefik\'s TCP ones: each server is connected to every interval (the first check at start); a server that fails is skipped by new connections until a check passes again. Connections already piped are left alone. Servers count as up until their first check.',
  },
);

export const TcpServiceSchema = Type.Object(
  {
    loadBalancer: Type.Optional(Type.Object(
      {
        servers: Type.Array(
          Type.Object(
            { address: Type.String({ minLength: 1, description: 'host:port of the backend.', examples: ['10.0.0.5:443', 'test-proxy.lan:443'] }) },
            { additionalProperties: false },
          ),
          { minItems: 1, description: 'Backends; connections go round robin.' },
        ),
        proxyProtocol: Type.Optional(
          Type.Object(
            { version: Type.Union([Type.Literal(1), Type.Literal(2)], { description: 'PROXY protocol version.', default: 2 }) },
            { additionalProperties: false, description: 'Send a PROXY protocol header first, so the backend sees the real client address.' },
          ),
        ),
        timeouts: Type.Optional(
          Type.Object(
            {
              connect: Type.Optional(Duration('Time to connect to the backend; past it the client connection is closed.', DEFAULTS.connectTimeout)),
              idle: Type.Optional(Duration('A connection with no bytes either way for this long is closed.', DEFAULTS.tcpIdleTimeout)),
            },
            { additionalProperties: false },
          ),
        ),
        healthCheck: Type.Optional(TcpHealthCheckSchema),
      },
      { additionalProperties: false, description: 'Spread connections over backend servers, in turn, skipping those a health check took out.' },
    )),
    weighted: Type.Optional(
      Type.Object(
        {
          services: Type.Array(
            Type.Object(
              {
                name: Type.String({ minLength: 1, description: 'Name of another service in tcp.services.' }),
                weight: Type.Optional(
                  Type.Integer({ minimum: 0, maximum: 1000000, description: 'Share of connections relative to the others; 0 = none.', default: DEFAULTS.serverWeight }),
                ),
              },
              { additionalProperties: false },
            ),
            { minItems: 1, description: 'The services connections are spread over, by weight (smooth weighted round robin).' },
          ),
          healthCheck: Type.Optional(
            Type.Object(
              {},
              {
                additionalProperties: false,
                description:
                  'Present (`{}`), a service all of whose servers are down (by their health checks) is skipped, as in Traefik; absent, it still gets its share.',
              },
            ),
          ),
        },
        { additionalProperties: false, description: "Spread connections over other TCP services by weight (Traefik's tcp `weighted`)." },
      ),
    ),
  },
  {
    additionalProperties: false,
    description:
      'Where TCP connections go: exactly one of loadBalancer, weighted. A weighted service naming a missing or broken service, or itself through others, is disabled with the routers using it.',
  },
);

export const TcpSchema = Type.Object(
  {
    routers: Type.Optional(NamedMap(TcpRouterSchema, 'Named TCP routers: SNI passthrough on TLS entry points, raw TCP on the others.')),
    middlewares: Type.Optional(NamedMap(TcpMiddlewareSchema, 'Named TCP middlewares (ipAllowList, inFlightConn).')),
    services: Type.Optional(NamedMap(TcpServiceSchema, 'Named TCP services.')),
  },
  { additionalProperties: false, description: 'SNI passthrough on TLS entry points, and raw TCP routing on entry points without `tls`.' },
);

export type EntryPointTlsConfig = Static<typeof EntryPointTlsSchema>;
export type EntryPointRedirectionConfig = Static<typeof EntryPointRedirectionSchema>;
export type TlsConfig = Static<typeof TlsSchema>;
export type TcpConfig = Static<typeof TcpSchema>;
export type TcpRouterConfig = Static<typeof TcpRouterSchema>;
export type TcpServiceConfig = Static<typeof TcpServiceSchema>;
export type TcpMiddlewareConfig = Static<typeof TcpMiddlewareSchema>;
export type TcpHealthCheckConfig = Static<typeof TcpHealthCheckSchema>;
