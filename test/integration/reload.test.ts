// Hot reload through a real gatehouse process: the config file is edited in place (and by rename-replace, as
// editors do), SIGHUP and `gatehouse reload` reload it, an invalid edit is refused with the running config kept,
// routes and entry points come and go, and nothing in flight drops: keep-alive load, a websocket and a multi-MiB
// passthrough stream all survive 20 reloads.
import { mkdtemp, readFile, rename, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { runGatehouseCli, startGatehouse, stopAllGatehouses, type GatehouseProcess } from '../helpers/gatehouse-process.js';
import { httpRequest, tryConnect } from '../helpers/raw-http.js';
import { closeAllTlsBackends, patternBytes, sha256, startTlsBackend } from '../helpers/tls-backend.js';
import { closeAllUpstreams, startEchoUpstream, startWsEchoUpstream } from '../helpers/upstreams.js';

afterEach(async () => {
  await stopAllGatehouses();
  await closeAllUpstreams();
  await closeAllTlsBackends();
});
afterAll(stopAllGatehouses);

const MiB = 1024 * 1024;

/** Resolves once `done()` holds; polls every 20 ms, rejects after `ms`. */
async function until(done: () => boolean, ms = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function count(gh: GatehouseProcess, msg: string): number {
  return gh.logs.filter((l) => l.msg === msg).length;
}

/** Writes `config` as the new content of the running gatehouse's file and waits for its next reload line. */
async function edit(gh: GatehouseProcess, config: object | string, expect: 'config reloaded' | 'config reload refused, the running config stays' = 'config reloaded'): Promise<void> {
  const before = count(gh, expect);
  await writeFile(gh.file, typeof config === 'string' ? config : JSON.stringify(config, null, 2));
  await until(() => count(gh, expect) > before, 5_000, `"${expect}" after the edit`);
}

const respondConfig = (stateDir: string, routes: Record<string, string>, extra: object = {}) => ({
  stateDir,
  entryPoints: { web: { address: '127.0.0.1:0' } },
  http: {
    routers: Object.fromEntries(Object.entries(routes).map(([host, body]) => [host.replace(/\W/g, '-'), { rule: `Host(\`${host}\`)`, respond: { body } }])),
  },
  ...extra,
});

async function stateDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'gatehouse-reload-state-'));
}

