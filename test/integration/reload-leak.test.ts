// 1000 reloads in a loop through the library API, with services that run health-check timers, middlewares, a
// passthrough router and a few requests in between: the heap (after a full GC) and the open file descriptors
// must not grow beyond a small bound, and the retired runtimes must all be disposed of.
import { readdirSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, expect, it } from 'vitest';
import { createGatehouse, type Config, type Gatehouse } from '../../src/api.js';
import { createLogger } from '../../src/log.js';
import { httpRequest } from '../helpers/raw-http.js';
import { closeAllUpstreams, startEchoUpstream } from '../helpers/upstreams.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let gh: Gatehouse | undefined;
afterAll(async () => {
  await gh?.stop({ graceMs: 500 });
  await closeAllUpstreams();
});

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

async function settledHeap(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
  return process.memoryUsage().heapUsed;
}

it('1000 reloads: heap and file descriptors stay within a small bound, retired runtimes are disposed of', async () => {
  const echo = await startEchoUpstream();
  const stateDir = await mkdtemp(join(tmpdir(), 'gatehouse-reload-leak-'));
  const config = (i: number): Config =>
    ({
      stateDir,
      lifecycle: { watch: false },
      log: { accessLog: false },
      entryPoints: { web: { address: '127.0.0.1:0' }, websecure: { address: '127.0.0.1:0', tls: {} } },
      http: {
        routers: {
          app: { rule: 'Host(`app.test`)', service: 'app', middlewares: ['stamp', 'limit'] },
          [`extra-${i % 7}`]: { rule: `Host(\`extra${i % 7}.test\`)`, respond: { body: `extra ${i}` } },
        },
        middlewares: {
          stamp: { headers: { customResponseHeaders: { 'x-reload': String(i) } } },
          limit: { rateLimit: { average: 1000, burst: 1000 } },
        },
        services: {
          app: { loadBalancer: { servers: [{ url: echo.url }], healthCheck: { path: '/health', interval: '1s', timeout: '500ms' } } },
        },
      },
      tcp: {
        routers: { pass: { rule: 'HostSNI(`pass.test`)', service: 'pass', entryPoints: ['websecure'] } },
        services: { pass: { loadBalancer: { servers: [{ address: '127.0.0.1:1' }] } } },
      },
    }) as unknown as Config;

  gh = createGatehouse({ config: config(0), logger: createLogger({ level: 'silent' }) });
  await gh.start();
  const port = gh.addresses()['web']!.port;

  let heapAt100 = 0;
  let fdsAt100 = 0;
  // Precise: every replaced config's services object must be collectable once its runtime is gone (a runtime that
  // kept its predecessor alive would keep them all).
  const replaced: WeakRef<object>[] = [];
  for (let i = 1; i <= 1000; i++) {
    if (i > 1) replaced.push(new WeakRef(gh.config.http!.services!));
    const result = await gh.reload(config(i));
    expect(result.ok).toBe(true);
    if (i % 50 === 0) {
      const res = await httpRequest(port, { host: 'app.test' });
      expect(res.status).toBe(200);
      expect(res.headers['x-reload']).toBe(String(i));
    }
    if (i === 100) {
      await new Promise((r) => setTimeout(r, 1_500)); // the retired-runtime sweep runs every second
      heapAt100 = await settledHeap();
      fdsAt100 = openFds();
    }
  }
  await new Promise((r) => setTimeout(r, 1_500));
  const heapAt1000 = await settledHeap();
  const fdsAt1000 = openFds();
  const alive = replaced.filter((r) => r.deref() !== undefined).length;
  expect(alive).toBe(0);
  const status = gh.status();
  expect(status.reloads).toBe(1000);
  expect(status.retiredRuntimes).toBe(0);
  // 900 reloads between the two readings: a leak of even 10 KB per reload would show as 9 MB.
  expect(heapAt1000 - heapAt100).toBeLessThan(4 * 1024 * 1024);
  expect(fdsAt1000 - fdsAt100).toBeLessThanOrEqual(4);
  console.log(`1000 reloads: heap ${((heapAt1000 - heapAt100) / 1024).toFixed(0)} KiB growth over 900, fds ${fdsAt100} → ${fdsAt1000}`);
}, 120_000);

it('a reload before start() only replaces the config: start builds the certificate store once, from it', async () => {
  const stateDir = await mkdtemp(join(tmpdir(), 'gatehouse-reload-early-'));
  const fixture = fileURLToPath(new URL('../fixtures/certs/wrong.pem', import.meta.url));
  const plain = { stateDir, entryPoints: { web: { address: '127.0.0.1:0' } }, http: { routers: { r: { rule: 'PathPrefix(`/`)', respond: { body: 'one' } } } } } as unknown as Config;
  const withTls = {
    ...plain,
    tls: { certificates: [{ certFile: fixture, keyFile: fixture }] },
    entryPoints: { ...plain.entryPoints, websecure: { address: '127.0.0.1:0', tls: {} } },
    http: { routers: { r: { rule: 'PathPrefix(`/`)', respond: { body: 'two' } } } },
  } as unknown as Config;
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const logger = createLogger({ level: 'info', destination });
  const early = createGatehouse({ config: plain, logger });
  expect((await early.reload(withTls)).ok).toBe(true);
  await early.start();
  try {
    const a = early.addresses();
    expect(Object.keys(a).sort()).toEqual(['web', 'websecure']);
    expect((await httpRequest(a['web']!.port, { host: 'x.test' })).text).toBe('two');
  } finally {
    await early.stop({ graceMs: 200 });
  }
  // One store loaded the file: a store built by the early reload as well would have loaded it twice.
  expect(lines.filter((l) => l.includes('"certificate loaded"'))).toHaveLength(1);
});
