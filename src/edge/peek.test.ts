import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net, { type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { capturedHellos, handshakeOf, records } from '../../test/fixtures/client-hello/index.js';
import { parseClientHello } from './client-hello.js';
import { readPrefix } from '../ip/read-prefix.js';
import { peekClientHello, type PeekResult } from './peek.js';

const OPTS = { timeoutMs: 2_000, maxBytes: 16 * 1024 };
const hello = capturedHellos().find((c) => c.name === 'node-tls13-sni-h2')!;

let servers: net.Server[] = [];
let sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  servers = [];
  sockets = [];
});

/**
 * A listener on 127.0.0.1:0 and one connection to it, made by `connect` (a plain socket by default): both ends,
 * errors swallowed (the tests look at results). Every accepted socket is destroyed after each test.
 */
async function pair(connect = (port: number): Socket => net.connect(port, '127.0.0.1')): Promise<{ client: Socket; server: Socket }> {
  const server = net.createServer((s) => sockets.push(s));
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = connect((server.address() as AddressInfo).port);
  client.setNoDelay(true);
  client.on('error', () => {});
  sockets.push(client);
  const [serverSide] = await accepted;
  serverSide.on('error', () => {});
  return { client, server: serverSide };
}

const write = (s: Socket, b: Buffer | string) => new Promise<void>((r) => s.write(b, () => r()));

