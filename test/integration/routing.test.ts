// Routing end to end: rules by host, path, method and header; priorities; 404; the respond and redirect handlers.
// Routers answer with their own name (respond), so each row shows which router took the request.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, stopAllGatehouses, type GatehouseProcess } from '../helpers/gatehouse-process.js';
import { httpRequest } from '../helpers/raw-http.js';

const named = (name: string) => ({ respond: { status: 200, headers: { 'content-type': 'text/plain' }, body: name } });

const config = {
  entryPoints: { web: { address: '127.0.0.1:0' } },
  http: {
    routers: {
      a: { rule: 'Host(`a.test`)', ...named('a') },
      wild: { rule: 'Host(`*.lab.test`)', ...named('wild') },
      v1: { rule: 'Host(`p.test`) && PathPrefix(`/v1`)', ...named('v1') },
      v1admin: { rule: 'Host(`p.test`) && PathPrefix(`/v1/admin`)', ...named('v1admin') },
      exact: { rule: 'Host(`p.test`) && Path(`/exact`)', ...named('exact') },
      post: { rule: 'Host(`m.test`) && Method(`POST`)', ...named('post') },
      anyMethod: { rule: 'Host(`m.test`)', ...named('any-method') },
      staging: { rule: 'Host(`h.test`) && Header(`X-Env`, `staging`)', ...named('staging') },
      anyHeader: { rule: 'Host(`h.test`)', ...named('any-header') },
      long: { rule: 'Host(`prio.test`) && PathPrefix(`/a/very/long/and/specific/path`)', ...named('long') },
      explicit: { rule: 'Host(`prio.test`)', priority: 1000, ...named('explicit') },
      either: { rule: 'Host(`or1.test`) || Host(`or2.test`)', ...named('either') },
      notApi: { rule: 'Host(`not.test`) && !PathPrefix(`/api`)', ...named('not-api') },
      made: {
        rule: 'Host(`made.test`)',
        respond: { status: 418, headers: { 'x-from': 'gatehouse', 'content-type': 'text/plain' }, body: 'short and stout' },
      },
      empty: { rule: 'Host(`empty.test`)', respond: { status: 204 } },
      toHttps: { rule: 'Host(`r.test`)', redirect: { location: 'https://{host}{uri}', status: 308 } },
      parts: { rule: 'Host(`parts.test`)', redirect: { location: '{scheme}://new.test:{port}{path}{query}' } },
      fixed: { rule: 'Host(`fixed.test`)', redirect: { location: 'https://example.test/', status: 301 } },
    },
  },
};

let gh: GatehouseProcess;
let port: number;

beforeAll(async () => {
  gh = await startGatehouse(config);
  port = gh.ports['web']!;
});
afterAll(stopAllGatehouses);

interface RouteRow {
  description: string;
  method: string;
  host: string;
  path: string;
  headers: Record<string, string>;
  want: string;
}

