import { describe, expect, it } from 'vitest';
import type { Config } from '../config/index.js';
import { GatehouseError } from '../errors.js';
import type { Handler } from './contract.js';
import type { RequestContext } from './context.js';
import type { MiddlewareSet, Wrapper } from './middlewares.js';
import { buildRouteTable, matchRoute } from './router.js';
import type { ServiceSet } from './services.js';

const ok: Handler = (_req, res) => void res.end();
const services: ServiceSet = {
  handlers: new Map<string, Handler | GatehouseError>([
    ['api', ok],
    ['web', ok],
    ['broken', new GatehouseError('PLUGIN_UNKNOWN', 'no custom piece named "x"')],
  ]),
  stopHealthChecks: () => {},
  close: async () => {},
};
const passThrough: Wrapper = (next) => next;
const middlewares: MiddlewareSet = { wrappers: new Map<string, Wrapper | GatehouseError>([['auth', passThrough]]) };

const config = (routers: NonNullable<NonNullable<Config['http']>['routers']>): Config => ({
  entryPoints: { web: { address: ':0' }, admin: { address: ':0' } },
  http: { routers },
});

const req = (host: string, path: string, method = 'GET') =>
  ({ host, path, method, query: '', headers: {}, clientIp: '127.0.0.1' }) as unknown as RequestContext;

describe('route order', () => {
  const table = buildRouteTable(
    config({
      short: { rule: 'Host(`a.test`)', service: 'api' },
      longer: { rule: 'Host(`a.test`) && PathPrefix(`/api`)', service: 'api' },
      pinned: { rule: 'PathPrefix(`/`)', priority: 1000, service: 'web', entryPoints: ['admin'] },
      tieB: { rule: 'Path(`/tie`)', priority: 5, service: 'web' },
      tieA: { rule: 'Path(`/tie`)', priority: 5, service: 'web' },
    }),
    services,
    middlewares,
  );

  it('has no problems', () => {
    expect(table.problems).toEqual([]);
  });

  it.each([
    ['the longer rule wins on the default priority', 'web', 'a.test', '/api/x', 'longer'],
    ['the shorter rule still matches the rest', 'web', 'a.test', '/other', 'short'],
    ['explicit priority beats rule length', 'admin', 'a.test', '/api/x', 'pinned'],
    ['ties are broken by name', 'web', 'b.test', '/tie', 'tieA'],
    ['nothing matches', 'web', 'b.test', '/nope', undefined],
  ])('%s', (_d, ep, host, path, expected) => {
    expect(matchRoute(table.byEntryPoint.get(ep)!, req(host, path))?.name).toBe(expected);
  });

  it('lists routers per entry point: all by default, only the named ones otherwise', () => {
    expect(table.byEntryPoint.get('web')!.map((r) => r.name)).toEqual(['longer', 'short', 'tieA', 'tieB']);
    expect(table.byEntryPoint.get('admin')!.map((r) => r.name)).toEqual(['pinned', 'longer', 'short', 'tieA', 'tieB']);
  });
});

describe('a broken router is disabled, the others serve', () => {
  it.each([
    ['missing service with a suggestion', { rule: 'Path(`/`)', service: 'apii' }, 'CONFIG_REFERENCE', /service "apii" does not exist; did you mean "api"\?/, '/http/routers/bad/service'],
    ['missing service, nothing close', { rule: 'Path(`/`)', service: 'zzzzzz' }, 'CONFIG_REFERENCE', /service "zzzzzz" does not exist \(defined: api, web, broken\)/, '/http/routers/bad/service'],
    ['missing middleware', { rule: 'Path(`/`)', service: 'api', middlewares: ['auth', 'authz'] }, 'CONFIG_REFERENCE', /middleware "authz" does not exist; did you mean "auth"\?/, '/http/routers/bad/middlewares/1'],
    ['unknown entry point', { rule: 'Path(`/`)', service: 'api', entryPoints: ['websecure'] }, 'CONFIG_REFERENCE', /entry point "websecure" does not exist/, '/http/routers/bad/entryPoints'],
    ['rule does not parse', { rule: 'Host(`a.test`', service: 'api' }, 'RULE_SYNTAX', /router "bad": .*column/, '/http/routers/bad/rule'],
    ['two targets', { rule: 'Path(`/`)', service: 'api', respond: { body: 'x' } }, 'CONFIG_SCHEMA', /exactly one of service, respond, redirect; found service, respond/, '/http/routers/bad'],
    ['no target', { rule: 'Path(`/`)' }, 'CONFIG_SCHEMA', /found none/, '/http/routers/bad'],
    ['broken service', { rule: 'Path(`/`)', service: 'broken' }, 'PLUGIN_UNKNOWN', /service "broken" is broken/, undefined],
    ['bad redirect placeholder', { rule: 'Path(`/`)', redirect: { location: 'https://{hots}/' } }, 'CONFIG_SCHEMA', /unknown placeholder \{hots\}/, '/http/routers/bad/redirect/location'],
  ])('%s', (_d, bad, code, message, path) => {
    const table = buildRouteTable(config({ bad, good: { rule: 'Path(`/`)', respond: { body: 'ok' } } } as never), services, middlewares);
    expect(table.problems).toHaveLength(1);
    const [p] = table.problems;
    expect(p!.router).toBe('bad');
    expect(p!.error.code).toBe(code);
    expect(p!.error.message).toMatch(message);
    if (path) expect(p!.error.location.path).toBe(path);
    expect(table.byEntryPoint.get('web')!.map((r) => r.name)).toEqual(['good']);
  });
});
