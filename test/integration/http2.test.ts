/**
 * HTTP/2 on a TLS entry point, end to end through a gatehouse child process: a node:http2 client (trusting the test
 * CA) negotiates h2, and its requests go through the same routers, middlewares, forwarder and access log to a real
 * HTTP/1.1 upstream. HTTP/1.1 clients and websockets keep working on the same port; `tls.http2: false` offers
 * HTTP/1.1 only; junk and a rapid-reset burst do not take the proxy down; SIGTERM lets an h2 stream finish.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { connect as h2Connect, constants, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, type ClientOptions } from 'ws';
import { startGatehouse, stopAllGatehouses, type GatehouseProcess } from '../helpers/gatehouse-process.js';
import { linesWith } from '../helpers/log-lines.js';
import { closeAllUpstreams, startEchoUpstream, startHttpUpstream, startWsEchoUpstream, type EchoReply, type HttpUpstream, type WsUpstream } from '../helpers/upstreams.js';

const fixtures = fileURLToPath(new URL('../fixtures/certs/', import.meta.url));
const ca = readFileSync(join(fixtures, 'ca.pem'));
const NAME = 'left.example';
const dirs: string[] = [];

let echo: HttpUpstream;
let wsUp: WsUpstream;
let streamer: HttpUpstream;
const STREAM_CHUNKS = 64;
let gh: GatehouseProcess;
let port: number;

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** A certs directory with the left.example certificate, and a state directory: what a TLS entry point needs. */
function tlsDirs(): { tls: { certsDir: string }; stateDir: string } {
  const certsDir = tempDir('gatehouse-h2-certs-');
  copyFileSync(join(fixtures, 'left-fullchain.pem'), join(certsDir, 'left-fullchain.pem'));
  copyFileSync(join(fixtures, 'left-key.pem'), join(certsDir, 'left-key.pem'));
  return { tls: { certsDir }, stateDir: tempDir('gatehouse-h2-state-') };
}

beforeAll(async () => {
  echo = await startEchoUpstream();
  wsUp = await startWsEchoUpstream();
  // 4 MiB in 64 KiB chunks without Content-Length: chunked on the HTTP/1.1 side, flow-controlled DATA on the h2 side.
  streamer = await startHttpUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    let left = STREAM_CHUNKS;
    const more = (): void => {
      while (left > 0) {
        left--;
        if (!res.write(Buffer.alloc(64 * 1024, left % 251))) return void res.once('drain', more);
      }
      res.end();
    };
    more();
  });
  gh = await startGatehouse({
    ...tlsDirs(),
    entryPoints: {
      websecure: { address: '127.0.0.1:0', tls: {}, maxHeaderSize: 8192 },
      h1only: { address: '127.0.0.1:0', tls: { http2: false } },
      quick: { address: '127.0.0.1:0', tls: {}, timeouts: { idle: '1s' } },
      lb: { address: '127.0.0.1:0', tls: {}, proxyProtocol: { trustedIPs: ['127.0.0.1/8'] } },
    },
    http: {
      routers: {
        app: { rule: 'Host(`left.example`) && PathPrefix(`/app`)', service: 'echo', middlewares: ['hdr'], tls: {} },
        ws: { rule: 'Host(`left.example`) && PathPrefix(`/ws`)', service: 'ws', tls: {} },
        made: { rule: 'Host(`left.example`) && Path(`/made`)', respond: { status: 201, body: 'made' }, tls: {} },
        stream: { rule: 'Host(`left.example`) && PathPrefix(`/stream`)', service: 'stream', tls: {} },
      },
      services: {
        echo: { loadBalancer: { servers: [{ url: echo.url }] } },
        ws: { loadBalancer: { servers: [{ url: wsUp.url }] } },
        stream: { loadBalancer: { servers: [{ url: streamer.url }] } },
      },
      middlewares: {
        // Keep-Alive is connection-specific: an HTTP/2 response must not carry it (RFC 9113 §8.2.2), so it is dropped.
        hdr: { headers: { customRequestHeaders: { 'X-Via-Middleware': 'yes' }, customResponseHeaders: { 'X-Served-By': 'gatehouse', 'Keep-Alive': 'timeout=5' } } },
      },
    },
  });
  port = gh.ports['websecure']!;
});

afterAll(async () => {
  await stopAllGatehouses();
  await closeAllUpstreams();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const sessions = new Set<ClientHttp2Session>();
afterAll(() => {
  for (const s of sessions) s.destroy();
});

/** An HTTP/2 session to `port` that trusts the test CA; resolves once connected (h2 negotiated). */
function connectH2(to = port): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = h2Connect(`https://127.0.0.1:${to}`, { ca, servername: NAME });
    sessions.add(session);
    session.once('connect', () => resolve(session));
    session.once('error', reject);
    session.on('error', () => undefined);
  });
}

