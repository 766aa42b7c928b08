/**
 * `compress`: brotli or gzip, as the client's Accept-Encoding prefers (q-values, RFC 9110 §12.5.3); when q-values tie,
 * the first of `encodings` wins (Traefik's option: the list offered, in order of preference; br, gzip by default).
 * The decision waits for the response head: it is skipped for a response that already has a Content-Encoding,
 * a Content-Length under `minResponseBodyBytes`, an already-compressed media type, `Cache-Control: no-transform`
 * (RFC 9111 §5.2.2.6), 204/304, or a HEAD request. A compressed response loses its Content-Length (the length is
 * not known until the end) and gains Vary: Accept-Encoding. The body streams through zlib with backpressure: a
 * write returns zlib's answer (false when zlib's buffer is full), and the writer gets 'drain' when zlib has room again;
 * zlib's output pauses while the client's socket is full. `res.writableLength` is left alone: Node ≥ 22 emits a
 * response's 'drain' only when its own writableLength is 0, so counting zlib's queue there stalls every large body.
 * A response without Content-Length is compressed whatever its size (it is not held back to measure it).
 */
import type { ServerResponse } from 'node:http';
import { constants, createBrotliCompress, createGzip, type BrotliCompress, type Gzip } from 'node:zlib';
import type { CompressConfig } from '../config/schema-middlewares.js';
import { MIDDLEWARE_DEFAULTS } from '../config/option-defaults.js';
import type { Wrapper } from '../http/middlewares.js';
import { middlewareConfigError } from './config-error.js';
import { appendVary } from './cors.js';
import { beforeWriteHead } from './response-hook.js';
import { wrapsWrite, writeCallsBackWhenDone } from '../http/write-callbacks.js';

/** Media types that are compressed already (or must stream unbuffered): compressing them again wastes CPU. */
export const ALREADY_COMPRESSED: readonly string[] = [
  'image/',
  'video/',
  'audio/',
  'font/woff',
  'font/woff2',
  'application/zip',
  'application/gzip',
  'application/x-gzip',
  'application/zstd',
  'application/x-bzip2',
  'application/x-xz',
  'application/x-7z-compressed',
  'application/x-rar-compressed',
  'application/pdf',
  'application/octet-stream',
  'application/grpc',
  'text/event-stream',
];

/** brotli quality 4: near gzip's speed with a better ratio; the default (11) is for offline compression. */
const BROTLI_QUALITY = 4;

/** The encodings this build can produce. */
export type Encoding = 'br' | 'gzip';

const DEFAULT_OFFER: readonly Encoding[] = MIDDLEWARE_DEFAULTS.compressEncodings;

/**
 * The encoding to use for an Accept-Encoding value, or undefined for none (RFC 9110 §12.5.3): the highest q among
 * `offered`, ties to the earlier entry. No header: `fallback` (Traefik's defaultEncoding); an empty one refuses
 * every coding. A winner the client accepted only through `*` yields to `fallback` when that is acceptable too.
 */
export function negotiateEncoding(accept: string | undefined, offered: readonly Encoding[] = DEFAULT_OFFER, fallback?: Encoding): Encoding | undefined {
  if (accept === undefined) return fallback;
  if (accept === '') return undefined;
  let br = -1;
  let gzip = -1;
  let star = -1;
  for (const part of accept.split(',')) {
    const semi = part.indexOf(';');
    const coding = (semi === -1 ? part : part.slice(0, semi)).trim().toLowerCase();
    let q = 1;
    if (semi !== -1) {
      const m = /q\s*=\s*([0-9.]+)/i.exec(part.slice(semi + 1));
      if (m) q = Number(m[1]);
      if (Number.isNaN(q)) q = 0;
    }
    if (coding === 'br') br = q;
    else if (coding === 'gzip' || coding === 'x-gzip') gzip = Math.max(gzip, q);
    else if (coding === '*') star = q;
  }
  const brExplicit = br !== -1;
  const gzipExplicit = gzip !== -1;
  if (!brExplicit) br = star;
  if (!gzipExplicit) gzip = star;
  let best: Encoding | undefined;
  let bestQ = 0;
  for (let i = 0; i < offered.length; i++) {
    const e = offered[i]!;
    const q = e === 'br' ? br : gzip;
    if (q > bestQ) {
      best = e;
      bestQ = q;
    }
  }
  if (best === undefined || fallback === undefined || fallback === best) return best;
  const viaStar = best === 'br' ? !brExplicit : !gzipExplicit;
  const fallbackQ = fallback === 'br' ? br : gzip;
  return viaStar && fallbackQ > 0 && offered.includes(fallback) ? fallback : best;
}

interface Policy {
  readonly min: number;
  readonly included: readonly string[] | undefined;
  readonly excluded: readonly string[];
}

type WriteFn = (this: ServerResponse, chunk: unknown, ...rest: unknown[]) => boolean;
type EndFn = (this: ServerResponse, ...args: unknown[]) => ServerResponse;

interface State {
  readonly policy: Policy;
  readonly encoding: Encoding;
  readonly write: WriteFn;
  readonly end: EndFn;
  zlib: BrotliCompress | Gzip | undefined;
}

const STATE = Symbol('gatehouse.compress');
type Compressing = ServerResponse & { [STATE]?: State };

