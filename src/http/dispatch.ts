/**
 * The HTTP entry of one entry point: request → context → router → handler chain, and the access log line.
 * This is the hot path: one context object per request, compiled matchers only, no config parsing.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log.js';
import { createAccessLog } from './access-log.js';
import { DEFAULT_ACCESS_LOG, type AccessLogSettings } from './access-log-settings.js';
import { CountingResponse } from './counting-response.js';
import { createContext, type EntryPointInfo, type RequestContext } from './context.js';
import { matchRoute, type CompiledRoute } from './router.js';

const NOT_FOUND = Buffer.from('404 page not found\n');
const INTERNAL = Buffer.from('Internal Server Error\n');

/**
 * A set of routes in force (a runtime), counted while it serves requests: a reload retires it, and its pools are
 * closed once the last request that started on it has ended.
 */
export interface RouteGeneration {
  routes(entryPoint: string): readonly CompiledRoute[];
  /** A request started on this generation. */
  enter(): void;
  /** That request's response closed (finished or aborted). */
  leave(): void;
  /** An upgrade request went to `router`: its socket outlives the response (a websocket), until it closes. */
  upgraded(router: string, socket: Duplex): void;
}

/** What a dispatcher reads on every request: the routes of the current runtime (swapped whole on reload). */
export interface RouteSource {
  routes(entryPoint: string): readonly CompiledRoute[];
  /** The generation new requests start on; when given, requests are counted on it (see RouteGeneration). */
  current?(): RouteGeneration;
  /** Told of every response when it closes (the admin's request metrics); read per request, undefined when off. */
  observeRequest?: RequestObserver | undefined;
}

/** Records one closed response; must not throw and should allocate nothing (it runs once per request). */
export type RequestObserver = (res: ServerResponse, ctx: RequestContext) => void;

/**
 * Runs before the routers on every request of an entry point (the HTTP → HTTPS redirection; the ACME challenge
 * responder). Returns true when it has answered the request.
 */
export type EntryHook = (req: IncomingMessage, res: ServerResponse, ctx: RequestContext) => boolean;

/**
 * Whether to write the access line, and how: fixed (true: every field, JSON), or read per request as compiled
 * settings or false (a reload can turn it on or off, change its format or fields, or change the log level; the
 * function form answers for the level too).
 */
export type AccessLogSwitch = boolean | (() => AccessLogSettings | false);

/** Request and upgrade listeners for one entry point's server. */
export interface Dispatcher {
  onRequest(req: IncomingMessage, res: ServerResponse): void;
  onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

/**
 * Build the listeners of one entry point. `accessLog` false skips the per-request line. The server must create its
 * responses as CountingResponse (the access log reads their body size).
 */
export function createDispatcher(entry: EntryPointInfo, source: RouteSource, log: Logger, accessLog: AccessLogSwitch, hook?: EntryHook): Dispatcher {
  const settings = typeof accessLog === 'function' ? accessLog : () => DEFAULT_ACCESS_LOG;
  const logAccess = accessLog !== false ? createAccessLog(log, typeof accessLog === 'function', settings) : undefined;
  const enabled = typeof accessLog === 'function' ? () => accessLog() !== false : () => true;

  const run = (req: IncomingMessage, res: ServerResponse, ctx: RequestContext, routes: RouteSource): void => {
    // Before the hooks too: an ACME token or a redirect must not be reached through a path the routers would refuse.
    if (ctx.refusal !== undefined) return refuse(res, ctx);
    if (hook !== undefined && hook(req, res, ctx)) return;
    const route = matchRoute(routes.routes(entry.name), ctx);
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'content-length': NOT_FOUND.length });
      res.end(NOT_FOUND);
      return;
    }
    ctx.router = route.name;
    ctx.service = route.challengeService?.name;
    try {
      const out = route.handler(req, res, ctx);
      if (out !== undefined && typeof (out as Promise<void>).then === 'function') {
        (out as Promise<void>).then(undefined, (err: unknown) => failed(res, ctx, err));
      }
    } catch (err) {
      failed(res, ctx, err);
    }
  };

  const refuse = (res: ServerResponse, ctx: RequestContext): void => {
    log.info({ entryPoint: entry.name, clientIp: ctx.clientIp, host: ctx.host, path: ctx.path, reason: ctx.refusal }, 'request target refused');
    const body = `400 Bad Request: ${ctx.refusal}\n`;
    res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
    res.end(body);
  };

  const failed = (res: ServerResponse, ctx: RequestContext, err: unknown): void => {
    log.error({ err, router: ctx.router, host: ctx.host, path: ctx.path }, 'handler failed');
    if (!res.headersSent) {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', 'content-length': INTERNAL.length });
      res.end(INTERNAL);
    } else {
      res.destroy();
    }
  };

  return {
    onRequest(req, res) {
      const ctx = createContext(req, entry, log, performance.now());
      if (logAccess && enabled()) {
        if (res instanceof CountingResponse) res.logOnClose(logAccess, ctx);
        else res.on('close', () => logAccess(res, ctx));
      }
      const observe = source.observeRequest;
      if (observe !== undefined) {
        if (res instanceof CountingResponse) res.observeOnClose(observe, ctx);
        else res.once('close', () => observe(res, ctx));
      }
      const generation = source.current?.();
      if (generation === undefined) return run(req, res, ctx, source);
      generation.enter();
      if (res instanceof CountingResponse) res.leaveOnClose(generation);
      else res.once('close', () => generation.leave());
      run(req, res, ctx, generation);
    },
    onUpgrade(req, socket, head) {
      // The handler chain speaks to a ServerResponse; bind one to the raw socket so a middleware or a `respond`
      // router can answer the upgrade request normally. A forwarding service takes the socket back (detachSocket).
      const ctx = createContext(req, entry, log, performance.now());
      ctx.upgrade = { socket, head };
      const res = new CountingResponse(req);
      res.shouldKeepAlive = false;
      res.assignSocket(socket as import('node:net').Socket);
      res.once('finish', () => socket.end());
      socket.on('error', (err) => log.debug({ err, host: ctx.host }, 'upgrade socket error'));
      if (logAccess && enabled()) socket.once('close', () => logAccess(res, ctx));
      const observe = source.observeRequest;
      if (observe !== undefined) socket.once('close', () => observe(res, ctx));
      const generation = source.current?.();
      if (generation === undefined) return run(req, res, ctx, source);
      // An upgrade counts on its generation until its socket closes: a websocket keeps the pools it was made with.
      generation.enter();
      socket.once('close', () => generation.leave());
      run(req, res, ctx, generation);
      if (ctx.router !== undefined && !socket.destroyed) generation.upgraded(ctx.router, socket);
    },
  };
}
