// Services that name services: references resolved in dependency order, cycles and missing or broken references
// disabling only the service that has them; weighted picking and sticky cookies; mirroring copies on real sockets.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { httpRequest } from '../../test/helpers/raw-http.js';
import { closeMiddlewareServers, startMiddlewareServer } from '../../test/helpers/middleware-server.js';
import type { Config, ServiceConfig } from '../config/index.js';
import { GatehouseError } from '../errors.js';
import type { Handler, Plugins } from './contract.js';
import { createMirroring, type MirrorTarget } from './mirroring.js';
import { buildServices } from './services.js';
import { createWeighted } from './weighted.js';

const silent = pino({ level: 'silent' });
afterEach(closeMiddlewareServers);

/** A handler that answers its name (and the length of the body it read). */
const answering = (name: string): Handler => (req, res) => {
  let size = 0;
  req.on('data', (c: Buffer) => (size += c.length));
  req.on('end', () => res.writeHead(200, { 'x-body': String(size) }).end(name));
};
const plugins: Plugins = { handlers: { answer: (options) => answering(String(options)) } };
const leaf = (name: string): ServiceConfig => ({ plugin: { name: 'answer', options: name } });
const build = (services: Record<string, ServiceConfig>) => buildServices({ http: { services } } as Config, plugins, silent);

describe('references between services', () => {
  it.each<[string, Record<string, ServiceConfig>, Record<string, string | RegExp>]>([
    [
      'built after what they name, whatever the order',
      { canary: { weighted: { services: [{ name: 'v1' }, { name: 'v2' }] } }, v1: leaf('v1'), v2: leaf('v2') },
      { canary: 'ok', v1: 'ok', v2: 'ok' },
    ],
    [
      'a missing service disables only the one naming it',
      { canary: { weighted: { services: [{ name: 'v1' }, { name: 'nope' }] } }, v1: leaf('v1') },
      { canary: /service "canary" is disabled: service "nope" does not exist/, v1: 'ok' },
    ],
    [
      'a cycle disables every service on it, not the others',
      { a: { weighted: { services: [{ name: 'b' }] } }, b: { mirroring: { service: 'a' } }, c: leaf('c') },
      { a: /service cycle: a → b → a/, b: /service cycle/, c: 'ok' },
    ],
    ['a service naming itself', { self: { mirroring: { service: 'main', mirrors: [{ name: 'self', percent: 5 }] } }, main: leaf('m') }, { self: /cycle: self → self/, main: 'ok' }],
    [
      'a broken service named by another',
      { bad: { loadBalancer: { servers: [{ url: 'ftp://127.0.0.1:21' }] } }, m: { mirroring: { service: 'ok', mirrors: [{ name: 'bad', percent: 50 }] } }, ok: leaf('ok') },
      { m: /service "bad" is broken: .*ftp:/, ok: 'ok' },
    ],
    ['every weight 0', { w: { weighted: { services: [{ name: 'v1', weight: 0 }] } }, v1: leaf('v1') }, { w: /no service of a weighted service has a weight above 0/ }],
  ])('%s', async (_d, services, expected) => {
    const set = build(services);
    for (const [name, want] of Object.entries(expected)) {
      const got = set.handlers.get(name);
      if (want === 'ok') expect([name, typeof got]).toEqual([name, 'function']);
      else {
        expect(got).toBeInstanceOf(GatehouseError);
        expect((got as GatehouseError).message).toMatch(want);
        expect((got as GatehouseError).code).toBe(name === 'w' ? 'CONFIG_SCHEMA' : 'CONFIG_REFERENCE');
      }
    }
    await set.close();
  });

  it('points at the reference that broke', async () => {
    const set = build({ m: { mirroring: { service: 'ok', mirrors: [{ name: 'ok' }, { name: 'gone', percent: 1 }] } }, ok: leaf('ok') });
    expect((set.handlers.get('m') as GatehouseError).location?.path).toBe('/http/services/m/mirroring/mirrors/1/name');
    await set.close();
  });
});

describe('weighted picking', () => {
  it.each([
    ['90/10 canary', [9, 1], 1000, [900, 100]],
    ['equal weights rotate', [1, 1, 1], 300, [100, 100, 100]],
    ['weight 0 gets nothing', [3, 0, 1], 400, [300, 0, 100]],
  ])('%s: exact over %i picks', (_d, weights, n, expected) => {
    const counts = weights.map(() => 0);
    const children = weights.map((weight, i) => ({ name: `s${i}`, weight, handler: (() => void counts[i]!++) as Handler }));
    const handler = createWeighted(children, undefined);
    const ctx = { upgrade: undefined } as never;
    for (let i = 0; i < n; i++) void handler({ rawHeaders: [] } as never, {} as never, ctx);
    expect(counts).toEqual(expected);
  });

  it('sticky: the first answer pins, the cookie keeps the service, a cookie for weight 0 is re-pinned', async () => {
    const cookie = { name: 'canary', secure: false, httpOnly: true, sameSite: 'lax' as const, path: '/' };
    const handler = createWeighted(
      [
        { name: 'v1', weight: 1, handler: answering('v1') },
        { name: 'v2', weight: 1, handler: answering('v2') },
        { name: 'off', weight: 0, handler: answering('off') },
      ],
      cookie,
    );
    const srv = await startMiddlewareServer((next) => next, handler);
    const first = await httpRequest(srv.port);
    const setCookie = first.headers['set-cookie']?.[0] ?? '';
    expect(setCookie).toMatch(/^canary=[0-9a-f]{16}; Path=\/; HttpOnly; SameSite=Lax$/);
    const pair = setCookie.split(';')[0]!;
    for (let i = 0; i < 6; i++) {
      const again = await httpRequest(srv.port, { headers: { cookie: `other=1; ${pair}` } });
      expect([again.text, again.headers['set-cookie']]).toEqual([first.text, undefined]);
    }
    const offId = (await import('../upstream/index.js')).serverId('off');
    const moved = await httpRequest(srv.port, { headers: { cookie: `canary=${offId}` } });
    expect(moved.text).not.toBe('off');
    expect(moved.headers['set-cookie']?.[0]).toMatch(/^canary=/);
  });
});

