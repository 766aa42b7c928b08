// WebSocket through the proxy: the upgrade reaches the upstream, messages echo both ways (text and binary), and a
// close started by either end completes, with the same close code seen on both sides.
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startGatehouse, stopAllGatehouses, type GatehouseProcess } from '../helpers/gatehouse-process.js';
import { closeAllUpstreams, startWsEchoUpstream, type WsUpstream } from '../helpers/upstreams.js';

let gh: GatehouseProcess;
let up: WsUpstream;
const clients = new Set<WebSocket>();

beforeAll(async () => {
  up = await startWsEchoUpstream();
  gh = await startGatehouse({
    entryPoints: { web: { address: '127.0.0.1:0' } },
    http: {
      routers: { ws: { rule: 'Host(`ws.test`)', service: 'ws' } },
      services: { ws: { loadBalancer: { servers: [{ url: up.url }] } } },
    },
  });
});
afterEach(() => {
  for (const c of clients) c.terminate();
  clients.clear();
});
afterAll(async () => {
  await stopAllGatehouses();
  await closeAllUpstreams();
});

/** Opens a WebSocket to the proxy with the given Host; rejects on an HTTP answer instead of an upgrade; bounded. */
function openWs(host: string, path = '/chat'): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${gh.ports['web']!}${path}`, { headers: { host }, handshakeTimeout: 5_000 });
  clients.add(ws);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

function nextMessage(ws: WebSocket, timeoutMs = 5_000): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no message')), timeoutMs);
    ws.once('message', (data, isBinary) => {
      clearTimeout(timer);
      resolve({ data: data as Buffer, isBinary });
    });
  });
}

function closed(ws: WebSocket, timeoutMs = 5_000): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no close')), timeoutMs);
    ws.once('close', (code, reason) => {
      clearTimeout(timer);
      resolve({ code, reason: reason.toString() });
    });
  });
}

describe('WebSocket through the proxy', () => {
  it('passes the upgrade with the client Host and path', async () => {
    const before = up.upgrades.length;
    const ws = await openWs('ws.test', '/chat?room=1');
    expect(up.upgrades.length).toBe(before + 1);
    expect(up.upgrades[before]!.host).toBe('ws.test');
    ws.close(1000);
    await closed(ws);
    await up.nextClose();
  });

  it('echoes text and a 256 KiB binary message', async () => {
    const ws = await openWs('ws.test');
    const text = nextMessage(ws);
    ws.send('hello through gatehouse');
    const t = await text;
    expect(t.isBinary).toBe(false);
    expect(t.data.toString()).toBe('hello through gatehouse');

    const blob = randomBytes(256 * 1024);
    const bin = nextMessage(ws);
    ws.send(blob);
    const b = await bin;
    expect(b.isBinary).toBe(true);
    expect(Buffer.compare(b.data, blob)).toBe(0);
    ws.close(1000);
    await closed(ws);
    await up.nextClose();
  });

  it('client-initiated close: the upstream sees the code and the client gets it echoed', async () => {
    const ws = await openWs('ws.test');
    const done = closed(ws);
    ws.close(4001, 'client says bye');
    expect(await up.nextClose()).toEqual({ code: 4001, reason: 'client says bye' });
    expect(await done).toEqual({ code: 4001, reason: 'client says bye' });
  });

  it('upstream-initiated close: the client sees the code and the upstream gets it echoed', async () => {
    const ws = await openWs('ws.test');
    const done = closed(ws);
    ws.send('close:4002:server says bye');
    expect(await done).toEqual({ code: 4002, reason: 'server says bye' });
    expect(await up.nextClose()).toEqual({ code: 4002, reason: 'server says bye' });
  });

  it('an upgrade for a host no router matches is refused with 404', async () => {
    await expect(openWs('nobody.test')).rejects.toThrow(/404/);
  });
});
