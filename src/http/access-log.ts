/**
 * The access log: one JSON line per request, in the same shape as every other log line (level label, time, the
 * logger's bindings, msg "request"). Written straight to the logger's destination with a fixed serializer: through
 * `log.info(fields)` it cost 35 µs per request (redaction paths are matched on every call, and the generic
 * serializer walks the object), a third of the proxy's CPU on small requests (bench/README.md). Of the request's
 * headers the line holds only User-Agent and Referer (no credential, nothing to redact); fields with nothing to say
 * (no query, no router, a plain-HTTP connection) are left out, as pino leaves out undefined fields.
 */
import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import type { Logger } from '../log.js';
import { DEFAULT_ACCESS_LOG, type AccessLogSettings, type DroppableField } from './access-log-settings.js';
import { commonWriter } from './access-log-common.js';
import type { RequestContext } from './context.js';
import type { CountingResponse } from './counting-response.js';

/** Writes the access line of one finished (or aborted) request. */
export type AccessLog = (res: ServerResponse, ctx: RequestContext) => void;

interface PinoInternals {
  [key: symbol]: unknown;
}

/**
 * An access logger writing through `log`'s destination; undefined when `log` would drop info lines, unless
 * `always` (the caller then checks the level itself, which a reload may change). `settings` is read per request
 * (a reload may change the format or the fields); the line's writer is rebuilt only when it returns a new object.
 */
export function createAccessLog(log: Logger, always = false, settings: () => AccessLogSettings | false = () => DEFAULT_ACCESS_LOG): AccessLog | undefined {
  if (!always && !log.isLevelEnabled('info')) return undefined;
  const internals = log as unknown as PinoInternals;
  const stream = internals[pino.symbols.streamSym] as { write(line: string): unknown } | undefined;
  const time = internals[pino.symbols.timeSym] as (() => string) | undefined;
  const bindings = internals[pino.symbols.chindingsSym];
  if (!stream || typeof time !== 'function' || typeof bindings !== 'string') return slowAccessLog(log, settings);
  const head = lineHead(time, `${bindings},"entryPoint":`);
  let current: AccessLogSettings | undefined;
  let write: AccessLog = () => {};
  return (res, ctx) => {
    const s = settings();
    if (s !== current) {
      if (s === false) return;
      current = s;
      write = s.format === 'common' ? commonWriter(stream) : jsonWriter(stream, head, s);
    }
    write(res, ctx);
  };
}

/** The JSON line's writer for one config's settings. */
function jsonWriter(stream: { write(line: string): unknown }, head: (now: number) => string, s: AccessLogSettings): AccessLog {
  const keep = (field: DroppableField): boolean => !s.drop.has(field);
  const [withUpstreamStatus, withUpstreamMs] = [keep('upstreamStatus'), keep('upstreamMs')];
  const [withQuery, withRouter, withService, withUpstream, withClient, withUa, withReferer, withTls] = [
    keep('query'),
    keep('router'),
    keep('service'),
    keep('upstream'),
    keep('clientIp'),
    keep('userAgent'),
    keep('referer'),
    keep('tlsVersion') || keep('tlsCipher'),
  ];
  const tlsPart = keep('tlsVersion') ? (keep('tlsCipher') ? 0 : 1) : 2;
  // Most fields repeat from one request to the next (the same entry point, host, router, upstream, client):
  // each keeps its last JSON-encoded segment, so a line is mostly concatenation of strings that already exist.
  const entryPoint = new Segment('');
  const method = new Segment(',"method":');
  const host = new Segment(',"host":');
  const path = new Segment(',"path":');
  const router = new Segment(',"router":');
  const service = new Segment(',"service":');
  const upstream = new Segment(',"upstream":');
  const clientIp = new Segment(',"clientIp":');
  const userAgent = s.redact.has('user-agent') ? new Redacted(',"userAgent":') : new Segment(',"userAgent":');
  const referer = s.redact.has('referer') ? new Redacted(',"referer":') : new Segment(',"referer":');
  return (res, ctx) => {
    const ua = withUa ? ctx.headers['user-agent'] : undefined;
    const ref = withReferer ? ctx.headers.referer : undefined;
    stream.write(
      head(Date.now()) +
        entryPoint.of(ctx.entryPoint) +
        method.of(ctx.method) +
        host.of(ctx.host) +
        path.of(ctx.path) +
        (ctx.query === '' || !withQuery ? '' : ',"query":' + jsonString(ctx.query)) +
        ',"status":' +
        res.statusCode +
        ',"bytes":' +
        bodyBytes(res, ctx) +
        ',"durationMs":' +
        hundredths(Math.round((performance.now() - ctx.start) * 100)) +
        (ctx.router === undefined || !withRouter ? '' : router.of(ctx.router)) +
        (ctx.service === undefined || !withService ? '' : service.of(ctx.service)) +
        (ctx.upstream === undefined || !withUpstream ? '' : upstream.of(ctx.upstream)) +
        (ctx.upstreamStatus === undefined || !withUpstreamStatus ? '' : ',"upstreamStatus":' + ctx.upstreamStatus) +
        (ctx.upstreamMs === undefined || !withUpstreamMs ? '' : ',"upstreamMs":' + hundredths(Math.round(ctx.upstreamMs * 100))) +
        (withClient ? clientIp.of(ctx.clientIp) : '') +
        (ua === undefined ? '' : userAgent.of(ua)) +
        (ref === undefined ? '' : referer.of(ref)) +
        (ctx.scheme === 'https' && withTls ? tlsSegment(res, tlsPart) : '') +
        (res.writableFinished ? LINE_END : ABORTED_LINE_END),
    );
  };
}

