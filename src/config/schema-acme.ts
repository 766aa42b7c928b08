/**
 * The config's ACME part: `certificateResolvers`, named as in Traefik, each one CA account that obtains and renews
 * the certificates of the routers naming it in `tls.certResolver`. Part of the single schema source (schema.ts
 * composes it); the manager in src/acme/ reads these types.
 */
import { Type, type Static } from '@sinclair/typebox';
import { DEFAULTS } from './defaults.js';
import { Duration, Name } from './schema-common.js';


/** The challenge types gatehouse can answer: tls-alpn-01 and http-01 itself, dns-01 through a DNS provider (dnsChallenge). */
export const ChallengeTypeSchema = Type.Union([Type.Literal('tls-alpn-01'), Type.Literal('http-01'), Type.Literal('dns-01')]);

/** A DNS server as `host`, `host:port`, `[v6]:port` (port 53 when left out). */
const DnsServer = Type.String({ minLength: 1, examples: ['192.168.1.53', '127.0.0.1:5353', '[2001:db8::53]:53'] });

/** A secret given inline (through a ${VAR}) or as a file; one of the two. */
const secretDescription = (what: string) =>
  `${what}. Put it in through a \${VAR} (substituted at load), never literally in a file you share; it is never logged and is redacted from errors, explain and status.`;

/** `dnsChallenge.rfc2136`: RFC 2136 dynamic update signed with TSIG (RFC 8945). */
export const Rfc2136Schema = Type.Object(
  {
    nameserver: Type.String({
      minLength: 1,
      description: "The primary server that accepts updates, `host[:port]` (lego's RFC2136_NAMESERVER). The update's zone is found from SOA look-ups.",
      examples: ['192.168.1.53', '127.0.0.1:5353'],
    }),
    tsigKey: Type.Optional(Type.String({ minLength: 1, description: "TSIG key name, as in the server's `key \"NAME\"` (lego's RFC2136_TSIG_KEY). Without it, updates are unsigned (a server allowing updates by address)." })),
    tsigAlgorithm: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          "TSIG algorithm: hmac-sha256, hmac-sha384, hmac-sha512, hmac-sha224 or hmac-sha1 (lego's RFC2136_TSIG_ALGORITHM; a trailing dot is accepted; hmac-md5 is not offered). Checked when the certificate is set up, so a ${VAR} may give it.",
        default: 'hmac-sha256',
      }),
    ),
    tsigSecret: Type.Optional(Type.String({ minLength: 1, description: secretDescription("The TSIG key's base64 secret (lego's RFC2136_TSIG_SECRET)") })),
    tsigSecretFile: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          "A file holding the TSIG secret: the base64 secret alone, or a BIND key file (`key \"NAME\" { algorithm ...; secret \"...\"; };`, as tsig-keygen writes), whose name and algorithm then apply unless set here. Relative to the config file's directory.",
      }),
    ),
  },
  { additionalProperties: false, description: 'RFC 2136 dynamic update with TSIG: BIND, Knot, PowerDNS, Technitium and most self-hosted servers.' },
);

/** `dnsChallenge.exec`: lego's exec provider contract. */
export const ExecProviderSchema = Type.Object(
  {
    path: Type.String({
      minLength: 1,
      description:
        "The program to run, as lego's EXEC_PATH: `PATH present <fqdn> <value>` before validation and `PATH cleanup <fqdn> <value>` after (fqdn with a trailing dot: `_acme-challenge.example.com.`); exit 0 means done. Relative to the config file's directory.",
    }),
    mode: Type.Optional(
      Type.Literal('RAW', {
        description: "lego's EXEC_MODE=RAW: the program gets `present|cleanup -- <domain.> <token> <keyAuthorization>` and computes the TXT value itself.",
      }),
    ),
    timeout: Type.Optional(Duration('Time one run of the program has; past it, it is killed and the attempt fails.', DEFAULTS.dnsExecTimeout)),
  },
  { additionalProperties: false, description: "Runs your program to add and remove the TXT record (lego's exec provider), for any DNS service without a built-in provider." },
);