interface H2Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One request on `session`; `body` is sent as DATA frames (no Content-Length unless the headers say so). */
function h2Request(session: ClientHttp2Session, headers: OutgoingHttpHeaders, body?: Buffer | string, timeoutMs = 10_000): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':authority': `${NAME}:${port}`, ...headers }, { endStream: body === undefined });
    const timer = setTimeout(() => {
      stream.close(constants.NGHTTP2_CANCEL);
      reject(new Error(`no answer in ${timeoutMs} ms`));
    }, timeoutMs);
    let response: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => (response = h));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      clearTimeout(timer);
      resolve({ status: Number(response[':status']), headers: response, body: Buffer.concat(chunks) });
    });
    stream.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    if (body !== undefined) stream.end(body);
  });
}

const echoOf = (reply: H2Reply): EchoReply => JSON.parse(reply.body.toString('utf8')) as EchoReply;

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

describe('HTTP/2 session limits', () => {
  it('an idle session is closed with GOAWAY after the entry point idle timeout', async () => {
    const quick = gh.ports['quick']!;
    const session = await connectH2(quick);
    const goaway = new Promise<number>((resolve) => session.once('goaway', (code: number) => resolve(code)));
    const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
    const t0 = performance.now();
    const reply = await h2Request(session, { ':path': '/app/idle', ':authority': `${NAME}:${quick}` });
    expect(reply.status).toBe(200);
    expect(await goaway).toBe(constants.NGHTTP2_NO_ERROR);
    await closed;
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThan(900);
    expect(waited).toBeLessThan(5_000);
  });

  it('announces its stream limit in its SETTINGS', async () => {
    const session = await connectH2();
    const settings = session.remoteSettings.maxConcurrentStreams === undefined || session.remoteSettings.maxConcurrentStreams > 1000
      ? await new Promise<typeof session.remoteSettings>((resolve) => session.once('remoteSettings', resolve))
      : session.remoteSettings;
    expect(settings.maxConcurrentStreams).toBe(100);
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

describe('hostile HTTP/2 clients', () => {
  it('junk after an h2 handshake closes that connection only', async () => {
    const closed = await new Promise<boolean>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port, servername: NAME, ca, ALPNProtocols: ['h2'] }, () => {
        expect(s.alpnProtocol).toBe('h2');
        s.write(randomBytes(4096));
      });
      s.on('data', () => undefined);
      s.once('close', () => resolve(true));
      s.once('error', () => undefined);
      s.setTimeout(5_000, () => reject(new Error('junk connection not closed')));
    });
    expect(closed).toBe(true);
    const reply = await h2Request(await connectH2(), { ':path': '/app/after-junk' });
    expect(reply.status).toBe(200);
  });

  it('a rapid-reset burst (CVE-2023-44487) does not take the proxy down', async () => {
    const session = await connectH2();
    session.on('goaway', () => undefined);
    // Open and cancel streams as fast as the client can: each one is a request the proxy starts, then must drop.
    for (let round = 0; round < 20 && !session.destroyed && !session.closed; round++) {
      for (let i = 0; i < 100; i++) {
        const stream = session.request({ ':authority': `${NAME}:${port}`, ':path': `/app/reset/${round}/${i}` });
        stream.on('error', () => undefined);
        stream.close(constants.NGHTTP2_CANCEL);
      }
      await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setTimeout(r, 300));
    const reply = await h2Request(await connectH2(), { ':path': '/app/after-reset' });
    expect(reply.status).toBe(200);
    expect(gh.stderr()).not.toMatch(/Error|uncaught/i);
  });
});

describe('shutdown', () => {
  it('SIGTERM with an h2 stream in flight: GOAWAY, the stream completes, exit 0', async () => {
    let arrived: () => void = () => {};
    const requestArrived = new Promise<void>((r) => (arrived = r));
    const slow = await startHttpUpstream((_req, res) => {
      arrived();
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('finished after 1s');
      }, 1_000);
    });
    const own = await startGatehouse({
      ...tlsDirs(),
      log: { accessLog: false },
      entryPoints: { websecure: { address: '127.0.0.1:0', tls: {} } },
      http: {
        routers: { slow: { rule: 'Host(`left.example`)', service: 'slow', tls: {} } },
        services: { slow: { loadBalancer: { servers: [{ url: slow.url }] } } },
      },
    });
    const ownPort = own.ports['websecure']!;
    const session = await connectH2(ownPort);
    const goaway = new Promise<void>((r) => session.once('goaway', () => r()));
    const stream = session.request({ ':authority': `${NAME}:${ownPort}`, ':path': '/slow' });
    const inFlight = new Promise<H2Reply>((resolve, reject) => {
      let headers: IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      stream.on('response', (h) => (headers = h));
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => resolve({ status: Number(headers[':status']), headers, body: Buffer.concat(chunks) }));
      stream.on('error', reject);
    });
    await requestArrived;
    const startedAt = performance.now();
    const exitCode = own.stop('SIGTERM');
    await goaway;
    const reply = await inFlight;
    expect(reply.status).toBe(200);
    expect(reply.body.toString()).toBe('finished after 1s');
    expect(await exitCode).toBe(0);
    expect(performance.now() - startedAt).toBeLessThan(5_000);
  });
});
