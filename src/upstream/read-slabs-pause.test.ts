// The pause of read-slabs-pause.ts on real loopback sockets: a stopped socket's next read is armed with the parked
// buffer every stopped socket shares (no slab of its own while its response stalls), a read Node starts into it
// anyway is copied out before another socket reads there, and the resume arms a full slab again.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parked, slabConnector, slabStats, TRACKING, type SlabClaim, type TrackedSocket } from './read-slabs.js';
import { readsPaused, readsResumed } from './read-slabs-pause.js';

const closers: Array<() => void> = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

/** A server that keeps its connections (`peers`) for the test to write to. */
async function server(): Promise<{ port: number; peers: net.Socket[] }> {
  const peers: net.Socket[] = [];
  const srv = net.createServer((s) => peers.push(s));
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  closers.push(() => {
    for (const s of peers) s.destroy();
    srv.close();
  });
  return { port: (srv.address() as net.AddressInfo).port, peers };
}

/** A socket of the slab connector, connected, with a claim on its body as a relay's would be after the head. */
async function slabSocket(port: number, readBytes: number): Promise<{ socket: TrackedSocket; claim: SlabClaim }> {
  const connect = slabConnector(2000, readBytes) as unknown as (o: object, cb: (err: Error | null, s: net.Socket) => void) => net.Socket;
  const socket = await new Promise<TrackedSocket>((resolve, reject) => {
    connect({ hostname: '127.0.0.1', host: '127.0.0.1', protocol: 'http:', port: String(port), servername: null }, (err, s) => (err ? reject(err) : resolve(s as TrackedSocket)));
  });
  closers.push(() => socket.destroy());
  const claim: SlabClaim = { socket, since: 0 };
  socket[TRACKING].body = claim;
  return { socket, claim };
}

async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return check();
}

describe('paused upstream reads', () => {
  it('a stopped socket is armed with the parked buffer, and the resume arms a full slab again', async () => {
    const { port } = await server();
    const { socket, claim } = await slabSocket(port, 32 * 1024);
    expect(socket[TRACKING].armed?.buf.length).toBe(32 * 1024);
    expect(readsPaused(claim)).toBe(true);
    expect(socket[TRACKING].armed).toBe(parked);
    readsResumed(claim);
    expect(socket[TRACKING].armed?.buf.length).toBe(32 * 1024);
    expect(socket[TRACKING].armed).not.toBe(parked);
  });

  it('reads that Node starts into the parked buffer of two sockets arrive intact (copied out, not shared)', async () => {
    const { port, peers } = await server();
    const a = await slabSocket(port, 32 * 1024);
    const b = await slabSocket(port, 32 * 1024);
    expect(await waitFor(() => peers.length === 2, 2000)).toBe(true);
    expect(readsPaused(a.claim)).toBe(true);
    expect(readsPaused(b.claim)).toBe(true);
    const before = slabStats.parkedReads;
    // Every chunk kept as it came: a view of the shared buffer would show the other socket's bytes by the end.
    const chunks = { a: [] as Buffer[], b: [] as Buffer[] };
    // A 'data' listener resumes the socket, and Node's resume starts the reads the pause stopped: into the parked buffer.
    a.socket.on('data', (d: Buffer) => chunks.a.push(d));
    b.socket.on('data', (d: Buffer) => chunks.b.push(d));
    const [peerA, peerB] = a.socket.localPort === peers[0]!.remotePort ? [peers[0]!, peers[1]!] : [peers[1]!, peers[0]!];
    peerA.write('a'.repeat(3000));
    await waitFor(() => chunks.a.length > 0, 2000);
    peerB.write('b'.repeat(3000));
    await waitFor(() => chunks.b.length > 0, 2000);
    peerA.write('A'.repeat(3000));
    peerB.write('B'.repeat(3000));
    expect(await waitFor(() => Buffer.concat(chunks.a).length === 6000 && Buffer.concat(chunks.b).length === 6000, 2000)).toBe(true);
    expect(slabStats.parkedReads - before).toBeGreaterThanOrEqual(2);
    expect(Buffer.concat(chunks.a).toString()).toBe('a'.repeat(3000) + 'A'.repeat(3000));
    expect(Buffer.concat(chunks.b).toString()).toBe('b'.repeat(3000) + 'B'.repeat(3000));
  });
});