/** `dnsChallenge.cloudflare`: the Cloudflare API with a scoped token. */
export const CloudflareSchema = Type.Object(
  {
    apiToken: Type.Optional(
      Type.String({
        minLength: 1,
        description: secretDescription("A Cloudflare API token scoped to Zone:Read and DNS:Edit for the zone (lego's CF_DNS_API_TOKEN; global API keys are not accepted)"),
      }),
    ),
    apiTokenFile: Type.Optional(Type.String({ minLength: 1, description: "A file holding the API token. Relative to the config file's directory." })),
    zoneId: Type.Optional(Type.String({ minLength: 1, description: 'The zone id; without it, the zone is looked up by its name (needs Zone:Read).' })),
  },
  { additionalProperties: false, description: 'Cloudflare DNS through its API (v4) with a scoped API token.' },
);

/** `certificateResolvers.NAME.acme.dnsChallenge`: dns-01 (RFC 8555 §8.4), Traefik's name and shape. */
export const DnsChallengeSchema = Type.Object(
  {
    provider: Type.Union([Type.Literal('rfc2136'), Type.Literal('exec'), Type.Literal('cloudflare')], {
      description: 'Who writes the TXT record `_acme-challenge.<name>`: its settings are in the object of the same name.',
    }),
    resolvers: Type.Optional(
      Type.Array(DnsServer, {
        minItems: 1,
        description:
          "DNS servers used to find the name's zone (SOA look-ups, following a CNAME on `_acme-challenge.<name>`) and its authoritative servers (Traefik's option). Default: the system's resolvers.",
      }),
    ),
    propagation: Type.Optional(
      Type.Object(
        {
          delayBeforeChecks: Type.Optional(Duration('Wait this long after writing the record before the first check (Traefik\'s option).', '0')),
          timeout: Type.Optional(
            Duration(
              "How long the record may take to appear at every authoritative server; then the attempt fails naming the server that did not have it (and is retried with backoff).",
              DEFAULTS.dnsPropagationTimeout,
            ),
          ),
          interval: Type.Optional(Duration('Time between two checks.', DEFAULTS.dnsPropagationInterval)),
          disableChecks: Type.Optional(Type.Boolean({ description: "Tell the CA at once (after delayBeforeChecks) without looking the record up (Traefik's option; not recommended).", default: false })),
          nameservers: Type.Optional(
            Type.Array(DnsServer, {
              minItems: 1,
              description:
                "Check at these servers instead of the zone's NS records: for a zone whose NS names do not resolve from here, or servers on another port. Each must answer authoritatively for the zone.",
            }),
          ),
        },
        { additionalProperties: false, description: "Before the CA is told, the TXT record is looked up at the zone's authoritative servers (not a cache) until every one has it." },
      ),
    ),
    ttl: Type.Optional(Type.Integer({ minimum: 1, maximum: 86400, description: 'TTL of the TXT record, seconds.', default: DEFAULTS.dnsTtl })),
    rfc2136: Type.Optional(Rfc2136Schema),
    exec: Type.Optional(ExecProviderSchema),
    cloudflare: Type.Optional(CloudflareSchema),
  },
  {
    additionalProperties: false,
    description:
      'dns-01: prove control of a name by a TXT record at `_acme-challenge.<name>`. The only challenge a CA accepts for wildcard names (`*.home.example.com`), and it works for names the internet cannot reach. With dnsChallenge and no `challenges`, dns-01 is the only challenge.',
  },
);

