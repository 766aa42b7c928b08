// A backend that writes its response in pieces (issue 20, row 7): its head with the first bytes of the body, then
// more a moment later, then the end. The client-facing socket must send each piece as it is written: with Nagle's
// algorithm on, a small piece written while the previous one is unacknowledged waits for the client's delayed ACK,
// which a keep-alive client sends only after ~40 ms on Linux. Requests on one keep-alive connection, through the
// plain and the TLS entry point, must each take a few milliseconds, not 40.
// (The upstream side of the same stall, a backend with Nagle on writing its head and body apart, is the backend's
// to fix: docs/hostile.md.)
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, get as httpGet, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, get as httpsGet } from 'node:https';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, stopAllGatehouses, type GatehouseProcess } from '../helpers/gatehouse-process.js';
import { startHttpUpstream, type HttpUpstream } from '../helpers/upstreams.js';

const certs = fileURLToPath(new URL('../fixtures/certs/', import.meta.url));
const ca = readFileSync(`${certs}ca.pem`);
const REQUESTS = 30;
/**
 * A delayed ACK holds a request up at least 40 ms (Linux's minimum), every request of a keep-alive connection past
 * its first few. A loaded machine slows some requests down at random but cannot speed a stalled one up, so the
 * lower quartile is what tells: under 30 ms, where every stalled request is over 40.
 */
const MAX_LOWER_QUARTILE_MS = 30;

let backend: HttpUpstream;
let gh: GatehouseProcess;

beforeAll(async () => {
  backend = await startHttpUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('a'.repeat(100));
    setTimeout(() => {
      res.write('b'.repeat(100));
      res.end();
    }, 1);
  });
  gh = await startGatehouse({
    entryPoints: { web: { address: '127.0.0.1:0' }, websecure: { address: '127.0.0.1:0', tls: {} } },
    tls: { certificates: [{ certFile: `${certs}left-fullchain.pem`, keyFile: `${certs}left-key.pem` }] },
    http: {
      routers: {
        plain: { rule: 'PathPrefix(`/`)', service: 'split' },
        secure: { rule: 'PathPrefix(`/`)', service: 'split', tls: {} },
      },
      services: { split: { loadBalancer: { servers: [{ url: backend.url }] } } },
    },
  });
});
afterAll(async () => {
  await stopAllGatehouses();
  await backend.close();
});

describe.each([
  { entryPoint: 'web', tls: false },
  { entryPoint: 'websecure', tls: true },
])('a response written in pieces, through $entryPoint', ({ entryPoint, tls }) => {
  it(`takes milliseconds per request on a keep-alive connection, not a delayed ACK (lower quartile of ${REQUESTS})`, async () => {
    const agent = tls ? new HttpsAgent({ keepAlive: true, maxSockets: 1, ca, servername: 'left.example' }) : new HttpAgent({ keepAlive: true, maxSockets: 1 });
    const get = tls ? httpsGet : httpGet;
    const url = `${tls ? 'https' : 'http'}://127.0.0.1:${gh.ports[entryPoint]}/`;
    const one = () =>
      new Promise<number>((resolve, reject) => {
        const start = performance.now();
        const req = get(url, { agent, timeout: 5_000 }, (res: IncomingMessage) => {
          let body = '';
          res.setEncoding('latin1');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => (body.length === 200 ? resolve(performance.now() - start) : reject(new Error(`${res.statusCode}: ${body.length} bytes`))));
        });
        req.on('timeout', () => req.destroy(new Error('no answer in 5 s')));
        req.on('error', reject);
      });
    try {
      await one(); // the connection, and its TLS handshake, outside the figures
      const ms: number[] = [];
      for (let i = 0; i < REQUESTS; i++) ms.push(await one());
      ms.sort((a, b) => a - b);
      const quartile = ms[Math.floor(ms.length / 4)]!;
      expect(quartile, `per request (ms): ${ms.map((x) => x.toFixed(1)).join(' ')}`).toBeLessThan(MAX_LOWER_QUARTILE_MS);
    } finally {
      agent.destroy();
    }
  });
});
