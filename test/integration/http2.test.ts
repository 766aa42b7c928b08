/**
 * HTTP/2 on a TLS entry point, end to end through a gatehouse child process: a node:http2 client (trusting the test
 * CA) negotiates h2, and its requests go through the same routers, middlewares, forwarder and access log to a real
 * HTTP/1.1 upstream; header limits, PROXY protocol addresses, and HTTP/1.1 clients and websockets on the same port;
 * `tls.http2: false` offers HTTP/1.1 only. Session limits, hostile clients and shutdown: http2-resilience.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { connect as h2Connect, type ClientHttp2Session, type OutgoingHttpHeaders } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, type ClientOptions } from 'ws';
import type { GatehouseProcess } from '../helpers/gatehouse-process.js';
import { ca, closeHttp2Lab, echoOf, h2Client, NAME, sessions, startHttp2Lab, STREAM_CHUNKS } from '../helpers/http2-lab.js';
import { linesWith } from '../helpers/log-lines.js';
import type { EchoReply } from '../helpers/upstreams.js';

let gh: GatehouseProcess;
let port: number;
beforeAll(async () => {
  ({ gh, port } = await startHttp2Lab());
});
afterAll(closeHttp2Lab);
const { connectH2, h2Request } = h2Client(() => port);

describe('HTTP/2 to an HTTP/1.1 upstream', () => {
  it('negotiates h2 and relays status, headers and body; the upstream sees a clean HTTP/1.1 request', async () => {
    const session = await connectH2();
    expect(session.alpnProtocol).toBe('h2');
    const reply = await h2Request(session, { ':path': '/app/x?y=1', 'x-client': 'c1' });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/json');
    // The headers middleware ran; the connection-specific header it was told to add, and the upstream's own
    // Connection/Keep-Alive, did not reach the HTTP/2 response (Node would have refused to send them).
    expect(reply.headers['x-served-by']).toBe('gatehouse');
    expect(reply.headers['keep-alive']).toBeUndefined();
    expect(reply.headers['connection']).toBeUndefined();
    const seen = echoOf(reply);
    expect(seen.method).toBe('GET');
    expect(seen.url).toBe('/app/x?y=1');
    const names = seen.rawHeaders.filter((_, i) => i % 2 === 0);
    expect(names.filter((n) => n.startsWith(':'))).toEqual([]);
    expect(names.filter((n) => n.toLowerCase() === 'host')).toHaveLength(1);
    expect(seen.headers.host).toBe(`${NAME}:${port}`);
    expect(seen.headers['x-client']).toBe('c1');
    expect(seen.headers['x-via-middleware']).toBe('yes');
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    expect(seen.headers['x-forwarded-host']).toBe(`${NAME}:${port}`);
    expect(seen.headers['x-forwarded-port']).toBe(String(port));
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['transfer-encoding']).toBeUndefined();
  });

  it.each([
    { description: 'without Content-Length (DATA frames end it)', withLength: false },
    { description: 'with Content-Length', withLength: true },
  ])('forwards a 1 MiB POST body intact, $description', async ({ withLength }) => {
    const session = await connectH2();
    const body = randomBytes(512 * 1024).toString('hex');
    const reply = await h2Request(session, { ':method': 'POST', ':path': '/app/upload', ...(withLength ? { 'content-length': body.length } : {}) }, body);
    expect(reply.status).toBe(200);
    const seen = echoOf(reply);
    expect(seen.method).toBe('POST');
    expect(seen.body.length).toBe(body.length);
    expect(seen.body === body).toBe(true);
  });

  it('relays a 4 MiB chunked upstream response through HTTP/2 flow control, without Transfer-Encoding', async () => {
    const session = await connectH2();
    const reply = await h2Request(session, { ':path': '/stream/big' }, undefined, 20_000);
    expect(reply.status).toBe(200);
    expect(reply.headers['transfer-encoding']).toBeUndefined();
    expect(reply.body.length).toBe(STREAM_CHUNKS * 64 * 1024);
    // The chunks arrive whole and in order: chunk i is filled with (STREAM_CHUNKS - 1 - i) % 251.
    for (let i = 0; i < STREAM_CHUNKS; i++) expect(reply.body[i * 64 * 1024 + 100]).toBe((STREAM_CHUNKS - 1 - i) % 251);
  });

  it('answers from a respond router and 404 for a host no router takes', async () => {
    const session = await connectH2();
    const made = await h2Request(session, { ':path': '/made' });
    expect(made.status).toBe(201);
    expect(made.body.toString()).toBe('made');
    const none = await h2Request(session, { ':path': '/', ':authority': 'nobody.example' });
    expect(none.status).toBe(404);
    expect(none.body.toString()).toBe('404 page not found\n');
  });

  it('serves 60 concurrent streams on one connection, each its own answer', async () => {
    const session = await connectH2();
    const replies = await Promise.all(Array.from({ length: 60 }, (_, i) => h2Request(session, { ':path': `/app/many/${i}` })));
    expect(replies.map((r) => r.status)).toEqual(replies.map(() => 200));
    expect(replies.map((r) => echoOf(r).url)).toEqual(replies.map((_, i) => `/app/many/${i}`));
  });

  it('writes the access log line for an h2 request, with status and body bytes', async () => {
    const session = await connectH2();
    const reply = await h2Request(session, { ':path': '/app/logged' });
    expect(reply.status).toBe(200);
    const line = await gh.waitForLog((l) => l.msg === 'request' && l['path'] === '/app/logged', 3_000);
    expect(line).toMatchObject({ router: 'app', status: 200, method: 'GET', host: NAME, bytes: reply.body.length });
    expect(linesWith(gh.logs, 'request', { path: '/app/logged' })).toHaveLength(1);
  });

  it('resets a stream whose headers exceed the entry point maxHeaderSize, and the connection serves on', async () => {
    const session = await connectH2();
    // The limit is a local SETTINGS value: in force once the client has acknowledged it, after a first exchange.
    expect((await h2Request(session, { ':path': '/app/first' })).status).toBe(200);
    await expect(h2Request(session, { ':path': '/app/big', 'x-big': 'a'.repeat(12_000) })).rejects.toThrow(/RST_STREAM|ENHANCE_YOUR_CALM|code 11/);
    const next = await h2Request(session, { ':path': '/app/after-big' });
    expect(next.status).toBe(200);
    // The same header on an entry point with the default limit (16 KiB) goes through: the reset was the limit's doing.
    const quick = gh.ports['quick']!;
    const roomy = await connectH2(quick);
    expect((await h2Request(roomy, { ':path': '/app/first', ':authority': `${NAME}:${quick}` })).status).toBe(200);
    const big = await h2Request(roomy, { ':path': '/app/big', ':authority': `${NAME}:${quick}`, 'x-big': 'a'.repeat(12_000) });
    expect(big.status).toBe(200);
    expect(echoOf(big).headers['x-big']).toHaveLength(12_000);
  });
});

describe('HTTP/2 header count', () => {
  /** `n` header fields besides the pseudo-headers (Host is :authority here). */
  const fields = (n: number): OutgoingHttpHeaders => Object.fromEntries(Array.from({ length: n }, (_, i) => [`x-h${i}`, 'v']));

  it.each([
    { description: '99 fields and the Host from :authority pass', extra: 99, status: 201 },
    { description: '100 fields and the Host, one over the default 100', extra: 100, status: 431 },
    { description: 'a 150-field flood', extra: 150, status: 431 },
  ])('$description → $status', async ({ extra, status }) => {
    const quick = gh.ports['quick']!;
    const session = await connectH2(quick);
    const reply = await h2Request(session, { ':path': '/made', ':authority': `${NAME}:${quick}`, ...fields(extra) });
    expect(reply.status).toBe(status);
    if (status === 431) expect(reply.body.toString()).toMatch(/too many header lines/);
  });

  it('Cookie crumbs (one field per cookie, RFC 9113 §8.2.3) count as one line', async () => {
    const quick = gh.ports['quick']!;
    const session = await connectH2(quick);
    const cookie = Array.from({ length: 60 }, (_, i) => `c${i}=v`);
    const reply = await h2Request(session, { ':path': '/made', ':authority': `${NAME}:${quick}`, cookie, ...fields(60) });
    expect(reply.status).toBe(201);
  });
});

