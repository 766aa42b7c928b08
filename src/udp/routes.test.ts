import { describe, expect, it } from 'vitest';
import type { Config } from '../config/index.js';
import { GatehouseError } from '../errors.js';
import { UdpRoundRobin, UdpWeighted, parseUdpServer } from './balancer.js';
import { buildUdpRoutes } from './routes.js';
import { udpEntrySettings } from './settings.js';

const base = (udp: Config['udp'], entryPoints: Config['entryPoints'] = { dns: { address: ':53/udp' }, web: { address: ':80' } }): Config => ({ entryPoints, udp });
const lb = (...addresses: string[]) => ({ loadBalancer: { servers: addresses.map((address) => ({ address })) } });

describe('buildUdpRoutes', () => {
  it.each([
    ['unknown service, with a suggestion', { routers: { r: { service: 'resolver' } }, services: { resolvers: lb('10.0.0.1:53') } }, /UDP router "r" is disabled: UDP service "resolver" does not exist; did you mean "resolvers"\?/, '/udp/routers/r/service'],
    ['a TCP entry point', { routers: { r: { service: 's', entryPoints: ['web'] } }, services: { s: lb('10.0.0.1:53') } }, /entry point "web" is not a UDP one \(its address has no "\/udp" suffix\)/, '/udp/routers/r/entryPoints/0'],
    ['an unknown entry point', { routers: { r: { service: 's', entryPoints: ['dsn'] } }, services: { s: lb('10.0.0.1:53') } }, /entry point "dsn" does not exist; did you mean "dns"\?/, '/udp/routers/r/entryPoints/0'],
    ['a malformed server address', { routers: { r: { service: 's' } }, services: { s: lb('10.0.0.1') } }, /server address "10.0.0.1" is not host:port/, '/udp/services/s/loadBalancer/servers/0/address'],
    ['a weighted service naming a missing one', { routers: { r: { service: 'w' } }, services: { w: { weighted: { services: [{ name: 'gone' }] } } } }, /UDP service "w" is disabled: service "gone" does not exist/, '/udp/services/w/weighted/services/0/name'],
    ['a weighted cycle', { routers: { r: { service: 'a' } }, services: { a: { weighted: { services: [{ name: 'b' }] } }, b: { weighted: { services: [{ name: 'a' }] } } } }, /UDP service cycle: a → b → a/, '/udp/services/a/weighted/services/0/name'],
    ['no weight above 0', { routers: { r: { service: 'w' } }, services: { w: { weighted: { services: [{ name: 's', weight: 0 }] } }, s: lb('10.0.0.1:53') } }, /no service of a weighted UDP service has a weight above 0/, '/udp/services/w/weighted/services'],
    ['both kinds', { routers: { r: { service: 's' } }, services: { s: { ...lb('10.0.0.1:53'), weighted: { services: [{ name: 't' }] } } } }, /exactly one of loadBalancer, weighted; found loadBalancer, weighted/, '/udp/services/s'],
  ] as const)('disables a router over %s', (_d, udp, message, path) => {
    const table = buildUdpRoutes(base(udp as Config['udp']));
    expect(table.byEntryPoint.size).toBe(0);
    expect(table.problems).toHaveLength(1);
    expect(table.problems[0]!.error).toBeInstanceOf(GatehouseError);
    expect(table.problems[0]!.error.message).toMatch(message);
    expect(table.problems[0]!.error.location.path).toBe(path);
  });

  it('gives each UDP entry point one router: the name that sorts last, as Traefik; the other is reported', () => {
    const table = buildUdpRoutes(base({ routers: { alpha: { service: 's' }, beta: { service: 's' } }, services: { s: lb('10.0.0.1:53') } }));
    expect(table.byEntryPoint.get('dns')?.router).toBe('beta');
    expect(table.byEntryPoint.has('web')).toBe(false);
    expect(table.problems.map((p) => [p.router, p.error.message])).toEqual([['alpha', expect.stringMatching(/"dns" is served by UDP router "beta"/)]]);
  });

  it('a router without entryPoints takes every UDP entry point; none at all is a problem', () => {
    const two = buildUdpRoutes(base({ routers: { r: { service: 's' } }, services: { s: lb('10.0.0.1:53') } }, { a: { address: ':53/udp' }, b: { address: '127.0.0.1:51820/UDP' }, web: { address: ':80' } }));
    expect([...two.byEntryPoint.keys()]).toEqual(['a', 'b']);
    const none = buildUdpRoutes(base({ routers: { r: { service: 's' } }, services: { s: lb('10.0.0.1:53') } }, { web: { address: ':80' } }));
    expect(none.problems[0]?.error.message).toMatch(/no entry point is a UDP one/);
  });
});

