/**
 * The library surface in-process: createGatehouse with custom handlers and middlewares registered by name and
 * referenced from the config, on real sockets.
 */
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createGatehouse, GatehouseErrors, type Gatehouse, type HandlerFactory, type MiddlewareFactory } from '../../src/api.js';
import { createLogger } from '../../src/log.js';
import { httpRequest } from '../helpers/raw-http.js';
import { closeAllUpstreams, startEchoUpstream } from '../helpers/upstreams.js';

const running: Gatehouse[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((g) => g.stop({ graceMs: 1000 })));
  await closeAllUpstreams();
});

/** A logger whose JSON lines the test can read back. */
function memoryLogger() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, logger: createLogger({ level: 'info', destination }) };
}

const requireHeader: MiddlewareFactory = (options, next) => {
  const { name } = options as { name: string };
  if (!name) throw new Error('option "name" is required');
  return (req, res, ctx) => {
    if (req.headers[name] === undefined) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('forbidden\n');
      return;
    }
    return next(req, res, ctx);
  };
};
const tagResponse: MiddlewareFactory = (options, next) => (req, res, ctx) => {
  res.setHeader('x-tag', String((options as { tag: string }).tag));
  return next(req, res, ctx);
};
const hello: HandlerFactory = (options) => async (_req, res, ctx) => {
  await new Promise((r) => setTimeout(r, 5)); // an async handler is awaited like a sync one
  res.end(`${(options as { greeting?: string } | undefined)?.greeting ?? 'hello'} from ${ctx.router} on ${ctx.host}\n`);
};
const explode: HandlerFactory = () => async () => {
  throw new Error('boom');
};

async function start(config: object, extra: { logger?: ReturnType<typeof createLogger> } = {}) {
  const gh = createGatehouse({
    config: config as never,
    handlers: { hello, explode },
    middlewares: { requireHeader, tagResponse },
    logger: extra.logger ?? createLogger({ level: 'silent' }),
  });
  running.push(gh);
  await gh.start();
  return gh;
}

