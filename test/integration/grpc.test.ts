/**
 * gRPC through gatehouse to an h2c:// upstream (issue 17), with real gRPC software on both sides: a grpc-js server
 * on loopback (insecure: HTTP/2 with prior knowledge), gatehouse in front with a TLS entry point (ALPN h2), and a
 * grpc-js client trusting the test CA. gRPC needs what plain HTTP/2 proxying may drop: trailers (grpc-status,
 * grpc-message, trailing metadata), `te: trailers` (RFC 9113 §8.2.2), trailers-only responses (an error before any
 * message: grpc-status in the one HEADERS frame) and messages relayed as they come (server streaming). Also: an
 * HTTP/1.1 upstream's trailers reach an HTTP/2 client.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as h2Connect, createServer as createH2Server, type Http2Server } from 'node:http2';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startGatehouse, stopAllGatehouses, type GatehouseProcess } from '../helpers/gatehouse-process.js';

const certs = fileURLToPath(new URL('../fixtures/certs/', import.meta.url));
const proto = fileURLToPath(new URL('../fixtures/grpc/lab.proto', import.meta.url));
const ca = readFileSync(join(certs, 'ca.pem'));
const NAME = 'left.example';

interface Msg {
  text: string;
  n: number;
  fail: boolean;
}
type Unary = (req: Msg, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Msg) => void) => grpc.ClientUnaryCall;
interface LabClient extends grpc.Client {
  Say: Unary;
  Refuse: Unary;
  Slow: Unary;
  Count(req: Msg, md?: grpc.Metadata, opts?: grpc.CallOptions): grpc.ClientReadableStream<Msg>;
}

const dirs: string[] = [];
let gh: GatehouseProcess;
let server: grpc.Server;
let upstreamUrl: string;
let teBackend: Http2Server;
let h1Backend: HttpServer;
let client: LabClient;
/** Resolved by the test when the client has the first streamed message; the server waits for it to send the rest. */
let firstReceived: () => void = () => {};
/** What the Slow handler saw: the deadline the client's grpc-timeout set, and whether the call was cancelled. */
const slow = { deadline: undefined as grpc.Deadline | undefined, cancelled: false };

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

function md(pairs: Record<string, string>): grpc.Metadata {
  const m = new grpc.Metadata();
  for (const [k, v] of Object.entries(pairs)) m.set(k, v);
  return m;
}

const msg = (text: string, n = 0, fail = false): Msg => ({ text, n, fail });

function unary(method: 'Say' | 'Refuse' | 'Slow', req: Msg, opts: grpc.CallOptions = {}): Promise<{ err: grpc.ServiceError | null; res?: Msg; headers?: grpc.Metadata; trailers?: grpc.Metadata }> {
  return new Promise((resolve) => {
    let headers: grpc.Metadata | undefined;
    let trailers: grpc.Metadata | undefined;
    let result: { err: grpc.ServiceError | null; res?: Msg } | undefined;
    const done = (): void => {
      if (result !== undefined && trailers !== undefined) resolve({ ...result, headers, trailers });
    };
    const call = client[method](req, md({ 'x-from': 'client' }), { deadline: Date.now() + 5_000, ...opts }, (err, res) => {
      result = { err, res };
      if (err) trailers ??= err.metadata;
      done();
    });
    call.on('metadata', (m: grpc.Metadata) => (headers = m));
    call.on('status', (s: grpc.StatusObject) => {
      trailers = s.metadata;
      done();
    });
  });
}