/** `certificateResolvers.NAME.acme`: which CA, which account, which key and challenges. */
export const AcmeResolverSchema = Type.Object(
  {
    caServer: Type.String({
      minLength: 1,
      description:
        "The CA: 'letsencrypt', 'letsencrypt-staging', or the https URL of any ACME directory (RFC 8555 §7.1.1). Point test environments at staging through a ${VAR}: production limits duplicate certificates per week.",
      default: 'letsencrypt',
      examples: ['letsencrypt', 'letsencrypt-staging', 'https://127.0.0.1:14000/dir'],
    }),
    email: Type.String({ minLength: 3, description: 'Contact address of the account; the CA writes to it about expiring certificates and policy changes.' }),
    eab: Type.Optional(
      Type.Object(
        {
          kid: Type.String({ minLength: 1, description: 'Key identifier the CA gave you.' }),
          hmacKey: Type.String({ minLength: 1, description: 'Base64url HMAC key the CA gave you.' }),
        },
        { additionalProperties: false, description: 'External Account Binding (RFC 8555 §7.3.4), for CAs that require one (ZeroSSL, some private CAs).' },
      ),
    ),
    caBundle: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          "PEM file of extra CA certificates to trust for the CA's own HTTPS API (a private CA such as Pebble or step-ca), on top of the system roots. Relative to the config file's directory.",
      }),
    ),
    accountKeyFile: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          "Import this PEM account key instead of generating one, so several instances share one account. Copied into the state directory on first use. Relative to the config file's directory.",
      }),
    ),
    keyType: Type.Optional(
      Type.Union([Type.Literal('EC256'), Type.Literal('RSA2048'), Type.Literal('RSA4096')], {
        description: 'Key type of the certificates (the account key is always P-256).',
        default: 'EC256',
      }),
    ),
    stateless: Type.Optional(
      Type.Boolean({
        description:
          "Answer http-01 for this resolver's names statelessly: `token.` + the RFC 7638 thumbprint of the account key, without a per-token record. Needs accountKeyFile (the same key on every instance), so any instance behind round-robin DNS answers any instance's challenge. Other tokens still go to backends and peers.",
        default: false,
      }),
    ),
    rehearsal: Type.Optional(
      Type.Object(
        {
          afterFailures: Type.Optional(
            Type.Integer({ minimum: 1, description: 'Consecutive failed orders of a certificate after which each further attempt is rehearsed first.', default: 3 }),
          ),
          caServer: Type.Optional(
            Type.String({ minLength: 1, description: "The staging CA: 'letsencrypt-staging' or a directory URL.", default: 'letsencrypt-staging' }),
          ),
        },
        {
          additionalProperties: false,
          description:
            "After repeated failures against this (production) CA, order the same names from a staging CA first and ask production only when staging succeeded: a broken DNS record or port forward then keeps failing on staging, whose limits are generous, instead of using up production's (Let's Encrypt: 5 failed validations per account, name and hour). The staging certificate is thrown away.",
        },
      ),
    ),
    challenges: Type.Optional(
      Type.Array(ChallengeTypeSchema, {
        minItems: 1,
        uniqueItems: true,
        description:
          "Challenge types to use, in order of preference. tls-alpn-01 is answered on the TLS entry points (port 443 for a public CA), http-01 on every plain HTTP entry point (port 80), dns-01 by dnsChallenge's provider (required for it). Default: ['tls-alpn-01', 'http-01'], or ['dns-01'] with dnsChallenge.",
        default: ['tls-alpn-01', 'http-01'],
      }),
    ),
    dnsChallenge: Type.Optional(DnsChallengeSchema),
  },
  { additionalProperties: false, description: 'An ACME account at one CA, obtaining certificates by tls-alpn-01, http-01 or dns-01.' },
);

/** `certificateResolvers.NAME`. */
export const CertificateResolverSchema = Type.Object(
  { acme: AcmeResolverSchema },
  { additionalProperties: false, description: 'Obtains and renews certificates for the routers that name it in tls.certResolver.' },
);

/** `certificateResolvers`: named resolvers. */
export const CertificateResolversSchema = Type.Record(Name, CertificateResolverSchema, {
  additionalProperties: false,
  description: 'Named certificate resolvers (ACME accounts), as in Traefik.',
});

