/**
 * CORS for the `headers` middleware (Fetch standard, "CORS protocol"): a preflight (OPTIONS with Origin and
 * Access-Control-Request-Method) is answered here with 200 and never reaches the upstream; other requests from an
 * allowed origin get Access-Control-Allow-Origin (and friends) on their response.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HeadersConfig } from '../config/schema-middlewares.js';
import { beforeWriteHead } from './response-hook.js';

/** A compiled CORS policy. `handle` answers a preflight itself (true) or arranges the response headers (false). */
export interface CorsPolicy {
  handle(req: IncomingMessage, res: ServerResponse): boolean;
}

interface ActualEdits {
  origin: string;
  credentials: boolean;
  expose: string | undefined;
  vary: boolean;
}

const addActual = (res: ServerResponse, e: ActualEdits): void => {
  res.setHeader('Access-Control-Allow-Origin', e.origin);
  if (e.credentials) res.setHeader('Access-Control-Allow-Credentials', 'true');
  if (e.expose !== undefined) res.setHeader('Access-Control-Expose-Headers', e.expose);
  if (e.vary) appendVary(res, 'Origin');
};

/** Add `token` to the response's Vary unless it is there (RFC 9110 §12.5.5). */
export function appendVary(res: ServerResponse, token: string): void {
  const current = res.getHeader('vary');
  if (current === undefined) {
    res.setHeader('Vary', token);
    return;
  }
  const text = Array.isArray(current) ? current.join(', ') : String(current);
  if (text.split(',').some((t) => t.trim().toLowerCase() === token.toLowerCase() || t.trim() === '*')) return;
  res.setHeader('Vary', `${text}, ${token}`);
}

/** Compile the CORS part of a headers config; undefined when no origin is allowed. */
export function compileCors(spec: HeadersConfig): CorsPolicy | undefined {
  const origins = spec.accessControlAllowOriginList;
  if (origins === undefined || origins.length === 0) return undefined;
  const any = origins.includes('*');
  const allowed = new Set(origins);
  const credentials = spec.accessControlAllowCredentials ?? false;
  const methods = spec.accessControlAllowMethods?.join(', ');
  const allowHeaders = spec.accessControlAllowHeaders?.join(', ');
  const expose = spec.accessControlExposeHeaders?.join(', ');
  const maxAge = spec.accessControlMaxAge === undefined ? undefined : String(spec.accessControlMaxAge);
  // `*` with credentials is refused by browsers, so the origin is echoed instead (and the answer varies by it).
  const echo = !any || credentials;

  return {
    handle(req, res) {
      const origin = req.headers.origin;
      if (origin === undefined || (!any && !allowed.has(origin))) return false;
      const allowOrigin = echo ? origin : '*';
      if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
        const h: Record<string, string> = { 'access-control-allow-origin': allowOrigin, 'content-length': '0' };
        if (echo) h['vary'] = 'Origin';
        if (credentials) h['access-control-allow-credentials'] = 'true';
        if (methods !== undefined) h['access-control-allow-methods'] = methods;
        if (allowHeaders !== undefined) h['access-control-allow-headers'] = allowHeaders;
        if (maxAge !== undefined) h['access-control-max-age'] = maxAge;
        res.writeHead(200, h);
        res.end();
        return true;
      }
      beforeWriteHead(res, addActual, { origin: allowOrigin, credentials, expose, vary: echo });
      return false;
    },
  };
}
