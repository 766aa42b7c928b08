import { describe, expect, it } from 'vitest';
import { configWarnings } from './check-warnings.js';
import type { Config } from './config/index.js';

const svc = { service: 's' };
const base = (routers: Record<string, object>, entryPoints: Record<string, object> = { web: { address: ':80' }, websecure: { address: ':443', tls: {} } }): Config =>
  ({ entryPoints, http: { routers, services: { s: { loadBalancer: { servers: [{ url: 'http://127.0.0.1:1' }] } } } } }) as unknown as Config;

describe('configWarnings', () => {
  it.each([
    ['tls on a router, no TLS entry point in the config', base({ a: { rule: 'Host(`a.x`)', tls: {}, ...svc } }, { web: { address: ':80' } }), /router "a" has tls but the config has no TLS entry point/],
    ['tls on a router bound to plain entry points only', base({ a: { rule: 'Host(`a.x`)', tls: {}, entryPoints: ['web'], ...svc } }), /none of its entry points \(web\) is a TLS one/],
    ['the same rule tried first by priority', base({ a: { rule: 'Host(`a.x`)', priority: 50, ...svc }, b: { rule: 'Host(`a.x`)', ...svc } }), /router "b" has the same rule as "a", which is tried first \(priority 50 against 11\)/],
    ['the same rule, other whitespace, equal priority: by name', base({ b: { rule: 'Host( `a.x` )', priority: 5, ...svc }, a: { rule: 'Host(`a.x`)', priority: 5, ...svc } }), /router "b" has the same rule as "a".*then by name/],
    ['a public name on a loopback-only entry point', base({ a: { rule: 'Host(`app.example.com`)', ...svc } }, { local: { address: '127.0.0.1:8080' } }), /only this machine can reach it/],
    ['the same rule tried first on every entry point HTTP arrives on (a UDP one does not count)', base({ a: { rule: 'Host(`a.x`)', priority: 50, entryPoints: ['web'], ...svc }, b: { rule: 'Host(`a.x`)', ...svc } }, { web: { address: ':80' }, dns: { address: ':53/udp' } }), /router "b" has the same rule as "a", which is tried first/],
    ['an HTTP router naming a UDP entry point', base({ a: { rule: 'Host(`a.x`)', entryPoints: ['web', 'dns'], ...svc } }, { web: { address: ':80' }, dns: { address: ':53/udp' } }), /router "a" names "dns", a UDP entry point .*HTTP requests never arrive there/],
  ])('%s', (_d, config, message) => {
    const warnings = configWarnings(config);
    expect(warnings.map((w) => w.message)).toEqual([expect.stringMatching(message)]);
  });

  it.each([
    ['tls router on a TLS entry point', base({ a: { rule: 'Host(`a.x`)', tls: {}, ...svc } })],
    ['the same rule on other entry points', base({ a: { rule: 'Host(`a.x`)', entryPoints: ['web'], ...svc }, b: { rule: 'Host(`a.x`)', entryPoints: ['websecure'], ...svc } })],
    ['the same rule shadowed on one entry point only', base({ a: { rule: 'Host(`a.x`)', entryPoints: ['web'], ...svc }, b: { rule: 'Host(`a.x`)', ...svc } })],
    ['localhost on loopback', base({ a: { rule: 'Host(`localhost`) || Host(`app.localhost`)', ...svc } }, { local: { address: '127.0.0.1:8080' } })],
    ['a negated Host on loopback', base({ a: { rule: '!Host(`app.example.com`)', ...svc } }, { local: { address: '127.0.0.1:8080' } })],
    ['a public name on a wildcard bind', base({ a: { rule: 'Host(`app.example.com`)', ...svc } }, { web: { address: ':8080' } })],
    ['different rules', base({ a: { rule: 'Host(`a.x`)', ...svc }, b: { rule: 'Host(`b.x`)', ...svc } })],
  ])('no warning: %s', (_d, config) => {
    expect(configWarnings(config)).toEqual([]);
  });
});
