import { afterAll, describe, expect, it } from 'vitest';
import { validateConfig, type Config } from '../config/index.js';
import { createLogger } from '../log.js';
import { parseBackendAddress } from './backend.js';
import { buildTcpRoutes, matchTcpRoute, type TcpRouteTable } from './router.js';

const log = createLogger({ level: 'silent' });
const tables: TcpRouteTable[] = [];
afterAll(async () => {
  await Promise.all(tables.map((t) => t.close()));
});

type Tcp = NonNullable<Config['tcp']>;

type HttpRouters = NonNullable<NonNullable<Config['http']>['routers']>;

/** A validated config: the schema has its say first, as at load time. */
function build(routers: NonNullable<Tcp['routers']>, services: Tcp['services'] = {}, httpRouters?: HttpRouters, middlewares?: Tcp['middlewares']): TcpRouteTable {
  const config = validateConfig({
    entryPoints: { websecure: { address: '127.0.0.1:0', tls: {} }, alt: { address: '127.0.0.1:0', tls: {} }, web: { address: '127.0.0.1:0' }, dns: { address: '127.0.0.1:0/udp' } },
    ...(httpRouters ? { http: { routers: httpRouters } } : {}),
    tcp: {
      routers,
      ...(middlewares ? { middlewares } : {}),
      services: {
        vm: { loadBalancer: { servers: [{ address: '127.0.0.1:9443' }] } },
        test: { loadBalancer: { servers: [{ address: '127.0.0.1:9444' }], proxyProtocol: { version: 1 } } },
        ...services,
      },
    },
  });
  const table = buildTcpRoutes(config, log);
  tables.push(table);
  return table;
}

const hello = (sni: string, alpn: string[] = []) => ({ sni, alpn, clientIp: '127.0.0.1' });

describe('route order', () => {
  const table = build({
    catchAll: { rule: 'HostSNI(`*`)', service: 'vm' },
    zone: { rule: 'HostSNI(`*.test.example.com`)', service: 'test' },
    exact: { rule: 'HostSNI(`vm.example.com`)', service: 'vm' },
    pinned: { rule: 'HostSNI(`pinned.example.com`) || HostSNI(`*.test.example.com`)', priority: 1000, service: 'vm', entryPoints: ['alt'] },
    tieB: { rule: 'HostSNI(`tie.example.com`)', priority: 100, service: 'vm' },
    tieA: { rule: 'HostSNI(`tie.example.com`)', priority: 100, service: 'test' },
  });

  it('has no problems', () => {
    expect(table.problems).toEqual([]);
  });

  it('lists only TLS entry points', () => {
    expect([...table.byEntryPoint.keys()].sort()).toEqual(['alt', 'websecure']);
  });

  it.each([
    ['exact name', 'websecure', hello('vm.example.com'), 'exact'],
    ['one-label wildcard', 'websecure', hello('app.test.example.com'), 'zone'],
    ['two labels fall to the catch-all', 'websecure', hello('a.b.test.example.com'), 'catchAll'],
    ['no SNI falls to the catch-all', 'websecure', hello(''), 'catchAll'],
    ['explicit priority beats rule length', 'alt', hello('app.test.example.com'), 'pinned'],
    ['a router only on its entry points', 'websecure', hello('pinned.example.com'), 'catchAll'],
    ['equal priority: by name', 'websecure', hello('tie.example.com'), 'tieA'],
  ])('%s', (_d, entryPoint, input, expected) => {
    expect(matchTcpRoute(table.byEntryPoint.get(entryPoint)!, input)?.name).toBe(expected);
  });

  it('answers undefined when nothing matches (the edge then terminates)', () => {
    const only = build({ exact: { rule: 'HostSNI(`vm.example.com`)', service: 'vm' } });
    expect(matchTcpRoute(only.byEntryPoint.get('websecure')!, hello('other.example.com'))).toBeUndefined();
  });

  it.each([
    ['priority 0 means unset: the rule length', 'zero', 'HostSNI(`a.example.com`)', 24],
    ['HostSNI(`*`) defaults to -1', 'star', 'HostSNI(`*`)', -1],
  ])('%s', (_d, name, rule, priority) => {
    const t = build({ [name]: { rule, priority: 0, service: 'vm' } });
    expect(t.byEntryPoint.get('websecure')![0]!.priority).toBe(priority);
  });
});

