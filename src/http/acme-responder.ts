/**
 * Who answers `/.well-known/acme-challenge/<token>` (RFC 8555 §8.3; issue 6): an entry hook on every plain HTTP
 * entry point, run before the HTTPS redirection, the routers and their middlewares. Every request on that path is
 * decided here, in this order:
 *   1. not GET or HEAD → 405; a token that is not base64url of sane length → 404 (neither is forwarded);
 *   2. a token this instance (or, with a shared store, any instance) is validating → its key authorization;
 *   3. a name a stateless resolver orders → `token.thumbprint` of the shared account key (field note 002);
 *   4. a router matches and its service is a backend → that service, without the router's middlewares (a CA cannot
 *      log in; field notes 000 and 001), unless the router says `acmeChallenges: 'off'` or gatehouse orders the
 *      name itself (then the token is gatehouse's, not the backend's). The backend's answer is final, 404 included;
 *   5. the configured peers, in turn (field note 004), unless the request came from a peer (loop guard);
 *   6. 404.
 * Each decision is one log line: host, token prefix (never the key authorization), who answered, and for peers
 * which were tried and why each failed. Everything is read per request through getters, so a reload can swap it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChallengeRegistry } from '../challenges/index.js';
import { askPeers, type PeerAttempt } from '../challenges/http-peers.js';
import type { HttpChallengeSettings } from '../challenges/http-settings.js';
import type { ChallengeAnswer, ChallengeObserver } from '../challenges/decision.js';
import { isSelf, LOOP_GUARD_HEADER } from '../challenges/peers.js';
import { ACME_CHALLENGE_PREFIX } from '../middlewares/acme-path.js';
import type { RequestContext } from './context.js';
import type { EntryHook } from './dispatch.js';
import { matchRoute, type CompiledRoute } from './router.js';

/** RFC 8555 §8.1: a token has at least 128 bits of entropy in base64url; CAs send 43 characters. 256 is generous. */
const TOKEN = /^[A-Za-z0-9_-]{16,256}$/;

const NOT_FOUND = Buffer.from('acme challenge not found\n');
const NOT_ALLOWED = Buffer.from('method not allowed on the acme challenge path\n');
const INTERNAL = Buffer.from('Internal Server Error\n');

/** What the responder reads on every request; each getter returns the current value (a reload swaps them). */
export interface AcmeChallengeSources {
  /** This instance's pending challenges; undefined when no ACME resolver runs. */
  registry(): ChallengeRegistry | undefined;
  /** The current config's peers, stateless thumbprints and managed names; undefined when there are none. */
  settings(): HttpChallengeSettings | undefined;
  /** The current compiled routes of an entry point (the dispatcher's). */
  routes(entryPoint: string): readonly CompiledRoute[];
  /** Addresses and ports the plain entry points are bound to: the peer among them is this instance. */
  bound(): readonly { address: string; port: number }[];
  /** Told of each decision (the admin's counters and recent list). */
  decided?: ChallengeObserver | undefined;
}

/** The hook answering every request on the challenge path by the chain above; any other path passes on. */
export function createAcmeResponder(sources: AcmeChallengeSources): EntryHook {
  return (req, res, ctx) => {
    if (!ctx.path.startsWith(ACME_CHALLENGE_PREFIX)) return false;
    decide(req, res, ctx, sources).catch((err: unknown) => {
      ctx.log.error({ err, host: ctx.host, path: ctx.path }, 'acme challenge responder failed');
      answerError(res);
    });
    return true;
  };
}