describe('HTTP/2 behind a load balancer', () => {
  it('the client address from a PROXY protocol header reaches X-Forwarded-For on h2 requests', async () => {
    const lb = gh.ports['lb']!;
    const session = await new Promise<ClientHttp2Session>((resolve, reject) => {
      const s = h2Connect(`https://127.0.0.1:${lb}`, {
        createConnection: () => {
          const raw = netConnect(lb, '127.0.0.1');
          raw.write(`PROXY TCP4 203.0.113.7 127.0.0.1 51000 443\r\n`);
          return tlsConnect({ socket: raw, servername: NAME, ca, ALPNProtocols: ['h2'] });
        },
      });
      sessions.add(s);
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
    const reply = await h2Request(session, { ':path': '/app/lb', ':authority': `${NAME}:${lb}` });
    expect(reply.status).toBe(200);
    expect(echoOf(reply).headers['x-forwarded-for']).toBe('203.0.113.7');
  });
});

describe('HTTP/1.1 and websockets on the same port', () => {
  it('an HTTP/1.1-only client is served as before', async () => {
    const res = await new Promise<{ status: number; alpn: string | false | null; body: string }>((resolve, reject) => {
      const options: RequestOptions & ConnectionOptions = { host: '127.0.0.1', port, servername: NAME, ca, path: '/app/h1', headers: { host: NAME }, ALPNProtocols: ['http/1.1'], agent: false, timeout: 5_000 };
      const req = httpsRequest(options, (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, alpn: (r.socket as import('node:tls').TLSSocket).alpnProtocol, body: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end();
    });
    expect(res.status).toBe(200);
    expect(res.alpn).toBe('http/1.1');
    expect((JSON.parse(res.body) as EchoReply).headers['x-via-middleware']).toBe('yes');
  });

  it('a websocket (HTTP/1.1 upgrade) opens and echoes', async () => {
    const options: ClientOptions & ConnectionOptions = { ca, servername: NAME, headers: { host: NAME }, handshakeTimeout: 5_000 };
    const ws = new WebSocket(`wss://127.0.0.1:${port}/ws/chat`, options);
    try {
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
        ws.once('error', reject);
      });
      const echoed = new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no echo')), 5_000);
        ws.once('message', (data) => {
          clearTimeout(timer);
          resolve(String(data));
        });
      });
      ws.send('over http/1.1');
      expect(await echoed).toBe('over http/1.1');
    } finally {
      ws.terminate();
    }
  });

  it('with tls.http2 false, an h2-capable client gets http/1.1', async () => {
    const alpn = await new Promise<string | false | null>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port: gh.ports['h1only']!, servername: NAME, ca, ALPNProtocols: ['h2', 'http/1.1'] }, () => {
        resolve(s.alpnProtocol);
        s.destroy();
      });
      s.once('error', reject);
      s.setTimeout(5_000, () => s.destroy(new Error('timeout')));
    });
    expect(alpn).toBe('http/1.1');
  });
});
