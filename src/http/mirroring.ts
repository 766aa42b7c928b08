/**
 * Mirroring services (Traefik's `mirroring`): the main service answers the client; a share of its requests is
 * copied to other services, fire and forget. A copy is a request of its own (an IncomingMessage fed from memory)
 * answered into a ServerResponse whose socket discards every byte, so any service kind can be a mirror and nothing
 * a mirror does (fail, hang, answer 5xx) reaches the client.
 *
 * The client's body is not held back for the copies: the parser's `req.push` calls (the one place Node hands body
 * bytes over, see buffering.ts) are teed into a list while they also go on to the main service, and the copies
 * start once the body is complete. A body past `maxBodyBytes` stops the tee and is not mirrored.
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { Logger } from '../log.js';
import type { RequestContext } from './context.js';
import type { Handler } from './contract.js';

/** One mirror, already built. */
export interface MirrorTarget {
  readonly name: string;
  /** Share of requests copied, 0–100. */
  readonly percent: number;
  readonly handler: Handler;
}

/** A mirroring service's settings, resolved from the config. */
export interface MirroringOptions {
  readonly main: Handler;
  readonly mirrors: readonly MirrorTarget[];
  /** Largest body copied; -1 = no limit. */
  readonly maxBodyBytes: number;
  /** false: copies go without the body. */
  readonly mirrorBody: boolean;
  /** Copies in flight at once; past it a copy is skipped. */
  readonly maxInFlight: number;
  readonly log: Logger;
}

/** What a copy is made of: the request as it was when the main service got it. */
interface Snapshot {
  readonly method: string;
  readonly url: string;
  readonly rawHeaders: string[];
  readonly ctx: RequestContext;
}

/** Framing headers are rewritten for a copy: its body, if any, is whole and goes with its own length. */
const FRAMING: ReadonlySet<string> = new Set(['content-length', 'transfer-encoding']);

/** True when the request carries a body (RFC 9112 §6.3). */
function hasBody(req: IncomingMessage): boolean {
  const h = req.headers;
  if (h['transfer-encoding'] !== undefined) return true;
  const len = h['content-length'];
  return len !== undefined && len !== '0';
}

/**
 * Build the handler of a mirroring service. The main service gets every request untouched; each mirror gets
 * `percent` of them, spread evenly (an accumulator, not a coin toss, so 10 % is exactly every tenth request).
 */
export function createMirroring(options: MirroringOptions): Handler {
  const { main, mirrors, maxBodyBytes, mirrorBody, maxInFlight, log } = options;
  const credit = mirrors.map(() => 0);
  let inFlight = 0;
  let skipped = 0;

  /** The mirrors this request goes to, or undefined for none (the common case allocates nothing). */
  const chosen = (): MirrorTarget[] | undefined => {
    let out: MirrorTarget[] | undefined;
    for (let i = 0; i < mirrors.length; i++) {
      credit[i]! += mirrors[i]!.percent;
      if (credit[i]! < 100) continue;
      credit[i]! -= 100;
      (out ??= []).push(mirrors[i]!);
    }
    return out;
  };

  const send = (targets: readonly MirrorTarget[], snap: Snapshot, body: Buffer | undefined): void => {
    for (const target of targets) {
      if (inFlight >= maxInFlight) {
        // Counted, logged now and then: a mirror that cannot keep up must not grow memory or flood the log.
        if (skipped++ % 1000 === 0) log.warn({ mirror: target.name, inFlight, skipped }, 'mirror copy skipped');
        continue;
      }
      inFlight++;
      copyTo(target, snap, body, () => inFlight--);
    }
  };

  return (req, res, ctx) => {
    const targets = ctx.upgrade === undefined && mirrors.length > 0 ? chosen() : undefined;
    if (targets === undefined) return main(req, res, ctx);
    const snap: Snapshot = { method: req.method ?? 'GET', url: req.url ?? '/', rawHeaders: req.rawHeaders.slice(), ctx };
    if (!hasBody(req) || !mirrorBody) send(targets, snap, undefined);
    else teeBody(req, maxBodyBytes, (body) => send(targets, snap, body));
    return main(req, res, ctx);
  };
}

