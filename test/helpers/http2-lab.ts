/**
 * The HTTP/2 lab shared by test/integration/http2*.test.ts: one gatehouse child process with four TLS entry points
 * (websecure, h1only, quick, lb) in front of an echo, a websocket echo and a 4 MiB streaming upstream, and a
 * node:http2 client that trusts the test CA. Each test file starts its own lab (`startHttp2Lab` in beforeAll) and
 * tears it down with `closeHttp2Lab` (afterAll).
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as h2Connect, constants, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGatehouse, stopAllGatehouses, type GatehouseProcess } from './gatehouse-process.js';
import { closeAllUpstreams, startEchoUpstream, startHttpUpstream, startWsEchoUpstream, type EchoReply } from './upstreams.js';

const fixtures = fileURLToPath(new URL('../fixtures/certs/', import.meta.url));
/** The test CA that signed the left.example certificate; clients pass it as `ca`. */
export const ca = readFileSync(join(fixtures, 'ca.pem'));
/** The host name the lab's certificate and routers answer for. */
export const NAME = 'left.example';
/** How many 64 KiB chunks the /stream upstream sends. */
export const STREAM_CHUNKS = 64;
const dirs: string[] = [];
/** Client sessions to destroy at teardown; a test that connects on its own adds its session here. */
export const sessions = new Set<ClientHttp2Session>();

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** A certs directory with the left.example certificate, and a state directory: what a TLS entry point needs. */
export function tlsDirs(): { tls: { certsDir: string }; stateDir: string } {
  const certsDir = tempDir('gatehouse-h2-certs-');
  copyFileSync(join(fixtures, 'left-fullchain.pem'), join(certsDir, 'left-fullchain.pem'));
  copyFileSync(join(fixtures, 'left-key.pem'), join(certsDir, 'left-key.pem'));
  return { tls: { certsDir }, stateDir: tempDir('gatehouse-h2-state-') };
}

/** Starts the upstreams and the gatehouse; `port` is the websecure entry point's. */
export async function startHttp2Lab(): Promise<{ gh: GatehouseProcess; port: number }> {
  const echo = await startEchoUpstream();
  const wsUp = await startWsEchoUpstream();
  // 4 MiB in 64 KiB chunks without Content-Length: chunked on the HTTP/1.1 side, flow-controlled DATA on the h2 side.
  const streamer = await startHttpUpstream((_req, res) => {
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
  const gh = await startGatehouse({
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
  return { gh, port: gh.ports['websecure']! };
}

/** Destroys the client sessions, then stops every gatehouse and upstream and removes the temporary directories. */
export async function closeHttp2Lab(): Promise<void> {
  for (const s of sessions) s.destroy();
  sessions.clear();
  await stopAllGatehouses();
  await closeAllUpstreams();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** An HTTP/2 session to `port` that trusts the test CA; resolves once connected (h2 negotiated). */
function connectH2To(port: number): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = h2Connect(`https://127.0.0.1:${port}`, { ca, servername: NAME });
    sessions.add(session);
    session.once('connect', () => resolve(session));
    session.once('error', reject);
    session.on('error', () => undefined);
  });
}

export interface H2Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * One request on `session`, with `:authority` NAME:port unless the headers say otherwise; `body` is sent as DATA
 * frames (no Content-Length unless the headers say so).
 */
function h2RequestTo(session: ClientHttp2Session, port: number, headers: OutgoingHttpHeaders, body?: Buffer | string, timeoutMs = 10_000): Promise<H2Reply> {
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

/**
 * The client functions the tests call, bound to the websecure port, which is known only once the lab has started
 * (hence a getter): `connectH2(to = port)` and `h2Request(session, headers, body?, timeoutMs?)`.
 */
export function h2Client(port: () => number): {
  connectH2: (to?: number) => Promise<ClientHttp2Session>;
  h2Request: (session: ClientHttp2Session, headers: OutgoingHttpHeaders, body?: Buffer | string, timeoutMs?: number) => Promise<H2Reply>;
} {
  return {
    connectH2: (to = port()) => connectH2To(to),
    h2Request: (session, headers, body, timeoutMs) => h2RequestTo(session, port(), headers, body, timeoutMs),
  };
}

/** The echo upstream's account of the request it saw. */
export const echoOf = (reply: H2Reply): EchoReply => JSON.parse(reply.body.toString('utf8')) as EchoReply;
