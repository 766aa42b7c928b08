/**
 * How a middleware reports options it cannot compile: a GatehouseError with code MIDDLEWARE_CONFIG and the JSON path
 * of the offending field, which the router table turns into "router X disabled" (STYLE 6).
 */
import { GatehouseError } from '../errors.js';

/** A MIDDLEWARE_CONFIG error at `path` (e.g. `/http/middlewares/admin/ipAllowList/sourceRange/2`). */
export function middlewareConfigError(path: string, message: string, cause?: unknown): GatehouseError {
  return new GatehouseError('MIDDLEWARE_CONFIG', message, { location: { path }, cause });
}

/**
 * Compile a user's regular expression once. Traefik's are Go RE2: the common syntax is the same in JavaScript,
 * and a Go-only construct (`(?P<name>`) is translated; anything else that does not compile is a config error.
 */
export function compileRegex(source: string, path: string, flags = ''): RegExp {
  try {
    return new RegExp(source.replace(/\(\?P</g, '(?<'), flags);
  } catch (cause) {
    throw middlewareConfigError(path, `invalid regular expression ${JSON.stringify(source)}: ${(cause as Error).message}`, cause);
  }
}

/** Go's replacement syntax (`$1`, `${1}`, `${name}`) in JavaScript's (`$1`, `$<name>`); `$$` stays a literal `$`. */
export function goReplacement(replacement: string): string {
  return replacement.replace(/\$\$|\$\{([^}]*)\}/g, (all, name: string | undefined) => {
    if (name === undefined) return all;
    return /^[0-9]+$/.test(name) ? `$${name}` : `$<${name}>`;
  });
}
