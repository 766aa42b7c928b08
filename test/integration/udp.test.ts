/**
 * UDP entry points (issue 17) against real DNS software: dnsmasq (Debian's dnsmasq-base) started here on loopback as
 * the servers, `dig` and DNS clients of our own (dns-packet, one socket each) asking through gatehouse in-process.
 * Sessions are read from the admin's /api/status, as an operator would. Each dnsmasq answers `c<i>.udp.test` with
 * an address of its own (10.<tag>.x.y), so every answer says which server it came from and for whom it was.
 */
import { execFile } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import * as dnsPacket from 'dns-packet';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createGatehouse, type Gatehouse } from '../../src/api.js';
import { rcodeOf } from '../../src/acme/dns/query.js';
import { createLogger } from '../../src/log.js';
import { startDnsmasq, type Dnsmasq } from '../helpers/dnsmasq.js';
import { httpRequest } from '../helpers/raw-http.js';

let a: Dnsmasq;
let b: Dnsmasq;
beforeAll(async () => {
  [a, b] = await Promise.all([startDnsmasq(1), startDnsmasq(2)]);
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

let running: { gh: Gatehouse; dir: string } | undefined;
const clients = new Set<Socket>();
afterEach(async () => {
  for (const c of clients) c.close();
  clients.clear();
  await running?.gh.stop({ graceMs: 0 });
  if (running) await rm(running.dir, { recursive: true, force: true });
  running = undefined;
});

/** A logger whose JSON lines the test reads back. */
function memoryLogger() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, logger: createLogger({ level: 'info', destination }) };
}

/** A config: entry point `dns` on loopback (port 0) forwarding to `servers`, and the admin on loopback. */
function config(servers: readonly Dnsmasq[], udp: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    entryPoints: { dns: { address: '127.0.0.1:0/udp', udp } },
    udp: {
      routers: { dns: { service: 'resolvers' } },
      services: { resolvers: { loadBalancer: { servers: servers.map((s) => ({ address: `127.0.0.1:${s.port}` })) } } },
    },
    admin: { address: '127.0.0.1:0' },
    ...extra,
  };
}

/** Start a gatehouse from a config file (reloadable); returns it, its UDP port and its admin port. */
async function start(cfg: Record<string, unknown>) {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-udp-'));
  const file = join(dir, 'config.json');
  await writeFile(file, JSON.stringify({ ...cfg, stateDir: join(dir, 'state'), lifecycle: { watch: false } }));
  const { lines, logger } = memoryLogger();
  const gh = createGatehouse({ config: file, logger, env: {} });
  await gh.start();
  running = { gh, dir };
  const reload = async (next: Record<string, unknown>) => {
    await writeFile(file, JSON.stringify({ ...next, stateDir: join(dir, 'state'), lifecycle: { watch: false } }));
    return gh.reload();
  };
  return { gh, port: gh.addresses()['dns']!.port, admin: gh.status().admin!.port, lines, reload };
}

interface EntryStatus {
  name: string;
  protocol: string;
  connections: number;
  udp?: { sessionsOpened: number; datagramsIn: number; datagramsOut: number; droppedSessionLimit: number; droppedNoRoute: number };
}
async function entryStatus(admin: number, name = 'dns'): Promise<EntryStatus> {
  const status = JSON.parse((await httpRequest(admin, { path: '/api/status' })).text) as { entryPoints: EntryStatus[] };
  return status.entryPoints.find((e) => e.name === name)!;
}

/** Polls `read` until `ok`; bounded. */
async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A UDP client socket of its own (its own source port: its own session). */
async function client(): Promise<Socket> {
  const s = createSocket('udp4');
  clients.add(s);
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
  return s;
}

