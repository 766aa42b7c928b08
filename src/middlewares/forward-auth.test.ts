// forwardAuth tables on real sockets: an auth server on 127.0.0.1, the middleware in front of an echo handler.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { httpRequest } from '../../test/helpers/raw-http.js';
import { closeMiddlewareServers, echoHandler, startMiddlewareServer } from '../../test/helpers/middleware-server.js';
import { closeAllUpstreams, refusedPort, startHttpUpstream, startSilentUpstream } from '../../test/helpers/upstreams.js';
import { createContext } from '../http/context.js';
import { GatehouseError } from '../errors.js';
import { canonicalName, createForwardAuth } from './forward-auth.js';

const P = '/http/middlewares/sso/forwardAuth';
const servers = new Set<Server>();

afterEach(async () => {
  await closeMiddlewareServers();
  await closeAllUpstreams();
  await Promise.all(
    [...servers].map(
      (s) =>
        new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeAllConnections();
        }),
    ),
  );
  servers.clear();
});
afterAll(closeMiddlewareServers);

/** An auth service that says yes, with identity headers in Go-canonical and in lower-case spelling. */
function startYesAuth() {
  return startHttpUpstream((_req, res) => {
    res.setHeader('X-Auth-User', 'alice');
    res.setHeader('x-auth-groups', 'admins,dev');
    res.setHeader('Remote-Email', 'alice@lab.test');
    res.setHeader('Other', 'not copied');
    res.end();
  });
}

describe('canonicalName', () => {
  it.each([
    ['lower case', 'x-auth-user', 'X-Auth-User'],
    ['upper case', 'X-AUTH-USER', 'X-Auth-User'],
    ['one word', 'remote', 'Remote'],
    ['digits and a trailing dash', 'x-1a-', 'X-1a-'],
  ])('%s', (_d, name, expected) => {
    expect(canonicalName(name)).toBe(expected);
  });
});

describe('authResponseHeadersRegex', () => {
  it.each([
    ['copies the matching answer headers', { authResponseHeadersRegex: '^X-Auth-' }, {}, { 'x-auth-user': 'alice', 'x-auth-groups': 'admins,dev', 'remote-email': undefined, other: undefined }],
    [
      'removes a client header it matches even when the answer lacks it',
      { authResponseHeadersRegex: '^X-Auth-' },
      { 'x-auth-role': 'root', 'x-auth-user': 'mallory', 'x-kept': '1' },
      { 'x-auth-role': undefined, 'x-auth-user': 'alice', 'x-kept': '1' },
    ],
    [
      'works alongside authResponseHeaders',
      { authResponseHeaders: ['Remote-Email'], authResponseHeadersRegex: '^X-Auth-User$' },
      {},
      { 'x-auth-user': 'alice', 'x-auth-groups': undefined, 'remote-email': 'alice@lab.test' },
    ],
    // Canonical form, as in Traefik: a lower-case pattern matches nothing, and the client's header stays.
    ['matches the canonical spelling only', { authResponseHeadersRegex: '^x-auth-' }, { 'x-auth-user': 'mallory' }, { 'x-auth-user': 'mallory' }],
  ])('%s', async (_d, options, clientHeaders, expected) => {
    const auth = await startYesAuth();
    const srv = await startMiddlewareServer(createForwardAuth({ address: auth.url, ...options }, P), echoHandler);
    const res = await httpRequest(srv.port, { headers: clientHeaders });
    expect(res.status).toBe(200);
    const seen = (JSON.parse(res.text) as { headers: Record<string, string> }).headers;
    for (const [name, value] of Object.entries(expected)) expect([name, seen[name]]).toEqual([name, value]);
  });

  it('refuses a pattern that does not compile, with its config path', () => {
    let thrown: unknown;
    try {
      createForwardAuth({ address: 'http://127.0.0.1:1/', authResponseHeadersRegex: '^X-(' }, P);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(GatehouseError);
    expect((thrown as GatehouseError).code).toBe('MIDDLEWARE_CONFIG');
    expect((thrown as GatehouseError).location?.path).toBe(`${P}/authResponseHeadersRegex`);
  });
});

/** The middleware on a real server whose request log goes to `lines`, as the entry point's logger would. */
async function serveLogged(address: string, timeout: string | undefined, lines: Record<string, unknown>[]): Promise<number> {
  const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const chain = createForwardAuth({ address, ...(timeout !== undefined && { timeout }) }, P)(echoHandler);
  const entry = { name: 'web', scheme: 'http', trusts: () => false } as const;
  const server = createServer((req, res) => {
    void chain(req, res, createContext(req, entry, log, 0));
  });
  servers.add(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

describe('an auth service that cannot answer', () => {
  it.each([
    ['refuses connections', async () => `http://127.0.0.1:${await refusedPort()}/verify`, undefined],
    ['accepts and never answers (timeout)', async () => `${(await startSilentUpstream()).url}/verify`, '300ms'],
  ])('%s: 502 to the client and one warn line, nothing upstream', async (_d, address, timeout) => {
    const lines: Record<string, unknown>[] = [];
    const port = await serveLogged(await address(), timeout, lines);
    const res = await httpRequest(port, { path: '/private' });
    expect(res.status).toBe(502);
    expect(res.text).toBe('Bad Gateway\n');
    const warns = lines.filter((l) => (l.level as number) >= 40);
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatchObject({ level: 40, msg: 'forward auth failed', code: 'UPSTREAM_CONNECT' });
    expect(String(warns[0]!.address)).toMatch(/\/verify$/);
  });
});
