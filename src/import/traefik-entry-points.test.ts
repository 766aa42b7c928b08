/**
 * The Traefik import's entry points and what hangs on them: entry-point TLS and redirection, certificate resolvers
 * (dnsChallenge included), the dynamic tls section, TCP routers, static keys gatehouse lacks, and logs. The dynamic
 * HTTP sections are in traefik.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { convertTraefik } from './traefik.js';
import { conv, STATIC } from '../../test/helpers/traefik-import.js';

describe('entry points and TLS', () => {
  it('http.tls on an entry point makes it TLS and gives its routers the resolver; entryPoint redirection by port', () => {
    const { config, dropped } = conv(
      {
        http: {
          routers: { r: { rule: 'Host(`a.x`)', service: 's', entryPoints: ['websecure'], middlewares: ['own'] } },
          services: { s: { loadBalancer: { servers: [{ url: 'http://10.0.0.1' }] } } },
          middlewares: { m: { compress: {} }, own: { addPrefix: { prefix: '/p' } } },
        },
      },
      {
        entryPoints: {
          web: { address: ':80', http: { redirections: { entryPoint: { to: ':443', scheme: 'https', permanent: true } } } },
          websecure: { address: ':443', http: { tls: { certResolver: 'le', domains: [{ main: 'x', sans: ['*.x'] }] }, middlewares: ['m'] } },
        },
        certificatesResolvers: { le: { acme: { email: 'a@x', storage: 'acme.json', httpChallenge: { entryPoint: 'web' }, tlsChallenge: {} } } },
      },
    );
    expect(config.entryPoints).toEqual({
      web: { address: ':80', http: { redirections: { entryPoint: { to: 'websecure', permanent: true } } } },
      websecure: { address: ':443', tls: {} },
    });
    expect(config.http?.routers?.['r']?.tls).toEqual({ certResolver: 'le', domains: [{ main: 'x', sans: ['*.x'] }] });
    expect(config.http?.routers?.['r']?.middlewares).toEqual(['m', 'own']);
    expect(dropped).toEqual([]);
    expect(config.certificateResolvers).toEqual({ le: { acme: { email: 'a@x', caServer: 'letsencrypt', challenges: ['tls-alpn-01', 'http-01'] } } });
  });

  it('http.encodedCharacters carries over field by field; sanitizePath false is dropped (gatehouse always sanitizes), true is the default', () => {
    const { config, dropped } = conv({}, {
      entryPoints: {
        web: { address: ':80', http: { encodedCharacters: { allowEncodedSlash: true, allowEncodedHash: false }, sanitizePath: false } },
        plain: { address: ':81', http: { sanitizePath: true } },
      },
    });
    expect(config.entryPoints['web']).toEqual({ address: ':80', http: { encodedCharacters: { allowEncodedSlash: true, allowEncodedHash: false } } });
    expect(config.entryPoints['plain']).toEqual({ address: ':81' });
    expect(dropped).toEqual([{ path: 'entryPoints.web.http.sanitizePath', reason: expect.stringMatching(/always resolves dot segments/) }]);
  });

  it('resolvers: staging URL, other CAs, EAB, a dnsChallenge provider gatehouse lacks dropped, storage a note', () => {
    const { config, dropped, notes } = conv({}, {
      ...STATIC,
      certificatesResolvers: {
        staging: { acme: { email: 'a@x', caServer: 'https://acme-staging-v02.api.letsencrypt.org/directory', tlsChallenge: {} } },
        zerossl: { acme: { email: 'a@x', caServer: 'https://acme.zerossl.com/v2/DV90', eab: { kid: 'k', hmacEncoded: 'h' }, httpChallenge: { entryPoint: 'web' } } },
        dns: { acme: { email: 'a@x', storage: 'acme.json', dnsChallenge: { provider: 'route53' } } },
      },
    });
    expect(config.certificateResolvers).toEqual({
      staging: { acme: { email: 'a@x', caServer: 'letsencrypt-staging', challenges: ['tls-alpn-01'] } },
      zerossl: { acme: { email: 'a@x', caServer: 'https://acme.zerossl.com/v2/DV90', eab: { kid: 'k', hmacKey: 'h' }, challenges: ['http-01'] } },
    });
    expect(dropped.map((d) => d.path)).toEqual(['certificatesResolvers.dns.acme.dnsChallenge', 'certificatesResolvers.dns']);
    expect(dropped[0]!.reason).toMatch(/route53 is not built in: gatehouse has rfc2136, cloudflare and exec/);
    expect(notes).toEqual([{ path: 'certificatesResolvers.dns.acme.storage', reason: expect.stringMatching(/stateDir/) }]);
  });

  it.each<[string, Record<string, unknown>, Record<string, unknown>, string[]]>([
    [
      'rfc2136: lego\'s variables as ${VAR}s, resolvers, propagation delay and disableChecks',
      { provider: 'rfc2136', resolvers: ['192.168.1.53:53'], propagation: { delayBeforeChecks: '10s', disableChecks: true, requireAllRNS: true } },
      { provider: 'rfc2136', rfc2136: { nameserver: '${RFC2136_NAMESERVER}', tsigKey: '${RFC2136_TSIG_KEY}', tsigSecret: '${RFC2136_TSIG_SECRET}', tsigAlgorithm: '${RFC2136_TSIG_ALGORITHM:-hmac-sha1.}' }, resolvers: ['192.168.1.53:53'], propagation: { delayBeforeChecks: '10s', disableChecks: true } },
      ['certificatesResolvers.le.acme.dnsChallenge.propagation.requireAllRNS'],
    ],
    ['cloudflare: the scoped token from CF_DNS_API_TOKEN; the deprecated delayBeforeCheck in seconds', { provider: 'cloudflare', delayBeforeCheck: 30 }, { provider: 'cloudflare', cloudflare: { apiToken: '${CF_DNS_API_TOKEN}' }, propagation: { delayBeforeChecks: '30s' } }, []],
    ['exec: the program from EXEC_PATH', { provider: 'exec' }, { provider: 'exec', exec: { path: '${EXEC_PATH}' } }, []],
  ])('dnsChallenge %s', (_d, dnsChallenge, expected, droppedPaths) => {
    const { config, dropped, notes } = conv({}, { ...STATIC, certificatesResolvers: { le: { acme: { email: 'a@x', dnsChallenge } } } });
    expect(config.certificateResolvers).toEqual({ le: { acme: { email: 'a@x', caServer: 'letsencrypt', dnsChallenge: expected } } });
    expect(dropped.map((d) => d.path)).toEqual(droppedPaths);
    expect(notes).toEqual([{ path: 'certificatesResolvers.le.acme.dnsChallenge.provider', reason: expect.stringMatching(/lego's variable/) }]);
  });

  it('tls: certificates, default options and store, sniStrict; other options and inline PEM dropped', () => {
    const { config, dropped } = conv({
      tls: {
        certificates: [{ certFile: 'a.pem', keyFile: 'a-key.pem' }, { certFile: '-----BEGIN CERTIFICATE-----', keyFile: 'k' }],
        options: { default: { minVersion: 'VersionTLS13', sniStrict: true, cipherSuites: ['TLS_AES_128_GCM_SHA256'] }, old: { minVersion: 'VersionTLS10' } },
        stores: { default: { defaultCertificate: { certFile: 'd.pem', keyFile: 'd-key.pem' } } },
      },
    });
    expect(config.tls).toEqual({
      certificates: [{ certFile: 'a.pem', keyFile: 'a-key.pem' }],
      options: { minVersion: 'TLSv1.3' },
      defaultCertificate: { certFile: 'd.pem', keyFile: 'd-key.pem', onUnknownName: 'refuse' },
    });
    expect(dropped.map((d) => d.path)).toEqual(['tls.certificates[1]', 'tls.options.default.cipherSuites', 'tls.options.old']);
  });

  it('TCP: passthrough routers kept (and their entry point made TLS); terminating and plain TCP routers dropped', () => {
    const { config, dropped } = conv({
      tcp: {
        routers: {
          pass: { rule: 'HostSNI(`*.stage.x`)', entryPoints: ['websecure'], service: 't@file', tls: { passthrough: true } },
          term: { rule: 'HostSNI(`db.x`)', service: 't', tls: {} },
          plain: { rule: 'HostSNI(`*`)', service: 't' },
        },
        services: { t: { loadBalancer: { servers: [{ address: '10.0.0.5:443' }], proxyProtocol: { version: 2 } } } },
      },
    });
    expect(config.tcp?.routers).toEqual({ pass: { rule: 'HostSNI(`*.stage.x`)', entryPoints: ['websecure'], service: 't' } });
    expect(config.tcp?.services?.['t']).toEqual({ loadBalancer: { servers: [{ address: '10.0.0.5:443' }], proxyProtocol: { version: 2 } } });
    expect(config.entryPoints['websecure']?.tls).toEqual({});
    expect(config.entryPoints['web']?.tls).toBeUndefined();
    expect(dropped.map((d) => d.path)).toEqual(['tcp.routers.term', 'tcp.routers.plain']);
    expect(dropped[1]!.reason).toMatch(/a TCP router without tls needs entryPoints here/);
  });

  it('TCP on plain entry points: routers without tls kept on the entry points they name (left plain), with middlewares, weighted services and health checks', () => {
    const { config, dropped } = conv(
      {
        tcp: {
          routers: {
            ssh: { rule: 'HostSNI(`*`)', entryPoints: ['ssh'], service: 'git@file', middlewares: ['lan@file', 'few'] },
            mc: { rule: 'HostSNI(`*`) && ClientIP(`192.168.0.0/16`)', entryPoints: ['minecraft'], service: 'worlds' },
          },
          middlewares: {
            lan: { ipWhiteList: { sourceRange: ['192.168.0.0/16'] } },
            few: { inFlightConn: { amount: 3 } },
            gone: { someFutureThing: {} },
          },
          services: {
            git: { loadBalancer: { servers: [{ address: '10.0.0.7:22' }], healthCheck: { interval: '10s', timeout: '3s', send: 'PING', expect: 'PONG', port: 2222 } } },
            worlds: { weighted: { services: [{ name: 'w1', weight: 3 }, { name: 'w2@file' }], healthCheck: {} } },
            w1: { loadBalancer: { servers: [{ address: '10.0.0.8:25565' }] } },
            w2: { loadBalancer: { servers: [{ address: '10.0.0.9:25565' }] } },
          },
        },
      },
      { entryPoints: { web: { address: ':80' }, ssh: { address: ':2222' }, minecraft: { address: ':25565' } } },
    );
    expect(config.tcp?.routers).toEqual({
      ssh: { rule: 'HostSNI(`*`)', entryPoints: ['ssh'], service: 'git', middlewares: ['lan', 'few'] },
      mc: { rule: 'HostSNI(`*`) && ClientIP(`192.168.0.0/16`)', entryPoints: ['minecraft'], service: 'worlds' },
    });
    expect(config.tcp?.middlewares).toEqual({ lan: { ipAllowList: { sourceRange: ['192.168.0.0/16'] } }, few: { inFlightConn: { amount: 3 } } });
    expect(config.tcp?.services?.['git']).toEqual({
      loadBalancer: { servers: [{ address: '10.0.0.7:22' }], healthCheck: { port: 2222, send: 'PING', expect: 'PONG', interval: '10s', timeout: '3s' } },
    });
    expect(config.tcp?.services?.['worlds']).toEqual({ weighted: { services: [{ name: 'w1', weight: 3 }, { name: 'w2' }], healthCheck: {} } });
    expect(config.entryPoints['ssh']?.tls).toBeUndefined();
    expect(config.entryPoints['minecraft']?.tls).toBeUndefined();
    expect(dropped.map((d) => d.path)).toEqual(['tcp.middlewares.gone.someFutureThing']);
  });

  it('static keys gatehouse lacks are listed', () => {
    const { dropped } = conv({}, { ...STATIC, api: { dashboard: true }, metrics: { prometheus: {} }, providers: { docker: {}, file: { directory: 'x' } }, pilot: {} });
    expect(dropped.map((d) => d.path)).toEqual(['providers.docker', 'api', 'metrics', 'pilot']);
  });

  it('a static config without entry points is an error', () => {
    expect(() => convertTraefik({}, [])).toThrow(/no entry point/);
  });

  it('a value the gatehouse schema refuses drops its object with the schema message', () => {
    const { config, dropped } = conv({ http: { services: { s: { loadBalancer: { servers: [{ url: 'http://a' }], healthCheck: { path: 'health' } } } } } });
    expect(config.http?.services).toBeUndefined();
    expect(dropped).toEqual([{ path: 'http.services.s.loadBalancer.healthCheck.path', reason: expect.stringMatching(/matching/) }]);
  });
});

describe('logs', () => {
  it.each([
    ['level only, an empty accessLog section', { log: { level: 'WARN' }, accessLog: {} }, { level: 'warn', accessLog: true }],
    ['format json and a file', { log: { format: 'json', filePath: '/var/log/traefik.log' } }, { format: 'json', file: '/var/log/traefik.log' }],
    ["Traefik's common (human) format is pretty", { log: { format: 'common' } }, { format: 'pretty' }],
    ['an access log asked in CLF stays CLF', { accessLog: { format: 'common' } }, { accessLog: { format: 'common' } }],
    ['an access log asked in JSON is the JSON line', { accessLog: { format: 'json', filePath: '/var/log/access.log' } }, { accessLog: true }],
  ])('%s', (_what, staticExtra, log) => {
    const { config, dropped, notes } = conv({}, { ...STATIC, ...staticExtra });
    expect(config.log).toEqual(log);
    if ('accessLog' in staticExtra && 'filePath' in (staticExtra.accessLog as object)) {
      // A separate access-log file is not carried over, and the report says so.
      expect([...dropped, ...notes].find((n) => n.path === 'accessLog.filePath')?.reason).toMatch(/shares the log's destination/);
    }
  });
});
