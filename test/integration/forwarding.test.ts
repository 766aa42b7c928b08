// What the upstream sees of a proxied request: X-Forwarded-* (replaced from untrusted clients, appended to from
// trusted proxies), the client's Host, the path and query untouched, and no hop-by-hop headers in either direction.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, stopAllGatehouses, type GatehouseProcess } from '../helpers/gatehouse-process.js';
import { httpRequest } from '../helpers/raw-http.js';
import { closeAllUpstreams, startEchoUpstream, startHttpUpstream, type EchoReply, type HttpUpstream } from '../helpers/upstreams.js';

let gh: GatehouseProcess;
let echo: HttpUpstream;
let hoppy: HttpUpstream;
let second: HttpUpstream;

beforeAll(async () => {
  echo = await startEchoUpstream();
  // Answers with hop-by-hop headers of its own, which must not reach the client.
  hoppy = await startHttpUpstream((_req, res) => {
    res.writeHead(200, {
      connection: 'keep-alive, x-upstream-hop',
      'keep-alive': 'timeout=5',
      'x-upstream-hop': 'secret',
      'x-end-to-end': 'kept',
      'content-type': 'text/plain',
      'content-length': '2',
    });
    res.end('ok');
  });
  second = await startEchoUpstream();
  gh = await startGatehouse({
    entryPoints: {
      web: { address: '127.0.0.1:0' },
      behindProxy: { address: '127.0.0.1:0', forwardedHeaders: { trustedIPs: ['127.0.0.1/8'] } },
    },
    http: {
      routers: {
        echo: { rule: 'Host(`fwd.test`)', service: 'echo' },
        hoppy: { rule: 'Host(`hop.test`)', service: 'hoppy' },
        ownHost: { rule: 'Host(`own.test`)', service: 'ownHost' },
        based: { rule: 'Host(`based.test`)', service: 'based' },
        pair: { rule: 'Host(`pair.test`)', service: 'pair' },
      },
      services: {
        echo: { loadBalancer: { servers: [{ url: echo.url }] } },
        hoppy: { loadBalancer: { servers: [{ url: hoppy.url }] } },
        ownHost: { loadBalancer: { servers: [{ url: echo.url }], passHostHeader: false } },
        based: { loadBalancer: { servers: [{ url: `${echo.url}/base` }] } },
        pair: { loadBalancer: { servers: [{ url: echo.url }, { url: second.url }] } },
      },
    },
  });
});
afterAll(async () => {
  await stopAllGatehouses();
  await closeAllUpstreams();
});

async function echoed(entryPoint: string, opts: Parameters<typeof httpRequest>[1]): Promise<EchoReply> {
  const res = await httpRequest(gh.ports[entryPoint]!, opts);
  expect(res.status, res.text).toBe(200);
  return JSON.parse(res.text) as EchoReply;
}

const spoofed = {
  'x-forwarded-for': '203.0.113.9',
  'x-forwarded-proto': 'https',
  'x-forwarded-host': 'spoofed.test',
  'x-forwarded-port': '443',
};

describe('X-Forwarded-* headers', () => {
  it('are set from the connection when the client sends none', async () => {
    const seen = await echoed('web', { host: 'fwd.test:5002', path: '/' });
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-host']).toBe('fwd.test:5002');
    expect(seen.headers['x-forwarded-port']).toBe('5002');
  });

  it('are replaced, not appended to, when the client is not trusted', async () => {
    const seen = await echoed('web', { host: 'fwd.test:5002', headers: spoofed });
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-host']).toBe('fwd.test:5002');
    expect(seen.headers['x-forwarded-port']).toBe('5002');
  });

  it('are kept and X-Forwarded-For appended to when the client is in trustedIPs', async () => {
    const seen = await echoed('behindProxy', { host: 'fwd.test:5002', headers: spoofed });
    expect(seen.headers['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    expect(seen.headers['x-forwarded-host']).toBe('spoofed.test');
    expect(seen.headers['x-forwarded-port']).toBe('443');
  });

  it('a trusted client without X-Forwarded-* still gets them set', async () => {
    const seen = await echoed('behindProxy', { host: 'fwd.test:5002' });
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
  });
});

describe('request passed upstream', () => {
  it('keeps the client Host header, method, path, query and body', async () => {
    const seen = await echoed('web', { method: 'PUT', host: 'FWD.test:5002', path: '/a/b%20c?x=1&y=%2F', body: 'payload' });
    expect(seen.headers.host).toBe('FWD.test:5002');
    expect(seen.method).toBe('PUT');
    expect(seen.url).toBe('/a/b%20c?x=1&y=%2F');
    expect(seen.body).toBe('payload');
  });

  it('keeps end-to-end headers, including repeated ones', async () => {
    const seen = await echoed('web', { host: 'fwd.test', headers: { 'x-custom': 'v', accept: 'text/plain', 'x-multi': ['1', '2'] } });
    expect(seen.headers['x-custom']).toBe('v');
    expect(seen.headers.accept).toBe('text/plain');
    expect(seen.headers['x-multi']).toBe('1, 2');
  });

  it('drops hop-by-hop request headers, including those named in Connection', async () => {
    const seen = await echoed('web', {
      host: 'fwd.test',
      headers: {
        connection: 'keep-alive, x-client-hop',
        'keep-alive': 'timeout=30',
        'x-client-hop': 'must-not-pass',
        'proxy-authorization': 'Basic Zm9vOmJhcg==',
        'proxy-connection': 'keep-alive',
        'x-end-to-end': 'passes',
      },
    });
    expect(seen.headers['x-end-to-end']).toBe('passes');
    for (const name of ['keep-alive', 'x-client-hop', 'proxy-authorization', 'proxy-connection']) {
      expect(seen.headers[name], name).toBeUndefined();
    }
    expect(String(seen.headers.connection ?? '')).not.toMatch(/x-client-hop/i);
  });

  it('drops hop-by-hop response headers from the upstream', async () => {
    const res = await httpRequest(gh.ports['web']!, { host: 'hop.test' });
    expect(res.status).toBe(200);
    expect(res.text).toBe('ok');
    expect(res.headers['x-end-to-end']).toBe('kept');
    expect(res.headers['x-upstream-hop']).toBeUndefined();
    expect(String(res.headers.connection ?? '')).not.toMatch(/x-upstream-hop/i);
  });
});

describe('load balancer options', () => {
  it('passHostHeader: false sends the upstream URL host instead of the client Host', async () => {
    const seen = await echoed('web', { host: 'own.test' });
    expect(seen.headers.host).toBe(`127.0.0.1:${echo.port}`);
    expect(seen.headers['x-forwarded-host']).toBe('own.test');
  });

  it('a path in the server URL is prefixed to the request path', async () => {
    const seen = await echoed('web', { host: 'based.test', path: '/a/b?q=1' });
    expect(seen.url).toBe('/base/a/b?q=1');
  });

  it('spreads requests over the servers round robin', async () => {
    const before = [echo.requests.length, second.requests.length] as const;
    for (let i = 0; i < 4; i++) await echoed('web', { host: 'pair.test', path: `/rr/${i}` });
    expect(echo.requests.length - before[0]).toBe(2);
    expect(second.requests.length - before[1]).toBe(2);
  });
});
