/**
 * `redirectScheme` and `redirectRegex`: answer with a redirect instead of forwarding. Permanent ones are 301 for
 * GET/HEAD and 308 otherwise, temporary ones 302 / 307, so a POST is never turned into a GET (RFC 9110 §15.4).
 * Neither touches `/.well-known/acme-challenge/`: a CA fetching an http-01 token must reach it where it asked
 * (Traefik issue 7825).
 */
import type { ServerResponse } from 'node:http';
import type { RedirectRegexConfig, RedirectSchemeConfig } from '../config/schema-middlewares.js';
import type { Wrapper } from '../http/middlewares.js';
import { isAcmeChallengePath } from './acme-path.js';
import { compileRegex, goReplacement } from './config-error.js';

const DEFAULT_PORT: Readonly<Record<string, string>> = { http: '80', https: '443' };

/** The redirect status for a method: permanent → 301/308, temporary → 302/307. */
export function redirectStatus(method: string, permanent: boolean): number {
  const safe = method === 'GET' || method === 'HEAD';
  return permanent ? (safe ? 301 : 308) : safe ? 302 : 307;
}

function sendRedirect(res: ServerResponse, status: number, location: string): void {
  res.writeHead(status, { location, 'content-length': 0 });
  res.end();
}

/** Build a redirectScheme. A request already on the target scheme (and port, when one is set) passes. */
export function createRedirectScheme(spec: RedirectSchemeConfig, _path: string): Wrapper {
  const scheme = spec.scheme.toLowerCase();
  const port = spec.port === undefined || spec.port === DEFAULT_PORT[scheme] ? '' : `:${spec.port}`;
  const permanent = spec.permanent ?? false;
  return (next) => (req, res, ctx) => {
    if (isAcmeChallengePath(ctx.path)) return next(req, res, ctx);
    if (ctx.scheme === scheme && (spec.port === undefined || ctx.hostPort === spec.port || (ctx.hostPort === '' && port === ''))) {
      return next(req, res, ctx);
    }
    sendRedirect(res, redirectStatus(ctx.method, permanent), `${scheme}://${ctx.host}${port}${req.url ?? '/'}`);
  };
}

/** Build a redirectRegex over `scheme://host[:port]/path?query`; throws MIDDLEWARE_CONFIG for a bad regex. */
export function createRedirectRegex(spec: RedirectRegexConfig, path: string): Wrapper {
  const test = compileRegex(spec.regex, `${path}/regex`);
  const all = new RegExp(test.source, 'g');
  const replacement = goReplacement(spec.replacement);
  const permanent = spec.permanent ?? false;
  return (next) => (req, res, ctx) => {
    if (isAcmeChallengePath(ctx.path)) return next(req, res, ctx);
    const url = `${ctx.scheme}://${ctx.rawHost}${req.url ?? '/'}`;
    if (!test.test(url)) return next(req, res, ctx);
    sendRedirect(res, redirectStatus(ctx.method, permanent), url.replace(all, replacement));
  };
}
