/**
 * What an operator reads in the log (issue 19), from the lines of a real gatehouse process: the drain line on
 * SIGTERM with what it waits for, and one line per passthrough connection when it closes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startGatehouse, stopAllGatehouses } from '../helpers/gatehouse-process.js';
import { httpRequest } from '../helpers/raw-http.js';
import { BACKEND_CA, closeAllTlsBackends, startTlsBackend, type TlsBackend } from '../helpers/tls-backend.js';
import { closeAllUpstreams, startHttpUpstream, startWsEchoUpstream } from '../helpers/upstreams.js';

let stateDir: string;
beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'gatehouse-logs-'));
});
afterEach(async () => {
  await stopAllGatehouses();
  await closeAllUpstreams();
  await closeAllTlsBackends();
});
afterAll(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

/** A TLS backend that echoes what it reads. */
function echoBackend(): Promise<TlsBackend> {
  return startTlsBackend((socket) => socket.pipe(socket));
}

/** A passthrough client to `sni` that has seen one echo (so the stream is up end to end). */
async function passthroughClient(port: number, sni: string): Promise<TLSSocket> {
  const socket = tlsConnect({ host: '127.0.0.1', port, servername: sni, ca: BACKEND_CA, checkServerIdentity: () => undefined });
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  socket.write('ping');
  await new Promise((resolve) => socket.once('data', resolve));
  return socket;
}

function config(servers: { slow: string; ws: string; pass: string }, extra: object = {}): object {
  return {
    entryPoints: { web: { address: '127.0.0.1:0' }, websecure: { address: '127.0.0.1:0', tls: {} } },
    http: {
      routers: {
        slow: { rule: 'Host(`slow.test`)', service: 'slow', entryPoints: ['web'] },
        ws: { rule: 'Host(`ws.test`)', service: 'ws', entryPoints: ['web'] },
      },
      services: { slow: { loadBalancer: { servers: [{ url: servers.slow }] } }, ws: { loadBalancer: { servers: [{ url: servers.ws }] } } },
    },
    tcp: {
      routers: { pass: { rule: 'HostSNI(`pass.test`)', service: 'pass', entryPoints: ['websecure'] } },
      services: { pass: { loadBalancer: { servers: [{ address: servers.pass }] } } },
    },
    ...extra,
  };
}

describe('passthrough connections', () => {
  it('each gets one info line when it closes: SNI, client, backend, bytes each way, duration, who ended it', async () => {
    const pass = await startTlsBackend((socket) => socket.once('data', (c: Buffer) => socket.end(Buffer.concat([c, Buffer.from(' and goodbye')]))));
    const gh = await startGatehouse(config({ slow: 'http://127.0.0.1:1', ws: 'http://127.0.0.1:1', pass: pass.address }), { env: { GATEHOUSE_STATE_DIR: stateDir } });
    const socket = tlsConnect({ host: '127.0.0.1', port: gh.ports['websecure']!, servername: 'pass.test', ca: BACKEND_CA, checkServerIdentity: () => undefined });
    socket.on('end', () => socket.end()).resume();
    await new Promise((resolve) => socket.once('secureConnect', resolve));
    socket.write('hello');
    const line = await gh.waitForLog((l) => l.msg === 'passthrough connection closed');
    expect(line).toMatchObject({
      level: 'info',
      entryPoint: 'websecure',
      sni: 'pass.test',
      clientIp: '127.0.0.1',
      router: 'pass',
      service: 'pass',
      backend: pass.address,
      end: 'backend-closed',
    });
    // The handshake and the records both ways: more than the payload, and both directions counted.
    expect(line['bytesUp']).toBeGreaterThan(200);
    expect(line['bytesDown']).toBeGreaterThan(200);
    expect(line['durationMs']).toEqual(expect.any(Number));
    expect(gh.logs.filter((l) => l.msg === 'passthrough connection closed')).toHaveLength(1);
  });

  it('log.accessLog: false turns their lines off with the access lines', async () => {
    const pass = await echoBackend();
    const up = await startHttpUpstream((_req, res) => res.end('ok'));
    const gh = await startGatehouse(config({ slow: up.url, ws: up.url, pass: pass.address }, { log: { accessLog: false } }), { env: { GATEHOUSE_STATE_DIR: stateDir } });
    const stream = await passthroughClient(gh.ports['websecure']!, 'pass.test');
    await new Promise<void>((resolve) => stream.once('close', () => resolve()).end());
    expect((await httpRequest(gh.ports['web']!, { host: 'slow.test', path: '/' })).status).toBe(200);
    expect(await gh.stop('SIGTERM')).toBe(0);
    expect(gh.logs.filter((l) => l.msg === 'passthrough connection closed' || l.msg === 'request')).toEqual([]);
    expect(gh.logs.some((l) => l.msg === 'gatehouse stopped')).toBe(true);
  });
});

describe('the drain on SIGTERM', () => {
  it('says what it waits for: one request, one websocket, one passthrough stream', async () => {
    let arrived: () => void = () => {};
    const requestArrived = new Promise<void>((r) => (arrived = r));
    const slow = await startHttpUpstream((_req, res) => {
      arrived();
      setTimeout(() => res.end('late'), 800);
    });
    const ws = await startWsEchoUpstream();
    const pass = await echoBackend();
    const gh = await startGatehouse(config({ slow: slow.url, ws: ws.url, pass: pass.address }, { lifecycle: { graceTimeout: '2s' } }), {
      env: { GATEHOUSE_STATE_DIR: stateDir },
    });
    const inFlight = httpRequest(gh.ports['web']!, { host: 'slow.test', path: '/', timeoutMs: 10_000 });
    await requestArrived;
    const client = new WebSocket(`ws://127.0.0.1:${gh.ports['web']!}/`, { headers: { host: 'ws.test' } });
    client.on('error', () => {});
    await new Promise((resolve, reject) => client.once('open', resolve).once('error', reject));
    const stream = await passthroughClient(gh.ports['websecure']!, 'pass.test');
    stream.on('end', () => stream.end());

    const exit = gh.stop('SIGTERM', 10_000);
    const draining = await gh.waitForLog((l) => l.msg === 'draining');
    expect(draining).toMatchObject({ level: 'info', requests: 1, websockets: 1, passthrough: 1, graceMs: 2_000 });
    expect((await inFlight).status).toBe(200);
    client.terminate();
    stream.destroy();
    expect(await exit).toBe(0);
  });
});
