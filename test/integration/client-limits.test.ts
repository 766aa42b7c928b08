// Client-side limits of an entry point: a slowloris sender is cut off after the headers timeout, and a request
// head over maxHeaderSize is answered 431, while ordinary requests on the same listener keep being served.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, stopAllGatehouses, type GatehouseProcess } from '../helpers/gatehouse-process.js';
import { httpRequest, oversizedHead, slowloris } from '../helpers/raw-http.js';

let gh: GatehouseProcess;

const ok = { respond: { status: 200, body: 'ok' } };

beforeAll(async () => {
  gh = await startGatehouse({
    entryPoints: {
      web: { address: '127.0.0.1:0', timeouts: { headers: '1s' } },
      small: { address: '127.0.0.1:0', maxHeaderSize: 4096 },
    },
    http: { routers: { any: { rule: 'PathPrefix(`/`)', ...ok } } },
  });
});
afterAll(stopAllGatehouses);

describe('slow header senders', () => {
  it('are cut off (closed, or answered 408) soon after the 1s headers timeout', async () => {
    const res = await slowloris(gh.ports['web']!, { intervalMs: 100, deadlineMs: 6_000 });
    expect(res.closedByServer, `server kept the connection open for ${Math.round(res.elapsedMs)} ms`).toBe(true);
    expect(res.elapsedMs).toBeGreaterThanOrEqual(900);
    expect(res.elapsedMs).toBeLessThan(4_000);
    if (res.status !== undefined) expect(res.status).toBe(408);
  });

  it('do not stop the listener from serving others meanwhile', async () => {
    const slow = slowloris(gh.ports['web']!, { intervalMs: 100, deadlineMs: 6_000 });
    const res = await httpRequest(gh.ports['web']!, { host: 'fast.test' });
    expect(res.status).toBe(200);
    expect(res.text).toBe('ok');
    expect((await slow).closedByServer).toBe(true);
  });
});

describe('request head size', () => {
  it.each([
    { description: 'default 16 KiB limit, 8 KiB header passes', entryPoint: 'web', headerBytes: 8 * 1024, status: 200 },
    { description: 'default 16 KiB limit, 100 KiB header', entryPoint: 'web', headerBytes: 100 * 1024, status: 431 },
    { description: 'default 16 KiB limit, 17 KiB header', entryPoint: 'web', headerBytes: 17 * 1024, status: 431 },
    { description: 'configured 4 KiB limit, 3 KiB header passes', entryPoint: 'small', headerBytes: 3 * 1024, status: 200 },
    { description: 'configured 4 KiB limit, 8 KiB header', entryPoint: 'small', headerBytes: 8 * 1024, status: 431 },
  ])('$description → $status', async ({ entryPoint, headerBytes, status }) => {
    const res = await oversizedHead(gh.ports[entryPoint]!, { headerBytes, host: 'big.test', deadlineMs: 5_000 });
    expect(res.status, res.data.subarray(0, 200).toString('latin1')).toBe(status);
  });

  it('the listener still serves after refusing a huge head', async () => {
    await oversizedHead(gh.ports['web']!, { headerBytes: 100 * 1024, host: 'big.test' });
    const res = await httpRequest(gh.ports['web']!, { host: 'after.test' });
    expect(res.status).toBe(200);
  });
});