/** A mirror handler that records what it got: method, url, body. */
function recordingMirror(name: string, percent: number, seen: string[]): MirrorTarget {
  return {
    name,
    percent,
    handler: (req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.setEncoding('utf8').on('data', (c: string) => (body += c));
      req.on('end', () => {
        seen.push(`${req.method} ${req.url} ${req.headers['content-length'] ?? '-'} ${body}`);
        res.end('discarded');
      });
    },
  };
}

const waitFor = async (cond: () => boolean, ms = 2_000): Promise<void> => {
  for (const end = Date.now() + ms; !cond() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 10));
};

describe('mirroring', () => {
  const mirrorOf = (mirrors: MirrorTarget[], extra: { maxBodyBytes?: number; mirrorBody?: boolean; maxInFlight?: number } = {}) =>
    createMirroring({ main: answering('main'), mirrors, maxBodyBytes: 100, mirrorBody: true, maxInFlight: 10, log: silent, ...extra });

  it.each<[string, { maxBodyBytes?: number; mirrorBody?: boolean }, { method: string; body?: string; chunked?: boolean }, string | undefined]>([
    ['a GET is copied as it came', {}, { method: 'GET' }, 'GET /p?q=1 - '],
    ['a body with a length is copied', {}, { method: 'POST', body: 'hello' }, 'POST /p?q=1 5 hello'],
    ['a chunked body is copied whole, with a length', {}, { method: 'POST', body: 'x'.repeat(60), chunked: true }, `POST /p?q=1 60 ${'x'.repeat(60)}`],
    ['a body over maxBodySize is not copied', {}, { method: 'POST', body: 'y'.repeat(101) }, undefined],
    ['a chunked body growing past maxBodySize is not copied', {}, { method: 'POST', body: 'z'.repeat(150), chunked: true }, undefined],
    ['-1: no limit', { maxBodyBytes: -1 }, { method: 'POST', body: 'y'.repeat(5000) }, `POST /p?q=1 5000 ${'y'.repeat(5000)}`],
    ['mirrorBody false: copied without it', { mirrorBody: false }, { method: 'POST', body: 'secret' }, 'POST /p?q=1 - '],
  ])('%s; the client always gets the main answer and its whole body reaches main', async (_d, extra, request, copy) => {
    const seen: string[] = [];
    const srv = await startMiddlewareServer((next) => next, mirrorOf([recordingMirror('m', 100, seen)], extra));
    const { Readable } = await import('node:stream');
    const body = request.body === undefined ? undefined : request.chunked ? Readable.from([request.body.slice(0, 10), request.body.slice(10)]) : request.body;
    const res = await httpRequest(srv.port, { method: request.method, path: '/p?q=1', ...(body !== undefined && { body }) });
    expect([res.status, res.text, res.headers['x-body']]).toEqual([200, 'main', String(request.body?.length ?? 0)]);
    await waitFor(() => seen.length > 0, copy === undefined ? 200 : 2_000);
    expect(seen).toEqual(copy === undefined ? [] : [copy]);
  });

  it('copies each mirror its percent of requests, evenly', async () => {
    const ten: string[] = [];
    const half: string[] = [];
    const none: string[] = [];
    const srv = await startMiddlewareServer((next) => next, mirrorOf([recordingMirror('ten', 10, ten), recordingMirror('half', 50, half), recordingMirror('none', 0, none)]));
    for (let i = 0; i < 40; i++) expect((await httpRequest(srv.port, { path: `/${i}` })).text).toBe('main');
    await waitFor(() => ten.length === 4 && half.length === 20);
    expect([ten.length, half.length, none.length]).toEqual([4, 20, 0]);
    expect(half.map((s) => s.split(' ')[1])).toEqual(Array.from({ length: 20 }, (_, k) => `/${2 * k + 1}`));
  });

  it('a mirror that throws, or never answers past the in-flight bound, changes nothing for the client', async () => {
    let hanging = 0;
    const mirrors: MirrorTarget[] = [
      { name: 'throws', percent: 100, handler: () => { throw new Error('boom'); } },
      { name: 'hangs', percent: 100, handler: () => void hanging++ },
    ];
    const srv = await startMiddlewareServer((next) => next, mirrorOf(mirrors, { maxInFlight: 3 }));
    for (let i = 0; i < 8; i++) expect((await httpRequest(srv.port, { method: 'POST', body: 'b', timeoutMs: 2_000 })).text).toBe('main');
    // A throwing copy frees its slot at once; a hanging one keeps it, so the third hang fills the bound for good.
    expect(hanging).toBe(3);
  });
});
