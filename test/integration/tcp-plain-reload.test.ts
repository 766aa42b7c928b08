// TCP routing on plain entry points (issue 17) across reloads and in `gatehouse check`: an added plain TCP entry point
// is bound, a removed one stops accepting while its open pipe runs on, a port held by another socket is a clear error
// that keeps the rest (and a moved entry point where it was), and HTTP + TCP routers on one plain port are refused.
import { writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGatehouseCli, startGatehouse, stopAllGatehouses, type GatehouseProcess } from '../helpers/gatehouse-process.js';
import { closeAllTcpServers, firstLine, listenTcp, readToEnd, until } from '../helpers/tcp-sockets.js';

const clients: Socket[] = [];
let echoPort: number;
/** A RESP-speaking stand-in: answers every PING line with +PONG. */
let pongPort: number;

beforeAll(async () => {
  echoPort = (await listenTcp((socket) => socket.pipe(socket))).port;
  pongPort = (
    await listenTcp((socket) => {
      let got = '';
      socket.on('data', (c: Buffer) => {
        got += c.toString();
        while (got.includes('\r\n')) {
          got = got.slice(got.indexOf('\r\n') + 2);
          socket.write('+PONG\r\n');
        }
      });
      socket.once('end', () => socket.end());
    })
  ).port;
});

afterAll(async () => {
  for (const c of clients) c.destroy();
  await stopAllGatehouses();
  await closeAllTcpServers();
});

describe('reload and check', () => {
  const ep = { address: '127.0.0.1:0' };
  const http = { routers: { site: { rule: 'PathPrefix(`/`)', respond: { status: 200, body: 'http here' } } } };
  const lb = (port: number) => ({ loadBalancer: { servers: [{ address: `127.0.0.1:${port}` }] } });

  /** Rewrite the process's config and reload it with SIGHUP; resolves on its 'config reloaded…' line. */
  async function reload(proc: GatehouseProcess, config: object): Promise<void> {
    const before = proc.logs.filter((l) => String(l.msg).startsWith('config reloaded')).length;
    await writeFile(proc.file, JSON.stringify(config));
    proc.signal('SIGHUP');
    await until('the reload', () => proc.logs.filter((l) => String(l.msg).startsWith('config reloaded')).length > before);
  }

  it('binds an added plain TCP entry point, closes a removed one while its open pipe runs on, and a port in use is a clear error that keeps the rest', async () => {
    const proc = await startGatehouse({
      entryPoints: { web: ep, ssh: ep },
      http,
      tcp: { routers: { ssh: { rule: 'HostSNI(`*`)', entryPoints: ['ssh'], service: 'echo' } }, services: { echo: lb(echoPort) } },
    });
    const sshPort = proc.ports['ssh']!;
    const pipe = connect({ host: '127.0.0.1', port: sshPort });
    pipe.on('error', () => {});
    clients.push(pipe);
    const echoed = async (text: string): Promise<string> => {
      const got = firstLine(pipe);
      pipe.write(`${text}\n`);
      return got;
    };
    expect(await echoed('before')).toBe('before');

    const withDb = {
      entryPoints: { web: ep, db: ep },
      http,
      tcp: { routers: { db: { rule: 'HostSNI(`*`)', entryPoints: ['db'], service: 'redis' } }, services: { redis: lb(pongPort) } },
    };
    await reload(proc, withDb);
    const db = await proc.waitForLog((l) => l.msg === 'entry point listening' && l['entryPoint'] === 'db');
    expect(db['protocol']).toBe('tcp');
    const ping = (): Promise<string> => {
      const c = connect({ host: '127.0.0.1', port: db['port'] as number });
      c.on('error', () => {});
      clients.push(c);
      const reply = readToEnd(c);
      c.end('PING\r\n');
      return reply;
    };
    expect(await ping()).toBe('+PONG\r\n');
    // The removed entry point no longer accepts; the pipe that started on it still carries bytes both ways.
    const refused = await new Promise<string>((resolve) => {
      const c = connect({ host: '127.0.0.1', port: sshPort });
      c.once('connect', () => resolve('connected'));
      c.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
    expect(await echoed('after the reload')).toBe('after the reload');

    // A port another process holds: the reload says which entry point and why, and everything else keeps serving.
    const blocker = await listenTcp(() => {});
    await reload(proc, { ...withDb, entryPoints: { ...withDb.entryPoints, taken: { address: `127.0.0.1:${blocker.port}` } }, tcp: { ...withDb.tcp, routers: { ...withDb.tcp.routers, taken: { rule: 'HostSNI(`*`)', entryPoints: ['taken'], service: 'redis' } } } });
    const failed = await proc.waitForLog((l) => l.msg === 'entry point not listening');
    expect(failed).toMatchObject({ level: 'error', entryPoint: 'taken', code: 'LISTEN_FAILED' });
    expect(failed['reason']).toBe(`entry point "taken" cannot listen on 127.0.0.1:${blocker.port}: EADDRINUSE listen EADDRINUSE: address already in use 127.0.0.1:${blocker.port}`);
    expect(await proc.waitForLog((l) => l.msg === 'config reloaded with problems')).toMatchObject({ level: 'warn', errors: 1 });
    expect(await ping()).toBe('+PONG\r\n');
    expect(await (await fetch(`http://127.0.0.1:${proc.ports['web']}/`)).text()).toBe('http here');
    expect(await echoed('still here')).toBe('still here');

    // Moving an entry point onto a taken port: the new address is tried first, and the old one keeps serving.
    await reload(proc, { ...withDb, entryPoints: { ...withDb.entryPoints, db: { address: `127.0.0.1:${blocker.port}` } } });
    const moved = await proc.waitForLog((l) => l.msg === 'entry point not listening' && l['entryPoint'] === 'db');
    expect(moved).toMatchObject({ code: 'LISTEN_FAILED', stillOn: '127.0.0.1:0' });
    expect(await ping()).toBe('+PONG\r\n');
    pipe.destroy();
  });

  it('`gatehouse check` refuses HTTP and TCP routers on one plain entry point, naming both and the entry point', async () => {
    const result = await runGatehouseCli(['check'], {
      config: {
        entryPoints: { web: ep, ssh: ep },
        http: { routers: { site: { rule: 'PathPrefix(`/`)', entryPoints: ['web', 'ssh'], respond: { status: 200 } } } },
        tcp: { routers: { git: { rule: 'HostSNI(`*`)', entryPoints: ['ssh'], service: 'gitea' } }, services: { gitea: lb(echoPort) } },
      },
    });
    expect(result.code).toBe(1);
    expect(result.stdout + result.stderr).toContain(
      'TCP_ENTRY_POINT_CONFLICT',
    );
    expect(result.stdout + result.stderr).toContain(
      'TCP router "git" is disabled: entry point "ssh" has no "tls" and HTTP router "site" listens there too; a plain port cannot tell HTTP from other TCP, so give the TCP router ("git") an entry point of its own, or take "ssh" out of the HTTP router\'s entryPoints',
    );
  });
});