// Traefik's order on a TLS entry point (pkg/server/router/tcp/router.go ServeTCP): HTTPS routers naming the SNI,
// then TCP routers, then the HTTPS catch-all (a router without Host), then the TCP catch-all HostSNI(`*`).
describe('TCP routes against the HTTPS routers of the same entry point', () => {
  const respond = { status: 200 };
  it.each<[description: string, tcp: NonNullable<Tcp['routers']>, http: HttpRouters, input: ReturnType<typeof hello>, expected: string | undefined]>([
    ['ALPN(`h2`) beats HostSNI(`*`) (default priority -1)', { h2: { rule: 'ALPN(`h2`)', service: 'vm' }, all: { rule: 'HostSNI(`*`)', service: 'test' } }, {}, hello('a.example', ['h2']), 'h2'],
    ['an HTTPS Host beats a TCP route for the same name', { vm: { rule: 'HostSNI(`vm.example.com`)', service: 'vm' } }, { web: { rule: 'Host(`vm.example.com`)', respond } }, hello('vm.example.com'), undefined],
    ['an HTTPS wildcard Host beats a TCP route', { vm: { rule: 'HostSNI(`vm.example.com`)', service: 'vm' } }, { web: { rule: 'Host(`*.example.com`)', respond } }, hello('vm.example.com'), undefined],
    ['an HTTPS Host under ! still claims the name (Traefik ParseDomains)', { vm: { rule: 'HostSNI(`vm.example.com`)', service: 'vm' } }, { web: { rule: '!Host(`vm.example.com`)', respond } }, hello('vm.example.com'), undefined],
    ['an HTTPS Host for another name leaves the TCP route', { vm: { rule: 'HostSNI(`vm.example.com`)', service: 'vm' } }, { web: { rule: 'Host(`www.example.com`)', respond } }, hello('vm.example.com'), 'vm'],
    ['a specific TCP route beats the HTTPS catch-all', { vm: { rule: 'HostSNI(`vm.example.com`)', service: 'vm' } }, { web: { rule: 'PathPrefix(`/`)', respond } }, hello('vm.example.com'), 'vm'],
    ['the HTTPS catch-all beats the TCP catch-all', { all: { rule: 'HostSNI(`*`)', service: 'vm' } }, { web: { rule: 'PathPrefix(`/`)', respond } }, hello('x.example.com'), undefined],
    ['Host(`*`) is an HTTPS catch-all', { all: { rule: 'HostSNI(`*`)', service: 'vm' } }, { web: { rule: 'Host(`*`)', respond } }, hello('x.example.com'), undefined],
    ['HostRegexp alone is an HTTPS catch-all', { all: { rule: 'HostSNI(`*`)', service: 'vm' } }, { web: { rule: 'HostRegexp(`^x`)', respond } }, hello('x.example.com'), undefined],
    ['with only named HTTPS routers, the TCP catch-all takes other names', { all: { rule: 'HostSNI(`*`)', service: 'vm' } }, { web: { rule: 'Host(`www.example.com`)', respond } }, hello('x.example.com'), 'all'],
    ['a TCP catch-all set above a specific route shadows it', { all: { rule: 'HostSNI(`*`)', priority: 1000, service: 'vm' }, vm: { rule: 'HostSNI(`vm.example.com`)', service: 'test' } }, {}, hello('vm.example.com'), 'all'],
    ['... and then the HTTPS catch-all wins over both', { all: { rule: 'HostSNI(`*`)', priority: 1000, service: 'vm' }, vm: { rule: 'HostSNI(`vm.example.com`)', service: 'test' } }, { web: { rule: 'PathPrefix(`/`)', respond } }, hello('vm.example.com'), undefined],
    ['an HTTP router on another entry point claims nothing here', { vm: { rule: 'HostSNI(`vm.example.com`)', service: 'vm' } }, { web: { rule: 'Host(`vm.example.com`)', entryPoints: ['alt'], respond } }, hello('vm.example.com'), 'vm'],
    ['an HTTP router with a broken rule claims nothing', { vm: { rule: 'HostSNI(`vm.example.com`)', service: 'vm' } }, { web: { rule: 'Host(`vm.example.com`) && Nope(`x`)', respond } }, hello('vm.example.com'), 'vm'],
  ])('%s', (_d, tcp, http, input, expected) => {
    const t = build(tcp, {}, http);
    expect(matchTcpRoute(t.byEntryPoint.get('websecure')!, input)?.name).toBe(expected);
  });
});