const LINE_END = ',"msg":"request"}\n';

const TLS_SEGMENT = Symbol('gatehouse.accessLogTls');

interface TlsFacts {
  [TLS_SEGMENT]?: readonly [both: string, version: string, cipher: string];
  getProtocol?(): string | null;
  getCipher?(): { name: string } | undefined;
}

/**
 * `,"tlsVersion":…,"tlsCipher":…` of the request's TLS connection (`part` 0), or only the version (1) or the cipher
 * (2), computed once per connection and kept on its socket (a keep-alive connection's requests all share it). ''
 * when the socket is gone or is not TLS.
 */
function tlsSegment(res: ServerResponse, part: 0 | 1 | 2): string {
  const socket = res.req?.socket as TlsFacts | undefined | null;
  if (socket === undefined || socket === null) return '';
  let parts = socket[TLS_SEGMENT];
  if (parts === undefined) {
    const version = typeof socket.getProtocol === 'function' ? socket.getProtocol() : null;
    const cipher = typeof socket.getCipher === 'function' ? socket.getCipher()?.name : undefined;
    const v = version ? `,"tlsVersion":${jsonString(version)}` : '';
    const c = cipher ? `,"tlsCipher":${jsonString(cipher)}` : '';
    parts = [v + c, v, c];
    socket[TLS_SEGMENT] = parts;
  }
  return parts[part];
}

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

/** A header segment whose value is never shown (`headers.redact`), only that the request had the header. */
class Redacted {
  private readonly segment: string;

  constructor(prefix: string) {
    this.segment = `${prefix}"[redacted]"`;
  }

  of(_value: string): string {
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
function slowAccessLog(log: Logger, settings: () => AccessLogSettings | false): AccessLog {
  return (res, ctx) => {
    const s = settings();
    if (s === false) return;
    const fields: Record<string, unknown> = {
      entryPoint: ctx.entryPoint,
      method: ctx.method,
      host: ctx.host,
      path: ctx.path,
      query: ctx.query === '' ? undefined : ctx.query,
      status: res.statusCode,
      bytes: bodyBytes(res, ctx),
      durationMs: durationMs(ctx),
      router: ctx.router,
      service: ctx.service,
      upstream: ctx.upstream,
      upstreamStatus: ctx.upstreamStatus,
      upstreamMs: ctx.upstreamMs === undefined ? undefined : Math.round(ctx.upstreamMs * 100) / 100,
      clientIp: ctx.clientIp,
      userAgent: ctx.headers['user-agent'] === undefined ? undefined : s.redact.has('user-agent') ? '[redacted]' : ctx.headers['user-agent'],
      referer: ctx.headers.referer === undefined ? undefined : s.redact.has('referer') ? '[redacted]' : ctx.headers.referer,
      ...(ctx.scheme === 'https' ? tlsFields(res) : null),
      ...(res.writableFinished ? null : { aborted: true }),
    };
    for (const field of s.drop) delete fields[field];
    log.info(fields, 'request');
  };
}

function tlsFields(res: ServerResponse): { tlsVersion?: string; tlsCipher?: string } {
  const segment = tlsSegment(res, 0);
  return segment === '' ? {} : (JSON.parse(`{${segment.slice(1)}}`) as { tlsVersion?: string; tlsCipher?: string });
}

function bodyBytes(res: ServerResponse, ctx: RequestContext): number {
  return ctx.method === 'HEAD' ? 0 : ((res as CountingResponse).bodyBytes ?? 0);
}

function durationMs(ctx: RequestContext): number {
  return Math.round((performance.now() - ctx.start) * 100) / 100;
}
