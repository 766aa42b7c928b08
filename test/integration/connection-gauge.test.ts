// The admin's open-connection count against the kernel's (issue 19): the gauge and the status page said 4-6 open
// websecure connections for a minute after HTTP/2 clients had closed theirs (curl: GOAWAY, then FIN), while the
// kernel listed none. The session never ended on the client's FIN (the TLS socket is half-open), so the socket's
// file descriptor stayed open in a closed TCP state (which ss and /proc/net/tcp do not list) until the idle
// timeout. Here the gauge is compared with the process's own TCP sockets (the test's: gatehouse runs in it) on the entry point's port, read from
// /proc/net/tcp and the process's file descriptors, while connections are open and after they close.
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { connect as h2connect } from 'node:http2';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGatehouse, type Gatehouse } from '../../src/api.js';
import { createLogger } from '../../src/log.js';
import { httpRequest } from '../helpers/raw-http.js';

let running: { gh: Gatehouse; dir: string } | undefined;
afterEach(async () => {
  await running?.gh.stop({ graceMs: 0 });
  if (running) await rm(running.dir, { recursive: true, force: true });
  running = undefined;
});

/** TCP sockets of process `pid` with local port `port`, not listening, as the kernel lists them (IPv4 and IPv6). */
function kernelConnections(pid: number, port: number): { listed: number; descriptors: number } {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  let listed = 0;
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  const seen = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const [local, , state, , , , , , inode] = f.slice(1);
      // state 0A is LISTEN
      if (local!.endsWith(`:${portHex}`) && state !== '0A' && inodes.has(inode!)) {
        listed++;
        seen.add(inode!);
      }
    }
  }
  return { listed, descriptors: seen.size };
}

async function gauge(admin: number): Promise<number> {
  const status = JSON.parse((await httpRequest(admin, { path: '/api/status' })).text) as { entryPoints: { name: string; connections: number }[] };
  return status.entryPoints.find((e) => e.name === 'websecure')!.connections;
}

/** Resolves when gauge and kernel agree on `n`, or rejects with both after `ms`. */
async function settlesAt(admin: number, port: number, n: number, ms = 3_000): Promise<void> {
  const deadline = Date.now() + ms;
  let last = { gauge: -1, kernel: -1 };
  for (;;) {
    last = { gauge: await gauge(admin), kernel: kernelConnections(process.pid, port).listed };
    if (last.gauge === n && last.kernel === n) return;
    if (Date.now() > deadline) throw new Error(`expected ${n} open connections; gauge ${last.gauge}, kernel ${last.kernel}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface H2Client {
  client: ReturnType<typeof h2connect>;
  tls: TLSSocket;
}

/** An HTTP/2 session with one request answered; its TLS socket is kept to end it as curl does. */
function h2Request(port: number): Promise<H2Client> {
  return new Promise((resolve, reject) => {
    let tls: TLSSocket | undefined;
    const client = h2connect(`https://127.0.0.1:${port}`, {
      createConnection: () => (tls = tlsConnect({ host: '127.0.0.1', port, servername: 'a.test', rejectUnauthorized: false, ALPNProtocols: ['h2'] })),
    });
    client.on('error', reject);
    const req = client.request({ ':path': '/', ':authority': 'a.test' });
    req.resume();
    req.on('end', () => resolve({ client, tls: tls! }));
    req.end();
  });
}

/** Ends an HTTP/2 client as curl does: GOAWAY, then FIN at once, without waiting for the server's side. */
function curlClose(h2: H2Client): void {
  h2.client.goaway();
  setImmediate(() => h2.tls.end());
}

/** One `curl -k https://a.test/` through the entry point, in its own process. */
function curl(port: number): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile('curl', ['-sSk', '--http2', '--resolve', `a.test:${port}:127.0.0.1`, `https://a.test:${port}/`, '-o', '/dev/null'], { timeout: 5_000 }, (err, _out, stderr) =>
      err ? reject(new Error(`curl (needed by this test) failed: ${err.message} ${stderr}`)) : resolve(),
    ),
  );
}

function h1KeepAlive(port: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, servername: 'a.test', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () =>
      s.write('GET / HTTP/1.1\r\nHost: a.test\r\n\r\n'),
    );
    s.once('data', () => resolve(s));
    s.on('error', reject);
  });
}

describe('gatehouse_open_connections', () => {
  it('matches the kernel while connections are open and once HTTP/2 and HTTP/1.1 clients have closed them', async () => {
    // In this process (the kernel count reads its descriptors): the leak did not show when the CLI ran it.
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-gauge-'));
    const gh = createGatehouse({
      config: {
        stateDir: dir,
        admin: { address: '127.0.0.1:0' },
        entryPoints: { websecure: { address: '127.0.0.1:0', tls: {} } },
        http: { routers: { a: { rule: 'Host(`a.test`)', respond: { body: 'A' } } } },
      },
      logger: createLogger({ level: 'silent' }),
    });
    running = { gh, dir };
    await gh.start();
    const port = gh.addresses()['websecure']!.port;
    const admin = gh.status().admin!.port;
    await settlesAt(admin, port, 0);

    // Five curl runs in a row (the report's case: curl negotiates h2, sends GOAWAY and closes at once): nothing stays
    // counted, no descriptor stays open. Node's own client closes more politely and did not show the leak.
    for (let i = 0; i < 5; i++) await curl(port);
    await settlesAt(admin, port, 0);

    // Open: two HTTP/1.1 keep-alive connections and two HTTP/2 sessions.
    const h1 = [await h1KeepAlive(port), await h1KeepAlive(port)];
    const h2 = [await h2Request(port), await h2Request(port)];
    await settlesAt(admin, port, 4);

    // Closed by the clients: HTTP/2 as curl does (GOAWAY, then FIN), HTTP/1.1 with close_notify and FIN.
    for (const c of h2) curlClose(c);
    for (const s of h1) s.end();
    await settlesAt(admin, port, 0);

    await settlesAt(admin, port, 0);
    // The metric reads a status kept for a second.
    await new Promise((r) => setTimeout(r, 1_100));
    const metrics = (await httpRequest(admin, { path: '/metrics' })).text;
    expect(metrics).toMatch(/^gatehouse_open_connections\{entry_point="websecure"\} 0$/m);
  });
});