/** Asks `c<i>.udp.test` A from `socket` to gatehouse's `port`; resolves with the answer's address, rejects on timeout. */
function ask(socket: Socket, port: number, i: number, timeoutMs = 2000): Promise<string> {
  const id = (i * 7919 + socket.address().port) & 0xffff;
  const message = dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: `c${i}.udp.test` }] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off('message', onMessage);
      reject(new Error(`no answer for c${i}.udp.test within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (msg: Buffer) => {
      const p = dnsPacket.decode(msg);
      if (p.id !== id) return;
      clearTimeout(timer);
      socket.off('message', onMessage);
      const answer = (p.answers ?? []).find((x) => x.type === 'A');
      resolve(answer?.type === 'A' ? answer.data : `rcode ${rcodeOf(p)}`);
    };
    socket.on('message', onMessage);
    socket.send(message, port, '127.0.0.1');
  });
}

/** Whether a UDP socket can bind 127.0.0.1:port now (closed again at once). */
function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** `dig +short` through gatehouse. */
function dig(port: number, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('dig', ['@127.0.0.1', '-p', String(port), '+short', '+tries=1', '+time=2', name, 'A'], { timeout: 5000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`dig failed: ${err.message} ${stderr}`)) : resolve(stdout.trim()),
    );
  });
}

describe('UDP entry points with dnsmasq', () => {
  it('dig through gatehouse gets the resolver answer, and the session ends after the idle timeout', async () => {
    const gh = await start(config([a], { timeout: '300ms' }));
    expect(await dig(gh.port, 'c5.udp.test')).toBe(a.answerFor(5));
    const open = await entryStatus(gh.admin);
    expect(open.protocol).toBe('udp');
    expect(open.connections).toBe(1);
    expect(open.udp).toMatchObject({ sessionsOpened: 1, datagramsIn: 1, datagramsOut: 1 });
    // The status page has a UDP section: the entry point's sessions and counters, the router with its servers.
    const page = (await httpRequest(gh.admin, { path: '/' })).text;
    expect(page).toContain('<h2>UDP</h2>');
    expect(page).toMatch(/<td data-label="entry point">dns<\/td><td data-label="open sessions">1<\/td><td data-label="datagrams in \/ out">1 \/ 1<\/td>/);
    expect(page).toContain(`127.0.0.1:${a.port}`);
    // One sweep a tenth of the timeout: gone within 1.1 timeouts of the answer, never before the timeout.
    const t0 = Date.now();
    const idle = await until(() => entryStatus(gh.admin), (e) => e.connections === 0, 3000);
    expect(idle.connections).toBe(0);
    expect(Date.now() - t0).toBeLessThan(2000);
    // The next query opens a new session.
    expect(await dig(gh.port, 'c6.udp.test')).toBe(a.answerFor(6));
    expect((await entryStatus(gh.admin)).udp?.sessionsOpened).toBe(2);
  });

  it('many concurrent clients each get their own answers, sessions round robin over two servers', async () => {
    const gh = await start(config([a, b]));
    const n = 200;
    const sockets = await Promise.all(Array.from({ length: n }, () => client()));
    const answers = await Promise.all(sockets.map((s, i) => ask(s, gh.port, i)));
    // Each client its own name's address, from one of the two servers; the sessions spread evenly over both.
    for (const [i, got] of answers.entries()) expect([a.answerFor(i), b.answerFor(i)]).toContain(got);
    const fromA = answers.filter((got, i) => got === a.answerFor(i)).length;
    expect(fromA).toBe(n / 2);
    // Real client software too: dig processes in parallel, each with its own name.
    const digs = await Promise.all(Array.from({ length: 8 }, (_, i) => dig(gh.port, `c${500 + i}.udp.test`)));
    for (const [i, got] of digs.entries()) expect([a.answerFor(500 + i), b.answerFor(500 + i)]).toContain(got);
    // A session keeps its server: a client asking again is answered by the same one.
    const again = await Promise.all(sockets.slice(0, 20).map((s, i) => ask(s, gh.port, i + 700)));
    for (const [i, got] of again.entries()) {
      const first = answers[i] === a.answerFor(i) ? a : b;
      expect(got).toBe(first.answerFor(i + 700));
    }
    const st = await entryStatus(gh.admin);
    expect(st.connections).toBe(n + 8);
  });

  it('a flood of one-datagram sessions stops at maxSessions: drops counted, one log line, memory bounded', async () => {
    const gh = await start(config([a], { timeout: '10s', maxSessions: 100 }));
    const query = dnsPacket.encode({ type: 'query', id: 1, questions: [{ type: 'A', name: 'c1.udp.test' }] });
    const heapBefore = process.memoryUsage().heapUsed;
    const fdsBefore = readdirSync('/proc/self/fd').length;
    const flood = 3000;
    let maxSessions = 0;
    // Batches of 250 sockets: each sends one datagram from its own port, then closes (a spoofed-source flood, as
    // close as loopback gets). The senders share gatehouse's event loop here, so each batch waits until gatehouse has
    // read it: past the socket's receive buffer the kernel would drop the rest before gatehouse saw them.
    for (let sent = 250; sent <= flood; sent += 250) {
      const batch = await Promise.all(Array.from({ length: 250 }, () => client()));
      await Promise.all(batch.map((s) => new Promise<void>((resolve) => s.send(query, gh.port, '127.0.0.1', () => resolve()))));
      for (const s of batch) {
        s.close();
        clients.delete(s);
      }
      const seen = await until(() => entryStatus(gh.admin), (e) => (e.udp?.datagramsIn ?? 0) >= sent);
      maxSessions = Math.max(maxSessions, seen.connections);
    }
    // One upstream socket per session, and nothing for a dropped datagram: the process's descriptors grew by the limit.
    const fdsGrown = readdirSync('/proc/self/fd').length - fdsBefore;
    expect(fdsGrown).toBeLessThanOrEqual(100 + 10);
    expect(maxSessions).toBe(100);
    const st = await entryStatus(gh.admin);
    expect(st.udp?.datagramsIn).toBe(flood);
    expect(st.connections).toBe(100);
    expect(st.udp?.sessionsOpened).toBe(100);
    // Each datagram opened no session past the limit; a few came from a port the kernel gave again to a later socket,
    // which is the same client to gatehouse (its session forwards it).
    expect(st.udp?.droppedSessionLimit).toBeGreaterThan(flood - 100 - 50);
    expect(st.udp?.droppedSessionLimit).toBeLessThanOrEqual(flood - 100);
    const limitLines = gh.lines.filter((l) => l['msg'] === 'udp session limit reached');
    expect(limitLines).toHaveLength(1);
    expect(limitLines[0]).toMatchObject({ level: 'warn', entryPoint: 'dns', maxSessions: 100, occurrences: 1 });
    const metrics = (await httpRequest(gh.admin, { path: '/metrics' })).text;
    expect(metrics).toContain('gatehouse_udp_sessions{entry_point="dns"} 100');
    expect(metrics).toContain(`gatehouse_udp_dropped_total{entry_point="dns",reason="session_limit"} ${st.udp?.droppedSessionLimit}`);
    // 2900 dropped datagrams left nothing behind in the heap either.
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(32 * 1024 * 1024);
    // Below the limit again, a new client is served.
    await gh.reload(config([a], { timeout: '10s', maxSessions: 101 }));
    expect(await ask(await client(), gh.port, 9)).toBe(a.answerFor(9));
  });

  it('a reload keeps existing sessions on their server; new sessions take the new service', async () => {
    const gh = await start(config([a], { timeout: '10s' }));
    const old = await client();
    expect(await ask(old, gh.port, 1)).toBe(a.answerFor(1));
    const result = await gh.reload(config([b], { timeout: '10s' }));
    expect(result.outcome).toBe('ok');
    // Same client address and port: the same session, still on dnsmasq a.
    expect(await ask(old, gh.port, 2)).toBe(a.answerFor(2));
    expect(await ask(await client(), gh.port, 3)).toBe(b.answerFor(3));
    expect(gh.gh.addresses()['dns']!.port).toBe(gh.port);
    const st = await entryStatus(gh.admin);
    expect(st.connections).toBe(2);
  });

  it('a reload binds an added UDP entry point and closes a removed one; a port taken by another process is a clear error', async () => {
    const base = config([a]);
    const gh = await start(base);
    const two = { ...base, entryPoints: { ...(base['entryPoints'] as object), dns2: { address: '127.0.0.1:0/udp', udp: { timeout: '300ms' } } } };
    expect((await gh.reload(two)).outcome).toBe('ok');
    const port2 = gh.gh.addresses()['dns2']!.port;
    expect(gh.lines.some((l) => l['msg'] === 'entry point listening' && l['entryPoint'] === 'dns2' && l['protocol'] === 'udp')).toBe(true);
    // The router names no entry point: it serves every UDP one, the added one included.
    expect(await dig(port2, 'c7.udp.test')).toBe(a.answerFor(7));
    expect((await gh.reload(base)).outcome).toBe('ok');
    expect(gh.gh.addresses()['dns2']).toBeUndefined();
    // No new session there, and once its session idled out (300 ms) the port is released: this process can bind it.
    await expect(ask(await client(), port2, 8, 300)).rejects.toThrow(/no answer/);
    const released = await until(() => canBind(port2), (ok) => ok, 3000);
    expect(released).toBe(true);
    // dnsmasq (another process) holds its port: the reload says so and the rest of the config serves.
    const taken = { ...base, entryPoints: { ...(base['entryPoints'] as object), dns3: { address: `127.0.0.1:${a.port}/udp` } } };
    const result = await gh.reload(taken);
    expect(result.outcome).toBe('problems');
    expect(result.errors.join('\n')).toMatch(new RegExp(`entry point "dns3" cannot listen on 127\\.0\\.0\\.1:${a.port}/udp: EADDRINUSE.*\\[LISTEN_FAILED\\]`));
    expect(await dig(gh.port, 'c9.udp.test')).toBe(a.answerFor(9));
    // Moving the entry point onto that port: refused the same way, and it keeps serving where it was.
    const moved = await gh.reload({ ...base, entryPoints: { dns: { address: `127.0.0.1:${a.port}/udp` } } });
    expect(moved.outcome).toBe('problems');
    expect(moved.errors.join('\n')).toMatch(/entry point "dns" cannot listen on .*EADDRINUSE/);
    expect(gh.gh.addresses()['dns']!.port).toBe(gh.port);
    expect(await dig(gh.port, 'c10.udp.test')).toBe(a.answerFor(10));
  });

  it('refuses to start on a UDP port another process holds, naming the entry point and the port', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-udp-'));
    const cfg = { ...config([a]), entryPoints: { dns: { address: `127.0.0.1:${b.port}/udp` } }, stateDir: dir };
    const gh = createGatehouse({ config: cfg as never, logger: createLogger({ level: 'silent' }) });
    await expect(gh.start()).rejects.toThrow(new RegExp(`entry point "dns" cannot listen on 127\\.0\\.0\\.1:${b.port}/udp: EADDRINUSE`));
    await rm(dir, { recursive: true, force: true });
  });

  it('drops datagrams for an entry point no router serves, counted and logged once', async () => {
    const cfg = config([a]);
    const gh = await start({ ...cfg, udp: { ...(cfg['udp'] as object), routers: {} } });
    const s = await client();
    await expect(ask(s, gh.port, 1, 300)).rejects.toThrow(/no answer/);
    await expect(ask(s, gh.port, 2, 300)).rejects.toThrow(/no answer/);
    const st = await entryStatus(gh.admin);
    expect(st.udp?.droppedNoRoute).toBe(2);
    expect(st.connections).toBe(0);
    expect(gh.lines.filter((l) => l['msg'] === 'udp datagram dropped: no router')).toHaveLength(1);
  });
});
