// Reused upstream read buffers (src/upstream/read-slabs.ts) under load: many responses at once, each with its own
// bytes, through the real forwarder over real sockets, with every way a buffer could be reused too early provoked
// (slow clients that make the forwarder pause undici, heads split across reads, 103 before the final answer,
// chunked bodies, clients leaving mid-body, clients reset as their response starts, a write wrapper that calls back
// before it is done). A buffer reused while its bytes were still on their way would show as a body whose hash
// differs; one held for good, as a buffer still out after the upstream connections closed.
import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { pino } from 'pino';
import { gunzipSync } from 'node:zlib';
import { createUpstream, type ForwardInfo } from '../../src/upstream/index.js';
import { createBuffering } from '../../src/middlewares/buffering.js';
import { createCompress } from '../../src/middlewares/compress.js';
import type { RequestContext } from '../../src/http/context.js';
import { SLAB_BYTES, slabStats } from '../../src/upstream/read-slabs.js';
import { closeWithSockets, listenLoopback } from '../helpers/closers.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const log = pino({ level: process.env.SLAB_TEST_LOG ?? 'silent' });

/** `size` bytes that only response `id` has (xorshift from the id). */
function bodyFor(id: number, size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = (id * 2654435761) >>> 0 || 1;
  for (let i = 0; i + 4 <= size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeUInt32LE(x >>> 0, i);
  }
  for (let i = size - (size % 4); i < size; i++) out[i] = id & 0xff;
  return out;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
/** A header value as long as a read buffer's tail, so a head can straddle two reads. */
const checkValue = (id: number): string => bodyFor(id, 6000).toString('base64');

/** The upstream: `/<kind>/<id>/<size>`; `split` kinds come from a raw server that sends the head in three pieces. */
async function upstreams(): Promise<{ http: string; raw: string }> {
  const server = http.createServer((req, res) => {
    const [, kind, idText, sizeText] = (req.url ?? '').split('?')[0]!.split('/');
    const id = Number(idText);
    const body = bodyFor(id, Number(sizeText));
    res.setHeader('x-check', checkValue(id));
    res.setHeader('content-type', 'application/octet-stream');
    if (kind === 'early') res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
    if (kind === 'chunked') {
      // Uneven pieces, each after a turn of the event loop: chunked framing, many small reads.
      let at = 0;
      const step = (): void => {
        if (at >= body.length) return void res.end();
        const n = 1 + ((at * 7919 + id) % 90_000);
        res.write(body.subarray(at, at + n));
        at += n;
        setImmediate(step);
      };
      return step();
    }
    res.setHeader('content-length', body.length);
    res.end(body);
  });
  closeWithSockets(server, closers);
  const raw = net.createServer((socket) => {
    socket.on('error', () => {}); // the forwarder resets it when a client leaves mid-body
    let text = '';
    socket.on('data', (d) => {
      text += d.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [, , idText, sizeText] = text.slice(0, end).split(' ')[1]!.split('?')[0]!.split('/');
      text = text.slice(end + 4);
      const id = Number(idText);
      const body = bodyFor(id, Number(sizeText));
      const head = Buffer.from(`HTTP/1.1 200 OK\r\nX-Check: ${checkValue(id)}\r\nX-Pad: ${id}\r\nContent-Length: ${body.length}\r\n\r\n`, 'latin1');
      // The head in four writes 15 ms apart: undici keeps its pieces as views until the head is whole. The second
      // ends right after the X-Check line, so that value is a view no later byte extends (and so copies), and it
      // must outlive two more reads. (Each write schedules the next: two timers of different lengths may fire in
      // either order under load.)
      const checkEnd = head.indexOf('\r\n', 20) + 2;
      const padEnd = head.indexOf('\r\n', checkEnd) + 2;
      const pieces = [head.subarray(0, 20), head.subarray(20, checkEnd), head.subarray(checkEnd, padEnd), Buffer.concat([head.subarray(padEnd), body])];
      const send = (): void => {
        socket.write(pieces.shift()!);
        if (pieces.length > 0) setTimeout(send, 15);
      };
      send();
    });
  });
  closeWithSockets(raw, closers);
  return { http: `http://127.0.0.1:${await listenLoopback(server)}`, raw: `http://127.0.0.1:${await listenLoopback(raw)}` };
}

/**
 * A client whose connection is reset as its response starts: the front's socket is destroyed as the head goes out,
 * which is what an ECONNRESET from the client read in the same turn of the event loop does. The response's 'close'
 * comes a turn later, so the forwarder still writes the first body chunk, to a socket that takes nothing any more.
 * (Node drops such a write without calling its callback: the chunk's buffer must not stay held forever.)
 */
const cutAtHead = (res: http.ServerResponse): void => {
  if (!res.req.url?.endsWith('?cut')) return;
  const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => http.ServerResponse;
  res.writeHead = ((...args: unknown[]) => {
    const out = writeHead(...args);
    res.socket?.destroy();
    return out;
  }) as typeof res.writeHead;
};

/** A forwarder in front of `server`; `wrap` may replace `res.write` before the response is forwarded. */
async function proxy(
  server: string,
  wrap?: (res: http.ServerResponse) => void,
  middleware?: (next: (req: http.IncomingMessage, res: http.ServerResponse, ctx: RequestContext) => void) => (req: http.IncomingMessage, res: http.ServerResponse, ctx: RequestContext) => unknown,
): Promise<{ port: number; close: () => Promise<void> }> {
  const upstream = createUpstream(
    { servers: [server], passHostHeader: true, connectTimeoutMs: 2000, responseHeadersTimeoutMs: 5000, idleTimeoutMs: 5000, maxConnections: 16 },
    log,
  );
  const forward = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const info: ForwardInfo = { clientIp: '127.0.0.1', scheme: 'http', trustForwarded: false, upstream: undefined, log };
    upstream.forward(req, res, info);
  };
  const handler = middleware?.(forward);
  const front = http.createServer((req, res) => {
    wrap?.(res);
    if (handler === undefined) return forward(req, res);
    // What compress and buffering read of the request context.
    const ctx = { method: req.method, upgrade: undefined, log, router: 'slabs' } as unknown as RequestContext;
    void handler(req, res, ctx);
  });
  closeWithSockets(front, closers);
  const close = (): Promise<void> => upstream.close();
  closers.push(close);
  return { port: await listenLoopback(front), close };
}

