/**
 * What an operator reads in the log (issue 19), from the lines of a real gatehouse process: the drain line on
 * SIGTERM with what it waits for, one line per passthrough connection when it closes, the pretty format, and a
 * log file reopened on SIGUSR1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { MAIN_JS, startGatehouse, stopAllGatehouses, writeConfigFile } from '../helpers/gatehouse-process.js';
import { parseLogLine, type LogLine } from '../helpers/log-lines.js';
import { NOTSENT_LOWAT_REPORTED_ABOVE } from '../../src/edge/host-tuning.js';
import { httpRequest } from '../helpers/raw-http.js';
import { BACKEND_CA, closeAllTlsBackends, startTlsBackend, type TlsBackend } from '../helpers/tls-backend.js';
import { closeAllUpstreams, startHttpUpstream, startWsEchoUpstream } from '../helpers/upstreams.js';

let stateDir: string;
beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'gatehouse-logs-'));
});
const children = new Set<ChildProcess>();
afterEach(async () => {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
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

/** `gatehouse start` on `config`, stdout kept as text (the harness reads JSON lines on stdout; these tests do not). */
async function spawnGatehouse(config: object): Promise<{ child: ChildProcess; stdout: () => string; exited: Promise<number | null> }> {
  const file = await writeConfigFile(config);
  const child = spawn(process.execPath, [MAIN_JS, 'start', '--config', file], { env: { ...process.env, GATEHOUSE_STATE_DIR: stateDir }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.resume();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => (children.delete(child), resolve(code))));
  return { child, stdout: () => out, exited };
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function fileLines(path: string): Promise<LogLine[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.split('\n').filter((l) => l !== '').map(parseLogLine);
}

describe('log.format: pretty', () => {
  it('prints time, level, message and key=value fields, the access line included', async () => {
    const up = await startHttpUpstream((_req, res) => res.end('ok'));
    const gh = await spawnGatehouse({
      log: { format: 'pretty' },
      entryPoints: { web: { address: '127.0.0.1:0' } },
      http: { routers: { r: { rule: 'Host(`a.test`)', service: 's' } }, services: { s: { loadBalancer: { servers: [{ url: up.url }] } } } },
    });
    const port = Number(await until('the listening line', () => /entry point listening entryPoint=web .*port=(\d+)/.exec(gh.stdout())?.[1]));
    await until('started', () => (gh.stdout().includes(' gatehouse started') ? true : undefined));
    expect((await httpRequest(port, { host: 'a.test', path: '/x?y=1' })).status).toBe(200);
    const line = await until('the request line', () => gh.stdout().split('\n').find((l) => / INFO  request /.test(l)));
    expect(line).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  request entryPoint=web method=GET host=a\.test path=\/x .*status=200 /);
    // No JSON on stdout.
    expect(gh.stdout().split('\n').filter((l) => l.startsWith('{'))).toEqual([]);
    gh.child.kill('SIGTERM');
    expect(await gh.exited).toBe(0);
    expect(gh.stdout()).toMatch(/ INFO  draining requests=0 websockets=0 passthrough=0 graceMs=\d+\n/);
  });
});

