/**
 * Route priority when a router sets none. Traefik uses the rule's length, so longer (usually more
 * specific) rules are tried first; Go's len() counts UTF-8 bytes, and so do we, so a non-ASCII rule gets
 * the same priority it had in Traefik.
 */

/** Traefik's default priority: the rule's length in UTF-8 bytes (equal to its character count for ASCII). */
export function defaultPriority(rule: string): number {
  return Buffer.byteLength(rule, 'utf8');
}