type Client = 'fast' | 'slow' | 'leave' | 'cut';
interface Outcome {
  status: number;
  hash: string;
  check: string | undefined;
}

/** GET through the proxy; `slow` stops reading for 25 ms every 192 KiB, `leave` goes away after 100 KiB. */
function get(port: number, path: string, client: Client, agent: http.Agent): Promise<Outcome | 'left'> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: client === 'cut' ? `${path}?cut` : path, agent }, (res) => {
      const chunks: Buffer[] = [];
      let got = 0;
      let nextPause = 192 * 1024;
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        got += c.length;
        if (client === 'leave' && got > 100 * 1024) {
          req.destroy();
          resolve('left');
        } else if (client === 'slow' && got >= nextPause) {
          nextPause += 192 * 1024;
          res.pause();
          setTimeout(() => res.resume(), 25);
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, hash: sha(Buffer.concat(chunks)), check: res.headers['x-check'] as string | undefined }));
      res.on('error', (err) => (client === 'leave' || client === 'cut' ? resolve('left') : reject(err)));
    });
    req.on('error', (err) => (client === 'leave' || client === 'cut' ? resolve('left') : reject(err)));
  });
}

/** Slabs neither free, lost nor dropped: held by sockets or writes. */
const outstanding = (): number => slabStats.allocated - slabStats.lost - slabStats.dropped - slabStats.free();

