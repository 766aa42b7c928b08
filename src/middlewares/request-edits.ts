/**
 * Edits of the request on its way upstream. The forwarder builds the upstream request from `req.url` and
 * `req.rawHeaders`, so a middleware changes those (and keeps `req.headers` and `ctx.path` in step for the
 * middlewares after it). Only the requests a middleware actually rewrites pay for it.
 */
import type { IncomingMessage } from 'node:http';
import type { RequestContext } from '../http/context.js';
import { pathToWire } from '../http/request-path.js';

/** Headers about earlier hops; the forwarder drops them from untrusted clients (see sanitizeForwarded). */
function isForwardedName(lower: string): boolean {
  return lower.startsWith('x-forwarded-') || lower === 'x-real-ip' || lower === 'forwarded';
}

/**
 * Remove every line of header `lower` (a lower-case name) from the request. Returns whether one was there.
 * Filters in place: `rawHeaders` is the request's own array, built per request by Node.
 */
export function removeRequestHeader(req: IncomingMessage, lower: string): boolean {
  const raw = req.rawHeaders;
  let w = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === lower.length && name.toLowerCase() === lower) continue;
    raw[w++] = name;
    raw[w++] = raw[i + 1]!;
  }
  const found = w !== raw.length;
  raw.length = w;
  if (req.headers[lower] !== undefined) delete req.headers[lower];
  return found;
}

/**
 * Set header `name` on the request (replacing all its lines); values may repeat it. An X-Forwarded-* header set
 * by gatehouse must reach the upstream even from an untrusted client, whose own X-Forwarded-* the forwarder would
 * drop together with ours: so the client's are removed here first and the request is then marked as carrying only
 * trustworthy forwarded headers (the forwarder appends to nothing and sets the rest itself).
 */
export function setRequestHeader(req: IncomingMessage, ctx: RequestContext, name: string, ...values: string[]): void {
  const lower = name.toLowerCase();
  if (!ctx.trustForwarded && isForwardedName(lower)) sanitizeForwarded(req, ctx);
  removeRequestHeader(req, lower);
  for (const v of values) req.rawHeaders.push(name, v);
  if (values.length > 0) (req.headers as Record<string, string | string[]>)[lower] = values.length === 1 ? values[0]! : values;
}

/** Drop an untrusted client's forwarded headers now (the forwarder would have) and let ours through from here on. */
function sanitizeForwarded(req: IncomingMessage, ctx: RequestContext): void {
  const raw = req.rawHeaders;
  let w = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (isForwardedName(lower)) {
      delete req.headers[lower];
      continue;
    }
    raw[w++] = raw[i]!;
    raw[w++] = raw[i + 1]!;
  }
  raw.length = w;
  ctx.trustForwarded = true;
}

/**
 * Replace the request path (query kept): `path` in routing form (as `ctx.path` holds it: non-reserved encodings
 * decoded) goes into `ctx.path` for later middlewares and, encoded again, into `req.url` for the forwarder.
 */
export function setRequestPath(req: IncomingMessage, ctx: RequestContext, path: string): void {
  const wire = pathToWire(path);
  req.url = ctx.query === '' ? wire : `${wire}?${ctx.query}`;
  (ctx as { path: string }).path = path;
}

/** `p` with a leading slash (a stripped path can become '' or 'bar'). */
export function ensureLeadingSlash(p: string): string {
  return p.charCodeAt(0) === 47 /* / */ ? p : `/${p}`;
}
