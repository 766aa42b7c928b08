/**
 * `forwardAuth`: before a request goes upstream, ask an auth service (Authelia, Authentik, oauth2-proxy) with a
 * GET carrying the client's headers and X-Forwarded-Method/-Proto/-Host/-Uri/-For, as Traefik does. A 2xx lets the
 * request through with `authResponseHeaders` copied onto it (any the client sent under those names are removed
 * first, so a client cannot pose as a logged-in user); any other answer (401, a 302 to a login page) goes back to
 * the client as it came. An auth service that cannot be reached fails closed: 502 and a log line.
 * `authResponseHeadersRegex` (Traefik's) does the same by pattern: matching request headers are removed, matching
 * answer headers copied; names are matched in Go's canonical form (`X-Auth-User`), so Traefik patterns carry over.
 */
import type { IncomingMessage } from 'node:http';
import type { request as Request } from 'undici';
import type { ForwardAuthConfig } from '../config/schema-middlewares.js';
import { MIDDLEWARE_DEFAULTS } from '../config/option-defaults.js';
import { parseDuration } from '../config/duration.js';
import type { RequestContext } from '../http/context.js';
import type { Wrapper } from '../http/middlewares.js';
import { HOP_BY_HOP, displayIp } from '../upstream/index.js';
import { isAcmeChallenge } from './acme-path.js';
import { compileRegex, middlewareConfigError } from './config-error.js';
import { removeRequestHeader, setRequestHeader } from './request-edits.js';

/** Largest auth-service body relayed to the client (a login page or a JSON error); longer ones are cut. */
export const MAX_AUTH_BODY_BYTES = 1024 * 1024;

const BAD_GATEWAY = Buffer.from('Bad Gateway\n');

/** Request headers never sent to the auth service: connection-scoped ones, the body's framing (no body goes). */
const NOT_SENT: ReadonlySet<string> = new Set([...HOP_BY_HOP, 'content-length', 'host']);

