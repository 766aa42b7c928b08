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

/**
 * An access logger writing through `log`'s destination; undefined when `log` would drop info lines, unless
 * `always` (the caller then checks the level itself, which a reload may change).
 */
export function createAccessLog(log: Logger, always = false): AccessLog | undefined {
  if (!always && !log.isLevelEnabled('info')) return undefined;
  const internals = log as unknown as PinoInternals;
  const stream = internals[pino.symbols.streamSym] as { write(line: string): unknown } | undefined;
  const time = internals[pino.symbols.timeSym] as (() => string) | undefined;
  const bindings = internals[pino.symbols.chindingsSym];
  if (!stream || typeof time !== 'function' || typeof bindings !== 'string') return slowAccessLog(log);
  const head = lineHead(time, `${bindings},"entryPoint":`);
  // Most fields repeat from one request to the next (the same entry point, host, router, upstream, client):
  // each keeps its last JSON-encoded segment, so a line is mostly concatenation of strings that already exist.
  const entryPoint = new Segment('');
  const method = new Segment(',"method":');
  const host = new Segment(',"host":');
  const path = new Segment(',"path":');
  const router = new Segment(',"router":');
  const upstream = new Segment(',"upstream":');
  const clientIp = new Segment(',"clientIp":');
  return (res, ctx) => {
    stream.write(
      head(Date.now()) +
        entryPoint.of(ctx.entryPoint) +
        method.of(ctx.method) +
        host.of(ctx.host) +
        path.of(ctx.path) +
        ',"status":' +
        res.statusCode +
        ',"bytes":' +
        bodyBytes(res, ctx) +
        ',"durationMs":' +
        hundredths(Math.round((performance.now() - ctx.start) * 100)) +
        (ctx.router === undefined ? '' : router.of(ctx.router)) +
        (ctx.upstream === undefined ? '' : upstream.of(ctx.upstream)) +
        clientIp.of(ctx.clientIp) +
        (res.writableFinished ? LINE_END : ABORTED_LINE_END),
    );
  };
}

const LINE_END = ',"msg":"request"}\n';
const ABORTED_LINE_END = ',"aborted":true,"msg":"request"}\n';

/**
 * `{"level":"info"` + the time field + `rest`, for a given `Date.now()`. pino's ISO time is rebuilt from a per-second
 * prefix and a table of milliseconds (Date#toISOString goes through a C++ printf, ~7 k instructions); any other time
 * function is called once per millisecond.
 */
function lineHead(time: () => string, rest: string): (now: number) => string {
  let lastMs = -1;
  let last = '';
  if (time === pino.stdTimeFunctions.isoTime) {
    let lastSecond = -1;
    let prefix = '';
    return (now) => {
      if (now === lastMs) return last;
      const second = Math.floor(now / 1000);
      if (second !== lastSecond) {
        lastSecond = second;
        // "YYYY-MM-DDTHH:MM:SS." of this second; the milliseconds follow from the table.
        prefix = `{"level":"info","time":"${new Date(second * 1000).toISOString().slice(0, 20)}`;
      }
      lastMs = now;
      last = prefix + MILLIS_THEN[now - second * 1000]! + rest;
      return last;
    };
  }
  return (now) => {
    if (now !== lastMs) {
      lastMs = now;
      last = `{"level":"info"${time()}${rest}`;
    }
    return last;
  };
}

/** "000Z\"" … "999Z\"": the end of an ISO time field for each millisecond. */
const MILLIS_THEN = Array.from({ length: 1000 }, (_, ms) => `${String(ms).padStart(3, '0')}Z"`);

/** One `,"name":"value"` segment of the line, re-encoded only when the value differs from the last one. */
class Segment {
  private last: string | undefined = undefined;
  private segment = '';

  constructor(private readonly prefix: string) {}

  of(value: string): string {
    if (value !== this.last) {
      this.last = value;
      this.segment = this.prefix + jsonString(value);
    }
    return this.segment;
  }
}

/** Printable ASCII except quote and backslash: the strings JSON.stringify returns unchanged between quotes (RFC 8259 §7). */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

function jsonString(value: string): string {
  return PLAIN.test(value) ? `"${value}"` : JSON.stringify(value);
}

/** `h / 100` as JSON.stringify prints it (no trailing zeros), from integers only: no double-to-string conversion. */
function hundredths(h: number): string | number {
  const whole = Math.floor(h / 100);
  const frac = h - whole * 100;
  if (frac === 0) return whole;
  if (frac % 10 === 0) return `${whole}.${frac / 10}`;
  return frac < 10 ? `${whole}.0${frac}` : `${whole}.${frac}`;
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
