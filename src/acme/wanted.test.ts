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
    ['a wildcard is refused without dns-01, the others kept', base({ a: router('Host(`*.a.example`)', { certResolver: 'le' }), b: router('Host(`b.example`)', { certResolver: 'le' }) }), [['b.example']], ['wildcard']],
    ['an unknown resolver is refused', base({ a: router('Host(`a.example`)', { certResolver: 'zz' }) }), [], ['not in certificateResolvers']],
    ['no Host and no domains is refused', base({ a: router('PathPrefix(`/`)', { certResolver: 'le' }) }), [], ['names no Host']],
    ['tls-alpn-01 only without a TLS entry point is refused', base({ a: router('Host(`a.example`)', { certResolver: 'le' }) }, { web: { address: ':80' } }, ['tls-alpn-01']), [], ['no challenge type']],
  ])('%s', (_d, config, names, problems) => {
    const result = wantedCertificates(config);
    expect(result.wanted.map((w) => w.names)).toEqual(names);
    expect(result.problems.map((p) => p.code)).toEqual(problems.map(() => 'ACME_CONFIG'));
    problems.forEach((text, i) => expect(result.problems[i]!.message).toContain(text));
  });

  describe('dns-01', () => {
    const rfc2136 = { provider: 'rfc2136', rfc2136: { nameserver: '127.0.0.1:53', tsigKey: 'k', tsigSecret: 'c2VjcmV0' } };
    const dns = (acme: object, routers: Record<string, unknown>, entryPoints?: Record<string, unknown>): Config =>
      ({
        entryPoints: entryPoints ?? { web: { address: ':80' }, websecure: { address: ':443', tls: {} } },
        certificateResolvers: { le: { acme: { caServer: 'letsencrypt-staging', email: 'ops@example.com', ...acme } } },
        http: { routers },
      }) as unknown as Config;
    const wildApex = { a: router('Host(`a.home.example`)', { certResolver: 'le', domains: [{ main: '*.home.example', sans: ['home.example'] }] }) };

    it.each<[string, Config, string[][], string[], string[] | undefined]>([
      ['a wildcard and its apex in one certificate, by dns-01 alone', dns({ dnsChallenge: rfc2136 }, wildApex), [['*.home.example', 'home.example']], [], ['dns-01']],
      ['no entry point at all is fine for dns-01', dns({ dnsChallenge: rfc2136 }, wildApex, {}), [['*.home.example', 'home.example']], [], ['dns-01']],
      ['dns-01 alongside http-01, in the listed order', dns({ dnsChallenge: rfc2136, challenges: ['http-01', 'dns-01'] }, wildApex), [['*.home.example', 'home.example']], [], ['http-01', 'dns-01']],
      ['a wildcard with a resolver without dnsChallenge says to add one', dns({}, wildApex), [], ['give resolver "le" a dnsChallenge'], undefined],
      ['dns-01 listed without dnsChallenge', dns({ challenges: ['dns-01'] }, wildApex), [], ['has no dnsChallenge'], undefined],
      ['dnsChallenge whose challenges leave dns-01 out', dns({ dnsChallenge: rfc2136, challenges: ['http-01'] }, wildApex), [], ['do not list dns-01'], undefined],
      ['a provider without its settings', dns({ dnsChallenge: { provider: 'exec' } }, wildApex), [], ['dnsChallenge.exec (its settings) is missing'], undefined],
      ['cloudflare without a token', dns({ dnsChallenge: { provider: 'cloudflare', cloudflare: {} } }, wildApex), [], ['one of apiToken'], undefined],
      ['rfc2136 with a key name and no secret', dns({ dnsChallenge: { provider: 'rfc2136', rfc2136: { nameserver: 'ns', tsigKey: 'k' } } }, wildApex), [], ['no tsigSecret'], undefined],
      ['an unknown TSIG algorithm', dns({ dnsChallenge: { ...rfc2136, rfc2136: { ...rfc2136.rfc2136, tsigAlgorithm: 'hmac-md5.sig-alg.reg.int' } } }, wildApex), [], ['is not one of hmac-sha256'], undefined],
      ['a wildcard in the middle of a name', dns({ dnsChallenge: rfc2136 }, { a: router('Host(`a.example`)', { certResolver: 'le', domains: [{ main: 'a.*.example' }] }) }), [], ['not a wildcard a CA issues'], undefined],
      ['a wildcard over a single label', dns({ dnsChallenge: rfc2136 }, { a: router('Host(`a.example`)', { certResolver: 'le', domains: [{ main: '*.example' }] }) }), [], ['not a wildcard a CA issues'], undefined],
    ])('%s', (_d, config, names, problems, challenges) => {
      const result = wantedCertificates(config);
      expect(result.wanted.map((w) => w.names)).toEqual(names);
      expect(result.problems.map((p) => p.message)).toEqual(problems.map((t) => expect.stringContaining(t)));
      if (challenges) expect(result.wanted[0]!.challenges).toEqual(challenges);
    });
  });

  it('keeps only the challenge types the entry points can answer, in the configured order', () => {
    const onlyPlain = wantedCertificates(base({ a: router('Host(`a.example`)', { certResolver: 'le' }) }, { web: { address: ':80' } }));
    expect(onlyPlain.wanted[0]!.challenges).toEqual(['http-01']);
    const both = wantedCertificates(base({ a: router('Host(`a.example`)', { certResolver: 'le' }) }, undefined, ['http-01', 'tls-alpn-01']));
    expect(both.wanted[0]!.challenges).toEqual(['http-01', 'tls-alpn-01']);
  });

  describe('several instances: every instance must answer every challenge', () => {
    const multi = (acme: object, extra: object = {}, routers: Record<string, unknown> = { a: router('Host(`a.example`)', { certResolver: 'le' }), b: router('Host(`b.example`)', { certResolver: 'le' }) }): Config =>
      ({
        entryPoints: { web: { address: ':80' }, websecure: { address: ':443', tls: {} } },
        certificateResolvers: { le: { acme: { caServer: 'letsencrypt-staging', email: 'ops@example.com', ...acme } } },
        http: { routers },
        ...extra,
      }) as unknown as Config;
    const peers = { challenges: { peers: { addresses: ['10.0.0.2', '10.0.0.3'] } } };
    const redis = { storage: { redis: { url: 'redis://127.0.0.1:6379/0' } } };
    const key = { accountKeyFile: 'account.pem' };

    it.each<[string, Config, string | undefined, string | undefined]>([
      ['stateless without accountKeyFile', multi({ stateless: true, challenges: ['http-01'] }), 'set accountKeyFile, the same key on every instance', '/certificateResolvers/le/acme/stateless'],
      ['stateless without accountKeyFile, even with peers', multi({ stateless: true, challenges: ['http-01'] }, peers), 'set accountKeyFile', '/certificateResolvers/le/acme/stateless'],
      ['stateless with the default challenges (tls-alpn-01 first), no peers, no Redis', multi({ stateless: true, ...key }), "use challenges: ['http-01'], or add challenges.peers, or storage.redis", '/certificateResolvers/le/acme/challenges'],
      ['stateless with tls-alpn-01 only', multi({ stateless: true, ...key, challenges: ['tls-alpn-01'] }), 'stateless mode cannot answer', '/certificateResolvers/le/acme/challenges'],
      ['stateless with http-01 only and a shared key', multi({ stateless: true, ...key, challenges: ['http-01'] }), undefined, undefined],
      ['stateless with tls-alpn-01 and peers (relayed to the holder)', multi({ stateless: true, ...key }, peers), undefined, undefined],
      ['stateless with tls-alpn-01 and Redis (the shared store answers)', multi({ stateless: true, ...key }, redis), undefined, undefined],
      ['stateless, tls-alpn-01 listed but no TLS entry point: only http-01 is used', { ...multi({ stateless: true, ...key }), entryPoints: { web: { address: ':80' } } } as Config, undefined, undefined],
      ['peers with tls-alpn-01 only, own keys (relay)', multi({ challenges: ['tls-alpn-01'] }, peers), undefined, undefined],
      ['Redis with the default challenges', multi({}, redis), undefined, undefined],
    ])('%s', (_d, config, message, path) => {
      const result = wantedCertificates(config);
      if (message === undefined) {
        expect(result.problems).toEqual([]);
        expect(result.wanted).toHaveLength(2);
        return;
      }
      // One problem at the resolver, however many routers use it; their certificates are disabled.
      expect(result.problems).toHaveLength(1);
      expect(result.problems[0]!.code).toBe('ACME_CONFIG');
      expect(result.problems[0]!.message).toContain(message);
      expect(result.problems[0]!.location.path).toBe(path);
      expect(result.wanted).toEqual([]);
    });

    it('a refused resolver disables only its own certificates', () => {
      const config = multi({ stateless: true, challenges: ['http-01'] }, {}, { a: router('Host(`a.example`)', { certResolver: 'le' }), b: router('Host(`b.example`)', { certResolver: 'own' }) });
      (config.certificateResolvers as Record<string, unknown>)['own'] = { acme: { caServer: 'letsencrypt-staging', email: 'ops@example.com' } };
      const result = wantedCertificates(config);
      expect(result.wanted.map((w) => w.names)).toEqual([['b.example']]);
      expect(result.problems).toHaveLength(1);
    });
  });
});
