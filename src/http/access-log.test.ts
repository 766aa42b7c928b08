// The access line: byte for byte what pino's own `log.info(fields, 'request')` writes (time aside), and written
// by CountingResponse on 'close' for finished, HEAD and aborted responses on a real server.
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../log.js';
import { createAccessLog } from './access-log.js';
import { accessLogSettings, type AccessLogConfig } from './access-log-settings.js';
import { createContext, type RequestContext } from './context.js';
import { CountingResponse } from './counting-response.js';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  const log = createLogger({ level: 'info', destination });
  return { lines, log, accessLog: createAccessLog(log)! };
}

const TIME = /"time":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"/;

interface Row {
  description: string;
  ctx: Partial<RequestContext>;
  res: { statusCode: number; writableFinished: boolean; bodyBytes: number; req?: { socket: object } };
  agoMs: number;
}

const base = { entryPoint: 'web', scheme: 'http' as const, method: 'GET', host: 'a.test', path: '/', query: '', headers: {}, clientIp: '127.0.0.1', router: 'r', service: 's', upstream: 'http://127.0.0.1:1' };
const tlsSocket = () => ({ getProtocol: () => 'TLSv1.3', getCipher: () => ({ name: 'TLS_AES_128_GCM_SHA256' }) });

describe('access line format', () => {
  it.each<Row>([
    { description: 'every field', ctx: base, res: { statusCode: 200, writableFinished: true, bodyBytes: 23 }, agoMs: 1.5 },
    { description: 'no router, no upstream', ctx: { ...base, router: undefined, service: undefined, upstream: undefined }, res: { statusCode: 404, writableFinished: true, bodyBytes: 19 }, agoMs: 0.07 },
    {
      description: 'query, user agent and referer',
      ctx: { ...base, query: 'q=a "b"&x', headers: { 'user-agent': 'curl/8.5.0', referer: 'https://a.test/from?x=1' } },
      res: { statusCode: 200, writableFinished: true, bodyBytes: 2 },
      agoMs: 0.3,
    },
    { description: 'the upstream answered: its status and time', ctx: { ...base, upstreamStatus: 503, upstreamMs: 12.3456 }, res: { statusCode: 503, writableFinished: true, bodyBytes: 2 }, agoMs: 13 },
    { description: 'a TLS connection: version and cipher', ctx: { ...base, scheme: 'https' }, res: { statusCode: 200, writableFinished: true, bodyBytes: 2, req: { socket: tlsSocket() } }, agoMs: 0.3 },
    { description: 'a TLS response whose socket is gone', ctx: { ...base, scheme: 'https' }, res: { statusCode: 200, writableFinished: false, bodyBytes: 2, req: undefined as unknown as { socket: object } }, agoMs: 0.3 },
    { description: 'an aborted response', ctx: base, res: { statusCode: 200, writableFinished: false, bodyBytes: 5 }, agoMs: 12 },
    { description: 'HEAD (no body bytes)', ctx: { ...base, method: 'HEAD' }, res: { statusCode: 200, writableFinished: true, bodyBytes: 99 }, agoMs: 2.25 },
    { description: 'non-ASCII host and path', ctx: { ...base, host: 'bücher.test', path: '/日本/🙂' }, res: { statusCode: 200, writableFinished: true, bodyBytes: 0 }, agoMs: 3 },
    { description: 'a quote', ctx: { ...base, path: '/a"b' }, res: { statusCode: 200, writableFinished: true, bodyBytes: 1 }, agoMs: 0.1 },
    { description: 'a backslash', ctx: { ...base, host: 'a\\b.test' }, res: { statusCode: 200, writableFinished: true, bodyBytes: 1 }, agoMs: 0.1 },
    { description: 'quote, backslash, control and DEL characters', ctx: { ...base, path: '/a"b\\c\u0001d\u007f\t' }, res: { statusCode: 400, writableFinished: true, bodyBytes: 1 }, agoMs: 0 },
    { description: 'a lone surrogate', ctx: { ...base, path: '/x\ud800y' }, res: { statusCode: 200, writableFinished: true, bodyBytes: 1 }, agoMs: 999.99 },
    { description: 'an IPv6 client and an empty host', ctx: { ...base, host: '', clientIp: '::1' }, res: { statusCode: 502, writableFinished: true, bodyBytes: 0 }, agoMs: 100 },
  ])('$description: the same bytes as the logger writes', ({ ctx, res, agoMs }) => {
    const { lines, log, accessLog } = capture();
    const full = { ...ctx, start: performance.now() - agoMs } as RequestContext;
    accessLog(res as unknown as ServerResponse, full);
    // The same line twice: the second comes from the cached segments.
    accessLog(res as unknown as ServerResponse, full);
    const fast = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(lines[1]!.replace(TIME, '').replace(/"durationMs":[\d.]+/, '')).toBe(lines[0]!.replace(TIME, '').replace(/"durationMs":[\d.]+/, ''));
    log.info(
      {
        entryPoint: ctx.entryPoint,
        method: ctx.method,
        host: ctx.host,
        path: ctx.path,
        query: ctx.query === '' ? undefined : ctx.query,
        status: res.statusCode,
        bytes: ctx.method === 'HEAD' ? 0 : res.bodyBytes,
        durationMs: fast['durationMs'],
        router: ctx.router,
        service: ctx.service,
        upstream: ctx.upstream,
        upstreamStatus: ctx.upstreamStatus,
        upstreamMs: ctx.upstreamMs === undefined ? undefined : 12.35,
        clientIp: ctx.clientIp,
        userAgent: ctx.headers?.['user-agent'],
        referer: ctx.headers?.referer,
        ...(res.req ? { tlsVersion: 'TLSv1.3', tlsCipher: 'TLS_AES_128_GCM_SHA256' } : null),
        ...(res.writableFinished ? null : { aborted: true }),
      },
      'request',
    );
    expect(lines[0]!.replace(TIME, '')).toBe(lines[2]!.replace(TIME, ''));
    const time = TIME.exec(lines[0]!)![1]!;
    expect(new Date(time).toISOString()).toBe(time);
    expect(Math.abs(new Date(time).getTime() - Date.now())).toBeLessThan(5_000);
    expect(fast['durationMs'] as number).toBeGreaterThanOrEqual(agoMs - 0.01);
  });
});