function mediaType(res: ServerResponse): string | undefined {
  const ct = res.getHeader('content-type');
  if (ct === undefined) return undefined;
  const text = String(Array.isArray(ct) ? ct[0] : ct);
  const semi = text.indexOf(';');
  return (semi === -1 ? text : text.slice(0, semi)).trim().toLowerCase();
}

function listed(type: string, list: readonly string[]): boolean {
  for (const entry of list) if (entry.endsWith('/') ? type.startsWith(entry) : type === entry) return true;
  return false;
}

function shouldCompress(res: ServerResponse, policy: Policy): boolean {
  const status = res.statusCode;
  if (status < 200 || status === 204 || status === 304) return false;
  if (res.getHeader('content-encoding') !== undefined) return false;
  const length = res.getHeader('content-length');
  if (length !== undefined && Number(length) < policy.min) return false;
  const cc = res.getHeader('cache-control');
  if (cc !== undefined && /no-transform/i.test(String(cc))) return false;
  const type = mediaType(res);
  if (policy.included !== undefined) return type !== undefined && listed(type, policy.included);
  return type === undefined || !listed(type, policy.excluded);
}

/** The head hook: decide, and when compressing start zlib and fix the head. */
const decide = (res: ServerResponse, state: State): void => {
  if (!shouldCompress(res, state.policy)) {
    restore(res as Compressing, state);
    return;
  }
  res.removeHeader('content-length');
  res.setHeader('content-encoding', state.encoding);
  appendVary(res, 'Accept-Encoding');
  const z =
    state.encoding === 'br'
      ? createBrotliCompress({ params: { [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY } })
      : createGzip();
  state.zlib = z;
  z.on('data', (out: Buffer) => {
    if (!state.write.call(res, out)) z.pause();
  });
  res.on('drain', () => z.resume());
  z.on('drain', () => res.emit('drain'));
  z.once('end', () => state.end.call(res));
  z.once('error', (err) => {
    res.destroy(err);
  });
  res.once('close', () => z.destroy());
};

function restore(res: Compressing, state: State): void {
  res.write = state.write as ServerResponse['write'];
  res.end = state.end as ServerResponse['end'];
  res[STATE] = undefined;
}

// Shared replacements of write/end (no closure per request): the first write or end triggers the head, whose hook
// decides; then bytes go to zlib or straight through.
function compressingWrite(this: Compressing, chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
  const state = this[STATE]!;
  if (!this.headersSent) this.writeHead(this.statusCode);
  if (state.zlib === undefined) return state.write.call(this, chunk, encoding, cb);
  const done = typeof encoding === 'function' ? encoding : cb;
  const data = typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8') : (chunk as Buffer);
  return typeof done === 'function' ? state.zlib.write(data, done as () => void) : state.zlib.write(data);
}

// It passes the callback on, to zlib (called once zlib has taken the chunk in) or to the write it wraps.
writeCallsBackWhenDone(compressingWrite);

function compressingEnd(this: Compressing, chunk?: unknown, encoding?: unknown, cb?: unknown): ServerResponse {
  const state = this[STATE]!;
  if (!this.headersSent) this.writeHead(this.statusCode);
  if (state.zlib === undefined) return state.end.call(this, chunk, encoding, cb);
  const done = typeof chunk === 'function' ? chunk : typeof encoding === 'function' ? encoding : cb;
  if (typeof done === 'function') this.once('finish', done as () => void);
  if (chunk !== undefined && chunk !== null && typeof chunk !== 'function') {
    state.zlib.end(typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8') : (chunk as Buffer));
  } else state.zlib.end();
  return this;
}

/** Build a compress middleware; throws MIDDLEWARE_CONFIG when `encodings` offers nothing this build can produce. */
export function createCompress(spec: CompressConfig, path: string): Wrapper {
  const offered = (spec.encodings ?? DEFAULT_OFFER).filter((e): e is Encoding => e !== 'zstd');
  if (offered.length === 0) throw middlewareConfigError(`${path}/encodings`, 'no encoding gatehouse can produce is listed (zstd is not available; add br or gzip)');
  const fallback = spec.defaultEncoding;
  const policy: Policy = {
    min: spec.minResponseBodyBytes ?? MIDDLEWARE_DEFAULTS.compressMinBytes,
    included: spec.includedContentTypes?.map((t) => t.toLowerCase()),
    excluded: [...ALREADY_COMPRESSED, ...(spec.excludedContentTypes ?? []).map((t) => t.toLowerCase())],
  };
  return (next) => (req, res, ctx) => {
    const encoding = ctx.method === 'HEAD' || ctx.upgrade !== undefined ? undefined : negotiateEncoding(req.headers['accept-encoding'], offered, fallback);
    if (encoding !== undefined) {
      const r = res as Compressing;
      const state: State = { policy, encoding, write: res.write as WriteFn, end: res.end as EndFn, zlib: undefined };
      r[STATE] = state;
      wrapsWrite(res, res.write);
      r.write = compressingWrite as ServerResponse['write'];
      r.end = compressingEnd as ServerResponse['end'];
      beforeWriteHead(res, decide, state);
    }
    return next(req, res, ctx);
  };
}
