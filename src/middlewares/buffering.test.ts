// buffering's response limit on real sockets, with handlers that write heads the way the forwarder does.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startHttpUpstream } from '../../test/helpers/upstreams.js';
import type { Config } from '../config/index.js';
import type { Handler } from '../http/contract.js';
import { buildServices } from '../http/services.js';
import { httpRequest, rawExchange } from '../../test/helpers/raw-http.js';
import { closeMiddlewareServers, startMiddlewareServer } from '../../test/helpers/middleware-server.js';
import { createBuffering } from './buffering.js';
import { createCompress } from './compress.js';

afterEach(closeMiddlewareServers);
const P = '/http/middlewares/limits/buffering';
const LIMIT = 1000;

/** Answers `size` bytes: with a Content-Length (flat array head, as the forwarder writes it) or chunked in 3 writes. */
const answer =
  (size: number, withLength: boolean) =>
  (_req: IncomingMessage, res: ServerResponse): void => {
    const body = Buffer.alloc(size, 'x');
    const head = ['Content-Type', 'text/plain', 'X-Upstream', 'yes'];
    if (withLength) head.push('Content-Length', String(size));
    res.writeHead(200, 'OK', head);
    const third = Math.ceil(size / 3);
    res.write(body.subarray(0, third));
    res.write(body.subarray(third, 2 * third));
    res.end(body.subarray(2 * third));
  };

describe('maxResponseBodyBytes', () => {
  it.each([
    ['a Content-Length at the limit passes', LIMIT, true, 'GET', 200, LIMIT],
    ['a Content-Length over the limit: 500 before anything is sent', LIMIT + 1, true, 'GET', 500, -1],
    ['no length, under the limit: passes', LIMIT - 1, false, 'GET', 200, LIMIT - 1],
    ['no length, over the limit: cut mid-body', LIMIT * 3, false, 'GET', -1, -1],
    ['a HEAD announcing a large body passes (no body follows)', LIMIT * 3, true, 'HEAD', 200, 0],
  ])('%s', async (_d, size, withLength, method, status, bodyLength) => {
    const srv = await startMiddlewareServer(createBuffering({ maxResponseBodyBytes: LIMIT }, P), answer(size, withLength));
    const res = await httpRequest(srv.port, { method }).catch((err: Error) => ({ status: -1, text: err.message, body: Buffer.alloc(0), headers: {} as Record<string, string> }));
    expect(res.status).toBe(status);
    if (bodyLength >= 0) expect(res.body.length).toBe(bodyLength);
    if (status === 500) {
      expect(res.text).toBe('Internal Server Error: response too large\n');
      expect(res.headers['x-upstream']).toBeUndefined();
      expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    }
  });

  it('says Internal Server Error in the status line, not the upstream reason', async () => {
    const srv = await startMiddlewareServer(createBuffering({ maxResponseBodyBytes: LIMIT }, P), answer(LIMIT * 2, true));
    const raw = await rawExchange(srv.port, (write) => void write('GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'), 5_000);
    expect(raw.data.toString('latin1').split('\r\n')[0]).toBe('HTTP/1.1 500 Internal Server Error');
  });

  it('limits the uncompressed size when compress runs first', async () => {
    const wrap = (next: Parameters<ReturnType<typeof createCompress>>[0]) =>
      createCompress({}, '/c')(createBuffering({ maxResponseBodyBytes: LIMIT }, P)(next));
    const srv = await startMiddlewareServer(wrap, answer(LIMIT * 3, false));
    const res = await httpRequest(srv.port, { headers: { 'accept-encoding': 'gzip' } }).catch((err: Error) => ({ status: -1, text: err.message }));
    // 3000 bytes of 'x' gzip to a few dozen: only a limit on what the upstream sent can cut this one.
    expect(res.status).toBe(-1);
  });

  it('leaves requests alone when only the response is limited', async () => {
    const echoLength = async (req: IncomingMessage, res: ServerResponse) => {
      let n = 0;
      for await (const c of req) n += (c as Buffer).length;
      res.end(String(n));
    };
    const srv = await startMiddlewareServer(createBuffering({ maxResponseBodyBytes: LIMIT }, P), echoLength);
    const res = await httpRequest(srv.port, { method: 'POST', body: 'y'.repeat(LIMIT * 5) });
    expect([res.status, res.text]).toEqual([200, String(LIMIT * 5)]);
  });
});

describe('maxResponseBodyBytes in front of the real forwarder', () => {
  it.each([
    ['a large Content-Length: 500, and the upstream request is abandoned', true, 500],
    ['a large chunked body: cut', false, -1],
  ])('%s', async (_d, withLength, status) => {
    const size = 4 * 1024 * 1024;
    let upstreamClosed = false;
    const upstream = await startHttpUpstream((req, res) => {
      res.once('close', () => (upstreamClosed = true));
      res.writeHead(200, withLength ? { 'content-length': size } : {});
      // Written slowly enough that abandoning it early shows: 256 chunks of 16 KiB, 5 ms apart (over 1.3 s).
      let sent = 0;
      const tick = setInterval(() => {
        if (res.destroyed || sent >= size) {
          clearInterval(tick);
          if (!res.destroyed) res.end();
          return;
        }
        res.write(Buffer.alloc(16 * 1024, 'u'));
        sent += 16 * 1024;
      }, 5);
    });
    const services = buildServices({ http: { services: { s: { loadBalancer: { servers: [{ url: upstream.url }] } } } } } as unknown as Config, {}, pino({ level: 'silent' }));
    const handler = services.handlers.get('s') as Handler;
    try {
      const srv = await startMiddlewareServer(createBuffering({ maxResponseBodyBytes: LIMIT }, P), handler);
      const started = Date.now();
      const res = await httpRequest(srv.port).catch((err: Error) => ({ status: -1, text: err.message }));
      expect(res.status).toBe(status);
      // The whole body would take over 1.3 s; the upstream response is closed long before.
      for (const end = Date.now() + 2_000; !upstreamClosed && Date.now() < end; ) await new Promise((r) => setTimeout(r, 10));
      expect(upstreamClosed).toBe(true);
      expect(Date.now() - started).toBeLessThan(800);
    } finally {
      await services.close();
      await upstream.close();
    }
  });
});
