/**
 * The headers middleware on a forwarded response: the forwarder writes the upstream's head as a flat array, which
 * the middleware edits in place (src/middlewares/response-hook.ts). Ours replace the upstream's, removals remove,
 * everything else (repeated Set-Cookie included) passes untouched.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, stopAllGatehouses, type GatehouseProcess } from '../helpers/gatehouse-process.js';
import { httpRequest } from '../helpers/raw-http.js';
import { closeAllUpstreams, startHttpUpstream } from '../helpers/upstreams.js';

let gh: GatehouseProcess;

beforeAll(async () => {
  const up = await startHttpUpstream((_req, res) => {
    res.writeHead(200, [
      'X-Frame-Options', 'SAMEORIGIN',
      'x-remove-me', 'secret',
      'Set-Cookie', 'a=1',
      'Set-Cookie', 'b=2',
      'X-Upstream', 'kept',
      'Content-Length', '2',
    ]);
    res.end('ok');
  });
  gh = await startGatehouse({
    entryPoints: { web: { address: '127.0.0.1:0' } },
    http: {
      routers: { r: { rule: 'PathPrefix(`/`)', service: 'up', middlewares: ['h'] } },
      services: { up: { loadBalancer: { servers: [{ url: up.url }] } } },
      middlewares: { h: { headers: { frameDeny: true, customResponseHeaders: { 'X-Remove-Me': '', 'X-Added': 'yes' } } } },
    },
  });
});

afterAll(async () => {
  await stopAllGatehouses();
  await closeAllUpstreams();
});

describe('headers middleware on a forwarded response', () => {
  it('replaces, removes and adds, keeping the rest', async () => {
    const res = await httpRequest(gh.ports['web']!, { host: 'h.test' });
    expect(res.status).toBe(200);
    expect(res.text).toBe('ok');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['x-remove-me']).toBeUndefined();
    expect(res.headers['x-added']).toBe('yes');
    expect(res.headers['x-upstream']).toBe('kept');
    expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
  });
});
