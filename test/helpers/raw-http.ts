/**
 * Clients for the integration tests: `httpRequest` for ordinary requests (one fresh connection each, so no pool
 * outlives a test), and raw `net` clients for what an HTTP library will not send: a slowloris trickle, an
 * oversized head, a connection attempt after shutdown.
 */
import { request as httpRequestRaw, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Readable } from 'node:stream';

/** A complete response. */
export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

export interface HttpRequestOptions {
  method?: string;
  path?: string;
  /** Sent as the Host header; defaults to 127.0.0.1:<port>. */
  host?: string;
  headers?: Record<string, string | string[]>;
  /** A buffer or string is sent with a content-length; a stream is sent chunked. */
  body?: string | Buffer | Readable;
  timeoutMs?: number;
}

/** Sends one request over a new connection (no agent) and resolves with the whole response; bounded. */
export function httpRequest(port: number, opts: HttpRequestOptions = {}): Promise<HttpResult> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | string[]> = { host: opts.host ?? `127.0.0.1:${port}`, ...opts.headers };
    const req = httpRequestRaw({ host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path ?? '/', headers, agent: false });
    const timer = setTimeout(() => req.destroy(new Error(`no complete response within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      res.on('end', () => {
        clearTimeout(timer);
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
      });
    });
    const body = opts.body;
    if (body === undefined) req.end();
    else if (typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
    else body.pipe(req);
  });
}

/** What a raw exchange produced. */
export interface RawResult {
  /** Everything the server sent. */
  data: Buffer;
  /** True when the server closed (or reset) the connection before our deadline. */
  closedByServer: boolean;
  /** Time from connect to the server's close (or to our deadline). */
  elapsedMs: number;
  /** The response status from the first line, or undefined if none arrived. */
  status: number | undefined;
}

function statusOf(data: Buffer): number | undefined {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(data.subarray(0, 32).toString('latin1'));
  return m ? Number(m[1]) : undefined;
}

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/**
 * Connects, then calls `drive(write)` to send bytes on its own schedule, and collects the reply until the server
 * closes the connection or `deadlineMs` passes (then we close it). Writes after the server closed are ignored.
 */
export async function rawExchange(
  port: number,
  drive: (write: (bytes: string | Buffer) => boolean, closed: () => boolean) => Promise<void> | void,
  deadlineMs: number,
): Promise<RawResult> {
  const socket = await openSocket(port);
  const start = performance.now();
  const chunks: Buffer[] = [];
  let closed = false;
  socket.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), deadlineMs);
    const onClose = (): void => {
      clearTimeout(timer);
      closed = true;
      resolve(true);
    };
    socket.once('close', onClose);
    socket.once('end', onClose);
    socket.on('error', onClose);
  });
  const write = (bytes: string | Buffer): boolean => {
    if (closed || socket.destroyed) return false;
    socket.write(bytes);
    return true;
  };
  void Promise.resolve(drive(write, () => closed)).catch(() => {});
  const closedByServer = await ended;
  const elapsedMs = performance.now() - start;
  socket.destroy();
  const data = Buffer.concat(chunks);
  return { data, closedByServer, elapsedMs, status: statusOf(data) };
}

/** Sends a request head one header byte every `intervalMs`, never finishing it, until the server hangs up. */
export function slowloris(port: number, opts: { intervalMs: number; deadlineMs: number; host?: string }): Promise<RawResult> {
  return rawExchange(
    port,
    async (write, closed) => {
      write(`GET / HTTP/1.1\r\nHost: ${opts.host ?? 'slow.test'}\r\n`);
      const header = 'X-Slow: ' + 'a'.repeat(10_000);
      for (let i = 0; i < header.length && !closed(); i++) {
        await new Promise((r) => setTimeout(r, opts.intervalMs));
        if (!write(header[i]!)) return;
      }
    },
    opts.deadlineMs,
  );
}

/** Sends one complete request head with a header of `headerBytes` bytes, and reads the reply. */
export function oversizedHead(port: number, opts: { headerBytes: number; host: string; deadlineMs?: number }): Promise<RawResult> {
  const head = `GET / HTTP/1.1\r\nHost: ${opts.host}\r\nX-Big: ${'b'.repeat(opts.headerBytes)}\r\nConnection: close\r\n\r\n`;
  return rawExchange(port, (write) => void write(head), opts.deadlineMs ?? 5_000);
}

/** Tries a TCP connection: 'connected' (then closed by us), 'refused', or another error code; bounded. */
export function tryConnect(port: number, timeoutMs = 2_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('timeout');
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code === 'ECONNREFUSED' ? 'refused' : (err.code ?? 'error'));
    });
  });
}