const servers: Array<Server<typeof IncomingMessage, typeof CountingResponse>> = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

describe('log.accessLog as an object', () => {
  const ctx = { ...base, scheme: 'https' as const, query: 'token=abc', headers: { 'user-agent': 'curl/8.5.0', referer: 'https://r.test/' }, upstreamStatus: 201, upstreamMs: 1.25, start: performance.now() - 2 } as unknown as RequestContext;
  const res = { statusCode: 200, writableFinished: true, bodyBytes: 7, req: { socket: tlsSocket(), httpVersion: '1.1' } } as unknown as ServerResponse;
  const lineWith = (value: Parameters<typeof accessLogSettings>[0]): Record<string, unknown> => {
    const { lines, log } = capture();
    const settings = accessLogSettings(value);
    createAccessLog(log, false, () => settings)!(res, ctx);
    return JSON.parse(lines[0]!) as Record<string, unknown>;
  };

  it.each<[string, AccessLogConfig, string[], Record<string, unknown>]>([
    ['drop the query and the client address', { fields: { drop: ['query', 'clientIp'] } }, ['query', 'clientIp'], {}],
    ['drop the TLS cipher only', { fields: { drop: ['tlsCipher'] } }, ['tlsCipher'], { tlsVersion: 'TLSv1.3' }],
    ['drop both TLS fields and the upstream', { fields: { drop: ['tlsVersion', 'tlsCipher', 'upstream'] } }, ['tlsVersion', 'tlsCipher', 'upstream'], {}],
    ['drop the upstream status, keep its time', { fields: { drop: ['upstreamStatus'] } }, ['upstreamStatus'], { upstreamMs: 1.25 }],
    ['drop the upstream time, keep its status', { fields: { drop: ['upstreamMs'] } }, ['upstreamMs'], { upstreamStatus: 201 }],
    ['redact the referer (any case)', { headers: { redact: ['Referer'] } }, [], { referer: '[redacted]', userAgent: 'curl/8.5.0' }],
    ['redact both headers', { headers: { redact: ['user-agent', 'REFERER'] } }, [], { referer: '[redacted]', userAgent: '[redacted]' }],
  ])('%s', (_what, value, gone, shown) => {
    const line = lineWith(value);
    for (const field of gone) expect(line).not.toHaveProperty(field);
    expect(line).toMatchObject({ msg: 'request', status: 200, router: 'r', service: 's', ...shown });
  });

  it('true is every field', () => {
    expect(lineWith(true)).toMatchObject({ query: 'token=abc', clientIp: '127.0.0.1', userAgent: 'curl/8.5.0', referer: 'https://r.test/', tlsVersion: 'TLSv1.3', tlsCipher: 'TLS_AES_128_GCM_SHA256' });
  });

  it("format common: Traefik's CLF columns, '-' for what is missing, quotes escaped, a request count", () => {
    const { lines, log } = capture();
    const settings = accessLogSettings({ format: 'common' });
    const accessLog = createAccessLog(log, false, () => settings)!;
    accessLog(res, ctx);
    // ctx.path is the routing form (decoded): the request line carries it encoded again, so no space or quote of a
    // path can break the quoted field; a quote in a header is escaped.
    accessLog(res, { ...ctx, query: '', path: '/a"b c', headers: { 'user-agent': 'x"y' }, router: undefined, upstream: undefined } as RequestContext);
    expect(lines[0]).toMatch(/^127\.0\.0\.1 - - \[\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET \/\?token=abc HTTP\/1\.1" 200 7 "https:\/\/r\.test\/" "curl\/8\.5\.0" 1 "r" "http:\/\/127\.0\.0\.1:1" \d+ms$/);
    expect(lines[1]).toMatch(/ "GET \/a%22b%20c HTTP\/1\.1" 200 7 "-" "x\\"y" 2 "-" "-" \d+ms$/);
  });

  it('a new settings object (a reload) changes the writer; false writes nothing', () => {
    const { lines, log } = capture();
    let settings = accessLogSettings(true);
    const accessLog = createAccessLog(log, false, () => settings)!;
    accessLog(res, ctx);
    settings = accessLogSettings({ format: 'common' });
    accessLog(res, ctx);
    settings = false;
    accessLog(res, ctx);
    expect(lines).toHaveLength(2);
    expect(lines[0]!.startsWith('{')).toBe(true);
    expect(lines[1]!.startsWith('127.0.0.1 - - [')).toBe(true);
  });
});

describe('CountingResponse writes the access line on close', () => {
  async function serve(handler: (res: CountingResponse) => void) {
    const { lines, log, accessLog } = capture();
    const entry = { name: 'web', scheme: 'http', trusts: () => false } as const;
    const server = createServer({ ServerResponse: CountingResponse }, (req, res) => {
      res.logOnClose(accessLog, createContext(req, entry, log, performance.now()));
      handler(res);
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { lines, port: (server.address() as AddressInfo).port };
  }

  const waitFor = async (lines: string[], n: number) => {
    for (let i = 0; i < 200 && lines.length < n; i++) await new Promise((r) => setTimeout(r, 10));
    return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  };

  it.each([
    { description: 'a finished GET', method: 'GET', bytes: 11 },
    { description: 'a HEAD (no body)', method: 'HEAD', bytes: 0 },
  ])('$description', async ({ method, bytes }) => {
    const { lines, port } = await serve((res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('hello ');
      res.end(Buffer.from('world'));
    });
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path: '/p?q=1', headers: { host: 'x.test' } }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
    const [line, more] = await waitFor(lines, 1);
    expect(more).toBeUndefined();
    expect(line).toMatchObject({ msg: 'request', method, host: 'x.test', path: '/p', status: 200, bytes, clientIp: '127.0.0.1', entryPoint: 'web' });
    expect(line).not.toHaveProperty('aborted');
  });

  it('an aborted response: one line, aborted, with the bytes written before the client left', async () => {
    const { lines, port } = await serve((res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial'); // never ended: the client goes away
    });
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/slow' }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => {});
      req.on('timeout', () => reject(new Error('no data')));
      req.setTimeout(5_000);
      req.end();
    });
    const [line] = await waitFor(lines, 1);
    expect(line).toMatchObject({ path: '/slow', status: 200, bytes: 7, aborted: true });
    await new Promise((r) => setTimeout(r, 50));
    expect(lines).toHaveLength(1);
  });
});
