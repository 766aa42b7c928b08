/**
 * `gatehouse explain URL`: what each entry point that would receive a request does with it, in the order the edge
 * decides: on a TLS entry point the passthrough routes and the certificate first; then the entry point's hooks (the
 * ACME challenge responder on plain entry points, src/http/acme-responder.ts; the HTTPS redirection,
 * src/edge/start.ts); then the routers in priority order, down to the match's middlewares and service.
 */
import { pathToWire } from '../http/request-path.js';
import { ACME_CHALLENGE_PREFIX, isAcmeChallengePath } from '../middlewares/acme-path.js';
import type { CertificateChoice } from './certificates.js';
import { describeMiddlewares, describeTarget, type MiddlewareFacts, type TargetFacts } from './describe.js';
import { evaluateMiddlewares, type MiddlewareOutcome } from './middlewares.js';
import type { OfflineModel } from './offline.js';
import { chooseEntryPoints, listenPort, type ExplainRequest } from './request.js';
import { disabledHttp, tryHttpRouters, type DisabledFacts, type RouterTrial, type Trials } from './routes.js';
import { certificateText, passthrough, type SniEntryExplanation } from './sni.js';

/** ALPN a browser offers; a TCP route's ALPN(...) matcher reads it. */
const BROWSER_ALPN = ['h2', 'http/1.1'];
/** RFC 8555 §8.1 tokens, as the responder checks them before answering. */
const TOKEN = /^[A-Za-z0-9_-]{16,256}$/;

/** An entry point hook that answered before the routers. */
export interface HookFacts {
  readonly kind: 'acme-challenge' | 'https-redirect';
  /** The status when it is known offline. */
  readonly status?: number;
  readonly location?: string;
  /** The decisions in the order the hook takes them. */
  readonly steps: readonly string[];
}

/** The router that matched, with what it runs. */
export interface MatchFacts extends RouterTrial {
  readonly middlewares: readonly MiddlewareFacts[];
  /** The middlewares run on the request (src/explain/middlewares.ts): who stops it, what the target receives. */
  readonly evaluation?: MiddlewareOutcome;
  readonly target: TargetFacts;
}

/** What one entry point does with the request. */
export interface HttpEntryExplanation {
  readonly entryPoint: string;
  readonly address: string;
  readonly tls: boolean;
  /** TLS: the passthrough routes tried on the connection, and the one that took it (then no HTTP routing happens). */
  readonly passthrough?: Pick<SniEntryExplanation, 'tried' | 'match' | 'disabled'>;
  readonly certificate?: CertificateChoice;
  readonly hook?: HookFacts;
  readonly tried: readonly RouterTrial[];
  readonly match?: MatchFacts;
  readonly notTried: readonly string[];
  readonly disabled: readonly DisabledFacts[];
  readonly outcome: string;
  readonly matched: boolean;
}

/** The whole answer for a request. */
export interface HttpExplanation {
  readonly kind: 'http';
  readonly request: Omit<ExplainRequest, 'headers'> & { readonly headers: Readonly<Record<string, string>> };
  readonly entryPoints: { readonly reason: string; readonly explained: readonly HttpEntryExplanation[] };
  readonly matched: boolean;
}

/** Explains `request` on every entry point it could arrive on (or the one `entryPoint` names). */
export function explainHttp(model: OfflineModel, request: ExplainRequest, entryPoint?: string): HttpExplanation {
  const config = model.config;
  const tls = entryPoint !== undefined ? config.entryPoints[entryPoint]?.tls !== undefined : request.scheme === 'https';
  const choice = chooseEntryPoints(config, tls, entryPoint === undefined ? request.port : undefined, entryPoint);
  const explained = choice.names.map((ep) => explainOn(model, ep, request));
  const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]));
  return { kind: 'http', request: { ...request, headers }, entryPoints: { reason: choice.reason, explained }, matched: explained.some((e) => e.matched) };
}

const NONE: Pick<HttpEntryExplanation, 'tried' | 'notTried' | 'disabled'> = { tried: [], notTried: [], disabled: [] };

