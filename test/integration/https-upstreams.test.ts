// HTTPS upstreams (issue 17): real nginx backends with certificates made at start (self-signed, signed by a private
// CA, one requiring a client certificate, one for another name, one expired), each reached through a serversTransport
// configured right (it answers) and wrong (a 502 or the backend's refusal, with a log line naming what to fix).
// Also: keep-alive and TLS session reuse counted on nginx's side, retries and health checks over TLS, a websocket to
// a wss backend, an h2c backend, the insecureSkipVerify warning at start and reload, and a reload that fixes a transport.
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createH2Server, type Http2Server } from 'node:http2';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { startGatehouse, stopAllGatehouses, type GatehouseProcess } from '../helpers/gatehouse-process.js';
import { startNginxTls, type NginxTls } from '../helpers/nginx-tls.js';
import { httpRequest } from '../helpers/raw-http.js';
import { makeTestPki, writePair } from '../helpers/test-pki.js';

let gh: GatehouseProcess;
let nginx: NginxTls;
let dir: string;
let strictBackend: HttpsServer;
let wssBackend: HttpsServer;
let wss: WebSocketServer;
let h2c: Http2Server;
const h2cSeen: string[] = [];
let config: Record<string, unknown>;
let strictUrl: string;
let wssUrl: string;

const listen = async <T extends { listen(port: number, host: string, cb: () => void): unknown; address(): unknown }>(server: T): Promise<number> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-https-up-'));
  const pki = makeTestPki();
  const caFile = join(dir, 'lab-ca.pem');
  writeFileSync(caFile, pki.ca.cert);
  const selfSigned = pki.selfSigned({ cn: 'selfsigned.lab' });
  const selfSignedFile = writePair(dir, 'selfsigned', selfSigned).certFile;
  const client = writePair(dir, 'client', pki.clientCa.issue({ cn: 'gatehouse client', client: true }));
  const backendPair = pki.ca.issue({ cn: 'backend.lab' });
  nginx = await startNginxTls([
    { name: 'selfsigned', pair: selfSigned },
    { name: 'private', pair: backendPair },
    { name: 'mtls', pair: backendPair, clientCa: pki.clientCa.cert },
    { name: 'wrongname', pair: pki.ca.issue({ cn: 'other.lab' }) },
    { name: 'expired', pair: pki.ca.issue({ cn: 'backend.lab', days: -1 }) },
  ]);
  // Servers that refuse a missing client certificate in the TLS handshake itself (nginx answers 400 instead).
  strictBackend = createHttpsServer({ ...backendPair, requestCert: true, rejectUnauthorized: true, ca: pki.clientCa.cert }, (_req, res) => res.end('strict\n'));
  strictBackend.on('tlsClientError', () => {});
  const strictPort = await listen(strictBackend);
  strictUrl = `https://127.0.0.1:${strictPort}`;
  wssBackend = createHttpsServer(backendPair, (_req, res) => res.end('wss only\n'));
  wss = new WebSocketServer({ server: wssBackend });
  wss.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })));
  const wssPort = await listen(wssBackend);
  wssUrl = `https://127.0.0.1:${wssPort}`;
  h2c = createH2Server((req, res) => {
    h2cSeen.push(`${req.httpVersion} ${req.method} ${req.url}`);
    res.end('h2c\n');
  });
  const h2cPort = await listen(h2c);

  const lab = { rootCAs: [caFile], serverName: 'backend.lab' };
  const lb = (url: string, serversTransport?: string, extra: object = {}) => ({ loadBalancer: { servers: [{ url }], ...(serversTransport && { serversTransport }), ...extra } });
  const services: Record<string, object> = {
    selfsignedOk: lb(nginx.url('selfsigned'), 'selfsigned'),
    selfsignedBad: lb(nginx.url('selfsigned')),
    privateOk: lb(nginx.url('private'), 'lab'),
    privateBad: lb(nginx.url('private'), 'nameOnly'),
    mtlsOk: lb(nginx.url('mtls'), 'labClient'),
    mtlsBad: lb(nginx.url('mtls'), 'lab'),
    strictBad: lb(`https://127.0.0.1:${strictPort}`, 'lab'),
    strictOk: lb(`https://127.0.0.1:${strictPort}`, 'labClient'),
    wrongOk: lb(nginx.url('wrongname'), 'other'),
    wrongBad: lb(nginx.url('wrongname'), 'lab'),
    expired: lb(nginx.url('expired'), 'lab'),
    insecure: lb(nginx.url('selfsigned'), 'insecure'),
    noReuse: lb(nginx.url('private'), 'noReuse'),
    retried: { loadBalancer: { servers: [{ url: nginx.url('wrongname') }, { url: nginx.url('private') }], serversTransport: 'lab' } },
    checked: {
      loadBalancer: { servers: [{ url: nginx.url('wrongname') }, { url: nginx.url('private') }], serversTransport: 'lab', healthCheck: { path: '/', interval: '5s', timeout: '2s' } },
    },
    wss: lb(`https://127.0.0.1:${wssPort}`, 'lab'),
    wssBad: lb(`https://127.0.0.1:${wssPort}`, 'nameOnly'),
    h2c: lb(`h2c://127.0.0.1:${h2cPort}`, undefined, { healthCheck: { path: '/health', interval: '200ms', timeout: '2s' } }),
  };
  config = {
    admin: { address: '127.0.0.1:0' },
    entryPoints: { web: { address: '127.0.0.1:0' } },
    http: {
      serversTransports: {
        selfsigned: { rootCAs: [selfSignedFile], serverName: 'selfsigned.lab' },
        lab,
        nameOnly: { serverName: 'backend.lab' },
        labClient: { ...lab, certificates: [client] },
        other: { rootCAs: [caFile], serverName: 'other.lab' },
        insecure: { insecureSkipVerify: true },
        noReuse: { ...lab, maxIdleConnsPerHost: -1 },
      },
      routers: Object.fromEntries(Object.keys(services).map((name) => [name, { rule: `Host(\`${name.toLowerCase()}.test\`)`, service: name }])),
      services,
    },
  };
  gh = await startGatehouse(config);
}, 30_000);