async function waitFor(check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

const SIZES = [0, 1, 100, SLAB_BYTES - 1, SLAB_BYTES, SLAB_BYTES + 1, 200_000, 1024 * 1024 + 7, 3 * 1024 * 1024];
const KINDS = ['cl', 'chunked', 'early', 'split'] as const;
const CLIENTS: Client[] = ['fast', 'slow', 'fast', 'leave'];

describe('reused upstream read buffers', () => {
  it('every body arrives intact under load, heads split across reads survive, and every buffer comes back', { timeout: 60_000 }, async () => {
    const { http: httpUp, raw } = await upstreams();
    const viaHttp = await proxy(httpUp, cutAtHead);
    const viaRaw = await proxy(raw, cutAtHead);
    const before = { ...slabStats, outstanding: outstanding() };
    const agent = new http.Agent({ keepAlive: true, maxSockets: 12 });
    const jobs: { id: number; kind: (typeof KINDS)[number]; size: number; client: Client }[] = [];
    for (let id = 1; id <= 180; id++) {
      const kind = KINDS[id % KINDS.length]!;
      const size = SIZES[(id * 5) % SIZES.length]!;
      const client = size > 100 * 1024 ? CLIENTS[id % CLIENTS.length]! : 'fast';
      jobs.push({ id, kind, size, client });
    }
    // Clients reset as their response starts (cutAtHead), on both upstreams, with bodies of one read and of many.
    for (let id = 181; id <= 192; id++) jobs.push({ id, kind: id % 2 === 0 ? 'cl' : 'split', size: id % 3 === 0 ? 100 : 1024 * 1024 + 7, client: 'cut' });
    let next = 0;
    const failures: string[] = [];
    let verified = 0;
    let left = 0;
    const worker = async (): Promise<void> => {
      while (next < jobs.length) {
        const job = jobs[next++]!;
        const port = job.kind === 'split' ? viaRaw.port : viaHttp.port;
        const out = await get(port, `/${job.kind}/${job.id}/${job.size}`, job.client, agent);
        if (out === 'left') {
          left++;
          continue;
        }
        const want = sha(bodyFor(job.id, job.size));
        if (out.status !== 200 || out.hash !== want || out.check !== checkValue(job.id)) {
          failures.push(`${job.kind} #${job.id} ${job.size} B (${job.client}): status ${out.status}, body ${out.hash === want ? 'ok' : 'differs'}, head ${out.check === checkValue(job.id) ? 'ok' : 'differs'}`);
        } else verified++;
      }
    };
    await Promise.all(Array.from({ length: 12 }, worker));
    agent.destroy();
    expect(failures).toEqual([]);
    expect(verified + left).toBe(jobs.length);
    expect(verified).toBeGreaterThan(120);
    expect(left).toBeGreaterThan(5);
    expect(slabStats.misuse).toBe(before.misuse);
    // The point of it all: buffers were handed out again, far more often than new ones were made.
    const reused = slabStats.reused - before.reused;
    const allocated = slabStats.allocated - before.allocated;
    expect(reused).toBeGreaterThan(10 * allocated);
    // Once the upstream connections are closed, every buffer is free again (none kept by a forgotten hold).
    await viaHttp.close();
    await viaRaw.close();
    await waitFor(() => outstanding() === before.outstanding, 3000);
    expect(outstanding()).toBe(before.outstanding);
  });

  it('a write wrapper that calls back before it is done with the chunk never gets a buffer that is reused', { timeout: 30_000 }, async () => {
    const { http: httpUp } = await upstreams();
    // Keeps each chunk 20 ms before writing it, but says "done" at once: were the buffer reused on that word,
    // the bytes written 20 ms later would be another response's.
    const late = (res: http.ServerResponse): void => {
      const write = res.write.bind(res) as (chunk: Buffer) => boolean;
      const end = res.end.bind(res) as () => http.ServerResponse;
      let pending = 0;
      let ending = false;
      res.write = ((chunk: Buffer, cb?: () => void) => {
        pending++;
        setTimeout(() => {
          write(chunk);
          if (--pending === 0 && ending) end();
        }, 20);
        if (typeof cb === 'function') cb();
        return true;
      }) as typeof res.write;
      res.end = (() => {
        ending = true;
        if (pending === 0) end();
        return res;
      }) as typeof res.end;
    };
    const via = await proxy(httpUp, late);
    const lostBefore = slabStats.lost;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 6 });
    const results = await Promise.all(Array.from({ length: 24 }, (_, i) => get(via.port, `/cl/${1000 + i}/${300_000 + i}`, 'fast', agent)));
    agent.destroy();
    results.forEach((out, i) => {
      expect(out).not.toBe('left');
      expect((out as Outcome).hash).toBe(sha(bodyFor(1000 + i, 300_000 + i)));
    });
    expect(slabStats.lost).toBeGreaterThan(lostBefore);

    // The same wrapper under buffering's response limit, which is known to call back when done and passes each chunk
    // with its callback to the write it wraps: the wrapper below it makes the chain unknown, so still never reused.
    const limit = createBuffering({ maxResponseBodyBytes: 8 * 1024 * 1024 }, '/http/middlewares/limit');
    const under = await proxy(httpUp, late, (next) => limit(next) as never);
    const lostUnder = slabStats.lost;
    const agentUnder = new http.Agent({ keepAlive: true, maxSockets: 6 });
    const plain = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        new Promise<{ encoding: string | undefined; hash: string }>((resolve, reject) => {
          http
            .get({ host: '127.0.0.1', port: under.port, path: `/cl/${3000 + i}/${300_000 + i}`, agent: agentUnder }, (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (c: Buffer) => chunks.push(c));
              res.on('end', () => resolve({ encoding: res.headers['content-encoding'] as string | undefined, hash: sha(Buffer.concat(chunks)) }));
            })
            .on('error', reject);
        }),
      ),
    );
    agentUnder.destroy();
    plain.forEach((r, i) => {
      expect(r.encoding).toBeUndefined();
      expect(r.hash).toBe(sha(bodyFor(3000 + i, 300_000 + i)));
    });
    expect(slabStats.lost).toBeGreaterThan(lostUnder);
  });

  it('through compress and buffering, which pass the write callback on, bodies arrive whole and buffers are reused', { timeout: 30_000 }, async () => {
    const { http: httpUp } = await upstreams();
    const gzip = createCompress({ encodings: ['gzip'], includedContentTypes: ['application/octet-stream'] }, '/http/middlewares/zip');
    const limit = createBuffering({ maxResponseBodyBytes: 8 * 1024 * 1024 }, '/http/middlewares/limit');
    const via = await proxy(httpUp, undefined, (next) => limit(gzip(next)) as never);
    const before = { ...slabStats };
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        new Promise<{ encoding: string | undefined; body: Buffer }>((resolve, reject) => {
          const size = 400_000 + i * 40_000;
          http
            .get({ host: '127.0.0.1', port: via.port, path: `/cl/${2000 + i}/${size}`, headers: { 'accept-encoding': 'gzip' }, agent: false }, (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (c: Buffer) => chunks.push(c));
              res.on('end', () => resolve({ encoding: res.headers['content-encoding'] as string | undefined, body: Buffer.concat(chunks) }));
            })
            .on('error', reject);
        }),
      ),
    );
    results.forEach((r, i) => {
      expect(r.encoding).toBe('gzip');
      expect(sha(gunzipSync(r.body))).toBe(sha(bodyFor(2000 + i, 400_000 + i * 40_000)));
    });
    expect(slabStats.misuse).toBe(before.misuse);
    expect(slabStats.lost).toBe(before.lost);
    expect(slabStats.reused - before.reused).toBeGreaterThan(50);
  });
});
