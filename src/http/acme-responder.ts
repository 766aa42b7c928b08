/**
 * The ACME http-01 responder: an entry hook, run before the HTTPS redirection and the routers, that answers
 * `GET /.well-known/acme-challenge/<token>` with the key authorization of a pending challenge (RFC 8555 §8.3).
 * A token this instance does not hold falls through to the routers (issue 6 routes those to backends or peers),
 * so a backend with its own ACME client keeps working behind gatehouse.
 */
import type { ChallengeRegistry } from '../challenges/index.js';
import { ACME_CHALLENGE_PREFIX } from '../middlewares/acme-path.js';
import type { EntryHook } from './dispatch.js';

/** RFC 8555 §8.1: a token has at least 128 bits of entropy in base64url; CAs send 43 characters. 256 is generous. */
const TOKEN = /^[A-Za-z0-9_-]{16,256}$/;

/** A hook answering pending http-01 tokens from `registry`, GET and HEAD only; every other request passes on. */
export function createAcmeResponder(registry: ChallengeRegistry): EntryHook {
  return (_req, res, ctx) => {
    if (!ctx.path.startsWith(ACME_CHALLENGE_PREFIX)) return false;
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return false;
    const token = ctx.path.slice(ACME_CHALLENGE_PREFIX.length);
    if (!TOKEN.test(token)) return false;
    const answer = registry.httpKeyAuthorization(token);
    if (answer === undefined) return false;
    // The CA compares the body to the key authorization, trailing whitespace allowed (RFC 8555 §8.3); send it bare.
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': Buffer.byteLength(answer), 'cache-control': 'no-store' });
    res.end(ctx.method === 'HEAD' ? undefined : answer);
    ctx.log.info({ token, host: ctx.host, clientIp: ctx.clientIp }, 'acme challenge answered');
    return true;
  };
}

/** Runs `first`, then `second` when `first` passed the request on. */
export function chainHooks(first: EntryHook | undefined, second: EntryHook | undefined): EntryHook | undefined {
  if (first === undefined) return second;
  if (second === undefined) return first;
  return (req, res, ctx) => first(req, res, ctx) || second(req, res, ctx);
}
