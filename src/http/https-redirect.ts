/**
 * The entry point redirection of plain HTTP to HTTPS (`entryPoints.NAME.http.redirections.entryPoint`), run before
 * the routers. ACME http-01 challenges are never redirected: the CA fetches them over plain HTTP, and a redirect
 * would make the validation depend on a certificate that does not exist yet (RFC 8555 §8.3; Traefik issue 7825).
 */
import { isAcmeChallengePath } from '../middlewares/acme-path.js';
import type { EntryHook } from './dispatch.js';
import { pathToWire } from './request-path.js';

const BAD_HOST = Buffer.from('Bad Request: no Host header to redirect to\n');

/** Options of the redirection; `port` is read per request because a port-0 entry point learns it at bind time. */
export interface HttpsRedirectOptions {
  readonly permanent: boolean;
  readonly port: () => number | undefined;
}

/** A hook answering every request but ACME challenges with a redirect to the same URL over HTTPS. */
export function createHttpsRedirect(options: HttpsRedirectOptions): EntryHook {
  return (_req, res, ctx) => {
    if (isAcmeChallengePath(ctx.path)) return false;
    if (ctx.host === '') {
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', 'content-length': BAD_HOST.length });
      res.end(BAD_HOST);
      return true;
    }
    const port = options.port();
    const authority = port === undefined || port === 443 ? ctx.host : `${ctx.host}:${port}`;
    const location = `https://${authority}${pathToWire(ctx.path)}${ctx.query === '' ? '' : `?${ctx.query}`}`;
    // 301/302 let clients turn a POST into a GET; 308/307 keep the method and body (RFC 9110 §15.4).
    const safe = ctx.method === 'GET' || ctx.method === 'HEAD';
    const status = options.permanent ? (safe ? 301 : 308) : safe ? 302 : 307;
    res.writeHead(status, { location, 'content-length': 0 });
    res.end();
    return true;
  };
}