beforeAll(async () => {
  const def = loadSync(proto, { keepCase: true, defaults: true });
  const Lab = (grpc.loadPackageDefinition(def)['lab'] as grpc.GrpcObject)['Lab'] as grpc.ServiceClientConstructor;
  server = new grpc.Server();
  server.addService(Lab.service, {
    Say(call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      call.sendMetadata(md({ 'x-lab': 'head', 'x-from-echo': String(call.metadata.get('x-from')[0]) }));
      cb(null, msg(`hello ${call.request.text}`), md({ 'x-lab-trailer': 'tail' }));
    },
    Refuse(_call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      cb({ code: grpc.status.FAILED_PRECONDITION, details: 'lab is closed', metadata: md({ reason: 'maintenance' }) });
    },
    Slow(call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      slow.deadline = call.getDeadline();
      call.on('cancelled', () => (slow.cancelled = true));
      const t = setTimeout(() => cb(null, msg('slow')), call.request.n);
      call.on('cancelled', () => clearTimeout(t));
    },
    Count(call: grpc.ServerWritableStream<Msg, Msg>) {
      const { n, fail } = call.request;
      void (async () => {
        call.write(msg('0', 0));
        // The rest only once the client holds the first: a proxy that buffered the response would deadlock here,
        // and the bound turns that into an error status the test sees.
        const arrived = await Promise.race([
          new Promise<boolean>((resolve) => (firstReceived = () => resolve(true))),
          new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 4_000).unref()),
        ]);
        if (!arrived) return call.emit('error', { code: grpc.status.ABORTED, details: 'first message never reached the client' });
        for (let i = 1; i < n; i++) call.write(msg(String(i), i));
        if (fail) call.emit('error', { code: grpc.status.RESOURCE_EXHAUSTED, details: 'quota gone', metadata: md({ reason: 'quota' }) });
        else call.end(md({ 'x-count': String(n) }));
      })();
    },
  });
  const grpcPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
  );
  upstreamUrl = `h2c://127.0.0.1:${grpcPort}`;
  // A plain HTTP/2 backend that answers with the TE header it received (grpc-js removes TE before a handler sees it).
  teBackend = createH2Server((req, res) => res.end(`te=${req.headers['te'] ?? '(none)'}`));
  await new Promise<void>((resolve) => teBackend.listen(0, '127.0.0.1', resolve));
  const tePort = (teBackend.address() as AddressInfo).port;
  // An HTTP/1.1 backend whose chunked response ends with trailers (undici hands them over as raw pairs).
  h1Backend = createHttpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
    res.write('body\n');
    res.addTrailers({ 'x-checksum': 'abc123' });
    res.end();
  });
  await new Promise<void>((resolve) => h1Backend.listen(0, '127.0.0.1', resolve));
  const h1Port = (h1Backend.address() as AddressInfo).port;

  const certsDir = tempDir('gatehouse-grpc-certs-');
  copyFileSync(join(certs, 'left-fullchain.pem'), join(certsDir, 'left-fullchain.pem'));
  copyFileSync(join(certs, 'left-key.pem'), join(certsDir, 'left-key.pem'));
  gh = await startGatehouse({
    tls: { certsDir },
    stateDir: tempDir('gatehouse-grpc-state-'),
    entryPoints: { websecure: { address: '127.0.0.1:0', tls: {} } },
    http: {
      routers: {
        te: { rule: `Host(\`${NAME}\`) && PathPrefix(\`/te\`)`, service: 'te', tls: {} },
        h1: { rule: `Host(\`${NAME}\`) && PathPrefix(\`/h1\`)`, service: 'h1', tls: {} },
        grpc: { rule: `Host(\`${NAME}\`)`, service: 'grpc', tls: {} },
      },
      services: {
        grpc: { loadBalancer: { servers: [{ url: upstreamUrl }] } },
        te: { loadBalancer: { servers: [{ url: `h2c://127.0.0.1:${tePort}` }] } },
        h1: { loadBalancer: { servers: [{ url: `http://127.0.0.1:${h1Port}` }] } },
      },
    },
  });
  client = new Lab(`127.0.0.1:${gh.ports['websecure']}`, grpc.credentials.createSsl(ca), {
    'grpc.ssl_target_name_override': NAME,
    'grpc.default_authority': NAME,
  }) as unknown as LabClient;
}, 20_000);

