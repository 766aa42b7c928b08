// Upstream faults become plain-text 502/504 answers, within bounded time, with one warn line carrying the code.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, stopAllGatehouses, type GatehouseProcess } from '../helpers/gatehouse-process.js';
import { httpRequest } from '../helpers/raw-http.js';
import { closeAllUpstreams, refusedPort, startSilentUpstream, type SilentUpstream } from '../helpers/upstreams.js';

let gh: GatehouseProcess;
let silent: SilentUpstream;
let closedPort: number;

beforeAll(async () => {
  closedPort = await refusedPort();
  silent = await startSilentUpstream();
  gh = await startGatehouse({
    entryPoints: { web: { address: '127.0.0.1:0' } },
    http: {
      routers: {
        refused: { rule: 'Host(`refused.test`)', service: 'refused' },
        silent: { rule: 'Host(`silent.test`)', service: 'silent' },
      },
      services: {
        refused: { loadBalancer: { servers: [{ url: `http://127.0.0.1:${closedPort}` }] } },
        silent: { loadBalancer: { servers: [{ url: silent.url }], timeouts: { responseHeaders: '500ms' } } },
      },
    },
  });
});
afterAll(async () => {
  await stopAllGatehouses();
  await closeAllUpstreams();
});

describe('upstream faults', () => {
  it.each([
    { description: 'refused connection → 502', host: 'refused.test', status: 502, code: 'UPSTREAM_CONNECT', minMs: 0, maxMs: 2_000 },
    { description: 'no response headers within 500ms → 504', host: 'silent.test', status: 504, code: 'UPSTREAM_TIMEOUT', minMs: 400, maxMs: 3_000 },
  ])('$description', async ({ host, status, code, minMs, maxMs }) => {
    const path = `/fault-${code.toLowerCase()}`;
    const started = performance.now();
    const res = await httpRequest(gh.ports['web']!, { host, path, timeoutMs: 10_000 });
    const elapsed = performance.now() - started;

    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text.length).toBeGreaterThan(0);
    expect(elapsed).toBeGreaterThanOrEqual(minMs);
    expect(elapsed).toBeLessThan(maxMs);

    const warn = await gh.waitForLog((l) => l.level === 'warn' && l['code'] === code, 3_000);
    expect(JSON.stringify(warn)).toContain(String(status === 502 ? closedPort : silent.port));
    const access = await gh.waitForLog((l) => l.msg === 'request' && l['path'] === path, 3_000);
    expect(access['status']).toBe(status);
    // One warn line per fault, not one per retry or per layer.
    expect(gh.logs.filter((l) => l.level === 'warn' && l['code'] === code)).toHaveLength(1);
  });

  it('the silent upstream did receive the connection (the 504 is its timeout, not a connect failure)', () => {
    expect(silent.connections()).toBeGreaterThanOrEqual(1);
  });
});
