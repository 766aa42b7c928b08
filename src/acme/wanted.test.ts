import { describe, expect, it } from 'vitest';
import type { Config } from '../config/index.js';
import { wantedCertificates } from './wanted.js';

const base = (routers: Record<string, unknown>, entryPoints: Record<string, unknown> = { web: { address: ':80' }, websecure: { address: ':443', tls: {} } }, challenges?: string[]): Config =>
  ({
    entryPoints,
    certificateResolvers: { le: { acme: { caServer: 'letsencrypt-staging', email: 'ops@example.com', ...(challenges ? { challenges } : {}) } } },
    http: { routers },
  }) as unknown as Config;
const router = (rule: string, tls: object | undefined) => ({ rule, respond: {}, ...(tls ? { tls } : {}) });

describe('wantedCertificates', () => {
  it.each<[string, Config, string[][], string[]]>([
    ['Host names of one router make one certificate, main first, lower case', base({ a: router('Host(`A.example`, `www.example`)', { certResolver: 'le' }) }), [['a.example', 'www.example']], []],
    ['Host inside && and || counts', base({ a: router('(Host(`a.example`) && PathPrefix(`/x`)) || Host(`b.example`)', { certResolver: 'le' }) }), [['a.example', 'b.example']], []],
    ['tls.domains: one certificate each, instead of the rule', base({ a: router('Host(`x.example`)', { certResolver: 'le', domains: [{ main: 'm.example', sans: ['s.example'] }, { main: 'n.example' }] }) }), [['m.example', 's.example'], ['n.example']], []],
    ['two routers with the same names share one certificate', base({ a: router('Host(`a.example`)', { certResolver: 'le' }), b: router('Host(`a.example`) && Path(`/b`)', { certResolver: 'le' }) }), [['a.example']], []],
    ['a router without certResolver asks for nothing', base({ a: router('Host(`a.example`)', {}), b: router('Host(`b.example`)', undefined) }), [], []],
    ['a wildcard is refused, the others kept', base({ a: router('Host(`*.example`)', { certResolver: 'le' }), b: router('Host(`b.example`)', { certResolver: 'le' }) }), [['b.example']], ['wildcard']],
    ['an unknown resolver is refused', base({ a: router('Host(`a.example`)', { certResolver: 'zz' }) }), [], ['not in certificateResolvers']],
    ['no Host and no domains is refused', base({ a: router('PathPrefix(`/`)', { certResolver: 'le' }) }), [], ['names no Host']],
    ['tls-alpn-01 only without a TLS entry point is refused', base({ a: router('Host(`a.example`)', { certResolver: 'le' }) }, { web: { address: ':80' } }, ['tls-alpn-01']), [], ['no challenge type']],
  ])('%s', (_d, config, names, problems) => {
    const result = wantedCertificates(config);
    expect(result.wanted.map((w) => w.names)).toEqual(names);
    expect(result.problems.map((p) => p.code)).toEqual(problems.map(() => 'ACME_CONFIG'));
    problems.forEach((text, i) => expect(result.problems[i]!.message).toContain(text));
  });

  it('keeps only the challenge types the entry points can answer, in the configured order', () => {
    const onlyPlain = wantedCertificates(base({ a: router('Host(`a.example`)', { certResolver: 'le' }) }, { web: { address: ':80' } }));
    expect(onlyPlain.wanted[0]!.challenges).toEqual(['http-01']);
    const both = wantedCertificates(base({ a: router('Host(`a.example`)', { certResolver: 'le' }) }, undefined, ['http-01', 'tls-alpn-01']));
    expect(both.wanted[0]!.challenges).toEqual(['http-01', 'tls-alpn-01']);
  });
});