describe('UDP balancing', () => {
  it('round robin takes the servers in order', () => {
    const rr = new UdpRoundRobin(['10.0.0.1:53', '10.0.0.2:53', '10.0.0.3:53'].map((a) => parseUdpServer(a)!));
    expect(Array.from({ length: 6 }, () => rr.next().address)).toEqual(['10.0.0.1:53', '10.0.0.2:53', '10.0.0.3:53', '10.0.0.1:53', '10.0.0.2:53', '10.0.0.3:53']);
  });

  it('weighted spreads by weight, smoothly (3:1 never gives the light one twice in a row), and 0 gets none', () => {
    const one = (a: string) => new UdpRoundRobin([parseUdpServer(a)!]);
    const w = new UdpWeighted([
      { picker: one('10.0.0.1:53'), weight: 3 },
      { picker: one('10.0.0.2:53'), weight: 1 },
      { picker: one('10.0.0.3:53'), weight: 0 },
    ]);
    const picks = Array.from({ length: 8 }, () => w.next().address);
    expect(picks.filter((p) => p === '10.0.0.1:53')).toHaveLength(6);
    expect(picks.filter((p) => p === '10.0.0.2:53')).toHaveLength(2);
    expect(picks.join(' ')).not.toMatch(/10\.0\.0\.2:53 10\.0\.0\.2:53/);
  });

  it.each([
    ['10.0.0.1:53', { host: '10.0.0.1', port: 53, family: 4 }],
    ['[fd00::53]:53', { host: 'fd00::53', port: 53, family: 6 }],
    ['pihole.lan:53', { host: 'pihole.lan', port: 53, family: 0 }],
    ['10.0.0.1', undefined],
    ['10.0.0.1:0', undefined],
    ['fd00::53:53', undefined],
  ])('parseUdpServer(%j)', (text, want) => {
    const got = parseUdpServer(text);
    if (want === undefined) expect(got).toBeUndefined();
    else expect(got).toMatchObject(want);
  });
});

describe('udpEntrySettings', () => {
  it.each([
    ['TCP entry point', { address: ':80' }, undefined],
    ['defaults (Traefik 3 s)', { address: ':53/udp' }, { timeoutMs: 3000, maxSessions: 4096 }],
    ['set', { address: ':53/udp', udp: { timeout: '30s', maxSessions: 10 } }, { timeoutMs: 30000, maxSessions: 10 }],
  ] as const)('%s', (_d, spec, want) => {
    expect(udpEntrySettings('e', spec as never)).toEqual(want);
  });

  it.each([
    ['udp on a TCP entry point', { address: ':53', udp: {} }, /has a "udp" section but listens on TCP: end its address with "\/udp"/, '/entryPoints/e/udp'],
    ['tls on a UDP one', { address: ':443/udp', tls: {} }, /is a UDP one .*"tls" applies to TCP entry points only/, '/entryPoints/e/tls'],
    ['a zero timeout', { address: ':53/udp', udp: { timeout: '0' } }, /udp.timeout must be above 0/, '/entryPoints/e/udp/timeout'],
  ] as const)('refuses %s', (_d, spec, message, path) => {
    let err: GatehouseError | undefined;
    try {
      udpEntrySettings('e', spec as never);
    } catch (e) {
      err = e as GatehouseError;
    }
    expect(err?.code).toBe('CONFIG_SCHEMA');
    expect(err?.message).toMatch(message);
    expect(err?.location.path).toBe(path);
  });
});
