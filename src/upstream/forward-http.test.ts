import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createUpstream, type ForwardInfo, type Upstream, type UpstreamOptions } from './index.js';
import { closeWithSockets, listenLoopback } from '../../test/helpers/closers.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function backend(handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  closeWithSockets(server, closers);
  return `http://127.0.0.1:${await listenLoopback(server)}`;
}

/** A proxy in front of `servers`; returns its URL and the JSON log lines it wrote. */
async function proxy(servers: string[], extra: Partial<UpstreamOptions> = {}, trustForwarded = false) {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'debug' }, new Writable({ write(chunk, _enc, cb) { lines.push(JSON.parse(String(chunk))); cb(); } }));
  const upstream: Upstream = createUpstream(
    { servers, passHostHeader: true, connectTimeoutMs: 2000, responseHeadersTimeoutMs: 2000, idleTimeoutMs: 5000, maxConnections: 8, ...extra },
    log,
  );
  const infos: ForwardInfo[] = [];
  const server = http.createServer((req, res) => {
    const info: ForwardInfo = { clientIp: req.socket.remoteAddress ?? '', scheme: 'http', trustForwarded, upstream: undefined, log };
    infos.push(info);
    upstream.forward(req, res, info);
  });
  closeWithSockets(server, closers);
  closers.push(() => upstream.close());
  const port = await listenLoopback(server);
  return { url: `http://127.0.0.1:${port}`, port, lines, infos };
}

