/**
 * The config's TLS edge: TLS entry points (ClientHello peek, then passthrough or termination), certificates, the
 * default certificate, TCP (SNI passthrough) routers and services, PROXY protocol. Part of the single schema source
 * (schema.ts composes it); nothing here is written twice.
 */
import { Type, type Static } from '@sinclair/typebox';
import { DEFAULTS } from './defaults.js';
import { Duration, Name, NamedMap } from './schema-common.js';


/** `entryPoints.NAME.tls`: present, the entry point speaks TLS and every connection's ClientHello is peeked. */
export const EntryPointTlsSchema = Type.Object(
  {
    clientHelloTimeout: Type.Optional(
      Duration('Time a client has to send its whole ClientHello; a silent client is closed after it.', DEFAULTS.clientHelloTimeout),
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
      description: 'HostSNI(`a.example`), HostSNI(`*.test.example`), HostSNI(`*`) (catch-all), HostSNIRegexp, ClientIP, ALPN, with && || ! and parentheses.',
      examples: ['HostSNI(`*.test.example.com`)', 'HostSNI(`vm.example.com`) && !ALPN(`acme-tls/1`)'],
    }),
    priority: Type.Optional(
      Type.Integer({
        minimum: 0,
        description:
          'Higher is tried first; equal priorities by router name. Default (also when 0, as in Traefik): the length of the rule, except −1 for a rule that is exactly HostSNI(`*`), so every other router is tried before the catch-all. On a TLS entry point, an HTTP router whose Host names the SNI comes before every TCP router, and an HTTP router without Host before HostSNI(`*`) (Traefik\'s order).',
      }),
    ),
    entryPoints: Type.Optional(Type.Array(Name, { uniqueItems: true, description: 'TLS entry points this router listens on. Default: all TLS entry points.' })),
    service: Type.String({ minLength: 1, description: 'Name of the service in tcp.services.' }),
  },
  {
    additionalProperties: false,
    description: 'Passes a TLS connection through untouched (the backend terminates it with its own certificate) when its rule matches the ClientHello.',
  },
);

export const TcpServiceSchema = Type.Object(
  {
    loadBalancer: Type.Object(
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
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false, description: 'Where passed-through connections go.' },
);

export const TcpSchema = Type.Object(
  {
    routers: Type.Optional(NamedMap(TcpRouterSchema, 'Named TCP (SNI passthrough) routers.')),
    services: Type.Optional(NamedMap(TcpServiceSchema, 'Named TCP services.')),
  },
  { additionalProperties: false, description: 'SNI passthrough on TLS entry points.' },
);

export type EntryPointTlsConfig = Static<typeof EntryPointTlsSchema>;
export type EntryPointRedirectionConfig = Static<typeof EntryPointRedirectionSchema>;
export type TlsConfig = Static<typeof TlsSchema>;
export type TcpConfig = Static<typeof TcpSchema>;
export type TcpRouterConfig = Static<typeof TcpRouterSchema>;
export type TcpServiceConfig = Static<typeof TcpServiceSchema>;