describe('broken routers are disabled, the others serve', () => {
  it.each([
    ['a missing service', { rule: 'HostSNI(`a.example`)', service: 'mv' }, 'CONFIG_REFERENCE', /TCP service "mv" does not exist; did you mean "vm"\?/, '/tcp/routers/bad/service'],
    ['a HostSNI name on a plain entry point (Traefik: "has HostSNI matcher, but no TLS")', { rule: 'HostSNI(`a.example`)', service: 'vm', entryPoints: ['web'] }, 'RULE_MATCHER', /entry point "web" has no "tls", so nothing is read before routing and its rule can only use HostSNI\(`\*`\) and ClientIP, not HostSNI\(`a\.example`\)/, '/tcp/routers/bad/rule'],
    ['a UDP entry point', { rule: 'HostSNI(`*`)', service: 'vm', entryPoints: ['dns'] }, 'CONFIG_REFERENCE', /entry point "dns" is a UDP one \(its address ends in "\/udp"\); name a TCP entry point/, '/tcp/routers/bad/entryPoints/0'],
    ['ALPN on a plain entry point', { rule: 'HostSNI(`*`) && ALPN(`h2`)', service: 'vm', entryPoints: ['web'] }, 'RULE_MATCHER', /not ALPN\(`h2`\)/, '/tcp/routers/bad/rule'],
    ['a missing TCP middleware', { rule: 'HostSNI(`a.example`)', service: 'vm', middlewares: ['nope'] }, 'CONFIG_REFERENCE', /TCP middleware "nope" does not exist \(defined: lan, two, badCidr\)/, '/tcp/routers/bad/middlewares/0'],
    ['a bad CIDR in ipAllowList', { rule: 'HostSNI(`a.example`)', service: 'vm', middlewares: ['two', 'badCidr'] }, 'MIDDLEWARE_CONFIG', /TCP middleware "badCidr": CIDR "10\.0\.0\.0\/33" needs a prefix length from 0 to 32/, '/tcp/middlewares/badCidr/ipAllowList/sourceRange/0'],
    ['a weighted service naming a missing one', { rule: 'HostSNI(`a.example`)', service: 'canary' }, 'CONFIG_REFERENCE', /TCP service "canary" names service "vn", which does not exist; did you mean "vm"\?/, '/tcp/services/canary/weighted/services/1/name'],
    ['a weighted service containing itself', { rule: 'HostSNI(`a.example`)', service: 'loop' }, 'CONFIG_REFERENCE', /TCP service "loop2" names service "loop", which contains "loop2" again/, '/tcp/services/loop2/weighted/services/0/name'],
    ['an unknown entry point', { rule: 'HostSNI(`a.example`)', service: 'vm', entryPoints: ['nope'] }, 'CONFIG_REFERENCE', /entry point "nope" does not exist/, '/tcp/routers/bad/entryPoints/0'],
    ['an HTTP matcher', { rule: 'Host(`a.example`)', service: 'vm' }, 'RULE_MATCHER', /unknown matcher "Host"/, '/tcp/routers/bad/rule'],
    ['a rule that does not parse', { rule: 'HostSNI(`a.example`', service: 'vm' }, 'RULE_SYNTAX', /TCP router "bad"/, '/tcp/routers/bad/rule'],
    ['a service with a bad address', { rule: 'HostSNI(`a.example`)', service: 'noport' }, 'CONFIG_SCHEMA', /is not host:port/, '/tcp/services/noport/loadBalancer/servers/0/address'],
  ])('%s', (_d, router, code, message, path) => {
    const table = build(
      { bad: router, good: { rule: 'HostSNI(`good.example`)', service: 'vm' } },
      {
        noport: { loadBalancer: { servers: [{ address: 'vm.lan' }] } },
        canary: { weighted: { services: [{ name: 'vm', weight: 9 }, { name: 'vn', weight: 1 }] } },
        loop: { weighted: { services: [{ name: 'loop2' }] } },
        loop2: { weighted: { services: [{ name: 'loop' }] } },
      },
      undefined,
      { lan: { ipAllowList: { sourceRange: ['192.168.0.0/16'] } }, two: { inFlightConn: { amount: 2 } }, badCidr: { ipAllowList: { sourceRange: ['10.0.0.0/33'] } } },
    );
    expect(table.problems).toHaveLength(1);
    const [problem] = table.problems;
    expect(problem!.router).toBe('bad');
    expect(problem!.error.code).toBe(code);
    expect(problem!.error.message).toMatch(message);
    expect(problem!.error.location.path).toBe(path);
    expect(matchTcpRoute(table.byEntryPoint.get('websecure')!, hello('good.example'))?.name).toBe('good');
  });

  it('reports every router when no entry point speaks TLS', () => {
    const config = validateConfig({
      entryPoints: { web: { address: '127.0.0.1:0' } },
      tcp: { routers: { r: { rule: 'HostSNI(`*`)', service: 's' } }, services: { s: { loadBalancer: { servers: [{ address: '127.0.0.1:1' }] } } } },
    });
    const table = buildTcpRoutes(config, log);
    tables.push(table);
    expect(table.byEntryPoint.size).toBe(0);
    expect(table.problems.map((p) => [p.router, p.error.code])).toEqual([['r', 'CONFIG_REFERENCE']]);
  });
});