/**
 * Collect the body as the main service reads it and call `done` with it once complete; never if it grows past
 * `max`, was already partly read, or the client goes away first. The main service sees the same pushes as before.
 */
function teeBody(req: IncomingMessage, max: number, done: (body: Buffer) => void): void {
  if (req.readableDidRead) return;
  const declared = Number(req.headers['content-length']);
  if (max !== -1 && declared > max) return;
  const chunks: Buffer[] = [];
  let size = 0;
  // Bytes that came with the head are already in req's buffer, not yet read: they are the body's start.
  // (`readableBuffer` is Readable's own, untyped in @types/node: a BufferList in Node 20, an array later; both iterate.)
  for (const chunk of (req as unknown as { readableBuffer: Iterable<Buffer> }).readableBuffer) {
    chunks.push(chunk);
    size += chunk.length;
  }
  if (max !== -1 && size > max) return;
  if (req.complete) {
    done(Buffer.concat(chunks, size));
    return;
  }
  const originalPush = req.push;
  const release = (): void => {
    req.push = originalPush;
  };
  req.push = function teePush(chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk === null) {
      release();
      const pushed = originalPush.call(req, null);
      done(Buffer.concat(chunks, size));
      return pushed;
    }
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : (chunk as Buffer);
    size += buf.length;
    if (max !== -1 && size > max) {
      release();
      chunks.length = 0;
    } else chunks.push(buf);
    return originalPush.call(req, buf);
  } as typeof req.push;
  req.once('close', release);
}

/** A socket for a copy's request and response: reads nothing, and every byte written to it is dropped. */
function discardSocket(): Duplex {
  return new Duplex({
    read() {},
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}

/** Send one copy to `target`; `finished` runs exactly once when the copy is over, however it ends. */
function copyTo(target: MirrorTarget, snap: Snapshot, body: Buffer | undefined, finished: () => void): void {
  const socket = discardSocket();
  const req = new IncomingMessage(socket as unknown as Socket);
  req.method = snap.method;
  req.url = snap.url;
  req.httpVersion = '1.1';
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  const raw: string[] = [];
  const headers: Record<string, string | string[]> = {};
  const src = snap.rawHeaders;
  for (let i = 0; i < src.length; i += 2) {
    const lower = src[i]!.toLowerCase();
    if (FRAMING.has(lower)) continue;
    raw.push(src[i]!, src[i + 1]!);
    const prior = headers[lower];
    headers[lower] = prior === undefined ? src[i + 1]! : Array.isArray(prior) ? [...prior, src[i + 1]!] : `${prior}, ${src[i + 1]!}`;
  }
  if (body !== undefined && body.length > 0) {
    raw.push('Content-Length', String(body.length));
    headers['content-length'] = String(body.length);
    req.push(body);
  }
  req.push(null);
  req.complete = true;
  req.rawHeaders = raw;
  req.headers = headers;
  const res = new ServerResponse(req);
  res.assignSocket(socket as unknown as Socket);
  let over = false;
  const end = (): void => {
    if (over) return;
    over = true;
    finished();
    socket.destroy();
  };
  res.once('finish', end);
  res.once('close', end);
  const ctx: RequestContext = { ...snap.ctx, headers: req.headers, upstream: undefined, upgrade: undefined };
  try {
    Promise.resolve(target.handler(req, res, ctx)).catch((err: unknown) => {
      ctx.log.debug({ err, mirror: target.name }, 'mirror copy failed');
      end();
    });
  } catch (err) {
    ctx.log.debug({ err, mirror: target.name }, 'mirror copy failed');
    end();
  }
}
