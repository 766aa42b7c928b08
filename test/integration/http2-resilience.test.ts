/**
 * HTTP/2 under stress, end to end through a gatehouse child process (the lab of http2.test.ts): an idle session is
 * closed with GOAWAY and the stream limit is announced; junk and a rapid-reset burst do not take the proxy down;
 * SIGTERM lets an h2 stream finish.
 */
import { randomBytes } from 'node:crypto';
import { constants, type IncomingHttpHeaders } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, type GatehouseProcess } from '../helpers/gatehouse-process.js';
import { ca, closeHttp2Lab, h2Client, NAME, startHttp2Lab, tlsDirs, type H2Reply } from '../helpers/http2-lab.js';
import { startHttpUpstream } from '../helpers/upstreams.js';

let gh: GatehouseProcess;
let port: number;
beforeAll(async () => {
  ({ gh, port } = await startHttp2Lab());
});
afterAll(closeHttp2Lab);
const { connectH2, h2Request } = h2Client(() => port);

describe('HTTP/2 session limits', () => {
  it('an idle session is closed with GOAWAY after the entry point idle timeout', async () => {
    const quick = gh.ports['quick']!;
    const session = await connectH2(quick);
    const goaway = new Promise<number>((resolve) => session.once('goaway', (code: number) => resolve(code)));
    const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
    const t0 = performance.now();
    const reply = await h2Request(session, { ':path': '/app/idle', ':authority': `${NAME}:${quick}` });
    expect(reply.status).toBe(200);
    expect(await goaway).toBe(constants.NGHTTP2_NO_ERROR);
    await closed;
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThan(900);
    expect(waited).toBeLessThan(5_000);
  });

  it('announces its stream limit in its SETTINGS', async () => {
    const session = await connectH2();
    const settings = session.remoteSettings.maxConcurrentStreams === undefined || session.remoteSettings.maxConcurrentStreams > 1000
      ? await new Promise<typeof session.remoteSettings>((resolve) => session.once('remoteSettings', resolve))
      : session.remoteSettings;
    expect(settings.maxConcurrentStreams).toBe(100);
  });
});

describe('hostile HTTP/2 clients', () => {
  it('junk after an h2 handshake closes that connection only', async () => {
    const closed = await new Promise<boolean>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port, servername: NAME, ca, ALPNProtocols: ['h2'] }, () => {
        expect(s.alpnProtocol).toBe('h2');
        s.write(randomBytes(4096));
      });
      s.on('data', () => undefined);
      s.once('close', () => resolve(true));
      s.once('error', () => undefined);
      s.setTimeout(5_000, () => reject(new Error('junk connection not closed')));
    });
    expect(closed).toBe(true);
    const reply = await h2Request(await connectH2(), { ':path': '/app/after-junk' });
    expect(reply.status).toBe(200);
  });

  it('a rapid-reset burst (CVE-2023-44487) does not take the proxy down', async () => {
    const session = await connectH2();
    session.on('goaway', () => undefined);
    // Open and cancel streams as fast as the client can: each one is a request the proxy starts, then must drop.
    for (let round = 0; round < 20 && !session.destroyed && !session.closed; round++) {
      for (let i = 0; i < 100; i++) {
        const stream = session.request({ ':authority': `${NAME}:${port}`, ':path': `/app/reset/${round}/${i}` });
        stream.on('error', () => undefined);
        stream.close(constants.NGHTTP2_CANCEL);
      }
      await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setTimeout(r, 300));
    const reply = await h2Request(await connectH2(), { ':path': '/app/after-reset' });
    expect(reply.status).toBe(200);
    expect(gh.stderr()).not.toMatch(/Error|uncaught/i);
  });
});

describe('shutdown', () => {
  it('SIGTERM with an h2 stream in flight: GOAWAY, the stream completes, exit 0', async () => {
    let arrived: () => void = () => {};
    const requestArrived = new Promise<void>((r) => (arrived = r));
    const slow = await startHttpUpstream((_req, res) => {
      arrived();
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('finished after 1s');
      }, 1_000);
    });
    const own = await startGatehouse({
      ...tlsDirs(),
      log: { accessLog: false },
      entryPoints: { websecure: { address: '127.0.0.1:0', tls: {} } },
      http: {
        routers: { slow: { rule: 'Host(`left.example`)', service: 'slow', tls: {} } },
        services: { slow: { loadBalancer: { servers: [{ url: slow.url }] } } },
      },
    });
    const ownPort = own.ports['websecure']!;
    const session = await connectH2(ownPort);
    const goaway = new Promise<void>((r) => session.once('goaway', () => r()));
    const stream = session.request({ ':authority': `${NAME}:${ownPort}`, ':path': '/slow' });
    const inFlight = new Promise<H2Reply>((resolve, reject) => {
      let headers: IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      stream.on('response', (h) => (headers = h));
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => resolve({ status: Number(headers[':status']), headers, body: Buffer.concat(chunks) }));
      stream.on('error', reject);
    });
    await requestArrived;
    const startedAt = performance.now();
    const exitCode = own.stop('SIGTERM');
    await goaway;
    const reply = await inFlight;
    expect(reply.status).toBe(200);
    expect(reply.body.toString()).toBe('finished after 1s');
    expect(await exitCode).toBe(0);
    expect(performance.now() - startedAt).toBeLessThan(5_000);
  });
});
