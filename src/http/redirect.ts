/**
 * The built-in `redirect` handler. The location template (`https://{host}{uri}`) is split into literal parts and
 * placeholders once, at config load; a request only concatenates.
 */
import type { RedirectConfig } from '../config/index.js';
import { DEFAULTS } from '../config/index.js';
import type { Handler } from './contract.js';
import type { RequestContext } from './context.js';
import { pathToWire } from './request-path.js';

type Part = string | ((ctx: RequestContext) => string);

const PLACEHOLDERS: Record<string, (ctx: RequestContext) => string> = {
  scheme: (ctx) => ctx.scheme,
  host: (ctx) => ctx.host,
  port: (ctx) => ctx.hostPort,
  // ctx.path is the routing form (non-reserved encodings decoded): a Location gets it encoded again.
  path: (ctx) => pathToWire(ctx.path),
  query: (ctx) => (ctx.query === '' ? '' : `?${ctx.query}`),
  uri: (ctx) => (ctx.query === '' ? pathToWire(ctx.path) : `${pathToWire(ctx.path)}?${ctx.query}`),
};

/** Names the location template may use, for error messages and docs. */
export const REDIRECT_PLACEHOLDERS = Object.keys(PLACEHOLDERS);

/** Compile a location template; throws a RangeError naming an unknown placeholder. */
export function compileLocation(template: string): (ctx: RequestContext) => string {
  const parts: Part[] = [];
  const re = /\{([a-zA-Z]+)\}/g;
  let last = 0;
  for (let m = re.exec(template); m; m = re.exec(template)) {
    const fn = PLACEHOLDERS[m[1]!];
    if (!fn) throw new RangeError(`unknown placeholder {${m[1]}} in redirect location; known: ${REDIRECT_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}`);
    if (m.index > last) parts.push(template.slice(last, m.index));
    parts.push(fn);
    last = m.index + m[0].length;
  }
  if (last < template.length) parts.push(template.slice(last));
  if (parts.length === 1 && typeof parts[0] === 'string') {
    const fixed = parts[0];
    return () => fixed;
  }
  return (ctx) => {
    let out = '';
    for (const p of parts) out += typeof p === 'string' ? p : p(ctx);
    return out;
  };
}

/** A handler answering every request with a redirect to the compiled location. */
export function createRedirectHandler(spec: RedirectConfig): Handler {
  const status = spec.status ?? DEFAULTS.redirectStatus;
  const location = compileLocation(spec.location);
  return (_req, res, ctx) => {
    const target = location(ctx);
    const body = `${status === 301 || status === 308 ? 'Moved Permanently' : 'Found'}: ${target}\n`;
    res.writeHead(status, {
      location: target,
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  };
}
