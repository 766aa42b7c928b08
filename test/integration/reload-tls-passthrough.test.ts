// Hot reload of TLS and of long-lived connections whose router a reload removes: a certificate added by a reload is
// served without a restart (and certsDir stays watched), and a passthrough stream or a websocket runs on by default
// but is cut with lifecycle.closeRemovedConnections.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startGatehouse, stopAllGatehouses } from '../helpers/gatehouse-process.js';
import { edit, stateDir } from '../helpers/reload-fixtures.js';
import { until } from '../helpers/tcp-sockets.js';
import { closeAllTlsBackends, startTlsBackend } from '../helpers/tls-backend.js';
import { closeAllUpstreams, startWsEchoUpstream } from '../helpers/upstreams.js';

afterEach(async () => {
  await stopAllGatehouses();
  await closeAllUpstreams();
  await closeAllTlsBackends();
});
afterAll(stopAllGatehouses);

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
    await until('store reloaded', () => gh.logs.some((l) => l.msg === 'certificate store reloaded'), 3_000);
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