function request(url: string, opts: http.RequestOptions = {}, body?: Buffer): Promise<{ status: number; headers: http.IncomingHttpHeaders; raw: string[]; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent: false, ...opts }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, raw: res.rawHeaders, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('forward (plain HTTP)', () => {
  it('relays status, headers, several Set-Cookie lines and the forwarded headers', async () => {
    let seen: http.IncomingHttpHeaders = {};
    const up = await backend((req, res) => {
      seen = req.headers;
      res.writeHead(201, [['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2'], ['Connection', 'X-Hop'], ['X-Hop', 'x'], ['X-Keep', 'y']].flat());
      res.end('ok');
    });
    const p = await proxy([up]);
    const r = await request(`${p.url}/path?q=1`, { headers: { 'x-forwarded-for': '6.6.6.6', host: 'site.test' } });
    expect(r.status).toBe(201);
    expect(r.body.toString()).toBe('ok');
    expect(r.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(r.headers['x-hop']).toBeUndefined();
    expect(r.headers['x-keep']).toBe('y');
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen['x-forwarded-proto']).toBe('http');
    expect(seen['x-forwarded-host']).toBe('site.test');
    expect(seen['x-forwarded-port']).toBe('80'); // Host 'site.test' has no port: the http default
    expect(seen.host).toBe('site.test');
    expect(p.infos[0]?.upstream).toBe(up);
  });

  it.each([
    ['client Host passed through', true, 'site.test'],
    ['server URL host sent', false, 'SERVER'],
  ])('passHostHeader: %s', async (_desc, passHostHeader, expected) => {
    let host: string | undefined;
    const up = await backend((req, res) => res.end((host = req.headers.host)));
    const p = await proxy([up], { passHostHeader });
    await request(p.url, { headers: { host: 'site.test' } });
    expect(host).toBe(expected === 'SERVER' ? new URL(up).host : expected);
  });

  it('prefixes the path of the server URL', async () => {
    const up = await backend((req, res) => res.end(req.url));
    const p = await proxy([`${up}/api/`]);
    expect((await request(`${p.url}/v1/x?y=2`)).body.toString()).toBe('/api/v1/x?y=2');
  });

  it('goes round robin across servers', async () => {
    const a = await backend((_req, res) => res.end('a'));
    const b = await backend((_req, res) => res.end('b'));
    const p = await proxy([a, b]);
    const got: string[] = [];
    for (let i = 0; i < 4; i++) got.push((await request(p.url)).body.toString());
    expect(got).toEqual(['a', 'b', 'a', 'b']);
  });

  it('streams 10 MiB both ways intact', async () => {
    const upload = Buffer.alloc(10 * 1024 * 1024);
    for (let i = 0; i < upload.length; i += 4) upload.writeUInt32LE((i * 2654435761) >>> 0, i);
    const up = await backend((req, res) => {
      const hash = createHash('sha256');
      let n = 0;
      req.on('data', (c: Buffer) => (hash.update(c), (n += c.length)));
      req.on('end', () => {
        res.setHeader('x-upload-sha', hash.digest('hex'));
        res.setHeader('x-upload-len', String(n));
        res.end(upload); // echo the same bytes back
      });
    });
    const p = await proxy([up]);
    const r = await request(p.url, { method: 'POST', headers: { 'content-length': upload.length } }, upload);
    expect(r.headers['x-upload-len']).toBe(String(upload.length));
    expect(r.headers['x-upload-sha']).toBe(sha(upload));
    expect(sha(r.body)).toBe(sha(upload));
  });

  it('answers 502 with one log line when the port is closed', async () => {
    const probe = net.createServer();
    const port = await listenLoopback(probe);
    await new Promise((r) => probe.close(r));
    const p = await proxy([`http://127.0.0.1:${port}`]);
    const r = await request(p.url);
    expect(r.status).toBe(502);
    expect(r.body.toString()).toBe('Bad Gateway\n');
    const warns = p.lines.filter((l) => l['level'] === 40);
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatchObject({ code: 'UPSTREAM_CONNECT', msg: 'upstream failed', upstream: `http://127.0.0.1:${port}` });
    // One line with the cause, no error object with its stack.
    expect(warns[0]!['reason']).toMatch(/ECONNREFUSED/);
    expect(warns[0]!['err']).toBeUndefined();
  });

  it('answers 504 when the upstream accepts and never answers', async () => {
    const silent = net.createServer((s) => s.on('data', () => {}));
    closeWithSockets(silent, closers);
    const port = await listenLoopback(silent);
    const p = await proxy([`http://127.0.0.1:${port}`], { responseHeadersTimeoutMs: 300 });
    const r = await request(p.url);
    expect(r.status).toBe(504);
    expect(p.lines.filter((l) => l['level'] === 40).map((l) => l['code'])).toEqual(['UPSTREAM_TIMEOUT']);
  });

  it('cancels the upstream request when the client aborts', async () => {
    let upstreamSawClose!: () => void;
    const closed = new Promise<void>((r) => (upstreamSawClose = r));
    const up = await backend((_req, res) => {
      res.writeHead(200, { 'content-length': 1_000_000 });
      res.write('partial');
      res.on('close', () => upstreamSawClose()); // never completes on its own
    });
    const p = await proxy([up]);
    await new Promise<void>((resolve, reject) => {
      const req = http.get(p.url, { agent: false }, (res) => res.once('data', () => (req.destroy(), resolve())));
      req.on('error', () => {});
      setTimeout(() => reject(new Error('no first chunk')), 2000);
    });
    await Promise.race([closed, new Promise((_r, reject) => setTimeout(() => reject(new Error('upstream never saw the abort')), 2000))]);
    expect(p.lines.filter((l) => l['level'] === 40)).toHaveLength(0);
  });

  /** A raw upstream that answers each request with `reply` and closes (end, or reset), as a crashing backend does. */
  async function rawUpstream(reply: string, close: 'end' | 'reset'): Promise<string> {
    const server = net.createServer((s) => {
      s.on('error', () => {});
      s.once('data', () => s.write(reply, () => (close === 'end' ? s.end() : s.resetAndDestroy())));
    });
    closeWithSockets(server, closers);
    return `http://127.0.0.1:${await listenLoopback(server)}`;
  }

  it.each([
    { description: 'closes right after its head', close: 'end' as const },
    { description: 'resets right after its head', close: 'reset' as const },
  ])('answers 502 when the upstream $description (nothing reached the client)', async ({ close }) => {
    const up = await rawUpstream('HTTP/1.1 200 OK\r\nContent-Length: 100\r\nX-From: up\r\n\r\n', close);
    const p = await proxy([up]);
    const r = await request(p.url);
    expect(r.status).toBe(502);
    expect(r.body.toString()).toBe('Bad Gateway\n');
    expect(r.headers['x-from']).toBeUndefined();
    expect(p.lines.filter((l) => l['level'] === 40).map((l) => [l['msg'], l['code']])).toEqual([['upstream failed', 'UPSTREAM_FAILED']]);
  });

  it('does not send the request to another server once one answered with a head', async () => {
    let second = 0;
    const other = await backend((_req, res) => (second++, res.end('second')));
    const up = await rawUpstream('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n', 'end');
    const p = await proxy([up, other]);
    const r = await request(p.url);
    expect(r.status).toBe(502);
    expect(second).toBe(0);
  });

  it('cuts the client connection when the upstream closes after part of its body', async () => {
    const up = await rawUpstream('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part', 'end');
    const p = await proxy([up]);
    const head = await new Promise<{ status: number; error: Error | undefined; body: string }>((resolve) => {
      const req = http.get(p.url, { agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('error', (error) => resolve({ status: res.statusCode ?? 0, error, body }));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, error: undefined, body }));
      });
      req.on('error', (error) => resolve({ status: 0, error, body: '' }));
    });
    expect(head.status).toBe(200);
    expect(head.body).toBe('only part');
    expect(head.error?.message).toMatch(/aborted/);
  });

  it('destroys the client response when the upstream dies mid-body', async () => {
    const up = await backend((_req, res) => {
      res.writeHead(200, { 'content-length': 100 });
      res.write('only part', () => setTimeout(() => res.socket?.destroy(), 20));
    });
    const p = await proxy([up]);
    await expect(request(p.url)).rejects.toThrow();
    expect(p.lines.filter((l) => l['level'] === 40).map((l) => l['code'])).toEqual(['UPSTREAM_FAILED']);
  });
});