describe('the default format', () => {
  it('is pretty (coloured) when stdout is a terminal, JSON when it is a pipe', async () => {
    const file = await writeConfigFile({ entryPoints: { web: { address: '127.0.0.1:0' } } });
    // script(1) gives the process a pseudo-terminal as stdout; timeout(1) ends it with SIGTERM.
    const command = `timeout -s TERM 3 ${process.execPath} ${MAIN_JS} start --config ${file}`;
    const tty = await new Promise<string>((resolve) => {
      const child = spawn('script', ['-qec', command, '/dev/null'], { env: { ...process.env, GATEHOUSE_STATE_DIR: stateDir, NO_COLOR: '' }, stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
      child.once('close', () => resolve(out));
    });
    expect(tty).toMatch(/\d\d:\d\d:\d\d\.\d{3} \x1b\[32mINFO \x1b\[0m gatehouse started/);
    expect(tty).toMatch(/\x1b\[32mINFO \x1b\[0m gatehouse stopped/);
    expect(tty).not.toMatch(/\{"level"/);

    const gh = await startGatehouse({ entryPoints: { web: { address: '127.0.0.1:0' } } }, { env: { GATEHOUSE_STATE_DIR: stateDir } });
    expect(gh.logs.find((l) => l.msg === 'gatehouse started')).toMatchObject({ level: 'info', name: 'gatehouse' });
    expect(gh.logs.filter((l) => l.raw)).toEqual([]);
  });
});

describe('log.file', () => {
  it('writes JSON lines to the file (0640), not stdout; SIGUSR1 reopens it after a rename, losing no line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-logfile-'));
    try {
      const up = await startHttpUpstream((_req, res) => res.end('ok'));
      const path = join(dir, 'log', 'gatehouse.log');
      const gh = await spawnGatehouse({
        log: { file: path },
        entryPoints: { web: { address: '127.0.0.1:0' } },
        http: { routers: { r: { rule: 'Host(`a.test`)', service: 's' } }, services: { s: { loadBalancer: { servers: [{ url: up.url }] } } } },
      });
      const listening = await until('the listening line', async () => (await fileLines(path)).find((l) => l.msg === 'entry point listening'));
      await until('started', async () => ((await fileLines(path)).some((l) => l.msg === 'gatehouse started') ? true : undefined));
      expect((await stat(path)).mode & 0o777).toBe(0o640);
      const port = listening['port'] as number;
      expect((await httpRequest(port, { host: 'a.test', path: '/before' })).status).toBe(200);
      await until('the first request line', async () => ((await fileLines(path)).some((l) => l.msg === 'request') ? true : undefined));

      // logrotate: rename, then `kill -USR1`; lines go on to the renamed file until the reopen.
      await rename(path, `${path}.1`);
      expect((await httpRequest(port, { host: 'a.test', path: '/during' })).status).toBe(200);
      gh.child.kill('SIGUSR1');
      await until('the reopened line', async () => ((await fileLines(path)).some((l) => l.msg === 'log file reopened') ? true : undefined));
      expect((await httpRequest(port, { host: 'a.test', path: '/after' })).status).toBe(200);
      await until('the last request line', async () => ((await fileLines(path)).some((l) => l['path'] === '/after') ? true : undefined));

      gh.child.kill('SIGTERM');
      expect(await gh.exited).toBe(0);
      const rotated = await fileLines(`${path}.1`);
      const current = await fileLines(path);
      expect(rotated.filter((l) => l.msg === 'request').map((l) => l['path'])).toEqual(['/before', '/during']);
      expect(current.filter((l) => l.msg === 'request').map((l) => l['path'])).toEqual(['/after']);
      expect(current.find((l) => l.msg === 'log file reopened')).toMatchObject({ level: 'info', files: [path] });
      expect(current.some((l) => l.msg === 'gatehouse stopped')).toBe(true);
      expect([...rotated, ...current].filter((l) => l.raw)).toEqual([]);
      expect(gh.stdout()).toBe('');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** One HTTPS request to the TLS entry point (gatehouse's own default certificate), with a browser's headers. */
function httpsGet(port: number, host: string, path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, servername: host, headers: { host, ...headers }, rejectUnauthorized: false, agent: false }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', reject);
    req.end();
  });
}

describe('the access line', () => {
  const site = (up: string, accessLog: unknown) => ({
    log: { accessLog },
    entryPoints: { websecure: { address: '127.0.0.1:0', tls: {} } },
    http: { routers: { site: { rule: 'Host(`site.test`)', service: 'backend' } }, services: { backend: { loadBalancer: { servers: [{ url: up }] } } } },
  });

  it('carries the query, user agent, referer, TLS version and cipher, router and service', async () => {
    const up = await startHttpUpstream((_req, res) => res.end('ok'));
    const gh = await startGatehouse(site(up.url, true), { env: { GATEHOUSE_STATE_DIR: stateDir } });
    const status = await httpsGet(gh.ports['websecure']!, 'site.test', '/search?q=gate&page=2', { 'user-agent': 'Mozilla/5.0 (test)', referer: 'https://site.test/' });
    expect(status).toBe(200);
    const line = await gh.waitForLog((l) => l.msg === 'request');
    expect(line).toMatchObject({
      entryPoint: 'websecure',
      method: 'GET',
      host: 'site.test',
      path: '/search',
      query: 'q=gate&page=2',
      status: 200,
      router: 'site',
      service: 'backend',
      upstream: up.url,
      clientIp: '127.0.0.1',
      userAgent: 'Mozilla/5.0 (test)',
      referer: 'https://site.test/',
      tlsVersion: 'TLSv1.3',
      upstreamStatus: 200,
    });
    expect(line['tlsCipher']).toMatch(/^TLS_/);
    expect(line['upstreamMs']).toBeGreaterThan(0);
    expect(line['upstreamMs']).toBeLessThanOrEqual(line['durationMs'] as number);
  });

  it('format common writes Traefik CLF lines; fields.drop and headers.redact shape the JSON line', async () => {
    const up = await startHttpUpstream((_req, res) => res.end('ok'));
    const clf = await startGatehouse(site(up.url, { format: 'common' }), { env: { GATEHOUSE_STATE_DIR: stateDir } });
    expect(await httpsGet(clf.ports['websecure']!, 'site.test', '/x?y=1', { 'user-agent': 'curl/8.5.0' })).toBe(200);
    const raw = await clf.waitForLog((l) => l.raw === true && /HTTP\/1\.1"/.test(String(l.msg)));
    expect(raw.msg).toMatch(/^127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET \/x\?y=1 HTTP\/1\.1" 200 2 "-" "curl\/8\.5\.0" 1 "site" "http:\/\/127\.0\.0\.1:\d+" \d+ms$/);

    const shaped = await startGatehouse(site(up.url, { fields: { drop: ['query', 'clientIp'] }, headers: { redact: ['User-Agent'] } }), { env: { GATEHOUSE_STATE_DIR: stateDir } });
    expect(await httpsGet(shaped.ports['websecure']!, 'site.test', '/x?token=secret', { 'user-agent': 'curl/8.5.0' })).toBe(200);
    const line = await shaped.waitForLog((l) => l.msg === 'request');
    expect(line).toMatchObject({ path: '/x', userAgent: '[redacted]', router: 'site' });
    expect(line).not.toHaveProperty('query');
    expect(line).not.toHaveProperty('clientIp');
    expect(JSON.stringify(shaped.logs)).not.toContain('secret');
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

describe('host settings at start', () => {
  it("warns once (the primary, not each worker) when the kernel lets slow readers queue megabytes, naming the fix", async () => {
    // Whatever this machine's value is, the process must say what it calls for: Linux's default is unlimited.
    const value = Number(readFileSync('/proc/sys/net/ipv4/tcp_notsent_lowat', 'utf8'));
    const gh = await startGatehouse({ workers: 2, entryPoints: { web: { address: '127.0.0.1:0' } } }, { env: { GATEHOUSE_STATE_DIR: stateDir } });
    const started = gh.logs.findIndex((l) => l.msg === 'gatehouse started');
    const warnings = gh.logs.filter((l) => l['code'] === 'HOST_TUNING');
    if (value > NOTSENT_LOWAT_REPORTED_ABOVE) {
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ level: 'warn', setting: 'net.ipv4.tcp_notsent_lowat', recommended: '131072' });
      expect(String(warnings[0]!['fix'])).toContain('sysctl -w net.ipv4.tcp_notsent_lowat=131072');
      expect(gh.logs.indexOf(warnings[0]!)).toBeLessThan(started);
    } else {
      expect(warnings).toEqual([]);
    }
    expect(await gh.stop('SIGTERM')).toBe(0);
  });
});
