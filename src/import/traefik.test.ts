/**
 * The Traefik import's dynamic HTTP sections (middlewares, references between files and providers, services) and
 * the merge of several dynamic files. Entry points, TLS, TCP and logs are in traefik-entry-points.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { convertTraefik, mergeDynamic } from './traefik.js';
import { DropList } from './traefik-node.js';
import { conv } from '../../test/helpers/traefik-import.js';

const withMiddleware = (mw: object) => ({
  http: {
    routers: { r: { rule: 'Host(`a.example`)', service: 's', middlewares: ['m'] } },
    services: { s: { loadBalancer: { servers: [{ url: 'http://10.0.0.1:80' }] } } },
    middlewares: { m: mw },
  },
});

describe('middlewares', () => {
  it.each([
    ['basicAuth', { basicAuth: { users: ['u:$apr1$x$y'], realm: 'r', removeHeader: true } }, { basicAuth: { users: ['u:$apr1$x$y'], realm: 'r', removeHeader: true } }],
    ['basicAuth usersFile', { basicAuth: { usersFile: '/etc/htpasswd' } }, { basicAuth: { usersFile: '/etc/htpasswd' } }],
    ['forwardAuth', { forwardAuth: { address: 'http://auth:9091/verify', trustForwardHeader: true, authResponseHeaders: ['Remote-User'] } }, { forwardAuth: { address: 'http://auth:9091/verify', trustForwardHeader: true, authResponseHeaders: ['Remote-User'] } }],
    ['ipAllowList with ipStrategy', { ipAllowList: { sourceRange: ['10.0.0.0/8'], ipStrategy: { depth: 1 } } }, { ipAllowList: { sourceRange: ['10.0.0.0/8'], ipStrategy: { depth: 1 } } }],
    ['v2 ipWhiteList → ipAllowList', { ipWhiteList: { sourceRange: ['192.168.0.0/16'] } }, { ipAllowList: { sourceRange: ['192.168.0.0/16'] } }],
    ['rateLimit', { rateLimit: { average: 10, burst: 20, period: '1m', sourceCriterion: { ipStrategy: { excludedIPs: ['10.0.0.1'] } } } }, { rateLimit: { average: 10, burst: 20, period: '1m', sourceCriterion: { ipStrategy: { excludedIPs: ['10.0.0.1'] } } } }],
    ['headers', { headers: { customRequestHeaders: { 'X-A': '1' }, stsSeconds: 60, frameDeny: true, accessControlAllowOriginList: ['*'] } }, { headers: { customRequestHeaders: { 'X-A': '1' }, stsSeconds: 60, frameDeny: true, accessControlAllowOriginList: ['*'] } }],
    ['redirectScheme (TOML port as a number)', { redirectScheme: { scheme: 'https', port: 8443, permanent: true } }, { redirectScheme: { scheme: 'https', port: '8443', permanent: true } }],
    ['redirectRegex', { redirectRegex: { regex: '^http://old/(.*)', replacement: 'https://new/$1' } }, { redirectRegex: { regex: '^http://old/(.*)', replacement: 'https://new/$1' } }],
    ['stripPrefix', { stripPrefix: { prefixes: ['/api'] } }, { stripPrefix: { prefixes: ['/api'] } }],
    ['stripPrefixRegex', { stripPrefixRegex: { regex: ['/v[0-9]+'] } }, { stripPrefixRegex: { regex: ['/v[0-9]+'] } }],
    ['addPrefix', { addPrefix: { prefix: '/app' } }, { addPrefix: { prefix: '/app' } }],
    ['replacePath', { replacePath: { path: '/x' } }, { replacePath: { path: '/x' } }],
    ['replacePathRegex', { replacePathRegex: { regex: '^/a/(.*)', replacement: '/b/$1' } }, { replacePathRegex: { regex: '^/a/(.*)', replacement: '/b/$1' } }],
    ['compress', { compress: { minResponseBodyBytes: 100, encodings: ['gzip'] } }, { compress: { minResponseBodyBytes: 100, encodings: ['gzip'] } }],
    ['buffering', { buffering: { maxRequestBodyBytes: 1000 } }, { buffering: { maxRequestBodyBytes: 1000 } }],
  ])('%s', (_d, traefik, gatehouse) => {
    const { config, dropped } = conv(withMiddleware(traefik));
    expect(dropped).toEqual([]);
    expect(config.http?.middlewares?.['m']).toEqual(gatehouse);
    expect(config.http?.routers?.['r']?.middlewares).toEqual(['m']);
  });

  it('a chain names its middlewares without @file', () => {
    const dyn = withMiddleware({ chain: { middlewares: ['a@file', 'b'] } });
    Object.assign(dyn.http.middlewares, { a: { addPrefix: { prefix: '/a' } }, b: { compress: {} } });
    const { config, dropped } = conv(dyn);
    expect(dropped).toEqual([]);
    expect(config.http?.middlewares?.['m']).toEqual({ chain: { middlewares: ['a', 'b'] } });
  });

  it.each([
    ['plugin', { plugin: { geoblock: {} } }, 'http.middlewares.m.plugin', /plugins are not supported/],
    ['digestAuth', { digestAuth: { users: ['u:r:h'] } }, 'http.middlewares.m.digestAuth', /use basicAuth/],
    ['retry', { retry: { attempts: 3 } }, 'http.middlewares.m.retry', /loadBalancer\.retry/],
    ['errors', { errors: { status: ['500'], service: 's', query: '/' } }, 'http.middlewares.m.errors', /error pages/],
    ['an unknown kind', { frobnicate: {} }, 'http.middlewares.m.frobnicate', /not in gatehouse/],
  ])('%s is dropped, and so is the router using it', (_d, traefik, path, reason) => {
    const { config, dropped } = conv(withMiddleware(traefik));
    expect(dropped).toContainEqual({ path, reason: expect.stringMatching(reason) });
    expect(dropped).toContainEqual({ path: 'http.routers.r.middlewares', reason: expect.stringMatching(/middleware m was dropped; the router is dropped/) });
    expect(config.http?.routers?.['r']).toBeUndefined();
  });

  it.each([
    ['basicAuth.headerField', { basicAuth: { users: ['u:$apr1$x$y'], headerField: 'X-User' } }, 'http.middlewares.m.basicAuth.headerField'],
    ['ipAllowList.ipStrategy.ipv6Subnet', { ipAllowList: { sourceRange: ['::1'], ipStrategy: { ipv6Subnet: 64 } } }, 'http.middlewares.m.ipAllowList.ipStrategy.ipv6Subnet'],
    ['rateLimit.sourceCriterion.requestHost', { rateLimit: { average: 1, sourceCriterion: { requestHost: true } } }, 'http.middlewares.m.rateLimit.sourceCriterion.requestHost'],
    ['headers.sslRedirect', { headers: { sslRedirect: true } }, 'http.middlewares.m.headers.sslRedirect'],
  ])('an option gatehouse lacks is dropped, the middleware kept: %s', (_d, traefik, path) => {
    const { config, dropped } = conv(withMiddleware(traefik));
    expect(dropped.map((d) => d.path)).toEqual([path]);
    expect(config.http?.routers?.['r']).toBeDefined();
  });
});

describe('references', () => {
  it('@file is stripped; @docker, @kubernetescrd and @internal references drop the router', () => {
    const { config, dropped } = conv({
      http: {
        routers: {
          ok: { rule: 'Host(`a.x`)', service: 's@file', middlewares: ['m@file'] },
          docker: { rule: 'Host(`b.x`)', service: 's', middlewares: ['authelia@docker'] },
          k8s: { rule: 'Host(`c.x`)', service: 'app@kubernetescrd' },
          dash: { rule: 'Host(`d.x`)', service: 'api@internal' },
          missing: { rule: 'Host(`e.x`)', service: 'nope' },
        },
        services: { s: { loadBalancer: { servers: [{ url: 'http://10.0.0.1' }] } } },
        middlewares: { m: { compress: {} } },
      },
    });
    expect(config.http?.routers).toEqual({ ok: { rule: 'Host(`a.x`)', service: 's', middlewares: ['m'] } });
    expect(dropped).toEqual([
      { path: 'http.routers.dash.service', reason: 'api@internal: the Traefik dashboard and API are not in gatehouse' },
      { path: 'http.routers.docker.middlewares', reason: expect.stringMatching(/authelia@docker is from the docker provider, which is not imported/) },
      { path: 'http.routers.k8s.service', reason: expect.stringMatching(/app@kubernetescrd is from the kubernetescrd provider/) },
      { path: 'http.routers.missing.service', reason: 'service nope is not defined in the imported files' },
    ]);
  });

  it('a dropped service takes down the weighted service naming it and then its router', () => {
    const { config, dropped } = conv({
      http: {
        routers: { r: { rule: 'Host(`a.x`)', service: 'canary' } },
        services: {
          canary: { weighted: { services: [{ name: 'v1', weight: 3 }, { name: 'v2', weight: 1 }] } },
          v1: { loadBalancer: { servers: [{ url: 'http://10.0.0.1' }] } },
          v2: { loadBalancer: { servers: [{ url: 'ftp://10.0.0.2' }] } },
        },
      },
    });
    expect(dropped.map((d) => d.path)).toEqual(['http.services.v2.loadBalancer.servers[0]', 'http.services.v2.loadBalancer', 'http.services.canary', 'http.routers.r.service']);
    expect(config.http?.routers).toBeUndefined();
    expect(Object.keys(config.http?.services ?? {})).toEqual(['v1']);
  });

  it('a router on an entry point that does not exist keeps the others', () => {
    const { config, dropped } = conv({ http: { routers: { r: { rule: 'Host(`a.x`)', service: 's', entryPoints: ['web', 'admin'] } }, services: { s: { loadBalancer: { servers: [{ url: 'http://10.0.0.1' }] } } } } });
    expect(config.http?.routers?.['r']?.entryPoints).toEqual(['web']);
    expect(dropped).toEqual([{ path: 'http.routers.r.entryPoints', reason: 'entry point admin was not imported' }]);
  });
});

describe('services', () => {
  it('load balancer: servers, weights, passHostHeader, health check, sticky cookie', () => {
    const { config, dropped } = conv({
      http: {
        services: {
          s: {
            loadBalancer: {
              servers: [{ url: 'http://10.0.0.1:80', weight: 2 }, { url: 'http://10.0.0.2:80' }],
              passHostHeader: false,
              healthCheck: { path: '/health', interval: '10s', timeout: '3s', scheme: 'HTTP', headers: { 'X-Check': '1' } },
              sticky: { cookie: { name: 'srv', secure: true, httpOnly: true, sameSite: 'Strict' } },
            },
          },
        },
      },
    });
    expect(dropped).toEqual([]);
    expect(config.http?.services?.['s']).toEqual({
      loadBalancer: {
        servers: [{ url: 'http://10.0.0.1:80', weight: 2 }, { url: 'http://10.0.0.2:80' }],
        passHostHeader: false,
        healthCheck: { path: '/health', interval: '10s', timeout: '3s', scheme: 'http', headers: { 'X-Check': '1' } },
        sticky: { cookie: { name: 'srv', secure: true, httpOnly: true, sameSite: 'strict' } },
      },
    });
  });

  it('serversTransports: TLS settings, the first client certificate, timeouts; the static serversTransport is `default`; what gatehouse lacks is dropped', () => {
    const { config, dropped } = convertTraefik(
      { entryPoints: { web: { address: ':80' } }, serversTransport: { insecureSkipVerify: true, maxIdleConnsPerHost: 4 } },
      [
        {
          file: 'dyn.yml',
          value: {
            http: {
              serversTransports: {
                pve: {
                  serverName: 'pve.local',
                  rootCAs: ['/etc/ssl/pve-ca.pem'],
                  certificates: [{ certFile: 'c.pem', keyFile: 'k.pem' }, { certFile: 'c2.pem', keyFile: 'k2.pem' }],
                  forwardingTimeouts: { dialTimeout: '5s', responseHeaderTimeout: 30, idleConnTimeout: '90s', pingTimeout: '15s' },
                  minVersion: 'VersionTLS12',
                  spiffe: {},
                },
              },
              services: {
                pve: { loadBalancer: { servers: [{ url: 'https://10.0.0.5:8006' }], serversTransport: 'pve@file' } },
                grpc: { loadBalancer: { servers: [{ url: 'h2c://10.0.0.6:50051' }], serversTransport: 'default@internal' } },
              },
            },
          },
        },
      ],
    );
    expect(config.http?.serversTransports).toEqual({
      pve: {
        serverName: 'pve.local',
        rootCAs: ['/etc/ssl/pve-ca.pem'],
        certificates: [{ certFile: 'c.pem', keyFile: 'k.pem' }],
        forwardingTimeouts: { dialTimeout: '5s', responseHeaderTimeout: '30s', idleConnTimeout: '90s' },
      },
      default: { insecureSkipVerify: true, maxIdleConnsPerHost: 4 },
    });
    expect(config.http?.services?.['pve']).toEqual({ loadBalancer: { servers: [{ url: 'https://10.0.0.5:8006' }], serversTransport: 'pve' } });
    expect(config.http?.services?.['grpc']).toEqual({ loadBalancer: { servers: [{ url: 'h2c://10.0.0.6:50051' }] } });
    expect(dropped.map((d) => d.path).sort()).toEqual([
      'http.serversTransports.pve.certificates[1]',
      'http.serversTransports.pve.forwardingTimeouts.pingTimeout',
      'http.serversTransports.pve.minVersion',
      'http.serversTransports.pve.spiffe',
    ]);
  });

  it('mirroring', () => {
    const lb = { loadBalancer: { servers: [{ url: 'http://10.0.0.1' }] } };
    const { config, dropped } = conv({ http: { services: { main: lb, copy: lb, m: { mirroring: { service: 'main@file', mirrors: [{ name: 'copy', percent: 10 }], maxBodySize: 1024 } } } } });
    expect(dropped).toEqual([]);
    expect(config.http?.services?.['m']).toEqual({ mirroring: { service: 'main', mirrors: [{ name: 'copy', percent: 10 }], maxBodySize: 1024 } });
  });

  it.each([
    ['failover', { failover: { service: 'a', fallback: 'b' } }, 'http.services.s.failover', /failover/],
    ['a serversTransport that is not defined', { loadBalancer: { servers: [{ url: 'http://a' }], serversTransport: 'tr' } }, 'http.services.s.loadBalancer.serversTransport', /serversTransport tr is not defined/],
    ['an ftp server', { loadBalancer: { servers: [{ url: 'ftp://a' }] } }, 'http.services.s.loadBalancer.servers[0]', /only http:\/\/, https:\/\/ and h2c:\/\//],
  ])('%s is dropped', (_d, svc, path, reason) => {
    const { dropped } = conv({ http: { services: { s: svc } } });
    expect(dropped).toContainEqual({ path, reason: expect.stringMatching(reason) });
  });
});

describe('mergeDynamic', () => {
  it('puts named objects of several files side by side; a name defined twice keeps the first', () => {
    const drops = new DropList();
    const merged = mergeDynamic(
      [
        { file: 'a.yml', value: { http: { routers: { x: { rule: 'A' } } }, tls: { certificates: [{ certFile: '1' }] } } },
        { file: 'b.yml', value: { http: { routers: { x: { rule: 'B' }, y: { rule: 'C' } } }, tls: { certificates: [{ certFile: '2' }] } } },
      ],
      drops,
    );
    expect(merged).toEqual({ http: { routers: { x: { rule: 'A' }, y: { rule: 'C' } } }, tls: { certificates: [{ certFile: '1' }, { certFile: '2' }] } });
    expect(drops.items).toEqual([{ path: 'http.routers.x', reason: 'defined in a.yml and again in b.yml; the first is kept' }]);
  });
});