describe('peekClientHello on real sockets', () => {
  it('returns the hello and every byte read, and leaves the socket paused without its listeners', async () => {
    const { client, server } = await pair();
    const events = ['data', 'end', 'close', 'error', 'readable'];
    const before = events.map((e) => server.listenerCount(e));
    await write(client, hello.bytes);
    const result = await peekClientHello(server, OPTS);
    expect(result).toMatchObject({ ok: true, hello: { sni: 'app.example.test', alpn: ['h2', 'http/1.1'], version: 0x0304 } });
    expect(result.bytes.equals(hello.bytes)).toBe(true);
    expect(server.isPaused()).toBe(true);
    expect(events.map((e) => server.listenerCount(e))).toEqual(before);
  });

  it('reads a ClientHello delivered one byte per write', async () => {
    const { client, server } = await pair();
    const peek = peekClientHello(server, OPTS);
    for (const byte of hello.bytes) await write(client, Buffer.from([byte]));
    const result = await peek;
    expect(result).toMatchObject({ ok: true, hello: { sni: 'app.example.test' } });
    expect(result.bytes.equals(hello.bytes)).toBe(true);
  });

  it('reads a hello spread over many records and several writes, calling the parser a few times only', async () => {
    const { client, server } = await pair();
    const split = records(handshakeOf(hello.bytes), 40);
    let calls = 0;
    const read = readPrefix(server, OPTS.timeoutMs, (data) => {
      calls++;
      const r = parseClientHello(data, OPTS.maxBytes);
      return r.status === 'incomplete' ? { needBytes: r.needBytes } : { value: r };
    });
    for (let i = 0; i < split.length; i += 3) await write(client, split.subarray(i, i + 3));
    const result = await read;
    expect(result.ok && result.value).toMatchObject({ status: 'complete', hello: { sni: 'app.example.test' } });
    const recordCount = Math.ceil(handshakeOf(hello.bytes).length / 40);
    expect(calls).toBeLessThanOrEqual(2 * recordCount + 2);
  });

  it('keeps bytes the client sent after the hello on the socket for the next reader', async () => {
    const { client, server } = await pair();
    await write(client, hello.bytes);
    const result = await peekClientHello(server, OPTS);
    await write(client, 'after');
    server.resume();
    const [next] = (await once(server, 'data')) as [Buffer];
    expect(result.ok).toBe(true);
    expect(next.toString()).toBe('after');
  });

  it.each([
    ['a plain HTTP request', 'GET / HTTP/1.1\r\nHost: a.test\r\n\r\n', 'http'],
    ['an SSH banner', 'SSH-2.0-OpenSSH_9.2\r\n', 'not-tls'],
  ])('names %s, and the socket still answers', async (_d, sent, reason) => {
    const { client, server } = await pair();
    await write(client, sent);
    const result = await peekClientHello(server, OPTS);
    expect(result).toMatchObject({ ok: false, reason });
    expect(result.bytes.toString()).toBe(sent);
    const answer = once(client, 'data') as Promise<[Buffer]>;
    server.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    expect((await answer)[0].toString()).toMatch(/^HTTP\/1.1 400/);
  });

  it('gives up on a client that sends nothing, within bounds', async () => {
    const { server } = await pair();
    const started = performance.now();
    const result = await peekClientHello(server, { ...OPTS, timeoutMs: 150 });
    const elapsed = performance.now() - started;
    expect(result).toEqual({ ok: false, reason: 'timeout', bytes: Buffer.alloc(0) });
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(1_500);
  });

  it('gives up on a client that stops halfway, returning what it sent', async () => {
    const { client, server } = await pair();
    await write(client, hello.bytes.subarray(0, 100));
    const result = await peekClientHello(server, { ...OPTS, timeoutMs: 150 });
    expect(result.ok === false && result.reason).toBe('timeout');
    expect(result.bytes.equals(hello.bytes.subarray(0, 100))).toBe(true);
  });

  it.each([
    ['half-closes after part of a hello', (c: Socket) => c.end(hello.bytes.subarray(0, 50)), 50],
    ['resets the connection', (c: Socket) => c.resetAndDestroy(), 0],
  ])('reports closed when the client %s', async (_d, act, sentBytes) => {
    const { client, server } = await pair();
    const peek = peekClientHello(server, OPTS);
    act(client);
    const result = await peek;
    expect(result.ok === false && result.reason).toBe('closed');
    expect(result.bytes.length).toBeLessThanOrEqual(sentBytes);
  });

  it('reports closed at once for a socket already destroyed', async () => {
    const { server } = await pair();
    server.destroy();
    expect(await peekClientHello(server, OPTS)).toEqual({ ok: false, reason: 'closed', bytes: Buffer.alloc(0) });
  });

  it('stops at maxBytes with too-large, without reading the rest', async () => {
    const { client, server } = await pair();
    await write(client, records(handshakeOf(hello.bytes), 60));
    const result: PeekResult = await peekClientHello(server, { ...OPTS, maxBytes: 128 });
    expect(result.ok === false && result.reason).toBe('too-large');
    expect(result.bytes.length).toBeLessThan(hello.bytes.length + 64 * 1024);
  });
});

describe('replaying peeked bytes', () => {
  let dir = '';
  let key = '';
  let cert = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-peek-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', '/CN=peek.test', '-addext', 'subjectAltName=DNS:peek.test', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    key = readFileSync(join(dir, 'key.pem'), 'utf8');
    cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a TLS handshake completes on the socket after unshift: the peek consumed nothing', async () => {
    const { client, server } = await pair((port) =>
      tls.connect({ port, host: '127.0.0.1', servername: 'peek.test', ALPNProtocols: ['h2', 'http/1.1'], ca: cert }),
    );
    const result = await peekClientHello(server, OPTS);
    expect(result).toMatchObject({ ok: true, hello: { sni: 'peek.test', alpn: ['h2', 'http/1.1'] } });
    server.unshift(result.bytes);
    const terminated = new tls.TLSSocket(server, { isServer: true, key, cert, ALPNProtocols: ['http/1.1'] });
    terminated.on('error', () => {});
    sockets.push(terminated);
    await once(client, 'secureConnect');
    expect((client as tls.TLSSocket).alpnProtocol).toBe('http/1.1');
    const echoed = once(terminated, 'data') as Promise<[Buffer]>;
    client.write('ping');
    expect((await echoed)[0].toString()).toBe('ping');
  });
});
