// Nothing in flight drops across reloads: keep-alive load, a websocket and a 12 MiB passthrough stream all survive
// 20 reloads, and a SIGTERM right after a reload still answers the requests held on both runtimes.
import { writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startGatehouse, stopAllGatehouses } from '../helpers/gatehouse-process.js';
import { httpRequest } from '../helpers/raw-http.js';
import { count, stateDir } from '../helpers/reload-fixtures.js';
import { until } from '../helpers/tcp-sockets.js';
import { closeAllTlsBackends, patternBytes, sha256, startTlsBackend } from '../helpers/tls-backend.js';
import { closeAllUpstreams, startEchoUpstream, startWsEchoUpstream } from '../helpers/upstreams.js';

afterEach(async () => {
  await stopAllGatehouses();
  await closeAllUpstreams();
  await closeAllTlsBackends();
});
afterAll(stopAllGatehouses);

const MiB = 1024 * 1024;

describe('nothing drops across reloads', () => {
  it('20 reloads under keep-alive load: zero failed requests, a websocket open throughout, a 12 MiB passthrough stream intact', async () => {
    const dir = await stateDir();
    const echo = await startEchoUpstream();
    const ws = await startWsEchoUpstream();
    const bulk = await startTlsBackend((socket) => {
      const received: Buffer[] = [];
      socket.on('data', (c: Buffer) => received.push(c));
      socket.once('end', () => socket.end(`${sha256(Buffer.concat(received))}\n`));
    });
    const config = (generation: number) => ({
      stateDir: dir,
      lifecycle: { watch: false },
      log: { accessLog: false },
      entryPoints: { web: { address: '127.0.0.1:0' }, websecure: { address: '127.0.0.1:0', tls: {} } },
      http: {
        routers: {
          app: { rule: 'Host(`app.test`)', service: 'app', middlewares: ['stamp'] },
          ws: { rule: 'Host(`ws.test`)', service: 'ws' },
        },
        middlewares: { stamp: { headers: { customResponseHeaders: { 'x-generation': String(generation) } } } },
        services: { app: { loadBalancer: { servers: [{ url: echo.url }] } }, ws: { loadBalancer: { servers: [{ url: ws.url }] } } },
      },
      tcp: {
        routers: { bulk: { rule: 'HostSNI(`bulk.test`)', service: 'bulk', entryPoints: ['websecure'] } },
        services: { bulk: { loadBalancer: { servers: [{ address: bulk.address }] } } },
      },
    });
    const gh = await startGatehouse(config(0));
    const web = gh.ports['web']!;

    // The websocket, opened before the first reload.
    const socket = new WebSocket(`ws://127.0.0.1:${web}/`, { headers: { host: 'ws.test' } });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const wsClosed = { closed: false };
    socket.once('close', () => (wsClosed.closed = true));
    const roundTrip = (text: string) =>
      new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no echo within 3 s')), 3_000);
        socket.once('message', (data) => {
          clearTimeout(timer);
          resolve(data.toString());
        });
        socket.send(text);
      });

    // The passthrough stream: 12 MiB sent in 48 chunks spread over the reloads.
    const up = patternBytes(12 * MiB, 'reload-up');
    const stream = tlsConnect({ host: '127.0.0.1', port: gh.ports['websecure']!, servername: 'bulk.test', rejectUnauthorized: false });
    const answer = new Promise<string>((resolve, reject) => {
      let text = '';
      stream.on('data', (c: Buffer) => (text += c.toString()));
      stream.once('end', () => resolve(text.trim()));
      stream.once('error', reject);
    });
    await new Promise<void>((resolve) => stream.once('secureConnect', () => resolve()));

    // Load: 4 keep-alive loops until told to stop; every non-200 or error counts as failed.
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    let stopLoad = false;
    let ok = 0;
    const failures: string[] = [];
    const generations = new Set<string>();
    const one = () =>
      new Promise<void>((resolve) => {
        const req = request({ host: '127.0.0.1', port: web, path: '/load', headers: { host: 'app.test' }, agent }, (res) => {
          res.resume();
          res.once('end', () => {
            if (res.statusCode === 200) ok++;
            else failures.push(`status ${res.statusCode}`);
            generations.add(String(res.headers['x-generation']));
            resolve();
          });
        });
        req.once('error', (err) => {
          failures.push(err.message);
          resolve();
        });
        req.end();
      });
    const loops = Array.from({ length: 4 }, async () => {
      while (!stopLoad) await one();
    });

    const chunk = up.length / 48;
    let sent = 0;
    for (let generation = 1; generation <= 20; generation++) {
      const before = count(gh, 'config reloaded');
      await writeFile(gh.file, JSON.stringify(config(generation)));
      gh.signal('SIGHUP');
      await until(`reload ${generation}`, () => count(gh, 'config reloaded') > before, 5_000);
      expect(await roundTrip(`after reload ${generation}`)).toBe(`after reload ${generation}`);
      for (let i = 0; i < 2 && sent < 48; i++, sent++) stream.write(up.subarray(sent * chunk, (sent + 1) * chunk));
      await new Promise((r) => setTimeout(r, 30));
    }
    while (sent < 48) stream.write(up.subarray(sent * chunk, (sent++ + 1) * chunk));
    stream.end();
    expect(await answer).toBe(sha256(up));

    stopLoad = true;
    await Promise.all(loops);
    agent.destroy();
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(100);
    expect(generations.has('20')).toBe(true);
    expect(wsClosed.closed).toBe(false);
    expect(await roundTrip('still open')).toBe('still open');
    const reloads = gh.logs.filter((l) => l.msg === 'config reloaded');
    expect(reloads).toHaveLength(20);
    expect(reloads.every((l) => l['ok'] === true)).toBe(true);
    socket.close();
  }, 60_000);

  it('SIGTERM after a reload: requests in flight on both runtimes are answered, the websocket gets a 1001 close frame, exit 0', async () => {
    const dir = await stateDir();
    let release: () => void = () => {};
    const held = new Promise<void>((r) => (release = r));
    const { startHttpUpstream } = await import('../helpers/upstreams.js');
    const slow = await startHttpUpstream((_req, res) => void held.then(() => res.end('done')));
    const ws = await startWsEchoUpstream();
    const config = (body: string) => ({
      stateDir: dir,
      lifecycle: { watch: false },
      entryPoints: { web: { address: '127.0.0.1:0' } },
      http: {
        routers: { slow: { rule: 'Host(`slow.test`)', service: 'slow' }, ws: { rule: 'Host(`ws.test`)', service: 'ws' }, tag: { rule: 'Host(`tag.test`)', respond: { body } } },
        services: { slow: { loadBalancer: { servers: [{ url: slow.url }] } }, ws: { loadBalancer: { servers: [{ url: ws.url }] } } },
      },
    });
    const gh = await startGatehouse(config('one'));
    const web = gh.ports['web']!;
    const socket = new WebSocket(`ws://127.0.0.1:${web}/`, { headers: { host: 'ws.test' } });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const closeCode = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));

    const first = httpRequest(web, { host: 'slow.test', timeoutMs: 10_000 });
    await until('first request at the upstream', () => slow.requests.length >= 1, 3_000);
    await writeFile(gh.file, JSON.stringify(config('two')));
    const before = count(gh, 'config reloaded');
    gh.signal('SIGHUP');
    await until('reload', () => count(gh, 'config reloaded') > before, 5_000);
    expect((await httpRequest(web, { host: 'tag.test' })).text).toBe('two');
    const second = httpRequest(web, { host: 'slow.test', timeoutMs: 10_000 });
    await until('second request at the upstream', () => slow.requests.length >= 2, 3_000);

    const exit = gh.stop('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    release();
    expect((await first).text).toBe('done');
    expect((await second).text).toBe('done');
    expect(await closeCode).toBe(1001);
    expect(await exit).toBe(0);
  }, 30_000);
});
