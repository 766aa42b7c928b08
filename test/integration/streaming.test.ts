// Bodies are streamed both ways: 10 MiB arrive intact (same SHA-256), and the proxy passes the first bytes on
// before the sender has finished, which shows it does not buffer whole bodies.
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, stopAllGatehouses, type GatehouseProcess } from '../helpers/gatehouse-process.js';
import { closeAllUpstreams, startHttpUpstream, type HttpUpstream } from '../helpers/upstreams.js';

const MiB = 1024 * 1024;
const TOTAL = 10 * MiB;
const CHUNK = 256 * 1024;
/** Deterministic-enough payload: random chunks, hashed as they are produced. */
const chunks = Array.from({ length: TOTAL / CHUNK }, () => randomBytes(CHUNK));
const payloadSha = chunks.reduce((h, c) => h.update(c), createHash('sha256')).digest('hex');

/** A one-shot signal between the client and upstream halves of a test, which share this process. */
function signal(): { fire(): void; wait(ms: number): Promise<boolean>; fired(): boolean } {
  let fired = false;
  let wake: () => void = () => {};
  const p = new Promise<void>((r) => (wake = r));
  return {
    fire: () => {
      fired = true;
      wake();
    },
    wait: (ms) => Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]),
    fired: () => fired,
  };
}

let gh: GatehouseProcess;
let sink: HttpUpstream;
let source: HttpUpstream;
/** Set by the upload test: fires when the upstream has received its first body bytes. */
let uploadStarted = signal();
/** Set by the download test: fires when the client has received its first body bytes. */
let downloadStarted = signal();
let downloadSawClientFirst = false;

beforeAll(async () => {
  sink = await startHttpUpstream((req, res) => {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      if (bytes === 0) uploadStarted.fire();
      bytes += c.length;
      hash.update(c);
    });
    req.on('end', () => {
      const body = JSON.stringify({ bytes, sha256: hash.digest('hex') });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  source = await startHttpUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': TOTAL });
    void (async () => {
      res.write(chunks[0]!);
      // Hold the rest back until the client has seen the start: a proxy that buffers would stall here.
      downloadSawClientFirst = await downloadStarted.wait(5_000);
      for (const c of chunks.slice(1)) {
        if (!res.write(c)) await new Promise((r) => res.once('drain', r));
      }
      res.end();
    })();
  });
  gh = await startGatehouse({
    entryPoints: { web: { address: '127.0.0.1:0' } },
    http: {
      routers: {
        up: { rule: 'Host(`up.test`)', service: 'sink' },
        down: { rule: 'Host(`down.test`)', service: 'source' },
      },
      services: {
        sink: { loadBalancer: { servers: [{ url: sink.url }] } },
        source: { loadBalancer: { servers: [{ url: source.url }] } },
      },
    },
  });
});
afterAll(async () => {
  await stopAllGatehouses();
  await closeAllUpstreams();
});

describe('streaming bodies through the proxy', () => {
  it('uploads 10 MiB intact, and the upstream receives data before the client has sent it all', async () => {
    uploadStarted = signal();
    let upstreamFirstBeforeClientDone = false;
    async function* body(): AsyncGenerator<Buffer> {
      yield* chunks.slice(0, 4);
      // Stop sending until the upstream has bytes in hand; bounded so a buffering proxy fails instead of hanging.
      upstreamFirstBeforeClientDone = await uploadStarted.wait(5_000);
      yield* chunks.slice(4);
    }
    const reply = await new Promise<string>((resolve, reject) => {
      const req = request({
        host: '127.0.0.1',
        port: gh.ports['web']!,
        method: 'POST',
        path: '/upload',
        headers: { host: 'up.test', 'content-type': 'application/octet-stream' },
        agent: false,
      });
      const timer = setTimeout(() => req.destroy(new Error('upload did not finish within 20 s')), 20_000);
      req.on('error', (e) => (clearTimeout(timer), reject(e)));
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => (clearTimeout(timer), resolve(`${res.statusCode} ${text}`)));
      });
      Readable.from(body()).pipe(req);
    });
    expect(reply).toBe(`200 ${JSON.stringify({ bytes: TOTAL, sha256: payloadSha })}`);
    expect(upstreamFirstBeforeClientDone).toBe(true);
  });

  it('downloads 10 MiB intact, and the client receives data before the upstream has sent it all', async () => {
    downloadStarted = signal();
    const result = await new Promise<{ status: number; bytes: number; sha256: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: gh.ports['web']!, path: '/download', headers: { host: 'down.test' }, agent: false });
      const timer = setTimeout(() => req.destroy(new Error('download did not finish within 20 s')), 20_000);
      req.on('error', (e) => (clearTimeout(timer), reject(e)));
      req.on('response', (res) => {
        const hash = createHash('sha256');
        let bytes = 0;
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          hash.update(c);
          downloadStarted.fire();
        });
        res.on('error', (e) => (clearTimeout(timer), reject(e)));
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, bytes, sha256: hash.digest('hex') });
        });
      });
      req.end();
    });
    expect(result).toEqual({ status: 200, bytes: TOTAL, sha256: payloadSha });
    expect(downloadSawClientFirst).toBe(true);
  });
});
