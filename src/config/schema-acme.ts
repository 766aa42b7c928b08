/**
 * The config's ACME part: `certificateResolvers`, named as in Traefik, each one CA account that obtains and renews
 * the certificates of the routers naming it in `tls.certResolver`. Part of the single schema source (schema.ts
 * composes it); the manager in src/acme/ reads these types.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Name } from './schema-common.js';


/** The challenge types gatehouse can answer itself (dns-01 needs DNS credentials and is not offered). */
export const ChallengeTypeSchema = Type.Union([Type.Literal('tls-alpn-01'), Type.Literal('http-01')]);

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
    challenges: Type.Optional(
      Type.Array(ChallengeTypeSchema, {
        minItems: 1,
        uniqueItems: true,
        description:
          'Challenge types to use, in order of preference. tls-alpn-01 is answered on the TLS entry points (port 443 for a public CA), http-01 on every plain HTTP entry point (port 80).',
        default: ['tls-alpn-01', 'http-01'],
      }),
    ),
  },
  { additionalProperties: false, description: 'An ACME account at one CA, obtaining certificates by tls-alpn-01 or http-01.' },
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

export type AcmeResolverConfig = Static<typeof AcmeResolverSchema>;
export type CertificateResolversConfig = Static<typeof CertificateResolversSchema>;
export type TlsDomainConfig = Static<typeof TlsDomainSchema>;
export type ChallengeType = Static<typeof ChallengeTypeSchema>;