describe('config reload', () => {
  it('a route added by an edit serves, a removed one is gone; the listener stays the same', async () => {
    const dir = await stateDir();
    const gh = await startGatehouse(respondConfig(dir, { 'a.test': 'A' }));
    const port = gh.ports['web']!;
    expect((await httpRequest(port, { host: 'b.test' })).status).toBe(404);

    await edit(gh, respondConfig(dir, { 'a.test': 'A', 'b.test': 'B' }));
    expect((await httpRequest(port, { host: 'b.test' })).text).toBe('B');
    expect((await httpRequest(port, { host: 'a.test' })).text).toBe('A');

    await edit(gh, respondConfig(dir, { 'a.test': 'A2' }));
    expect((await httpRequest(port, { host: 'b.test' })).status).toBe(404);
    expect((await httpRequest(port, { host: 'a.test' })).text).toBe('A2');
    expect(gh.ports['web']).toBe(port);
    expect(count(gh, 'entry point listening')).toBe(1);
  });

  it('an invalid edit is refused with file, line and path; the old config serves; the next valid edit is taken', async () => {
    const dir = await stateDir();
    const gh = await startGatehouse(respondConfig(dir, { 'a.test': 'old' }));
    const port = gh.ports['web']!;

    await edit(gh, '{ "entryPoints": { "web": { "address": "127.0.0.1:0" } },\n  "http": { "routers": { "x": { "rule": "Host(`a.test`)", "respond": { "body": "new" } } }', 'config reload refused, the running config stays');
    const syntax = gh.logs.filter((l) => l.msg === 'config reload refused, the running config stays').at(-1)!;
    expect(syntax['code']).toBe('CONFIG_SYNTAX');
    expect(syntax['file']).toBe(gh.file);
    expect(syntax['line']).toBeTypeOf('number');
    expect((await httpRequest(port, { host: 'a.test' })).text).toBe('old');

    await edit(gh, respondConfig(dir, { 'a.test': 'bad' }, { entryPoints: { web: { address: '127.0.0.1:0', maxHeaderSize: 'big' } } }), 'config reload refused, the running config stays');
    const schema = gh.logs.filter((l) => l.msg === 'config reload refused, the running config stays').at(-1)!;
    expect(schema['code']).toBe('CONFIG_SCHEMA');
    expect(schema['path']).toBe('/entryPoints/web/maxHeaderSize');
    expect((await httpRequest(port, { host: 'a.test' })).text).toBe('old');

    // `gatehouse status` reports the refused reload.
    const status = await runGatehouseCli(['status', '--config', gh.file]);
    expect(status.code).toBe(0);
    const shown = JSON.parse(status.stdout) as { lastReload: { ok: boolean; errors: string[] }; entryPoints: Record<string, { port: number }> };
    expect(shown.lastReload.ok).toBe(false);
    expect(shown.lastReload.errors.join('\n')).toMatch(/maxHeaderSize/);
    expect(shown.entryPoints['web']!.port).toBe(port);

    await edit(gh, respondConfig(dir, { 'a.test': 'new' }));
    expect((await httpRequest(port, { host: 'a.test' })).text).toBe('new');
  });

  it('an editor-style rename-replace is seen; a save without changes reloads nothing', async () => {
    const dir = await stateDir();
    const gh = await startGatehouse(respondConfig(dir, { 'a.test': 'one' }));
    const port = gh.ports['web']!;
    const before = count(gh, 'config reloaded');
    const tmp = `${gh.file}.swp`;
    await writeFile(tmp, JSON.stringify(respondConfig(dir, { 'a.test': 'two' })));
    await rename(tmp, gh.file);
    await until(() => count(gh, 'config reloaded') > before, 5_000, 'reload after rename');
    expect((await httpRequest(port, { host: 'a.test' })).text).toBe('two');

    // The same bytes written again: the content hash is unchanged, no reload.
    const now = count(gh, 'config reloaded');
    await writeFile(gh.file, JSON.stringify(respondConfig(dir, { 'a.test': 'two' })));
    await new Promise((r) => setTimeout(r, 800));
    expect(count(gh, 'config reloaded')).toBe(now);
  });

  it('SIGHUP and `gatehouse reload` reload; `reload` of an invalid file exits 1 with the reason', async () => {
    const dir = await stateDir();
    const gh = await startGatehouse(respondConfig(dir, { 'a.test': 'one' }, { lifecycle: { watch: false } }));
    const port = gh.ports['web']!;
    await writeFile(gh.file, JSON.stringify(respondConfig(dir, { 'a.test': 'two' }, { lifecycle: { watch: false } })));
    await new Promise((r) => setTimeout(r, 400));
    expect((await httpRequest(port, { host: 'a.test' })).text).toBe('one'); // not watched

    const before = count(gh, 'config reloaded');
    gh.signal('SIGHUP');
    await until(() => count(gh, 'config reloaded') > before, 5_000, 'reload after SIGHUP');
    expect((await httpRequest(port, { host: 'a.test' })).text).toBe('two');

    await writeFile(gh.file, JSON.stringify(respondConfig(dir, { 'a.test': 'three' }, { lifecycle: { watch: false } })));
    const ok = await runGatehouseCli(['reload', '--config', gh.file]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/reloaded in \d+ ms/);
    expect((await httpRequest(port, { host: 'a.test' })).text).toBe('three');

    await writeFile(gh.file, JSON.stringify({ ...respondConfig(dir, {}), stateDir: dir, entryPoints: {} }));
    const refused = await runGatehouseCli(['reload', '--config', gh.file]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/reload refused, the running config stays/);
    expect(refused.stderr).toMatch(/entryPoints/);
    expect((await httpRequest(port, { host: 'a.test' })).text).toBe('three');
  });

  it('the access log and the log level follow a reload', async () => {
    const dir = await stateDir();
    const base = respondConfig(dir, { 'a.test': 'A' });
    const gh = await startGatehouse({ ...base, log: { accessLog: false } });
    const port = gh.ports['web']!;
    const access = () => gh.logs.filter((l) => l['host'] === 'a.test' && l['status'] === 200).length;
    await httpRequest(port, { host: 'a.test' });
    await new Promise((r) => setTimeout(r, 200));
    expect(access()).toBe(0);
    await edit(gh, { ...base, log: { accessLog: true } });
    await httpRequest(port, { host: 'a.test' });
    await until(() => access() === 1, 3_000, 'access line');
    // At warn, neither the access line (info) nor the reload line is written any more.
    await writeFile(gh.file, JSON.stringify({ ...base, log: { accessLog: true, level: 'warn' } }));
    await new Promise((r) => setTimeout(r, 1_000));
    await httpRequest(port, { host: 'a.test' });
    await new Promise((r) => setTimeout(r, 300));
    expect(access()).toBe(1);
  });

  it('an entry point added by a reload listens; a removed one stops listening', async () => {
    const dir = await stateDir();
    const base = respondConfig(dir, { 'a.test': 'A' });
    const gh = await startGatehouse(base);
    await edit(gh, { ...base, entryPoints: { ...base.entryPoints, extra: { address: '127.0.0.1:0' } } });
    await until(() => gh.ports['extra'] !== undefined, 3_000, 'extra listening');
    const extra = gh.ports['extra']!;
    expect((await httpRequest(extra, { host: 'a.test' })).text).toBe('A');

    await edit(gh, base);
    await until(() => gh.logs.some((l) => l.msg === 'entry point removed, draining' && l['entryPoint'] === 'extra'), 3_000, 'extra removed');
    expect(await tryConnect(extra)).toBe('refused');
    expect((await httpRequest(gh.ports['web']!, { host: 'a.test' })).text).toBe('A');
  });
});