/** A router's `tls.domains` entry: one certificate's names. */
export const TlsDomainSchema = Type.Object(
  {
    main: Type.String({ minLength: 1, description: 'The main name (first SAN) of the certificate.' }),
    sans: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'More names on the same certificate.' })),
  },
  { additionalProperties: false, description: 'One certificate: a main name and more SANs.' },
);

/** `challenges`: who answers the ACME challenges gatehouse does not hold itself (several instances, backends). */
export const ChallengesSchema = Type.Object(
  {
    peers: Type.Optional(
      Type.Object(
        {
          addresses: Type.Array(Type.String({ minLength: 1 }), {
            minItems: 1,
            uniqueItems: true,
            description:
              'Addresses (IP or host name, no port) of every instance behind the same DNS name, this one included (it is skipped). An http-01 token nobody here holds is asked of each in turn; an acme-tls/1 handshake with no pending challenge here is relayed to the peer that holds it.',
            examples: [['10.0.0.2', '10.0.0.3', '10.0.0.4']],
          }),
          httpPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: "Peers' plain HTTP port (where the CA sends http-01).", default: 80 })),
          tlsPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: "Peers' TLS port (where the CA sends tls-alpn-01).", default: 443 })),
          timeout: Type.Optional(
            Duration("Time one peer has to answer; then the next is asked. Keep it well under the CA's 15 s per validation request.", DEFAULTS.peerTimeout),
          ),
        },
        { additionalProperties: false, description: 'Other gatehouse instances that may hold a challenge (round-robin DNS, field note 004).' },
      ),
    ),
  },
  { additionalProperties: false, description: 'ACME challenges this instance does not hold itself: asked of peers (a router whose service is a backend forwards them to that backend first, see routers.NAME.acmeChallenges).' },
);

/** `storage`: where accounts, certificates, pending challenges and locks live. */
export const StorageSchema = Type.Object(
  {
    redis: Type.Optional(
      Type.Object(
        {
          url: Type.String({
            minLength: 1,
            description: 'redis://host:port/db, or rediss:// for TLS. Put credentials in `password` (through a ${VAR}), not here.',
            examples: ['redis://127.0.0.1:6379/0', 'rediss://redis.lan:6380'],
          }),
          username: Type.Optional(Type.String({ minLength: 1, description: 'ACL user name (Redis 6+).' })),
          password: Type.Optional(Type.String({ minLength: 1, description: 'Password (AUTH). Use ${VAR}; it is never logged.' })),
          caFile: Type.Optional(Type.String({ minLength: 1, description: "PEM file of CA certificates that sign the Redis server's certificate (rediss://), on top of the system roots. Relative to the config file's directory." })),
          keyPrefix: Type.Optional(Type.String({ minLength: 1, description: 'Prefix of every key gatehouse writes.', default: DEFAULTS.redisKeyPrefix })),
          lockTtl: Type.Optional(Duration('How long a certificate lock is held before another instance may take it (covers a crashed holder); renewed while the order runs.', DEFAULTS.lockTtl)),
        },
        { additionalProperties: false, description: 'Keep the ACME state in Redis, shared by every instance: one order per name, the same certificate everywhere, every challenge answerable by every instance.' },
      ),
    ),
  },
  { additionalProperties: false, description: 'Where the ACME state lives: the state directory (default; also fine on a shared mount) or Redis.' },
);

export type ChallengesConfig = Static<typeof ChallengesSchema>;
export type StorageConfig = Static<typeof StorageSchema>;
export type AcmeResolverConfig = Static<typeof AcmeResolverSchema>;
export type CertificateResolversConfig = Static<typeof CertificateResolversSchema>;
export type TlsDomainConfig = Static<typeof TlsDomainSchema>;
export type ChallengeType = Static<typeof ChallengeTypeSchema>;
export type DnsChallengeConfig = Static<typeof DnsChallengeSchema>;
