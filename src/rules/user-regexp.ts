/**
 * Regular expressions written in rules. Traefik users write Go (RE2) syntax; most of it means the same in
 * JavaScript. Two Go habits get special care: a leading `(?i)` becomes the `i` flag (JavaScript in Node 20
 * has no inline flags), and Traefik v2's `{name:pattern}` placeholders, which v3 dropped and which JavaScript
 * would silently read as literal text, are refused with a pointer to the fix.
 */
import { matcherError, type MatcherSite } from './compile.js';

const V2_PLACEHOLDER = /\{[A-Za-z_][A-Za-z0-9_]*:/;

/** Compiles one rule regexp once (never `g`/`y`, so `test` keeps no state between requests). */
export function compileUserRegExp(source: string, site: MatcherSite, options: { ignoreCase?: boolean } = {}): RegExp {
  let pattern = source;
  let flags = options.ignoreCase ? 'i' : '';
  if (pattern.startsWith('(?i)')) {
    pattern = pattern.slice(4);
    flags = 'i';
  }
  if (V2_PLACEHOLDER.test(pattern)) {
    throw matcherError(
      `invalid regular expression in ${site.name} at column ${site.column}: "{name:pattern}" placeholders ` +
        'are Traefik v2 syntax; write the pattern alone, e.g. {sub:[a-z]+} becomes [a-z]+',
      site,
    );
  }
  try {
    return new RegExp(pattern, flags);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw matcherError(`invalid regular expression in ${site.name} at column ${site.column}: ${reason}`, site);
  }
}

/**
 * Whether a pattern can only match at an edge of its subject. For those, a comma-joined header value has
 * to be tried element by element; an unanchored pattern that matches an element also matches the whole.
 */
export function isAnchored(re: RegExp): boolean {
  return re.source.includes('^') || re.source.includes('$');
}
