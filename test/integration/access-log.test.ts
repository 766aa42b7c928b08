// The access log: one pino JSON line per request, with the fields an operator filters on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, stopAllGatehouses, type GatehouseProcess } from '../helpers/gatehouse-process.js';
import { linesWith } from '../helpers/log-lines.js';
import { httpRequest } from '../helpers/raw-http.js';
import { closeAllUpstreams, startHttpUpstream, type HttpUpstream } from '../helpers/upstreams.js';

let gh: GatehouseProcess;
let up: HttpUpstream;
const BODY = 'twelve bytes';

beforeAll(async () => {
  up = await startHttpUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(BODY) });
    res.end(BODY);
  });
  gh = await startGatehouse({
    entryPoints: { web: { address: '127.0.0.1:0' } },
    http: {
      routers: {
        api: { rule: 'Host(`api.test`) && PathPrefix(`/v1`)', service: 'api' },
        made: { rule: 'Host(`made.test`)', respond: { status: 201, body: 'made' } },
      },
      services: { api: { loadBalancer: { servers: [{ url: up.url }] } } },
    },
  });
});
afterAll(async () => {
  await stopAllGatehouses();
  await closeAllUpstreams();
});

describe('access log', () => {
  it('logs a proxied request with every field', async () => {
    const res = await httpRequest(gh.ports['web']!, { method: 'GET', host: 'api.test:5002', path: '/v1/x?secret=no' });
    expect(res.status).toBe(200);
    const line = await gh.waitForLog((l) => l.msg === 'request' && l['router'] === 'api', 3_000);
    expect(line).toMatchObject({
      level: 'info',
      msg: 'request',
      entryPoint: 'web',
      method: 'GET',
      host: 'api.test',
      path: '/v1/x',
      status: 200,
      bytes: Buffer.byteLength(BODY),
      router: 'api',
      upstream: up.url,
      clientIp: '127.0.0.1',
    });
    expect(typeof line['durationMs']).toBe('number');
    expect(line['durationMs'] as number).toBeGreaterThanOrEqual(0);
    expect(line['durationMs'] as number).toBeLessThan(5_000);
  });

  it.each([
    { description: 'respond handler', method: 'POST', host: 'made.test', path: '/m', status: 201, router: 'made', bytes: 4 },
    { description: 'no router matched', method: 'DELETE', host: 'none.test', path: '/nothing', status: 404, router: undefined, bytes: undefined },
  ])('logs a request answered by the $description', async ({ method, host, path, status, router, bytes }) => {
    const res = await httpRequest(gh.ports['web']!, { method, host, path });
    expect(res.status).toBe(status);
    const line = await gh.waitForLog((l) => l.msg === 'request' && l['path'] === path, 3_000);
    expect(line).toMatchObject({ entryPoint: 'web', method, host, status, clientIp: '127.0.0.1' });
    if (router !== undefined) expect(line['router']).toBe(router);
    else expect(line['router'] ?? null).toBeNull();
    expect(line['upstream'] ?? null).toBeNull();
    expect(line['bytes']).toBe(bytes ?? res.body.length);
  });

  it('writes exactly one line per request', async () => {
    const path = '/v1/count-me';
    for (let i = 0; i < 3; i++) expect((await httpRequest(gh.ports['web']!, { host: 'api.test', path })).status).toBe(200);
    await gh.waitForLog((l) => l.msg === 'request' && l['path'] === path && linesWith(gh.logs, 'request', { path }).length >= 3, 3_000);
    // A short pause shows no late duplicates arrive.
    await new Promise((r) => setTimeout(r, 200));
    expect(linesWith(gh.logs, 'request', { path })).toHaveLength(3);
  });
});
