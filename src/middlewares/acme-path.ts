/**
 * The ACME http-01 challenge path. A CA fetches `/.well-known/acme-challenge/<token>` over plain HTTP
 * (RFC 8555 §8.3) and neither logs in nor follows a redirect to another scheme reliably, so auth middlewares let
 * it through and redirect middlewares leave it alone (the failure Traefik issue 7825 describes).
 */

/** The path prefix of every http-01 challenge (RFC 8555 §8.3). */
export const ACME_CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

/** True for a path under the http-01 challenge prefix, whatever the method. Redirect middlewares use it. */
export function isAcmeChallengePath(path: string): boolean {
  return path.startsWith(ACME_CHALLENGE_PREFIX);
}

/**
 * True for a CA's challenge fetch: GET or HEAD of a challenge path. Auth middlewares skip these; other methods
 * on that path still need credentials, since a CA only ever reads the token.
 */
export function isAcmeChallenge(method: string, path: string): boolean {
  return (method === 'GET' || method === 'HEAD') && path.startsWith(ACME_CHALLENGE_PREFIX);
}
