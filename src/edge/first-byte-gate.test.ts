// The first-byte gate on real loopback sockets: a connection that speaks is handed over with its bytes intact, one
// that stays silent is closed at its deadline (spread out, at most CLOSE_BATCH per turn of the event loop) and
// counted in one summary line, one that half-closes is closed at once.
import { once } from 'node:events';
import net, { type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../log.js';
import { CLOSE_BATCH, CLOSE_PAUSE_MS, createFirstByteGate, type FirstByteGate } from './first-byte-gate.js';

interface Logged {
  fields: Record<string, unknown>;
  msg: string;
}

const servers: Server[] = [];
const clients: Socket[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A listener whose connections go through a gate; `handed` collects what the gate hands over. */
async function gated(timeoutMs: number) {
  const lines: Logged[] = [];
  const log = { info: (fields: Record<string, unknown>, msg: string) => lines.push({ fields, msg }) } as unknown as Logger;
  const handed: { socket: Socket; remainingMs: number }[] = [];
  const gate: FirstByteGate = createFirstByteGate({ entryPoint: 'web', timeoutMs, log, onFirstByte: (socket, remainingMs) => handed.push({ socket, remainingMs }) });
  const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (s) => {
    clients.push(s);
    gate.admit(s);
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const connect = async (): Promise<Socket> => {
    const c = net.connect(port, '127.0.0.1');
    c.on('error', () => undefined);
    clients.push(c);
    await once(c, 'connect');
    return c;
  };
  return { gate, lines, handed, connect };
}

/** Poll `done` every turn of the event loop (setImmediate), bounded by `boundMs`. */
async function until(done: () => boolean, boundMs: number, each: () => void = () => undefined): Promise<void> {
  const deadline = performance.now() + boundMs;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`not done within ${boundMs} ms`);
    await new Promise((r) => setImmediate(r));
    each();
  }
}

describe('first-byte gate', () => {
  it('hands a connection over at its first bytes, which the next reader still gets, with the time left', async () => {
    const { gate, handed, connect } = await gated(5_000);
    const c = await connect();
    c.write('GET / HTTP/1.1\r\n');
    await until(() => handed.length === 1, 2_000);
    expect(gate.waiting()).toBe(0);
    const { socket, remainingMs } = handed[0]!;
    expect(remainingMs).toBeGreaterThan(3_000);
    expect(remainingMs).toBeLessThanOrEqual(5_000);
    expect(socket.listenerCount('data')).toBe(0);
    const got: Buffer[] = [];
    socket.on('data', (d: Buffer) => got.push(d));
    socket.resume();
    c.write('Host: a\r\n\r\n');
    await until(() => Buffer.concat(got).length === 27, 2_000);
    expect(Buffer.concat(got).toString()).toBe('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
  });

  it('closes a connection that half-closes without a byte at once, without counting it', async () => {
    const { gate, lines, connect } = await gated(5_000);
    const c = await connect();
    c.end();
    await Promise.race([once(c, 'close'), new Promise((_, reject) => setTimeout(() => reject(new Error('still open after 2 s')), 2_000))]);
    expect(gate.waiting()).toBe(0);
    expect(lines).toEqual([]);
  });

  it(`closes silent connections at their deadline, ${CLOSE_BATCH} at a time ${CLOSE_PAUSE_MS} ms apart, with a reset, and sums them up in one line`, async () => {
    const n = 200;
    const { gate, lines, handed, connect } = await gated(300);
    const conns = await Promise.all(Array.from({ length: n }, connect));
    const received = conns.map(() => 0);
    const errors: string[] = [];
    conns.forEach((c, i) => c.on('data', (d: Buffer) => (received[i]! += d.length)).on('error', (e: NodeJS.ErrnoException) => errors.push(e.code ?? e.message)));
    await until(() => gate.waiting() === n, 2_000);
    const steps: number[] = [];
    let last = n;
    let firstClose = 0;
    await until(
      () => gate.waiting() === 0,
      5_000,
      () => {
        const now = gate.waiting();
        if (now !== last) steps.push(last - now);
        if (now !== last && firstClose === 0) firstClose = performance.now();
        last = now;
      },
    );
    const spread = performance.now() - firstClose;
    expect(Math.max(...steps)).toBeLessThanOrEqual(CLOSE_BATCH);
    expect(steps.length).toBeGreaterThanOrEqual(Math.ceil(n / CLOSE_BATCH));
    // Paced, not one batch per turn of the loop: 25 batches take at least 24 pauses (a timer never fires early).
    expect(spread).toBeGreaterThanOrEqual((Math.ceil(n / CLOSE_BATCH) - 1) * CLOSE_PAUSE_MS * 0.9);
    // A reset, not a FIN: the clients see ECONNRESET (each once its socket notices).
    await until(() => errors.length === n, 2_000);
    expect(new Set(errors)).toEqual(new Set(['ECONNRESET']));
    await until(() => lines.length > 0, 3_000);
    expect(lines).toEqual([{ fields: { entryPoint: 'web', connections: n, waitedMs: 300 }, msg: 'connections closed before sending anything' }]);
    expect(handed).toEqual([]);
    expect(received.every((b) => b === 0)).toBe(true);
  });

  it('closeWaiting closes every waiting connection', async () => {
    const { gate, connect } = await gated(60_000);
    const conns = await Promise.all(Array.from({ length: 5 }, connect));
    await until(() => gate.waiting() === 5, 2_000);
    gate.closeWaiting();
    expect(gate.waiting()).toBe(0);
    await Promise.all(conns.map((c) => (c.closed ? undefined : once(c, 'close'))));
  });
});
