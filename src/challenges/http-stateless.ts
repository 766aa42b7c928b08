/**
 * Stateless http-01 (field note 002): several instances share one ACME account key, so any of them can answer any
 * token for the names that account orders, without knowing the token: the key authorization is
 * `token + "." + base64url(JWK thumbprint of the account key)` (RFC 8555 §8.1), and the thumbprint (RFC 7638) is
 * computed once per config from `accountKeyFile`. A key file that cannot be read or is not a usable key is found at
 * start (logged; that resolver then answers nothing statelessly, the rest of the chain still works); `check` does not
 * read it, since the key is a secret often mounted only where gatehouse runs. A stateless resolver with no
 * accountKeyFile at all is acme/wanted.ts's to report (`check` too): it disables the resolver's certificates.
 */
import { createHash, createPublicKey, type JsonWebKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Config } from '../config/index.js';
import { resolveConfigRelative } from '../config/paths.js';
import { GatehouseError } from '../errors.js';

/** What stateless mode answers with: the thumbprint by (lower case) name, and the problems that disabled a resolver. */
export interface StatelessAnswers {
  readonly thumbprints: ReadonlyMap<string, string>;
  readonly problems: readonly GatehouseError[];
}

/** The names of one certificate and the resolver that orders it (acme/wanted.ts's WantedCertificate fits). */
export interface ResolverNames {
  readonly resolver: string;
  readonly names: readonly string[];
}

/**
 * The stateless thumbprints of `config`: for every resolver with `stateless: true`, its account key's thumbprint for
 * each name in `wanted` that resolver orders. Reads the key files (once); never throws for a bad one.
 */
export function statelessAnswers(config: Config, configFile: string | undefined, wanted: readonly ResolverNames[]): StatelessAnswers {
  const thumbprints = new Map<string, string>();
  const problems: GatehouseError[] = [];
  for (const [resolver, spec] of Object.entries(config.certificateResolvers ?? {})) {
    if (spec.acme.stateless !== true) continue;
    if (spec.acme.accountKeyFile === undefined) continue;
    const thumbprint = resolverThumbprint(resolver, spec.acme.accountKeyFile, configFile);
    if (thumbprint instanceof GatehouseError) {
      problems.push(thumbprint);
      continue;
    }
    for (const w of wanted) {
      if (w.resolver !== resolver) continue;
      // Names come lower case. Two stateless resolvers naming one host: the first keeps it.
      for (const n of w.names) if (!thumbprints.has(n)) thumbprints.set(n, thumbprint);
    }
  }
  return { thumbprints, problems };
}

function resolverThumbprint(resolver: string, keyFile: string, configFile: string | undefined): string | GatehouseError {
  const path = `/certificateResolvers/${resolver}/acme`;
  const file = resolveConfigRelative(keyFile, configFile);
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (cause) {
    return new GatehouseError('ACME_CONFIG', `resolver "${resolver}": account key file ${file} cannot be read (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, {
      cause,
      location: { path: `${path}/accountKeyFile` },
    });
  }
  try {
    return jwkThumbprint(pem);
  } catch (cause) {
    // The message never quotes the file's content: it is a private key.
    return new GatehouseError('ACME_CONFIG', `resolver "${resolver}": account key file ${file} is not a usable PEM key (${(cause as Error).message})`, {
      cause,
      location: { path: `${path}/accountKeyFile` },
    });
  }
}

/**
 * RFC 7638 §3: the base64url SHA-256 of the JSON of the key's required public members, in lexicographic order and
 * without whitespace. `pem` may be the private or the public key. Throws for a key type ACME accounts cannot use.
 */
export function jwkThumbprint(pem: string): string {
  const jwk: JsonWebKey = createPublicKey(pem).export({ format: 'jwk' });
  let canonical: string;
  // RFC 7638 §3.2 lists the required members per key type; JSON.stringify of strings has no whitespace.
  if (jwk.kty === 'EC') canonical = `{"crv":${JSON.stringify(jwk.crv)},"kty":"EC","x":${JSON.stringify(jwk.x)},"y":${JSON.stringify(jwk.y)}}`;
  else if (jwk.kty === 'RSA') canonical = `{"e":${JSON.stringify(jwk.e)},"kty":"RSA","n":${JSON.stringify(jwk.n)}}`;
  else throw new Error(`key type ${String(jwk.kty)} is not an ACME account key type (EC or RSA)`);
  return createHash('sha256').update(canonical).digest('base64url');
}
