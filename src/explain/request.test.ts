import { describe, expect, it } from 'vitest';
import type { Config } from '../config/index.js';
import { buildRequest, chooseEntryPoints, UsageError } from './request.js';

describe('buildRequest: the router input a URL makes', () => {
  it.each<[string, Parameters<typeof buildRequest>[0], Record<string, unknown>]>([
    ['https with default port', { url: 'https://App.Example/a/b?x=1&y=2' }, { scheme: 'https', port: 443, host: 'app.example', sni: 'app.example', path: '/a/b', query: 'x=1&y=2', method: 'GET' }],
    ['http with a port: the Host header keeps it, the host does not', { url: 'http://app.example:8080/' }, { port: 8080, rawHost: 'app.example:8080', host: 'app.example' }],
    ['no path is /', { url: 'http://app.example' }, { path: '/', query: '' }],
    ['no scheme is http', { url: 'app.example/x' }, { scheme: 'http', port: 80, path: '/x' }],
    // Not WHATWG-normalised, but normalized as gatehouse normalizes every request before its routers.
    ['path normalized as the routers see it', { url: 'http://a.example/x/../%7Euser/a%20b' }, { path: '/~user/a b' }],
    ['an IP address sends no SNI', { url: 'https://[::1]:8443/' }, { sni: undefined, host: '[::1]', port: 8443 }],
    ['--header Host overrides the host', { url: 'http://10.0.0.1/', headers: ['Host: other.example:81'] }, { host: 'other.example', rawHost: 'other.example:81' }],
    ['--method in lower case', { url: 'http://a.example/', method: 'post' }, { method: 'POST' }],
    ['--client-ip', { url: 'http://a.example/', clientIp: '10.0.0.9' }, { clientIp: '10.0.0.9' }],
  ])('%s', (_description, options, expected) => {
    expect(buildRequest(options)).toMatchObject(expected);
  });

  it('lower-cases header names and joins a repeated header as Node does', () => {
    const r = buildRequest({ url: 'http://a.example/', headers: ['X-Env: prod', 'x-env: eu'] });
    expect(r.headers['x-env']).toBe('prod, eu');
  });

  it.each([
    ['not a URL', { url: 'http://[bad' }, /is not a URL/],
    ['another scheme', { url: 'ftp://a.example/' }, /must be http:\/\/ or https:\/\//],
    ['a header without a colon', { url: 'http://a.example/', headers: ['X-Env prod'] }, /is not "Name: value"/],
  ])('refuses %s', (_description, options, message) => {
    expect(() => buildRequest(options)).toThrow(UsageError);
    expect(() => buildRequest(options)).toThrow(message);
  });
});

describe('chooseEntryPoints', () => {
  const config = {
    entryPoints: {
      web: { address: ':80' },
      alt: { address: '127.0.0.1:8080' },
      websecure: { address: ':443', tls: {} },
      test: { address: '127.0.0.1:0', tls: {} },
    },
  } as unknown as Config;

  it.each<[string, boolean, number | undefined, string | undefined, string[], RegExp]>([
    ['the plain one on the port', false, 80, undefined, ['web'], /listening on port 80/],
    ['the TLS one on the port', true, 443, undefined, ['websecure'], /TLS entry point listening on port 443/],
    ['every plain one when none listens on the port', false, 81, undefined, ['web', 'alt'], /no plain HTTP entry point listens on port 81/],
    ['every TLS one for --sni (no port)', true, undefined, undefined, ['websecure', 'test'], /every TLS entry point/],
    ['--entry-point wins', false, 80, 'alt', ['alt'], /--entry-point/],
  ])('%s', (_description, tls, port, given, names, reason) => {
    const choice = chooseEntryPoints(config, tls, port, given);
    expect(choice.names).toEqual(names);
    expect(choice.reason).toMatch(reason);
  });

  it('refuses an unknown entry point with a suggestion', () => {
    expect(() => chooseEntryPoints(config, false, 80, 'wbe')).toThrow(/entry point "wbe" does not exist; did you mean "web"\?/);
  });

  it('refuses https when the config has no TLS entry point', () => {
    const plain = { entryPoints: { web: { address: ':80' } } } as unknown as Config;
    expect(() => chooseEntryPoints(plain, true, 443, undefined)).toThrow(/the config has no TLS entry point/);
  });
});

describe('buildRequest: a path gatehouse refuses', () => {
  it('is a usage error that says the request gets 400 before any router', () => {
    expect(() => buildRequest({ url: 'http://a.example/admin%2Fx' })).toThrow('gatehouse answers this request 400 before any router: encoded slash (%2F) in the path');
  });
});