/** Build a forwardAuth; throws MIDDLEWARE_CONFIG when `address` is not an http(s) URL. */
export function createForwardAuth(spec: ForwardAuthConfig, path: string): Wrapper {
  let url: URL;
  try {
    url = new URL(spec.address);
  } catch (cause) {
    throw middlewareConfigError(`${path}/address`, `"${spec.address}" is not a URL`, cause);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw middlewareConfigError(`${path}/address`, `"${spec.address}" is not an http(s) URL`);
  const address = url.href;
  const timeoutMs = parseDuration(spec.timeout ?? MIDDLEWARE_DEFAULTS.forwardAuthTimeout);
  const only = spec.authRequestHeaders ? new Set(spec.authRequestHeaders.map((h) => h.toLowerCase())) : undefined;
  const copied = (spec.authResponseHeaders ?? []).map((h) => [h, h.toLowerCase()] as const);
  const trustHeader = spec.trustForwardHeader ?? false;
  const pattern = spec.authResponseHeadersRegex === undefined ? undefined : compileRegex(spec.authResponseHeadersRegex, `${path}/authResponseHeadersRegex`);
  // undici's index (its request() and global dispatcher) is loaded only by a config with a forwardAuth, from here: the
  // import has long settled when the first request arrives.
  const loading = import('undici').then((m) => m.request);
  loading.catch(() => undefined);

  const authHeaders = (req: IncomingMessage, ctx: RequestContext): string[] => {
    const trust = trustHeader && ctx.trustForwarded;
    const out: string[] = [];
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const lower = raw[i]!.toLowerCase();
      if (NOT_SENT.has(lower) || lower.startsWith('x-forwarded-')) continue;
      if (only !== undefined && !only.has(lower)) continue;
      out.push(raw[i]!, raw[i + 1]!);
    }
    const h = req.headers;
    const priorFor = trust ? h['x-forwarded-for'] : undefined;
    const ip = displayIp(ctx.clientIp);
    out.push('x-forwarded-for', priorFor ? `${String(priorFor)}, ${ip}` : ip);
    out.push('x-forwarded-method', (trust && (h['x-forwarded-method'] as string | undefined)) || ctx.method);
    out.push('x-forwarded-proto', (trust && (h['x-forwarded-proto'] as string | undefined)) || ctx.scheme);
    out.push('x-forwarded-host', (trust && (h['x-forwarded-host'] as string | undefined)) || ctx.rawHost);
    out.push('x-forwarded-uri', (trust && (h['x-forwarded-uri'] as string | undefined)) || (req.url ?? '/'));
    return out;
  };

  return (next) => async (req, res, ctx) => {
    if (isAcmeChallenge(ctx.method, ctx.path)) return next(req, res, ctx);
    let answer: Awaited<ReturnType<typeof Request>>;
    try {
      const request = await loading;
      answer = await request(address, {
        method: 'GET',
        headers: authHeaders(req, ctx),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
    } catch (err) {
      ctx.log.warn({ err, code: 'UPSTREAM_CONNECT', address, router: ctx.router }, 'forward auth failed');
      res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8', 'content-length': BAD_GATEWAY.length });
      res.end(BAD_GATEWAY);
      return;
    }
    const { statusCode, headers: authResHeaders, body } = answer;
    if (statusCode >= 200 && statusCode < 300) {
      body.dump().catch(() => undefined); // the body of a yes is not used; free the connection
      for (const [name, lower] of copied) {
        const v = authResHeaders[lower];
        if (v === undefined) setRequestHeader(req, ctx, name);
        else setRequestHeader(req, ctx, name, ...(Array.isArray(v) ? v : [v]));
      }
      if (pattern !== undefined) copyMatching(req, ctx, pattern, authResHeaders);
      return next(req, res, ctx);
    }
    let payload: Buffer;
    try {
      payload = await readCapped(body);
    } catch (err) {
      ctx.log.warn({ err, code: 'UPSTREAM_FAILED', address, router: ctx.router }, 'forward auth failed');
      res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8', 'content-length': BAD_GATEWAY.length });
      res.end(BAD_GATEWAY);
      return;
    }
    for (const [name, value] of Object.entries(authResHeaders)) {
      if (value === undefined || HOP_BY_HOP.has(name) || name === 'content-length') continue;
      res.setHeader(name, value);
    }
    res.setHeader('content-length', payload.length);
    res.writeHead(statusCode);
    res.end(payload);
  };
}

/** Traefik's regex step: strip the client's matching headers, then copy the auth answer's matching ones. */
function copyMatching(req: IncomingMessage, ctx: RequestContext, pattern: RegExp, answer: Record<string, string | string[] | undefined>): void {
  const raw = req.rawHeaders;
  const stale: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (pattern.test(canonicalName(raw[i]!))) stale.push(raw[i]!.toLowerCase());
  for (const lower of stale) removeRequestHeader(req, lower);
  for (const [lower, v] of Object.entries(answer)) {
    if (v === undefined || HOP_BY_HOP.has(lower) || lower === 'content-length') continue;
    const name = canonicalName(lower);
    if (pattern.test(name)) setRequestHeader(req, ctx, name, ...(Array.isArray(v) ? v : [v]));
  }
}

/** Go's textproto.CanonicalMIMEHeaderKey: upper case at the start and after each '-', lower case elsewhere. */
export function canonicalName(name: string): string {
  let out = '';
  let upper = true;
  for (let i = 0; i < name.length; i++) {
    const c = name[i]!;
    out += upper ? c.toUpperCase() : c.toLowerCase();
    upper = c === '-';
  }
  return out;
}

async function readCapped(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const room = MAX_AUTH_BODY_BYTES - size;
    chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
    size += Math.min(chunk.length, room);
    if (size >= MAX_AUTH_BODY_BYTES) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks, size);
}
