// The test harness checked on its own, without gatehouse: if these fail, the other integration failures say
// nothing about the proxy.
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { LineSplitter, parseLogLine } from '../helpers/log-lines.js';
import { httpRequest, slowloris, tryConnect } from '../helpers/raw-http.js';
import {
  closeAllUpstreams,
  refusedPort,
  startEchoUpstream,
  startSilentUpstream,
  startWsEchoUpstream,
  type EchoReply,
} from '../helpers/upstreams.js';

afterEach(closeAllUpstreams);
afterAll(closeAllUpstreams);

describe('test harness', () => {
  it('echo upstream reflects method, path, headers and body', async () => {
    const echo = await startEchoUpstream();
    const res = await httpRequest(echo.port, { method: 'POST', path: '/a?b=1', host: 'x.test', headers: { 'x-t': '1' }, body: 'hi' });
    const reply = JSON.parse(res.text) as EchoReply;
    expect(reply).toMatchObject({ method: 'POST', url: '/a?b=1', body: 'hi' });
    expect(reply.headers).toMatchObject({ host: 'x.test', 'x-t': '1' });
    expect(echo.requests).toHaveLength(1);
  });

  it('refusedPort refuses and the silent upstream accepts', async () => {
    expect(await tryConnect(await refusedPort())).toBe('refused');
    const silent = await startSilentUpstream();
    expect(await tryConnect(silent.port)).toBe('connected');
    await expect.poll(() => silent.connections(), { timeout: 2_000 }).toBe(1);
  });

  it('WebSocket echo upstream echoes and records both kinds of close', async () => {
    const up = await startWsEchoUpstream();
    const ws = new WebSocket(`ws://127.0.0.1:${up.port}/`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const echoed = new Promise<string>((resolve) => ws.once('message', (d) => resolve(d.toString())));
    ws.send('ping');
    expect(await echoed).toBe('ping');
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send('close:4000:bye');
    expect(await closed).toBe(4000);
    expect(await up.nextClose()).toEqual({ code: 4000, reason: 'bye' });
  });

  it('slowloris stops when the server hangs up', async () => {
    const server = createServer((s) => setTimeout(() => s.destroy(), 300));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const res = await slowloris((server.address() as AddressInfo).port, { intervalMs: 50, deadlineMs: 3_000 });
      expect(res.closedByServer).toBe(true);
      expect(res.elapsedMs).toBeLessThan(2_000);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('LineSplitter keeps a JSON line cut across chunks', () => {
    const s = new LineSplitter();
    expect(s.push('{"msg":"a"}\n{"ms')).toEqual(['{"msg":"a"}']);
    expect(s.push('g":"b"}\n').map(parseLogLine)).toEqual([{ msg: 'b' }]);
    expect(parseLogLine('not json')).toEqual({ msg: 'not json', raw: true });
  });
});