describe('routing', () => {
  it.each<RouteRow>([
    { description: 'exact host', method: 'GET', host: 'a.test', path: '/', headers: {}, want: 'a' },
    { description: 'host with a port matches the bare name', method: 'GET', host: 'a.test:5002', path: '/', headers: {}, want: 'a' },
    { description: 'host is case-insensitive', method: 'GET', host: 'A.TeSt', path: '/x', headers: {}, want: 'a' },
    { description: 'wildcard matches one label', method: 'GET', host: 'box.lab.test', path: '/', headers: {}, want: 'wild' },
    { description: 'wildcard with a port', method: 'GET', host: 'BOX.lab.test:8443', path: '/', headers: {}, want: 'wild' },
    { description: 'path prefix', method: 'GET', host: 'p.test', path: '/v1/users?id=1', headers: {}, want: 'v1' },
    { description: 'longer rule wins over a shorter one', method: 'GET', host: 'p.test', path: '/v1/admin/x', headers: {}, want: 'v1admin' },
    { description: 'exact path', method: 'GET', host: 'p.test', path: '/exact', headers: {}, want: 'exact' },
    { description: 'method matcher', method: 'POST', host: 'm.test', path: '/', headers: {}, want: 'post' },
    { description: 'other methods fall to the shorter rule', method: 'GET', host: 'm.test', path: '/', headers: {}, want: 'any-method' },
    { description: 'header matcher', method: 'GET', host: 'h.test', path: '/', headers: { 'x-env': 'staging' }, want: 'staging' },
    { description: 'header value differs', method: 'GET', host: 'h.test', path: '/', headers: { 'x-env': 'prod' }, want: 'any-header' },
    { description: 'explicit priority beats a longer rule', method: 'GET', host: 'prio.test', path: '/a/very/long/and/specific/path', headers: {}, want: 'explicit' },
    { description: 'or, first operand', method: 'GET', host: 'or1.test', path: '/', headers: {}, want: 'either' },
    { description: 'or, second operand', method: 'GET', host: 'or2.test', path: '/', headers: {}, want: 'either' },
    { description: 'negation', method: 'GET', host: 'not.test', path: '/web', headers: {}, want: 'not-api' },
  ])('$description → $want', async ({ method, host, path, headers, want }) => {
    const res = await httpRequest(port, { method, host, path, headers });
    expect(res.status).toBe(200);
    expect(res.text).toBe(want);
  });

  it.each([
    { description: 'unknown host', host: 'nobody.test', path: '/' },
    { description: 'wildcard does not match its apex', host: 'lab.test', path: '/' },
    { description: 'wildcard does not match two labels', host: 'a.b.lab.test', path: '/' },
    { description: 'path outside every prefix', host: 'p.test', path: '/v2' },
    { description: 'prefix is not a substring match', host: 'p.test', path: '/xv1' },
    { description: 'negated path', host: 'not.test', path: '/api/x' },
    { description: 'host that only shares a suffix', host: 'xa.test', path: '/' },
  ])('404 when nothing matches: $description', async ({ host, path }) => {
    const res = await httpRequest(port, { host, path });
    expect(res.status).toBe(404);
    expect(res.text.trim()).toBe('404 page not found');
  });
});

describe('respond handler', () => {
  it('answers with the configured status, headers and body', async () => {
    const res = await httpRequest(port, { host: 'made.test', path: '/anything' });
    expect(res.status).toBe(418);
    expect(res.headers['x-from']).toBe('gatehouse');
    expect(res.text).toBe('short and stout');
    expect(res.headers['content-length']).toBe(String('short and stout'.length));
  });

  it('answers with an empty body when none is configured', async () => {
    const res = await httpRequest(port, { host: 'empty.test' });
    expect(res.status).toBe(204);
    expect(res.body.length).toBe(0);
  });
});

describe('redirect handler', () => {
  it.each([
    { description: '{host}{uri} drops the port, keeps path and query', host: 'r.test:8080', path: '/a/b?c=1&d=2', status: 308, location: 'https://r.test/a/b?c=1&d=2' },
    { description: '{uri} without a query', host: 'r.test', path: '/only/path', status: 308, location: 'https://r.test/only/path' },
    { description: '{scheme} {port} {path} {query}, default status', host: 'parts.test:5002', path: '/x?y=2', status: 302, location: 'http://new.test:5002/x?y=2' },
    { description: 'empty {query} adds no "?"', host: 'parts.test:5002', path: '/x', status: 302, location: 'http://new.test:5002/x' },
    { description: 'a fixed location', host: 'fixed.test', path: '/whatever?q', status: 301, location: 'https://example.test/' },
  ])('$description', async ({ host, path, status, location }) => {
    const res = await httpRequest(port, { host, path });
    expect(res.status).toBe(status);
    expect(res.headers.location).toBe(location);
  });

  it('keeps the method for 308 (POST is redirected, not served)', async () => {
    const res = await httpRequest(port, { method: 'POST', host: 'r.test', path: '/form', body: 'x=1' });
    expect(res.status).toBe(308);
    expect(res.headers.location).toBe('https://r.test/form');
  });
});