function explainOn(model: OfflineModel, entryPoint: string, request: ExplainRequest): HttpEntryExplanation {
  const spec = model.config.entryPoints[entryPoint]!;
  const tls = spec.tls !== undefined;
  let base: Pick<HttpEntryExplanation, 'entryPoint' | 'address' | 'tls' | 'passthrough' | 'certificate'> = { entryPoint, address: spec.address, tls };
  let certificate: CertificateChoice | undefined;
  if (tls) {
    const routes = passthrough(model, entryPoint, { sni: request.sni ?? '', alpn: BROWSER_ALPN, clientIp: request.clientIp });
    if (routes.match) {
      const s = routes.match.service;
      return { ...base, ...NONE, passthrough: routes, outcome: `connection passed through by TCP router "${routes.match.name}" to ${s.name} (${s.servers.join(', ')}): the backend terminates TLS, no HTTP router is used`, matched: true };
    }
    certificate = model.certificates?.choose(request.sni);
    base = { ...base, passthrough: routes, ...(certificate && { certificate }) };
    if (certificate?.served === 'refused') {
      return { ...base, ...NONE, outcome: `handshake refused: no certificate for ${request.sni ?? 'a client without SNI'}`, matched: false };
    }
  }
  // http-01 is answered on plain entry points only, before the redirection (src/edge/start.ts setHooks).
  if (!tls && isAcmeChallengePath(request.path)) return { ...base, ...acmeChallenge(model, entryPoint, request) };
  const redirect = redirection(model, entryPoint, request);
  if (redirect) return { ...base, ...NONE, hook: redirect, outcome: `${redirect.status} ${redirect.location ? `redirect to ${redirect.location}` : 'Bad Request'} (entry point redirection; routers are not tried)`, matched: true };
  const trials = tryHttpRouters(model.config, model.routes(entryPoint), request);
  const disabled = disabledHttp(model.config, model.disabledHttp, entryPoint, request, trials.match);
  const via = certificate ? `, TLS with ${certificateText(certificate)}` : '';
  if (!trials.match) return { ...base, ...trials, match: undefined, disabled, outcome: `404: no router matches${via}`, matched: false };
  const match = matchFacts(model, trials, request, entryPoint);
  const stop = match.evaluation?.stoppedBy;
  const outcome =
    stop === undefined
      ? `router "${match.name}" → ${targetText(match.target)}${match.evaluation && match.evaluation.forwardedUri !== uriOf(request) && match.target.kind === 'service' ? ` with ${match.evaluation.forwardedUri}` : ''}${via}`
      : stop.effect === 'answered'
        ? `router "${match.name}", stopped by middleware "${stop.name}" (${stop.kind}): ${stop.status ?? ''}${stop.location !== undefined ? ` to ${stop.location}` : ''}; ${targetText(match.target)} is not reached${via}`
        : `router "${match.name}": middleware "${stop.name}" (${stop.kind}) decides: ${stop.detail}${via}`;
  return { ...base, ...trials, match, disabled, outcome, matched: true };
}

function uriOf(request: ExplainRequest): string {
  return `${pathToWire(request.path)}${request.query === '' ? '' : `?${request.query}`}`;
}

function matchFacts(model: OfflineModel, trials: Trials, request?: ExplainRequest, entryPoint?: string): MatchFacts {
  const router = model.config.http!.routers![trials.match!.name]!;
  const names = router.middlewares ?? [];
  const evaluation = request !== undefined && entryPoint !== undefined && names.length > 0 ? evaluateMiddlewares(model.config, names, request, entryPoint, trials.match!.name) : undefined;
  return {
    ...trials.match!,
    middlewares: describeMiddlewares(model.config, names),
    ...(evaluation && { evaluation }),
    target: describeTarget(model.config, router, model.health),
  };
}

/** A target in a few words. */
export function targetText(target: TargetFacts): string {
  if (target.kind === 'respond') return `respond ${target.status}`;
  if (target.kind === 'redirect') return `redirect ${target.status} to ${target.location}`;
  return `service "${target.service.name}" (${target.service.kind})`;
}