describe('reloading TLS and passthrough', () => {
  it('a certificate added to tls.certificates by a reload is served without a restart; certsDir is still watched after', async () => {
    const dir = await stateDir();
    const certsDir = await mkdtemp(join(tmpdir(), 'gatehouse-reload-certs-'));
    const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/certs/${name}`, import.meta.url));
    const base = {
      stateDir: dir,
      tls: { certsDir },
      entryPoints: { websecure: { address: '127.0.0.1:0', tls: {} } },
      http: { routers: { r: { rule: 'Host(`right.example`)', respond: { body: 'ok' } } } },
    };
    const gh = await startGatehouse(base);
    const port = gh.ports['websecure']!;
    const subject = (servername: string) =>
      new Promise<string>((resolve, reject) => {
        const s = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
          resolve(String(s.getPeerCertificate().subjectaltname));
          s.destroy();
        });
        s.once('error', reject);
      });
    expect(await subject('right.example')).not.toContain('right.example');
    await edit(gh, { ...base, tls: { certsDir, certificates: [{ certFile: fixture('wrong.pem'), keyFile: fixture('wrong.pem') }] } });
    await until(() => gh.logs.some((l) => l.msg === 'certificate store reloaded'), 3_000, 'store reloaded');
    expect(await subject('right.example')).toContain('DNS:right.example');
    expect(gh.ports['websecure']).toBe(port);

    // The new store watches certsDir as the first did: a wildcard pair dropped in is served without a reload.
    await writeFile(join(certsDir, 'wild.pem'), await readFile(fixture('wild.pem')));
    let served = '';
    for (let i = 0; i < 50 && !served.includes('wild.example'); i++) {
      served = await subject('a.wild.example');
      if (!served.includes('wild.example')) await new Promise((r) => setTimeout(r, 100));
    }
    expect(served).toContain('*.wild.example');
  });

  it('a passthrough stream whose router a reload removed runs on by default, and is cut with closeRemovedConnections', async () => {
    const dir = await stateDir();
    const backend = await startTlsBackend((socket) => socket.on('data', (c: Buffer) => socket.write(c)));
    const config = (routers: boolean, cut: boolean) => ({
      stateDir: dir,
      lifecycle: { closeRemovedConnections: cut },
      entryPoints: { websecure: { address: '127.0.0.1:0', tls: {} } },
      http: { routers: { r: { rule: 'Host(`other.test`)', respond: { body: 'x' } } } },
      tcp: {
        ...(routers ? { routers: { echo: { rule: 'HostSNI(`echo.test`)', service: 'echo' } } } : {}),
        services: { echo: { loadBalancer: { servers: [{ address: backend.address }] } } },
      },
    });
    const gh = await startGatehouse(config(true, false));
    const open = async () => {
      const s = tlsConnect({ host: '127.0.0.1', port: gh.ports['websecure']!, servername: 'echo.test', rejectUnauthorized: false });
      await new Promise<void>((resolve, reject) => {
        s.once('secureConnect', () => resolve());
        s.once('error', reject);
      });
      return s;
    };
    const echo = (s: import('node:tls').TLSSocket, text: string) =>
      new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no echo')), 2_000);
        s.once('data', (c: Buffer) => {
          clearTimeout(timer);
          resolve(c.toString());
        });
        s.write(text);
      });

    const kept = await open();
    expect(await echo(kept, 'before')).toBe('before');
    await edit(gh, config(false, false));
    expect(await echo(kept, 'after removal')).toBe('after removal');
    kept.destroy();

    await edit(gh, config(true, true));
    const cut = await open();
    expect(await echo(cut, 'before')).toBe('before');
    const closed = new Promise<void>((resolve) => cut.once('close', () => resolve()));
    await edit(gh, config(false, true));
    await closed;
    // Its line says the reload cut it.
    const line = await gh.waitForLog((l) => l.msg === 'passthrough connection closed' && l['end'] === 'reload-cut');
    expect(line).toMatchObject({ level: 'info', sni: 'echo.test', router: 'echo', service: 'echo' });
  });

  it('a websocket whose router a reload removed stays open by default, and gets a 1001 close frame with closeRemovedConnections', async () => {
    const dir = await stateDir();
    const ws = await startWsEchoUpstream();
    const config = (withRouter: boolean, cut: boolean) => ({
      stateDir: dir,
      lifecycle: { closeRemovedConnections: cut },
      entryPoints: { web: { address: '127.0.0.1:0' } },
      http: {
        routers: { keep: { rule: 'Host(`keep.test`)', respond: { body: 'k' } }, ...(withRouter ? { ws: { rule: 'Host(`ws.test`)', service: 'ws' } } : {}) },
        services: { ws: { loadBalancer: { servers: [{ url: ws.url }] } } },
      },
    });
    const gh = await startGatehouse(config(true, false));
    const open = async () => {
      const socket = new WebSocket(`ws://127.0.0.1:${gh.ports['web']!}/`, { headers: { host: 'ws.test' } });
      await new Promise<void>((resolve, reject) => {
        socket.once('open', () => resolve());
        socket.once('error', reject);
      });
      return socket;
    };
    const echo = (socket: WebSocket, text: string) =>
      new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no echo')), 2_000);
        socket.once('message', (d) => {
          clearTimeout(timer);
          resolve(d.toString());
        });
        socket.send(text);
      });
    const kept = await open();
    await edit(gh, config(false, false));
    expect(await echo(kept, 'still here')).toBe('still here');
    kept.close();

    await edit(gh, config(true, true));
    const cut = await open();
    expect(await echo(cut, 'before')).toBe('before');
    const code = new Promise<number>((resolve) => cut.once('close', (c) => resolve(c)));
    await edit(gh, config(false, true));
    expect(await code).toBe(1001);
  });
});

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
      await until(() => count(gh, 'config reloaded') > before, 5_000, `reload ${generation}`);
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
    await until(() => slow.requests.length >= 1, 3_000, 'first request at the upstream');
    await writeFile(gh.file, JSON.stringify(config('two')));
    const before = count(gh, 'config reloaded');
    gh.signal('SIGHUP');
    await until(() => count(gh, 'config reloaded') > before, 5_000, 'reload');
    expect((await httpRequest(web, { host: 'tag.test' })).text).toBe('two');
    const second = httpRequest(web, { host: 'slow.test', timeoutMs: 10_000 });
    await until(() => slow.requests.length >= 2, 3_000, 'second request at the upstream');

    const exit = gh.stop('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    release();
    expect((await first).text).toBe('done');
    expect((await second).text).toBe('done');
    expect(await closeCode).toBe(1001);
    expect(await exit).toBe(0);
  }, 30_000);
});
