/**
 * The matched router's middlewares, run on the explained request: the ones that decide on the request alone run
 * their real code (built from the config as a running instance builds them) against a request object made from the
 * URL and options, so explain says what they do, not what their names suggest: an ipAllowList that refuses the
 * client (with its ipStrategy), a redirect and its Location, a CORS preflight answered, the path the backend
 * receives after the path rewrites and the request headers they add. The ones that depend on something explain
 * cannot know are described instead, and evaluation goes on past them as if they let the request through
 * (basicAuth: whether the request carries credentials, never whether the password is right; rateLimit: its rate), or
 * stops at them (forwardAuth: the auth server decides; a plugin: its code does).
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { Config, MiddlewareConfig } from '../config/index.js';
import type { RequestContext } from '../http/context.js';
import { buildMiddlewares, type Wrapper } from '../http/middlewares.js';
import { pathToWire } from '../http/request-path.js';
import { createLogger } from '../log.js';
import type { ExplainRequest } from './request.js';

/** What one middleware did with the request. */
export interface MiddlewareStep {
  readonly name: string;
  readonly kind: string;
  /** `passed`: on to the next; `answered`: it answered the request itself (the backend is not reached); `stops`: explain cannot tell past it. */
  readonly effect: 'passed' | 'answered' | 'stops';
  /** In words: what it checked or changed. */
  readonly detail: string;
  readonly status?: number;
  readonly location?: string;
}

/** The chain's outcome for the request. */
export interface MiddlewareOutcome {
  readonly steps: readonly MiddlewareStep[];
  /** The middleware that answered or that explain cannot see past; undefined when the request reaches the target. */
  readonly stoppedBy?: MiddlewareStep;
  /** Path (and query) the target receives, as sent on the wire. */
  readonly forwardedUri: string;
  /** Request headers the middlewares set, as the target receives them. */
  readonly headersSet: Readonly<Record<string, string>>;
}

/** Kinds whose effect on one request does not depend on anything but the request (they are run). */
const RUN = new Set(['ipAllowList', 'redirectScheme', 'redirectRegex', 'stripPrefix', 'stripPrefixRegex', 'addPrefix', 'replacePath', 'replacePathRegex', 'headers']);