/** The HTTPS redirection hook of the entry point, as createHttpsRedirect would answer; undefined when there is none. */
function redirection(model: OfflineModel, entryPoint: string, request: ExplainRequest): HookFacts | undefined {
  const spec = model.config.entryPoints[entryPoint]?.http?.redirections?.entryPoint;
  if (!spec || isAcmeChallengePath(request.path)) return undefined;
  if (request.host === '') return { kind: 'https-redirect', status: 400, steps: ['no Host header to redirect to'] };
  const bound = listenPort(model.config, spec.to);
  const port = spec.port ?? (bound === 0 ? undefined : bound);
  const authority = port === undefined || port === 443 ? request.host : `${request.host}:${port}`;
  const location = `https://${authority}${request.path}${request.query === '' ? '' : `?${request.query}`}`;
  const safe = request.method === 'GET' || request.method === 'HEAD';
  const permanent = spec.permanent ?? true;
  const status = permanent ? (safe ? 301 : 308) : safe ? 302 : 307;
  const steps = [`entry point "${entryPoint}" redirects to "${spec.to}"${bound === 0 && spec.port === undefined ? ' (it listens on port 0: the Location carries its bound port)' : ''}`];
  return { kind: 'https-redirect', status, location, steps };
}

/** The http-01 responder's chain (src/http/acme-responder.ts), as far as a config file tells it. */
function acmeChallenge(model: OfflineModel, entryPoint: string, request: ExplainRequest): Omit<HttpEntryExplanation, 'entryPoint' | 'address' | 'tls'> {
  const steps: string[] = [];
  const hook = (status: number | undefined): HookFacts => ({ kind: 'acme-challenge', ...(status !== undefined && { status }), steps });
  const token = request.path.slice(ACME_CHALLENGE_PREFIX.length);
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    steps.push(`${request.method} is not allowed on the challenge path (a CA only reads the token)`);
    return { ...NONE, hook: hook(405), outcome: '405 from the ACME challenge responder', matched: false };
  }
  if (!TOKEN.test(token)) {
    steps.push('not a token (16 to 256 base64url characters): never forwarded');
    return { ...NONE, hook: hook(404), outcome: '404 from the ACME challenge responder', matched: false };
  }
  steps.push('own token: a pending http-01 challenge of the running instance (or of any instance, with storage.redis) answers first; only the running instance knows its tokens');
  const settings = model.challenges;
  if (settings.statelessThumbprints.has(request.host)) {
    steps.push(`stateless: a stateless resolver orders ${request.host}: answered with token.thumbprint`);
    return { ...NONE, hook: hook(200), outcome: '200 from the ACME challenge responder (stateless key authorization)', matched: true };
  }
  const trials = tryHttpRouters(model.config, model.routes(entryPoint), request);
  const disabled = disabledHttp(model.config, model.disabledHttp, entryPoint, request, trials.match);
  let forwarded: MatchFacts | undefined;
  if (settings.managedNames.has(request.host)) {
    steps.push(`backend: skipped, gatehouse orders ${request.host} itself (the token is its own)`);
  } else if (trials.match) {
    const router = model.config.http!.routers![trials.match.name]!;
    if (router.service !== undefined && router.acmeChallenges !== 'off') {
      forwarded = { ...matchFacts(model, trials), middlewares: [] };
      steps.push(`backend: router "${trials.match.name}" matches: forwarded to its service "${router.service}" without its middlewares (a CA cannot log in)`);
    } else {
      steps.push(`backend: skipped, router "${trials.match.name}" ${router.service === undefined ? 'has no backend service' : 'has acmeChallenges off'}`);
    }
  } else {
    steps.push('backend: no router matches');
  }
  if (forwarded) return { ...trials, match: forwarded, disabled, hook: hook(undefined), outcome: `ACME challenge responder → service "${forwarded.target.kind === 'service' ? forwarded.target.service.name : ''}" (the backend's answer is final)`, matched: true };
  const peers = settings.peers;
  if (peers) steps.push(`peers: asked in turn: ${peers.peers.map((p) => `${p.host}:${p.httpPort}`).join(', ')} (not when the request came from a peer)`);
  const managed = settings.managedNames.has(request.host);
  steps.push(peers ? 'then 404' : '404');
  const matched = managed || peers !== undefined;
  const outcome = managed
    ? 'answered by the running instance while its order is pending, else 404'
    : peers
      ? 'answered by the peer holding the token, else 404'
      : '404 from the ACME challenge responder, unless the running instance holds this token';
  return { ...trials, match: undefined, disabled, hook: hook(matched ? undefined : 404), outcome, matched };
}