afterAll(async () => {
  await stopAllGatehouses();
  await nginx?.stop();
  for (const c of wss?.clients ?? []) c.terminate();
  await Promise.all([strictBackend, wssBackend, h2c].map((s) => s && new Promise<void>((resolve) => s.close(() => resolve()))));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const get = (service: string, path = '/') => httpRequest(gh.ports['web']!, { host: `${service.toLowerCase()}.test`, path });

/** The `upstream failed` line of the request that just failed on `url` (the request's log names no service). */
const failure = (url: string) => gh.waitForLog((l) => l.msg === 'upstream failed' && l['upstream'] === url);

describe('each backend configured right answers through its transport', () => {
  it.each([
    ['self-signed, its certificate in rootCAs', 'selfsignedOk', /^selfsigned client= sni=selfsigned\.lab/],
    ['private CA in rootCAs, serverName', 'privateOk', /^private client= sni=backend\.lab/],
    ['client certificate required, sent', 'mtlsOk', /^mtls client=CN=gatehouse client sni=backend\.lab/],
    ['certificate for another name, serverName set to it', 'wrongOk', /^wrongname client= sni=other\.lab/],
    ['self-signed with insecureSkipVerify', 'insecure', /^selfsigned client= sni= /],
    ['handshake-level client certificate check, sent', 'strictOk', /^strict$/],
  ])('%s', async (_what, service, body) => {
    const res = await get(service);
    expect(res.status, res.text).toBe(200);
    expect(res.text.trim()).toMatch(body);
  });
});

describe('each backend configured wrong gives a 502 and a line that says what to fix', () => {
  it.each([
    ['self-signed, not trusted', 'selfsignedBad', 'selfsigned', /presented a certificate for 'selfsigned\.lab' that is self-signed, not trusted by the system's CAs; add that certificate to rootCAs \(or set insecureSkipVerify\) on a serversTransport .* named by service 'selfsignedBad'/],
    ['private CA not in rootCAs', 'privateBad', 'private', /presented a certificate for 'backend\.lab' signed by an unknown CA \('CN=gatehouse test lab CA'\), not trusted by the system's CAs; set rootCAs .* on transport 'nameOnly'/],
    ['certificate for another name', 'wrongBad', 'wrongname', /presented a certificate for 'other\.lab', not for 'backend\.lab'; fix serverName on transport 'lab'/],
    ['expired certificate', 'expired', 'expired', /presented a certificate for 'backend\.lab' that expired on .*; renew the server's certificate/],
    ['client certificate required in the handshake, none sent', 'strictBad', 'strict', /(requires|asked for) a client certificate.*none.*; set certificates \(certFile, keyFile\) on transport 'lab'/],
  ])('%s', async (_what, service, backend, reason) => {
    const res = await get(service);
    expect(res.status, res.text).toBe(502);
    const line = await failure(backend === 'strict' ? strictUrl : nginx.url(backend));
    expect(line['code']).toBe('UPSTREAM_TLS');
    expect(String(line['reason'])).toMatch(reason);
    expect(String(line['reason'])).toContain(`upstream https://127.0.0.1:`);
  });

  it('nginx asking for a client certificate it did not get answers 400, and a warn line says which transport lacks one', async () => {
    const res = await get('mtlsBad');
    expect(res.status).toBe(400);
    expect(res.text).toContain('No required SSL certificate was sent');
    const line = await gh.waitForLog((l) => l.msg === 'upstream asked for a client certificate' && l['service'] === 'mtlsBad');
    expect(String(line['reason'])).toMatch(/asked for a client certificate and none was sent; if it requires one, set certificates \(certFile, keyFile\) on transport 'lab'/);
  });
});

it('warns at start that insecureSkipVerify is on, naming the service and transport', () => {
  const lines = gh.logs.filter((l) => l.msg === 'upstream certificates not verified (insecureSkipVerify)');
  expect(lines.map((l) => [l['service'], l['transport']])).toEqual([['insecure', 'insecure']]);
});

describe('keep-alive and TLS sessions, counted on the backend', () => {
  it('reuses one kept-alive TLS connection for sequential requests', async () => {
    const before = (await nginx.hits()).length;
    for (let i = 0; i < 20; i++) expect((await get('privateOk')).status).toBe(200);
    const hits = (await nginx.hits()).slice(before).filter((h) => h.host === 'privateok.test');
    expect(hits).toHaveLength(20);
    expect(new Set(hits.map((h) => h.connection)).size).toBe(1);
  });

  it('resumes the TLS session on new connections (maxIdleConnsPerHost -1: a connection per request)', async () => {
    const before = (await nginx.hits()).length;
    for (let i = 0; i < 5; i++) expect((await get('noReuse')).status).toBe(200);
    const hits = (await nginx.hits()).slice(before).filter((h) => h.host === 'noreuse.test');
    expect(hits).toHaveLength(5);
    expect(new Set(hits.map((h) => h.connection)).size).toBe(5);
    // The first may be a full handshake; every later one resumes.
    expect(hits.slice(1).every((h) => h.resumed)).toBe(true);
  });

  it('counts the handshakes in the metrics: 30 requests on a kept-alive connection take none', async () => {
    const admin = Number((await gh.waitForLog((l) => l.msg === 'admin entry point listening'))['port']);
    const handshakes = async () => {
      const text = (await httpRequest(admin, { path: '/metrics' })).text;
      const count = (kind: string) => Number(new RegExp(`^gatehouse_upstream_tls_handshakes_total\\{kind="${kind}"\\} (\\d+)$`, 'm').exec(text)?.[1]);
      return { full: count('full'), resumed: count('resumed') };
    };
    const before = await handshakes();
    // The no-reuse test before this one resumed a session on each of its connections.
    expect(before.resumed).toBeGreaterThanOrEqual(4);
    for (let i = 0; i < 30; i++) expect((await get('privateOk')).status).toBe(200);
    const after = await handshakes();
    // At most one, should the kept-alive connection have been closed in between (health checks run every 5 s).
    expect(after.full + after.resumed - (before.full + before.resumed)).toBeLessThanOrEqual(1);
  });
});

it('the status shows each https:// and h2c:// service\'s transport (api and page)', async () => {
  const admin = Number((await gh.waitForLog((l) => l.msg === 'admin entry point listening'))['port']);
  const status = JSON.parse((await httpRequest(admin, { path: '/api/status' })).text) as { services: { name: string; transport?: string }[] };
  const transport = Object.fromEntries(status.services.map((s) => [s.name, s.transport]));
  expect(transport).toMatchObject({ privateOk: 'lab', selfsignedBad: 'built-in', insecure: 'insecure (insecure)', h2c: 'built-in' });
  expect((await httpRequest(admin, { path: '/' })).text).toContain('transport lab');
});

describe('load balancing, retries and health checks over TLS', () => {
  it('a server failing verification is retried on the next one, and the line says why', async () => {
    for (let i = 0; i < 4; i++) {
      const res = await get('retried');
      expect(res.status).toBe(200);
      expect(res.text).toMatch(/^private /);
    }
    const line = await gh.waitForLog((l) => l.msg === 'upstream failed, retrying' && l['upstream'] === nginx.url('wrongname'));
    expect(line['code']).toBe('UPSTREAM_TLS');
    expect(String(line['reason'])).toContain("not for 'backend.lab'");
  });

  it('a health check over https takes out the server whose certificate fails, with the reason', async () => {
    const line = await gh.waitForLog((l) => l.msg === 'upstream server taken out' && l['service'] === 'checked');
    expect(line['upstream']).toBe(nginx.url('wrongname'));
    expect(String(line['reason'])).toMatch(/presented a certificate for 'other\.lab', not for 'backend\.lab'/);
    for (let i = 0; i < 4; i++) expect((await get('checked')).text).toMatch(/^private /);
  });
});

it('a websocket reaches a wss backend through the transport', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${gh.ports['web']!}/chat`, { headers: { host: 'wss.test' }, handshakeTimeout: 5_000 });
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
      ws.once('error', reject);
    });
    const echoed = new Promise<string>((resolve) => ws.once('message', (d) => resolve(String(d))));
    ws.send('over wss');
    expect(await echoed).toBe('over wss');
  } finally {
    ws.terminate();
  }
});

it('a websocket to a wss backend whose certificate is not trusted gets a 502 and the line that says why', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${gh.ports['web']!}/chat`, { headers: { host: 'wssbad.test' }, handshakeTimeout: 5_000 });
  try {
    const status = await new Promise<number>((resolve, reject) => {
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('open', () => reject(new Error('upgraded through an untrusted certificate')));
      ws.once('error', reject);
    });
    expect(status).toBe(502);
    const line = await gh.waitForLog((l) => l.msg === 'upstream failed' && l['upstream'] === wssUrl);
    expect(line['code']).toBe('UPSTREAM_TLS');
    expect(String(line['reason'])).toMatch(/presented a certificate for 'backend\.lab' signed by an unknown CA/);
  } finally {
    ws.terminate();
  }
});

it('an h2c:// backend is spoken to in HTTP/2, and its health check too', async () => {
  const res = await get('h2c', '/grpc.Service/Call');
  expect(res.status).toBe(200);
  expect(res.text).toBe('h2c\n');
  expect(h2cSeen).toContain('2.0 GET /grpc.Service/Call');
  const deadline = Date.now() + 5_000;
  while (!h2cSeen.includes('2.0 GET /health') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(h2cSeen).toContain('2.0 GET /health');
});

it('a reload that adds rootCAs fixes the service, and warns about insecureSkipVerify again', async () => {
  const http = config['http'] as { serversTransports: Record<string, object> };
  http.serversTransports['nameOnly'] = http.serversTransports['lab']!;
  writeFileSync(gh.file, JSON.stringify(config));
  const warnings = () => gh.logs.filter((l) => l.msg === 'upstream certificates not verified (insecureSkipVerify)').length;
  gh.signal('SIGHUP');
  await gh.waitForLog((l) => l.msg === 'config reloaded' || l.msg === 'config reloaded with problems');
  expect(warnings()).toBe(2);
  const res = await get('privateBad');
  expect(res.status, res.text).toBe(200);
  expect(res.text).toMatch(/^private /);
});