describe('backend addresses', () => {
  it.each([
    ['IPv4 and port', '10.0.0.5:443', { host: '10.0.0.5', port: 443 }],
    ['host name', 'test-proxy.lan:8443', { host: 'test-proxy.lan', port: 8443 }],
    ['bracketed IPv6', '[::1]:443', { host: '::1', port: 443 }],
    ['surrounding spaces', ' 127.0.0.1:1 ', { host: '127.0.0.1', port: 1 }],
    ['no port', 'vm.lan', undefined],
    ['port 0', '127.0.0.1:0', undefined],
    ['port past 65535', '127.0.0.1:65536', undefined],
    ['bare IPv6 (port ambiguous)', '::1:443', undefined],
    ['brackets around a name', '[vm.lan]:443', undefined],
    ['a URL', 'tcp://vm.lan:443', undefined],
  ])('%s', (_d, text, expected) => {
    const parsed = parseBackendAddress(text);
    if (expected === undefined) expect(parsed).toBeUndefined();
    else expect(parsed).toMatchObject(expected);
  });
});

describe('plain entry points (no tls) carry raw TCP', () => {
  const plain = (clientIp: string) => ({ sni: '', alpn: [], clientIp });

  it('routes by ClientIP then the HostSNI(`*`) catch-all, highest priority first', () => {
    const table = build({
      ssh: { rule: 'HostSNI(`*`)', service: 'vm', entryPoints: ['web'] },
      lan: { rule: 'HostSNI(`*`) && ClientIP(`192.168.0.0/16`)', service: 'test', entryPoints: ['web'] },
    });
    expect(table.problems).toEqual([]);
    expect([...table.plain]).toEqual(['web']);
    expect(matchTcpRoute(table.byEntryPoint.get('web')!, plain('192.168.1.9'))?.name).toBe('lan');
    expect(matchTcpRoute(table.byEntryPoint.get('web')!, plain('10.0.0.1'))?.name).toBe('ssh');
    // A router that names no entry point stays on the TLS ones (the default), not on the plain one.
    expect(build({ x: { rule: 'HostSNI(`*`)', service: 'vm' } }).plain.size).toBe(0);
  });

  it('HTTP routers naming the same plain entry point disable its TCP routers, naming both and the entry point', () => {
    const table = build(
      { ssh: { rule: 'HostSNI(`*`)', service: 'vm', entryPoints: ['web'] }, tls: { rule: 'HostSNI(`a.example`)', service: 'vm' } },
      {},
      { site: { rule: 'Host(`a.example`)', entryPoints: ['web'], respond: { status: 200 } }, other: { rule: 'PathPrefix(`/`)', respond: { status: 200 } } },
    );
    expect(table.problems.map((p) => [p.router, p.error.code, p.error.location.path])).toEqual([['ssh', 'TCP_ENTRY_POINT_CONFLICT', '/tcp/routers/ssh/entryPoints/0']]);
    expect(table.problems[0]!.error.message).toBe(
      'TCP router "ssh" is disabled: entry point "web" has no "tls" and HTTP router "site" listens there too; a plain port cannot tell HTTP from other TCP, so give the TCP router ("ssh") an entry point of its own, or take "web" out of the HTTP router\'s entryPoints',
    );
    expect(table.plain.size).toBe(0);
    // "site" names only "web": on websecure it claims nothing, and the passthrough route keeps its name.
    expect(matchTcpRoute(table.byEntryPoint.get('websecure')!, hello('a.example'))?.name).toBe('tls');
  });
});
