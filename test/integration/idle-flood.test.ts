// An idle flood (issue 20, row 4): thousands of TCP connections that never send a byte. Each is closed at its
// entry point's deadline without an answer (no 408: there is no request) and without a log line of its own, the
// closes are summed up in one line, and they are spread out, so legitimate requests served meanwhile are not held
// up behind one pass that closes them all. On plain HTTP (the headers timeout) and on a TLS entry point (a connection
// that sends no ClientHello, clientHelloTimeout).
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, get as httpGet } from 'node:http';
import { Agent as HttpsAgent, get as httpsGet } from 'node:https';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, stopAllGatehouses, type GatehouseProcess } from '../helpers/gatehouse-process.js';

const certs = fileURLToPath(new URL('../fixtures/certs/', import.meta.url));
const ca = readFileSync(`${certs}ca.pem`);

/** Idle connections per flood: enough that one synchronous pass over them stalls the event loop visibly. */
const IDLE_HTTP = 2000;
const IDLE_TLS = 1000;
/**
 * The slowest legitimate request allowed while a flood is being closed: a bound against a stall, loose enough for a
 * loaded CI machine (at load 20 on 2 cores, closing 2000 connections in one pass with a 408 and a log line each held
 * a request 517 ms; spread out, the slowest was 57–239 ms, the machine's own noise). That the closing is spread is
 * shown exactly by first-byte-gate.test.ts.
 */
const MAX_LATENCY_MS = 500;

let gh: GatehouseProcess;

beforeAll(async () => {
  gh = await startGatehouse({
    entryPoints: {
      web: { address: '127.0.0.1:0', timeouts: { headers: '1s' } },
      websecure: { address: '127.0.0.1:0', tls: { clientHelloTimeout: '1s' } },
    },
    tls: { certificates: [{ certFile: `${certs}left-fullchain.pem`, keyFile: `${certs}left-key.pem` }] },
    http: {
      routers: {
        plain: { rule: 'PathPrefix(`/`)', respond: { status: 200, body: 'ok' } },
        secure: { rule: 'PathPrefix(`/`)', respond: { status: 200, body: 'ok' }, tls: {} },
      },
    },
  });
});
afterAll(stopAllGatehouses);

interface Idle {
  socket: Socket;
  bytes: number;
  closedAt: number | undefined;
}

/** Open `n` connections that send nothing; resolves once all are connected (bounded), recording what each receives. */
async function openIdle(port: number, n: number): Promise<Idle[]> {
  const idle: Idle[] = [];
  for (let i = 0; i < n; i += 200) {
    const batch = Array.from({ length: Math.min(200, n - i) }, () => {
      const entry: Idle = { socket: connect(port, '127.0.0.1'), bytes: 0, closedAt: undefined };
      entry.socket.on('data', (d: Buffer) => (entry.bytes += d.length));
      entry.socket.on('error', () => undefined);
      entry.socket.on('close', () => (entry.closedAt ??= performance.now()));
      idle.push(entry);
      return new Promise<void>((resolve, reject) => {
        entry.socket.once('connect', () => resolve());
        entry.socket.once('close', () => reject(new Error('an idle connection closed before it connected')));
      });
    });
    await Promise.all(batch);
  }
  return idle;
}

/**
 * Legitimate requests, one after the other on one keep-alive connection, until `done()` holds (bounded by
 * `boundMs`): the latency of each.
 */
async function probe(get: () => Promise<void>, done: () => boolean, boundMs: number): Promise<number[]> {
  const latencies: number[] = [];
  const deadline = performance.now() + boundMs;
  while (!done() && performance.now() < deadline) {
    const start = performance.now();
    await get();
    latencies.push(performance.now() - start);
  }
  return latencies;
}

function getter(url: string, tls: boolean): { get: () => Promise<void>; close: () => void } {
  const agent = tls ? new HttpsAgent({ keepAlive: true, maxSockets: 1, ca, servername: 'left.example' }) : new HttpAgent({ keepAlive: true, maxSockets: 1 });
  const request = tls ? httpsGet : httpGet;
  const get = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(url, { agent, timeout: 5_000 }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
      });
      req.on('timeout', () => req.destroy(new Error('no answer in 5 s')));
      req.on('error', reject);
    });
  return { get, close: () => agent.destroy() };
}

describe.each([
  { entryPoint: 'web', tls: false, n: IDLE_HTTP },
  { entryPoint: 'websecure', tls: true, n: IDLE_TLS },
])('an idle flood on $entryPoint', ({ entryPoint, tls, n }) => {
  it(`closes ${n} silent connections at the deadline, silently, in one summary line, without stalling others`, async () => {
    const port = gh.ports[entryPoint]!;
    const client = getter(`${tls ? 'https' : 'http'}://127.0.0.1:${port}/`, tls);
    try {
      await client.get();
      const opened = performance.now();
      const idle = await openIdle(port, n);
      const latencies = await probe(client.get, () => idle.every((c) => c.closedAt !== undefined), 8_000);
      const open = idle.filter((c) => c.closedAt === undefined).length;
      expect(open, `${open} of ${n} idle connections still open 8 s after the 1 s deadline`).toBe(0);
      const firstClose = Math.min(...idle.map((c) => c.closedAt!)) - opened;
      expect(firstClose, 'closed before the 1 s deadline').toBeGreaterThanOrEqual(900);
      // Nothing is written to a connection that never sent a request: no 408, no alert.
      expect(idle.filter((c) => c.bytes > 0).length).toBe(0);
      const slowest = Math.max(...latencies);
      expect(slowest, `slowest of ${latencies.length} requests while the flood was closed`).toBeLessThan(MAX_LATENCY_MS);
      // A summary line counts them (the closes of its first second: a flood opened more slowly than that on a loaded
      // machine is summed up in more lines, at most one per 10 s), and no line is written per connection.
      const summary = await gh.waitForLog((l) => l.msg === 'connections closed before sending anything' && l['entryPoint'] === entryPoint, 4_000);
      expect(summary['connections']).toBeGreaterThan(n / 4);
      expect(summary['connections']).toBeLessThanOrEqual(n);
      expect(summary['waitedMs']).toBe(1_000);
      expect(gh.logs.filter((l) => l.msg === 'connections closed before sending anything' && l['entryPoint'] === entryPoint)).toHaveLength(1);
      expect(gh.logs.filter((l) => l.msg === 'client error' && l['entryPoint'] === entryPoint)).toEqual([]);
    } finally {
      client.close();
    }
  });
});
