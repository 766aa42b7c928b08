/**
 * The forwarder on real sockets: a node TLS client → a stand-in for the edge (reads the first chunk, as the
 * ClientHello peek would, and hands it over) → the forwarder → a real TLS backend with its own certificate.
 */
import { createServer, connect as netConnect, type AddressInfo, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../log.js';
import { parseLogLine, type LogLine } from '../../test/helpers/log-lines.js';
import { startBlackhole, type Blackhole } from '../../test/helpers/blackhole.js';
import {
  BACKEND_CA,
  BACKEND_FINGERPRINT,
  closeAllTlsBackends,
  patternBytes,
  sha256,
  startTlsBackend,
} from '../../test/helpers/tls-backend.js';
import { parseBackendAddress, TcpServerRing } from './backend.js';
import { createTcpForwarder, type TcpForwarder } from './forward.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await closeAllTlsBackends();
});

function capturedLog(): { log: ReturnType<typeof createLogger>; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(parseLogLine(l));
      cb();
    },
  });
  return { log: createLogger({ level: 'debug', destination }), lines };
}

interface Setup {
  forwarder: TcpForwarder;
  port: number;
  lines: LogLine[];
}

/** A forwarder for `addresses`, behind a stand-in edge that hands over each connection's first chunk. */
async function frontDoor(addresses: string[], times: { connectMs?: number; idleMs?: number } = {}): Promise<Setup> {
  const { log, lines } = capturedLog();
  const link = { service: 's1', connectTimeoutMs: times.connectMs ?? 2000, idleTimeoutMs: times.idleMs ?? 0, proxyHeader: undefined };
  const forwarder = createTcpForwarder({
    route: 'r1',
    service: 's1',
    ring: new TcpServerRing(addresses.map((a) => ({ backend: parseBackendAddress(a)!, link, up: true }))),
    log,
  });
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    socket.once('data', (first: Buffer) =>
      forwarder.forward(socket, first, {
        clientIp: socket.remoteAddress!,
        clientPort: socket.remotePort!,
        localIp: socket.localAddress!,
        localPort: socket.localPort!,
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  cleanups.push(() => forwarder.close());
  return { forwarder, port: (server.address() as AddressInfo).port, lines };
}

function tlsClient(port: number, servername = 'backend.test'): TLSSocket {
  const socket = tlsConnect({ port, host: '127.0.0.1', servername, ca: BACKEND_CA });
  cleanups.push(() => void socket.destroy());
  return socket;
}

/** Resolves when the socket has closed; rejects after `ms` so no wait is unbounded. */
function closed(socket: Socket, ms = 5000): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    if (socket.closed) return resolve(0);
    const timer = setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms);
    socket.on('error', () => {});
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(performance.now() - t0);
    });
  });
}

function readAll(socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve, reject) => {
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
  });
}

