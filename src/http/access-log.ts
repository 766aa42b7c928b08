/**
 * The access log: one JSON line per request, in the same shape as every other log line (level label, time, the
 * logger's bindings, msg "request"). Written straight to the logger's destination with a fixed serializer: through
 * `log.info(fields)` it cost 35 µs per request (redaction paths are matched on every call, and the generic
 * serializer walks the object), a third of the proxy's CPU on small requests (bench/README.md). The line holds
 * no header values, so there is nothing to redact.
 */
import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import type { Logger } from '../log.js';
import type { RequestContext } from './context.js';
import type { CountingResponse } from './counting-response.js';

/** Writes the access line of one finished (or aborted) request. */
export type AccessLog = (res: ServerResponse, ctx: RequestContext) => void;

interface PinoInternals {
  [key: symbol]: unknown;
}

/** An access logger writing through `log`'s destination; undefined when `log` would drop info lines. */
export function createAccessLog(log: Logger): AccessLog | undefined {
  if (!log.isLevelEnabled('info')) return undefined;
  const internals = log as unknown as PinoInternals;
  const stream = internals[pino.symbols.streamSym] as { write(line: string): unknown } | undefined;
  const time = internals[pino.symbols.timeSym] as (() => string) | undefined;
  const bindings = internals[pino.symbols.chindingsSym];
  if (!stream || typeof time !== 'function' || typeof bindings !== 'string') return slowAccessLog(log);
  const str = JSON.stringify;
  // The time field changes once per millisecond; at thousands of requests per second, format it once per change.
  let lastMs = -1;
  let lastTime = '';
  return (res, ctx) => {
    const now = Date.now();
    if (now !== lastMs) {
      lastMs = now;
      lastTime = time();
    }
    let line = `{"level":"info"${lastTime}${bindings},"entryPoint":${str(ctx.entryPoint)},"method":${str(ctx.method)},"host":${str(ctx.host)},"path":${str(ctx.path)},"status":${res.statusCode},"bytes":${bodyBytes(res, ctx)},"durationMs":${durationMs(ctx)}`;
    if (ctx.router !== undefined) line += `,"router":${str(ctx.router)}`;
    if (ctx.upstream !== undefined) line += `,"upstream":${str(ctx.upstream)}`;
    line += `,"clientIp":${str(ctx.clientIp)}`;
    if (!res.writableFinished) line += ',"aborted":true';
    stream.write(`${line},"msg":"request"}\n`);
  };
}

/** The same fields through the ordinary logger, for a logger whose internals are not pino's. */
function slowAccessLog(log: Logger): AccessLog {
  return (res, ctx) =>
    log.info(
      {
        entryPoint: ctx.entryPoint,
        method: ctx.method,
        host: ctx.host,
        path: ctx.path,
        status: res.statusCode,
        bytes: bodyBytes(res, ctx),
        durationMs: durationMs(ctx),
        router: ctx.router,
        upstream: ctx.upstream,
        clientIp: ctx.clientIp,
        ...(res.writableFinished ? null : { aborted: true }),
      },
      'request',
    );
}

function bodyBytes(res: ServerResponse, ctx: RequestContext): number {
  return ctx.method === 'HEAD' ? 0 : ((res as CountingResponse).bodyBytes ?? 0);
}

function durationMs(ctx: RequestContext): number {
  return Math.round((performance.now() - ctx.start) * 100) / 100;
}