describe('createGatehouse', () => {
  it('serves custom handlers behind custom middlewares, in the configured order', async () => {
    const gh = await start({
      entryPoints: { web: { address: '127.0.0.1:0' } },
      http: {
        routers: { hi: { rule: 'PathPrefix(`/`)', service: 'hello', middlewares: ['tag', 'guard'] } },
        services: { hello: { plugin: { name: 'hello', options: { greeting: 'hej' } } } },
        middlewares: {
          guard: { plugin: { name: 'requireHeader', options: { name: 'x-let-me-in' } } },
          tag: { plugin: { name: 'tagResponse', options: { tag: 'outer' } } },
        },
      },
    });
    const port = gh.addresses()['web']!.port;
    const denied = await httpRequest(port, { host: 'lib.test' });
    expect(denied.status).toBe(403);
    expect(denied.headers['x-tag']).toBe('outer'); // tag runs before guard
    const allowed = await httpRequest(port, { host: 'lib.test', headers: { 'x-let-me-in': '1' } });
    expect(allowed.status).toBe(200);
    expect(allowed.text).toBe('hej from hi on lib.test\n');
  });

  it('mixes custom and forwarding routers on one entry point', async () => {
    const up = await startEchoUpstream();
    const gh = await start({
      entryPoints: { web: { address: '127.0.0.1:0' } },
      http: {
        routers: {
          api: { rule: 'PathPrefix(`/api`)', service: 'up' },
          rest: { rule: 'PathPrefix(`/`)', priority: 1, service: 'hello' },
        },
        services: { up: { loadBalancer: { servers: [{ url: up.url }] } }, hello: { plugin: { name: 'hello' } } },
      },
    });
    const port = gh.addresses()['web']!.port;
    expect(JSON.parse((await httpRequest(port, { path: '/api/x' })).text).url).toBe('/api/x');
    expect((await httpRequest(port, { path: '/other', host: 'h.test' })).text).toBe('hello from rest on h.test\n');
  });

  it('answers 500 and logs when a handler rejects, and keeps serving', async () => {
    const { lines, logger } = memoryLogger();
    const gh = await start(
      {
        entryPoints: { web: { address: '127.0.0.1:0' } },
        http: {
          routers: { bad: { rule: 'Path(`/bad`)', service: 'explode' }, ok: { rule: 'Path(`/ok`)', respond: { body: 'ok' } } },
          services: { explode: { plugin: { name: 'explode' } } },
        },
      },
      { logger },
    );
    const port = gh.addresses()['web']!.port;
    const res = await httpRequest(port, { path: '/bad' });
    expect(res.status).toBe(500);
    expect(res.text).toBe('Internal Server Error\n');
    expect((await httpRequest(port, { path: '/ok' })).text).toBe('ok');
    expect(lines.find((l) => l['msg'] === 'handler failed')).toMatchObject({ router: 'bad', err: { message: 'boom' } });
  });

  it.each([
    ['an unregistered handler', { services: { s: { plugin: { name: 'nope' } } }, routers: { r: { rule: 'Path(`/`)', service: 's' } } }, 'PLUGIN_UNKNOWN', /no custom piece named "nope".*registered: hello, explode/],
    ['an unregistered middleware', { middlewares: { m: { plugin: { name: 'nope' } } }, routers: { r: { rule: 'Path(`/`)', respond: {}, middlewares: ['m'] } } }, 'PLUGIN_UNKNOWN', /middleware "m" is broken: no custom piece named "nope"/],
    ['a middleware factory that throws on its options', { middlewares: { m: { plugin: { name: 'requireHeader', options: {} } } }, routers: { r: { rule: 'Path(`/`)', respond: {}, middlewares: ['m'] } } }, 'PLUGIN_FAILED', /"requireHeader" could not be created: option "name" is required/],
  ])('disables the router using %s, not the proxy', async (_d, http, code, message) => {
    const gh = await start({
      entryPoints: { web: { address: '127.0.0.1:0' } },
      http: { ...http, routers: { ...http.routers, fine: { rule: 'Path(`/fine`)', respond: { body: 'fine' } } } },
    });
    expect(gh.problems).toHaveLength(1);
    expect(gh.problems[0]!.router).toBe('r');
    expect(gh.problems[0]!.error.code).toBe(code);
    expect(gh.problems[0]!.error.message).toMatch(message);
    const port = gh.addresses()['web']!.port;
    expect((await httpRequest(port, { path: '/fine' })).text).toBe('fine');
    expect((await httpRequest(port, { path: '/' })).status).toBe(404);
  });

  it('throws every schema problem of an invalid config object at once', () => {
    let caught: unknown;
    try {
      createGatehouse({ config: { entryPoints: { web: { adress: ':1' } }, htp: {} } as never, logger: createLogger({ level: 'silent' }) });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(GatehouseErrors);
    const messages = (caught as GatehouseErrors).errors.map((e) => e.toString());
    expect(messages.some((m) => /did you mean "address"\?/.test(m))).toBe(true);
    expect(messages.some((m) => /did you mean "http"\?/.test(m))).toBe(true);
  });

  it('rejects start with LISTEN_FAILED when an address is taken, and closes what it had opened', async () => {
    const first = await start({ entryPoints: { web: { address: '127.0.0.1:0' } } });
    const taken = first.addresses()['web']!.port;
    const second = createGatehouse({
      config: { entryPoints: { a: { address: '127.0.0.1:0' }, b: { address: `127.0.0.1:${taken}` } } },
      logger: createLogger({ level: 'silent' }),
    });
    await expect(second.start()).rejects.toMatchObject({ code: 'LISTEN_FAILED', message: expect.stringMatching(/entry point "b" cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/) });
    expect(second.addresses()).toEqual({});
  });
});
