// Shutdown: on SIGTERM gatehouse stops accepting, lets the request in flight finish, and exits 0; SIGINT likewise.
// Startup: the config may come from GATEHOUSE_CONFIG.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startGatehouse, stopAllGatehouses } from '../helpers/gatehouse-process.js';
import { httpRequest, tryConnect } from '../helpers/raw-http.js';
import { closeAllUpstreams, startHttpUpstream } from '../helpers/upstreams.js';

afterEach(async () => {
  await stopAllGatehouses();
  await closeAllUpstreams();
});
afterAll(stopAllGatehouses);

function proxyTo(url: string, graceTimeout?: string): object {
  return {
    ...(graceTimeout ? { lifecycle: { graceTimeout } } : {}),
    entryPoints: { web: { address: '127.0.0.1:0' } },
    http: {
      routers: { slow: { rule: 'Host(`slow.test`)', service: 'slow' } },
      services: { slow: { loadBalancer: { servers: [{ url }] } } },
    },
  };
}

describe('graceful shutdown', () => {
  it('SIGTERM: the request in flight gets its 200, new connections are refused, exit code 0', async () => {
    let arrived: () => void = () => {};
    const requestArrived = new Promise<void>((r) => (arrived = r));
    const slow = await startHttpUpstream((_req, res) => {
      arrived();
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('finished after 1s');
      }, 1_000);
    });
    const gh = await startGatehouse(proxyTo(slow.url));
    const port = gh.ports['web']!;

    const inFlight = httpRequest(port, { host: 'slow.test', path: '/slow', timeoutMs: 10_000 });
    await requestArrived;
    const sentAt = performance.now();
    const exitCode = gh.stop('SIGTERM');

    // Give the signal a moment to land, then the listener must be gone while the old request still runs.
    await new Promise((r) => setTimeout(r, 300));
    expect(await tryConnect(port)).toBe('refused');

    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(res.text).toBe('finished after 1s');
    expect(await exitCode).toBe(0);
    // It waited for the request but not for the whole 10s grace timeout.
    expect(performance.now() - sentAt).toBeLessThan(5_000);
  });

  it('SIGTERM: a request that outlives the grace timeout is cut and the process still exits 0, boundedly', async () => {
    const never = await startHttpUpstream(() => {
      // never answers
    });
    const gh = await startGatehouse(proxyTo(never.url, '500ms'));
    const inFlight = httpRequest(gh.ports['web']!, { host: 'slow.test', timeoutMs: 10_000 }).then(
      (r) => `status ${r.status}`,
      (e: Error) => `error ${e.message}`,
    );
    await expect.poll(() => never.requests.length, { timeout: 3_000 }).toBe(1);
    const sentAt = performance.now();
    expect(await gh.stop('SIGTERM', 8_000)).toBe(0);
    expect(performance.now() - sentAt).toBeLessThan(4_000);
    // The client is not left hanging: it gets an error answer or a closed connection.
    expect(await inFlight).toMatch(/^(status 5\d\d|error )/);
  });

  it('SIGINT on an idle proxy exits 0', async () => {
    const gh = await startGatehouse({ entryPoints: { web: { address: '127.0.0.1:0' } } });
    expect(await gh.stop('SIGINT', 8_000)).toBe(0);
  });
});

describe('startup', () => {
  it('reads the config file named by GATEHOUSE_CONFIG', async () => {
    const gh = await startGatehouse(
      {
        entryPoints: { envweb: { address: '127.0.0.1:0' } },
        http: { routers: { hi: { rule: 'Host(`env.test`)', respond: { body: 'from env config' } } } },
      },
      { configViaEnv: true },
    );
    expect(Object.keys(gh.ports)).toEqual(['envweb']);
    const res = await httpRequest(gh.ports['envweb']!, { host: 'env.test' });
    expect(res.text).toBe('from env config');
  });

  it('GATEHOUSE_LOG_LEVEL overrides the configured level', async () => {
    // With the configured "error" level the start line would never appear; the harness waits for it.
    const gh = await startGatehouse(
      { log: { level: 'error' }, entryPoints: { web: { address: '127.0.0.1:0' } } },
      { env: { GATEHOUSE_LOG_LEVEL: 'debug' } },
    );
    expect(gh.logs.some((l) => l.msg === 'gatehouse started' && l.level === 'info')).toBe(true);
  });

  it('logs one "entry point listening" line per entry point, before "gatehouse started"', async () => {
    const gh = await startGatehouse({ entryPoints: { one: { address: '127.0.0.1:0' }, two: { address: '127.0.0.1:0' } } });
    const listening = gh.logs.filter((l) => l.msg === 'entry point listening');
    expect(listening.map((l) => l['entryPoint']).sort()).toEqual(['one', 'two']);
    for (const l of listening) {
      expect(l).toMatchObject({ level: 'info', address: '127.0.0.1' });
      expect(l['port']).toBeGreaterThan(0);
    }
    const startedAt = gh.logs.findIndex((l) => l.msg === 'gatehouse started');
    expect(startedAt).toBeGreaterThan(gh.logs.indexOf(listening[1]!));
    expect(gh.ports['one']).not.toBe(gh.ports['two']);
  });
});