async function waitFor(what: string, test: () => boolean, ms = 3000): Promise<void> {
  const until = performance.now() + ms;
  while (!test()) {
    if (performance.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const MiB = 1024 * 1024;

describe('passthrough to a TLS backend', () => {
  it('shows the backend certificate, carries 10 MiB both ways intact, and honours a half-close', async () => {
    const up = patternBytes(10 * MiB, 'up');
    const down = patternBytes(10 * MiB, 'down');
    const backend = await startTlsBackend((socket) => {
      const received: Buffer[] = [];
      socket.on('data', (c: Buffer) => received.push(c));
      socket.write(down);
      // The client has ended its side; the backend still answers after it (half-close, RFC 8446 §6.1).
      socket.once('end', () => socket.end(`${sha256(Buffer.concat(received))}\n`));
    });
    const { port, lines } = await frontDoor([backend.address]);
    const client = tlsClient(port);
    await new Promise<void>((resolve, reject) => {
      client.once('secureConnect', resolve);
      client.once('error', reject);
    });
    expect(client.getPeerCertificate().fingerprint256).toBe(BACKEND_FINGERPRINT);
    expect(client.authorized).toBe(true);
    const reply = readAll(client);
    client.end(up);
    const got = await reply;
    expect(got.length).toBe(down.length + 65);
    expect(sha256(got.subarray(0, down.length))).toBe(sha256(down));
    expect(got.subarray(down.length).toString()).toBe(`${sha256(up)}\n`);
    await closed(client);
    await waitFor('the connection log line', () => lines.some((l) => l.msg === 'passthrough connection closed'));
    const line = lines.find((l) => l.msg === 'passthrough connection closed')!;
    expect(line).toMatchObject({ level: 'info', router: 'r1', service: 's1', backend: backend.address, end: 'client-closed' });
    expect(line['durationMs']).toEqual(expect.any(Number));
    // TLS records add overhead on top of the payload, so the byte counts are a little above 10 MiB each way.
    expect(line['bytesUp']).toBeGreaterThan(10 * MiB);
    expect(line['bytesDown']).toBeGreaterThan(10 * MiB);
    expect(lines.filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('closes the client and logs one warning with TCP_CONNECT when the backend refuses', async () => {
    const refused = 1; // privileged, served by nothing: refuses, and no parallel test can take it
    const { port, lines } = await frontDoor([`127.0.0.1:${refused}`]);
    const client = tlsClient(port);
    await closed(client);
    const warns = lines.filter((l) => l.level === 'warn');
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatchObject({ msg: 'passthrough backend connect failed', code: 'TCP_CONNECT', route: 'r1', backend: `127.0.0.1:${refused}` });
  });

  it('tries the next backend when one refuses', async () => {
    const refused = 1;
    const backend = await startTlsBackend((socket) => socket.end('hello'));
    const { port, lines } = await frontDoor([`127.0.0.1:${refused}`, backend.address]);
    const client = tlsClient(port);
    expect((await readAll(client)).toString()).toBe('hello');
    expect(lines.filter((l) => l.level === 'warn' && l['code'] === 'TCP_CONNECT')).toHaveLength(1);
  });

  it('gives up after the connect timeout on a backend that never accepts (TCP_CONNECT_TIMEOUT)', async () => {
    const hole: Blackhole = await startBlackhole();
    cleanups.push(() => hole.close());
    const { port, lines } = await frontDoor([hole.address], { connectMs: 300 });
    const client = tlsClient(port);
    const took = await closed(client, 3000);
    expect(took).toBeGreaterThanOrEqual(250);
    const warns = lines.filter((l) => l.level === 'warn');
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatchObject({ code: 'TCP_CONNECT_TIMEOUT', backend: hole.address });
  });

  it('closes a connection with no bytes either way after the idle timeout, and not one that is busy', async () => {
    const backend = await startTlsBackend((socket) => socket.on('data', (c: Buffer) => socket.write(c)));
    const { port, lines } = await frontDoor([backend.address], { idleMs: 300 });
    const busy = tlsClient(port);
    const idle = tlsClient(port);
    await Promise.all([busy, idle].map((s) => new Promise((r) => s.once('secureConnect', r))));
    const idleClosed = closed(idle, 3000);
    let echoes = 0;
    busy.on('data', () => (echoes += 1));
    for (let i = 0; i < 8; i++) {
      busy.write('ping');
      await new Promise((r) => setTimeout(r, 100));
    }
    await idleClosed;
    expect(busy.closed).toBe(false);
    expect(echoes).toBeGreaterThan(0);
    await waitFor('the idle log line', () => lines.some((l) => l['end'] === 'idle-timeout'));
    busy.destroy();
  });

  it('destroys the client when the backend resets the connection', async () => {
    const server = createServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port, lines } = await frontDoor([`127.0.0.1:${(server.address() as AddressInfo).port}`]);
    const client = netConnect(port, '127.0.0.1');
    cleanups.push(() => void client.destroy());
    client.write('first flight');
    await closed(client);
    await waitFor('the connection log line', () => lines.some((l) => l.msg === 'passthrough connection closed'));
    expect(lines.find((l) => l.msg === 'passthrough connection closed')).toMatchObject({ end: 'backend-error', code: 'ECONNRESET', reason: expect.stringMatching(/ECONNRESET/) });
  });

  it('close() ends the connections it holds', async () => {
    let backendSawEnd = false;
    const backend = await startTlsBackend((socket) => socket.once('end', () => (backendSawEnd = true)).resume());
    const { port, forwarder, lines } = await frontDoor([backend.address]);
    const client = tlsClient(port);
    await new Promise((r) => client.once('secureConnect', r));
    await waitFor('the backend to finish its handshake', () => backend.sockets.length === 1);
    const clientClosed = closed(client, 3000);
    await forwarder.close();
    await clientClosed;
    await waitFor('the backend to see its connection end', () => backendSawEnd);
    await waitFor('the connection log line', () => lines.some((l) => l.msg === 'passthrough connection closed'));
    expect(lines.find((l) => l.msg === 'passthrough connection closed')).toMatchObject({ end: 'shutdown' });
  });
});

describe('close with a grace period', () => {
  it('lets a live connection finish, and refuses new ones meanwhile', async () => {
    const backend = await startTlsBackend((socket) => {
      socket.resume();
      setTimeout(() => socket.end('late answer'), 300);
    });
    const { port, forwarder } = await frontDoor([backend.address]);
    const early = tlsClient(port);
    await new Promise((r) => early.once('secureConnect', r));
    const answer = readAll(early);
    const closing = forwarder.close(3000);
    const late = tlsClient(port);
    late.on('error', () => {});
    await closed(late, 3000);
    expect(late.authorized).toBe(false); // never got a handshake: the forwarder no longer takes connections
    expect((await answer).toString()).toBe('late answer');
    await closing;
  });

  it('cuts what is still open when the grace runs out', async () => {
    const backend = await startTlsBackend((socket) => socket.resume());
    const { port, forwarder } = await frontDoor([backend.address]);
    const client = tlsClient(port);
    await new Promise((r) => client.once('secureConnect', r));
    const t0 = performance.now();
    await forwarder.close(300);
    await closed(client, 3000);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250);
  });
});

describe('backpressure', () => {
  it('a client that does not read holds the backend back instead of filling our memory', async () => {
    const total = 256 * MiB;
    const chunk = Buffer.alloc(64 * 1024, 1);
    let accepted = 0;
    const server = createServer((socket) => {
      socket.on('error', () => {});
      const pump = (): void => {
        while (accepted < total && !socket.destroyed) {
          accepted += chunk.length;
          if (!socket.write(chunk)) return void socket.once('drain', pump);
        }
      };
      socket.once('data', pump);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = await frontDoor([`127.0.0.1:${(server.address() as AddressInfo).port}`]);
    const client = netConnect(port, '127.0.0.1');
    cleanups.push(() => void client.destroy());
    client.pause();
    client.write('go');
    await new Promise((r) => setTimeout(r, 800));
    // Only kernel socket buffers and one stream buffer sit between the two ends: about 7 MiB here, where a pipe
    // without backpressure took in over 50 MiB in the same time.
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(24 * MiB);
  });
});