/** Runs (or describes) `names`, a router's middlewares in order, on `request` arriving on `entryPoint`. */
export function evaluateMiddlewares(config: Config, names: readonly string[], request: ExplainRequest, entryPoint: string, router: string): MiddlewareOutcome {
  const built = buildMiddlewares(config, {}).wrappers;
  const { req, ctx } = requestFor(request, entryPoint, router);
  const before = new Map(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
  const steps: MiddlewareStep[] = [];
  let stoppedBy: MiddlewareStep | undefined;
  const flat = flatten(config, names);
  for (const name of flat) {
    const spec = config.http?.middlewares?.[name];
    const kind = spec === undefined ? 'missing' : (Object.keys(spec)[0] ?? 'missing');
    const step = evaluateOne(name, kind, spec, built.get(name), req, ctx);
    steps.push(step);
    if (step.effect !== 'passed') {
      stoppedBy = step;
      break;
    }
  }
  const headersSet: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (before.get(k) !== String(v)) headersSet[k] = String(v);
  return { steps, ...(stoppedBy && { stoppedBy }), forwardedUri: req.url ?? '/', headersSet };
}

/** A chain's members in place of the chain, in order (a chain naming itself was disabled when built). */
function flatten(config: Config, names: readonly string[], seen: ReadonlySet<string> = new Set()): string[] {
  const out: string[] = [];
  for (const name of names) {
    const chain = config.http?.middlewares?.[name]?.chain?.middlewares;
    if (chain && !seen.has(name)) out.push(...flatten(config, chain, new Set([...seen, name])));
    else out.push(name);
  }
  return out;
}

function evaluateOne(name: string, kind: string, spec: MiddlewareConfig | undefined, wrapper: Wrapper | Error | undefined, req: IncomingMessage, ctx: RequestContext): MiddlewareStep {
  if (spec === undefined || wrapper === undefined) return { name, kind, effect: 'stops', detail: 'no middleware has this name: the router is disabled' };
  if (wrapper instanceof Error) return { name, kind, effect: 'stops', detail: `cannot be built (${wrapper.message}): the router is disabled` };
  if (kind === 'basicAuth') {
    const has = typeof req.headers.authorization === 'string' && /^basic /i.test(req.headers.authorization);
    return has
      ? { name, kind, effect: 'passed', detail: 'the request carries Basic credentials: passes if they are right (explain does not check passwords), else 401' }
      : { name, kind, effect: 'answered', status: 401, detail: 'no Basic credentials (Authorization header): 401 with a WWW-Authenticate challenge' };
  }
  if (kind === 'forwardAuth') {
    return { name, kind, effect: 'stops', detail: `the auth server ${spec.forwardAuth?.address ?? ''} decides (explain does not call it): its 2xx lets the request through, anything else is the answer` };
  }
  if (kind === 'rateLimit') {
    const r = spec.rateLimit!;
    return { name, kind, effect: 'passed', detail: `passes while its client stays under ${r.average ?? '?'} per ${r.period ?? '1s'} (burst ${r.burst ?? 1}); past that 429` };
  }
  if (kind === 'plugin') return { name, kind, effect: 'stops', detail: 'a custom middleware: its code decides (not evaluated offline)' };
  if (!RUN.has(kind)) return { name, kind, effect: 'passed', detail: 'does not decide on the request (it acts on the response)' };
  return runReal(name, kind, wrapper, req, ctx);
}

/** Runs the built middleware once with a `next` that records being reached. */
function runReal(name: string, kind: string, wrapper: Wrapper, req: IncomingMessage, ctx: RequestContext): MiddlewareStep {
  const res = new ServerResponse(req);
  let answered: { status: number; location: string | undefined } | undefined;
  const original = res.writeHead.bind(res);
  res.writeHead = ((status: number, ...rest: unknown[]) => {
    const headers = rest.find((r) => r !== null && typeof r === 'object') as Record<string, unknown> | unknown[] | undefined;
    answered = { status, location: locationOf(headers) ?? (res.getHeader('location') as string | undefined) };
    return (original as (...a: unknown[]) => ServerResponse)(status, ...rest);
  }) as ServerResponse['writeHead'];
  const pathBefore = ctx.path;
  const urlBefore = req.url;
  let reached = false;
  void wrapper(() => {
    reached = true;
  })(req, res, ctx);
  res.destroy();
  if (reached) {
    const moved = req.url !== urlBefore ? `: the path becomes ${pathToWire(ctx.path)} (was ${pathToWire(pathBefore)})` : '';
    return { name, kind, effect: 'passed', detail: `${passDetail(kind)}${moved}` };
  }
  if (answered) {
    const { status, location } = answered;
    const why = kind === 'ipAllowList' ? `client ${ctx.clientIp} (as its ipStrategy reads it) is not in its sourceRange` : kind === 'headers' ? 'a CORS preflight, answered here' : 'redirects';
    return { name, kind, effect: 'answered', status, ...(location !== undefined && { location }), detail: `${why}: ${status}${location !== undefined ? ` to ${location}` : ''}` };
  }
  return { name, kind, effect: 'stops', detail: 'neither answered nor passed the request on at once' };
}

function passDetail(kind: string): string {
  switch (kind) {
    case 'ipAllowList':
      return 'the client is in its sourceRange';
    case 'redirectScheme':
    case 'redirectRegex':
      return 'does not apply to this request';
    case 'headers':
      return 'sets its request headers';
    default:
      return 'applies';
  }
}

function locationOf(headers: Record<string, unknown> | unknown[] | undefined): string | undefined {
  if (headers === undefined) return undefined;
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) if (String(headers[i]).toLowerCase() === 'location') return String(headers[i + 1]);
    return undefined;
  }
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === 'location') return String(v);
  return undefined;
}

/** A request object and context as a listener would make them for `request` (no socket behind them). */
function requestFor(request: ExplainRequest, entryPoint: string, router: string): { req: IncomingMessage; ctx: RequestContext } {
  const socket = new Socket();
  Object.defineProperty(socket, 'remoteAddress', { value: request.clientIp });
  const req = new IncomingMessage(socket);
  req.method = request.method;
  req.url = `${pathToWire(request.path)}${request.query === '' ? '' : `?${request.query}`}`;
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  for (const [k, v] of Object.entries(request.headers)) {
    if (v === undefined) continue;
    req.headers[k] = v;
    for (const one of Array.isArray(v) ? v : [v]) req.rawHeaders.push(k, one);
  }
  const ctx = {
    entryPoint,
    scheme: request.scheme,
    host: request.host,
    rawHost: request.rawHost,
    hostPort: String(request.port),
    path: request.path,
    query: request.query,
    method: request.method,
    headers: req.headers,
    clientIp: request.clientIp,
    trustForwarded: false,
    upstream: undefined,
    router,
    log: createLogger({ level: 'silent' }),
    start: 0,
    upgrade: undefined,
    refusal: undefined,
  } as RequestContext;
  return { req, ctx };
}