async function decide(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, sources: AcmeChallengeSources): Promise<void> {
  const token = ctx.path.slice(ACME_CHALLENGE_PREFIX.length);
  const line = { host: ctx.host, token: token.slice(0, 8), method: ctx.method, clientIp: ctx.clientIp };
  if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
    // A CA only ever reads the token (RFC 8555 §8.3); nobody outside needs to write there (field note 001).
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8', 'content-length': NOT_ALLOWED.length });
    res.end(NOT_ALLOWED);
    ctx.log.info({ ...line, status: 405, answeredBy: 'none', reason: 'method not allowed' }, 'acme challenge refused');
    sources.decided?.({ challenge: 'http-01', name: ctx.host, answeredBy: 'none', status: 405, detail: 'method not allowed' });
    return;
  }
  if (!TOKEN.test(token)) {
    notFound(res);
    ctx.log.info({ ...line, status: 404, answeredBy: 'none', reason: 'not a token' }, 'acme challenge refused');
    sources.decided?.({ challenge: 'http-01', name: ctx.host, answeredBy: 'none', status: 404, detail: 'not a token' });
    return;
  }

  const registry = sources.registry();
  let answer = registry?.httpKeyAuthorization(token);
  let by: ChallengeAnswer = 'own';
  if (answer === undefined && registry?.fetchHttpKeyAuthorization) {
    answer = await registry.fetchHttpKeyAuthorization(token).catch(() => undefined);
    by = 'shared';
  }
  const settings = sources.settings();
  if (answer === undefined) {
    const thumbprint = settings?.statelessThumbprints.get(ctx.host);
    if (thumbprint !== undefined) {
      answer = `${token}.${thumbprint}`;
      by = 'stateless';
    }
  }
  if (answer !== undefined) {
    answerBody(res, ctx, Buffer.from(answer));
    ctx.log.info({ ...line, status: 200, answeredBy: by }, 'acme challenge answered');
    sources.decided?.({ challenge: 'http-01', name: ctx.host, answeredBy: by, status: 200 });
    return;
  }

  let backend: string | undefined;
  if (settings?.managedNames.has(ctx.host)) {
    backend = 'skipped: gatehouse orders this name';
  } else {
    const route = matchRoute(sources.routes(ctx.entryPoint), ctx);
    const service = route?.challengeService;
    if (route && service?.forward) {
      forwardToService(req, res, ctx, route.name, service.name, service.handler, line, sources);
      return;
    }
    if (route) backend = service ? `skipped: router "${route.name}" has acmeChallenges off` : `skipped: router "${route.name}" has no backend service`;
  }

  const loopGuard = req.headers[LOOP_GUARD_HEADER] !== undefined;
  const peers = settings?.peers;
  let tried: readonly PeerAttempt[] = [];
  if (peers && !loopGuard) {
    const bound = sources.bound();
    const walk = await askPeers(peers, (p) => isSelf(p, p.httpPort, bound), token, ctx.rawHost, () => res.destroyed);
    tried = walk.tried;
    if (walk.answer) {
      answerBody(res, ctx, walk.answer.body);
      ctx.log.info({ ...line, status: 200, answeredBy: `peer ${walk.answer.peer}`, tried, ...(backend && { backend }) }, 'acme challenge answered');
      sources.decided?.({ challenge: 'http-01', name: ctx.host, answeredBy: 'peer', status: 200, detail: walk.answer.peer });
      return;
    }
  }
  notFound(res);
  ctx.log.info(
    { ...line, status: 404, answeredBy: 'none', ...(backend && { backend }), ...(peers && !loopGuard && { tried }), ...(loopGuard && { loopGuard: true }) },
    'acme challenge not found',
  );
  sources.decided?.({ challenge: 'http-01', name: ctx.host, answeredBy: 'none', status: 404, ...(backend && { detail: backend }) });
}

/** The key authorization, bare: the CA compares the body, trailing whitespace allowed (RFC 8555 §8.3). */
function answerBody(res: ServerResponse, ctx: RequestContext, body: Buffer): void {
  if (res.destroyed) return;
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length, 'cache-control': 'no-store' });
  res.end(ctx.method === 'HEAD' ? undefined : body);
}

function notFound(res: ServerResponse): void {
  if (res.destroyed) return;
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'content-length': NOT_FOUND.length });
  res.end(NOT_FOUND);
}

function answerError(res: ServerResponse): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', 'content-length': INTERNAL.length });
  res.end(INTERNAL);
}

/**
 * Step 4: the router's bare service answers. Its status (the backend's own 404, or the service's 502/504 when the
 * backend is down) is final and logged once the response is done.
 */
function forwardToService(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RequestContext,
  router: string,
  service: string,
  handler: CompiledRoute['handler'],
  line: Record<string, unknown>,
  sources: AcmeChallengeSources,
): void {
  ctx.router = router;
  res.once('close', () => {
    // statusCode is 200 until something is written: a CA that hung up first must not read as answered.
    const status = res.headersSent ? res.statusCode : undefined;
    const done = res.writableFinished;
    ctx.log.info(
      { ...line, status, answeredBy: `backend ${service}`, router, ...(!done && { reason: 'closed before the answer was complete' }) },
      done && status === 200 ? 'acme challenge answered' : 'acme challenge not answered by the backend',
    );
    sources.decided?.({ challenge: 'http-01', name: ctx.host, answeredBy: 'backend', status, detail: service });
  });
  const failed = (err: unknown): void => {
    ctx.log.error({ err, router, host: ctx.host, path: ctx.path }, 'handler failed');
    answerError(res);
  };
  try {
    const out = handler(req, res, ctx);
    if (out !== undefined && typeof (out as Promise<void>).then === 'function') (out as Promise<void>).then(undefined, failed);
  } catch (err) {
    failed(err);
  }
}

/** Runs `first`, then `second` when `first` passed the request on. */
export function chainHooks(first: EntryHook | undefined, second: EntryHook | undefined): EntryHook | undefined {
  if (first === undefined) return second;
  if (second === undefined) return first;
  return (req, res, ctx) => first(req, res, ctx) || second(req, res, ctx);
}