afterAll(async () => {
  client?.close();
  await stopAllGatehouses();
  await new Promise<void>((resolve) => (server ? server.tryShutdown(() => resolve()) : resolve()));
  await new Promise<void>((resolve) => (teBackend ? teBackend.close(() => resolve()) : resolve()));
  await new Promise<void>((resolve) => (h1Backend ? h1Backend.close(() => resolve()) : resolve()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

it('a unary call: the message, the response metadata and the trailing metadata come back, and the access log has it', async () => {
  const { err, res, headers, trailers } = await unary('Say', msg('gatehouse'));
  expect(err).toBeNull();
  expect(res?.text).toBe('hello gatehouse');
  expect(headers?.get('x-lab')).toEqual(['head']);
  expect(headers?.get('x-from-echo')).toEqual(['client']);
  expect(trailers?.get('x-lab-trailer')).toEqual(['tail']);
  const line = await gh.waitForLog((l) => l.msg === 'request' && l['path'] === '/lab.Lab/Say', 3_000);
  expect(line).toMatchObject({ method: 'POST', status: 200, router: 'grpc', upstream: upstreamUrl });
});

it('te: trailers reaches an h2c backend (RFC 9113 §8.2.2 allows that value alone)', async () => {
  const session = h2Connect(`https://127.0.0.1:${gh.ports['websecure']}`, { ca, servername: NAME });
  try {
    const ask = (te: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const stream = session.request({ ':path': '/te', ':authority': NAME, te });
        let body = '';
        stream.setEncoding('utf8');
        stream.on('data', (c: string) => (body += c));
        stream.on('end', () => resolve(body));
        stream.on('error', reject);
      });
    expect(await ask('trailers')).toBe('te=trailers');
  } finally {
    session.close();
  }
});

it('an error before any message (a trailers-only response) arrives with its code, message and metadata', async () => {
  const { err } = await unary('Refuse', msg('x'));
  expect(err?.code).toBe(grpc.status.FAILED_PRECONDITION);
  expect(err?.details).toBe('lab is closed');
  expect(err?.metadata.get('reason')).toEqual(['maintenance']);
  // The access log has HTTP's status: a gRPC error is an HTTP 200 (its code is in grpc-status, which it does not show).
  const line = await gh.waitForLog((l) => l.msg === 'request' && l['path'] === '/lab.Lab/Refuse', 3_000);
  expect(line).toMatchObject({ method: 'POST', status: 200, upstreamStatus: 200, router: 'grpc' });
});

/** Reads a server stream: its messages, its end status, and calls firstReceived() on the first message. */
function readCount(req: Msg): Promise<{ texts: string[]; status: grpc.StatusObject; err: grpc.ServiceError | undefined }> {
  return new Promise((resolve) => {
    const texts: string[] = [];
    let err: grpc.ServiceError | undefined;
    const call = client.Count(req, new grpc.Metadata(), { deadline: Date.now() + 8_000 });
    call.on('data', (m: Msg) => {
      texts.push(m.text);
      if (texts.length === 1) firstReceived();
    });
    call.on('error', (e: grpc.ServiceError) => (err = e));
    call.on('status', (status: grpc.StatusObject) => setImmediate(() => resolve({ texts, status, err })));
  });
}

it('server streaming: each message reaches the client as it is sent, and the trailing status and metadata after them', async () => {
  const { texts, status, err } = await readCount(msg('', 5));
  expect(err).toBeUndefined();
  expect(texts).toEqual(['0', '1', '2', '3', '4']);
  expect(status.code).toBe(grpc.status.OK);
  expect(status.metadata.get('x-count')).toEqual(['5']);
});

it('an error status after streamed messages arrives in the trailers, with its message and metadata', async () => {
  const { texts, status } = await readCount(msg('', 3, true));
  expect(texts).toEqual(['0', '1', '2']);
  expect(status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  expect(status.details).toBe('quota gone');
  expect(status.metadata.get('reason')).toEqual(['quota']);
});

it('a deadline: the server gets it (grpc-timeout) and answers within it; past it the client gets DEADLINE_EXCEEDED and the server call ends', async () => {
  const inTime = await unary('Slow', msg('', 20));
  expect(inTime.err).toBeNull();
  expect(inTime.res?.text).toBe('slow');
  expect(Number(slow.deadline)).toBeLessThan(Date.now() + 6_000);

  slow.cancelled = false;
  const late = await unary('Slow', msg('', 10_000), { deadline: Date.now() + 300 });
  expect(late.err?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
  const until = Date.now() + 3_000;
  while (!slow.cancelled && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  expect(slow.cancelled).toBe(true);
  // The connection through gatehouse still serves calls.
  expect((await unary('Say', msg('again'))).res?.text).toBe('hello again');
});

it('an HTTP/1.1 client gets the trailers in the last chunk (a gRPC frame posted by hand)', async () => {
  // Msg { text: "h1" } in protobuf (field 1, length-delimited), behind gRPC's 5-byte prefix: not compressed, length 4.
  const frame = Buffer.from([0, 0, 0, 0, 4, 0x0a, 0x02, 0x68, 0x31]);
  const { status, body, trailers } = await new Promise<{ status: number; body: Buffer; trailers: NodeJS.Dict<string> }>((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port: gh.ports['websecure'],
        servername: NAME,
        ca,
        method: 'POST',
        path: '/lab.Lab/Say',
        headers: { host: NAME, 'content-type': 'application/grpc', te: 'trailers', connection: 'te', 'content-length': frame.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), trailers: res.trailers }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(frame);
  });
  expect(status).toBe(200);
  // "hello h1": 8 bytes of text, 10 of message, behind the 5-byte prefix.
  expect(body.subarray(5).toString('latin1')).toContain('hello h1');
  expect(trailers).toMatchObject({ 'grpc-status': '0', 'x-lab-trailer': 'tail' });
});

it("an HTTP/1.1 upstream's trailers reach an HTTP/2 client as a trailing HEADERS frame", async () => {
  const session = h2Connect(`https://127.0.0.1:${gh.ports['websecure']}`, { ca, servername: NAME });
  try {
    const got = await new Promise<{ body: string; trailers: Record<string, unknown> }>((resolve, reject) => {
      const stream = session.request({ ':path': '/h1', ':authority': NAME });
      let body = '';
      let trailers: Record<string, unknown> = {};
      stream.setEncoding('utf8');
      stream.on('data', (c: string) => (body += c));
      stream.on('trailers', (t: Record<string, unknown>) => (trailers = t));
      stream.on('end', () => resolve({ body, trailers }));
      stream.on('error', reject);
    });
    expect(got.body).toBe('body\n');
    expect(got.trailers['x-checksum']).toBe('abc123');
  } finally {
    session.close();
  }
});
