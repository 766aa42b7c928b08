import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { WebSocket, WebSocketServer } from 'ws';
import { createUpstream, type ForwardInfo, type Upstream } from './index.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}
function connections(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
}
async function until(what: string, check: () => Promise<boolean>, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A ws echo server that can also close or reset the connection on request ("close" / "reset" messages). */
async function wsBackend() {
  const server = http.createServer((_req, res) => res.end('not a websocket'));
  const wss = new WebSocketServer({ server });
  let lastHeaders: http.IncomingHttpHeaders = {};
  wss.on('connection', (ws, req) => {
    lastHeaders = req.headers;
    ws.on('message', (data) => {
      const text = String(data);
      if (text === 'close') ws.close(1000, 'bye');
      else if (text === 'terminate') ws.terminate();
      else if (text === 'reset') (ws as unknown as { _socket: net.Socket })._socket.resetAndDestroy();
      else ws.send(data);
    });
  });
  const port = await listen(server);
  closers.push(() => new Promise((r) => { for (const c of wss.clients) c.terminate(); wss.close(); server.closeAllConnections?.(); server.close(() => r()); }));
  return { url: `http://127.0.0.1:${port}`, server, headers: () => lastHeaders };
}

async function proxyFor(url: string) {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'debug' }, new Writable({ write(chunk, _e, cb) { lines.push(JSON.parse(String(chunk))); cb(); } }));
  const upstream: Upstream = createUpstream(
    { servers: [url], passHostHeader: true, connectTimeoutMs: 2000, responseHeadersTimeoutMs: 2000, idleTimeoutMs: 5000, maxConnections: 8 },
    log,
  );
  const server = http.createServer((_req, res) => res.end());
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    const info: ForwardInfo = { clientIp: socket.remoteAddress ?? '', scheme: 'http', trustForwarded: false, upstream: undefined, log };
    upstream.upgrade(req, socket, head, info);
  });
  const port = await listen(server);
  closers.push(async () => {
    await upstream.close();
    server.closeAllConnections?.();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { url: `ws://127.0.0.1:${port}`, server, lines };
}

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}
function echo(ws: WebSocket, text: string): Promise<string> {
  return new Promise((resolve) => {
    ws.once('message', (d) => resolve(String(d)));
    ws.send(text);
  });
}

describe('upgrade (WebSocket)', () => {
  it('echoes through the proxy with X-Forwarded-* set', async () => {
    const be = await wsBackend();
    const p = await proxyFor(be.url);
    const ws = await open(`${p.url}/chat`);
    expect(await echo(ws, 'hello')).toBe('hello');
    expect(be.headers()['x-forwarded-for']).toBe('127.0.0.1');
    expect(be.headers()['x-forwarded-proto']).toBe('http');
    ws.close();
  });

  it.each([
    ['client closes', 'client-close'],
    ['server closes', 'server-close'],
    ['client destroys its socket', 'client-destroy'],
    ['server terminates', 'server-terminate'],
    ['client resets (RST)', 'client-reset'],
    ['server resets (RST)', 'server-reset'],
  ])('leaves no socket open after 50 websockets where the %s', async (_desc, how) => {
    const be = await wsBackend();
    const p = await proxyFor(be.url);
    for (let batch = 0; batch < 5; batch++) {
      const sockets = await Promise.all(Array.from({ length: 10 }, () => open(p.url)));
      await Promise.all(sockets.map(async (ws) => {
        expect(await echo(ws, 'ping')).toBe('ping');
        const closed = new Promise((r) => ws.once('close', r));
        if (how === 'client-close') ws.close(1000);
        else if (how === 'client-destroy') ws.terminate();
        else if (how === 'client-reset') (ws as unknown as { _socket: net.Socket })._socket.resetAndDestroy();
        else ws.send(how.slice('server-'.length));
        await closed;
      }));
    }
    await until('proxy connections to drain', async () => (await connections(p.server)) === 0);
    await until('backend connections to drain', async () => (await connections(be.server)) === 0);
    expect(await connections(p.server)).toBe(0);
    expect(await connections(be.server)).toBe(0);
  });

  it('answers 502 on the socket when the upstream refuses the connection', async () => {
    const probe = net.createServer();
    const port = await listen(probe);
    await new Promise((r) => probe.close(r));
    const p = await proxyFor(`http://127.0.0.1:${port}`);
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(p.url);
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('open', () => reject(new Error('opened')));
      ws.once('error', () => {});
    });
    expect(status).toBe(502);
    expect(p.lines.filter((l) => l['level'] === 40).map((l) => l['code'])).toEqual(['UPSTREAM_CONNECT']);
    await until('proxy connections to drain', async () => (await connections(p.server)) === 0);
  });

  it('relays a non-101 refusal from the upstream', async () => {
    const be = await wsBackend();
    be.server.removeAllListeners('upgrade');
    be.server.on('upgrade', (_req, socket: net.Socket) => socket.end('HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nno\r\n0\r\n\r\n'));
    const p = await proxyFor(be.url);
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(p.url);
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('open', () => reject(new Error('opened')));
      ws.once('error', reject);
    });
    expect(status).toBe(403);
  });

  it('drops the upstream request when the client leaves before the upstream answers', async () => {
    const silent = net.createServer((s) => s.on('data', () => {}));
    const port = await listen(silent);
    closers.push(() => new Promise((r) => silent.close(() => r())));
    const p = await proxyFor(`http://127.0.0.1:${port}`);
    const ws = new WebSocket(p.url);
    ws.on('error', () => {});
    await until('upstream connection', async () => (await connections(silent)) === 1);
    ws.terminate();
    await until('upstream connection to close', async () => (await connections(silent)) === 0, 1000); // well under the 2 s timeout
    expect(await connections(silent)).toBe(0);
  });
});
