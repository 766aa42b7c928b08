import { once } from 'node:events';
import net, { type AddressInfo, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import sni from 'sni';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  alpnData,
  buildClientHello,
  capturedHellos,
  extension,
  handshakeOf,
  records,
  serverNameData,
} from '../../test/fixtures/client-hello/index.js';
import { parseClientHello } from './client-hello.js';
import { peekClientHello } from './peek.js';

/** xorshift32: a fixed seed makes every run test the same inputs, so a failure can be replayed. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(a: readonly T[]) => a[Math.floor(next() * a.length)]! };
}

const bases: Buffer[] = [
  ...capturedHellos().map((c) => c.bytes),
  ...capturedHellos().map((c) => records(handshakeOf(c.bytes), 64)),
  buildClientHello({ extensions: [extension(0, serverNameData('fuzz.test')), extension(16, alpnData('h2', 'acme-tls/1'))] }),
  buildClientHello(),
];

/** One input: a base hello with a mutation (bit flips, truncation, a length field set wild, splices) or random bytes. */
function mutant(r: ReturnType<typeof rng>): Buffer {
  const kind = r.int(6);
  if (kind === 5) {
    const out = Buffer.alloc(r.int(600));
    for (let i = 0; i < out.length; i++) out[i] = r.int(256);
    if (out.length > 0 && r.next() < 0.5) out[0] = 22;
    if (out.length > 2 && r.next() < 0.5) out[1] = 3;
    return out;
  }
  const b = Buffer.from(r.pick(bases));
  if (kind === 0) for (let n = 1 + r.int(8); n > 0; n--) b[r.int(b.length)]! ^= 1 << r.int(8);
  if (kind === 1) return b.subarray(0, r.int(b.length));
  if (kind === 2) {
    // Length fields are 1-3 bytes wide: overwrite two adjacent bytes with a boundary value.
    const at = r.int(b.length - 1);
    b.writeUInt16BE(r.pick([0, 1, 0xff, 0x100, 0x3fff, 0x4000, 0x4001, 0xffff, r.int(0x10000)]), at);
  }
  if (kind === 3) {
    const at = r.int(b.length);
    const junk = Buffer.alloc(1 + r.int(40), r.int(256));
    return r.next() < 0.5 ? Buffer.concat([b.subarray(0, at), junk, b.subarray(at)]) : Buffer.concat([b.subarray(0, at), b.subarray(at + junk.length)]);
  }
  if (kind === 4) b[r.int(b.length)] = r.int(256);
  return b;
}

describe('ClientHello fuzz', () => {
  it('5000 random and mutated inputs: never a throw, always one of the three verdicts, bounds kept', () => {
    const r = rng(0x5eed);
    const seen = { complete: 0, incomplete: 0, invalid: 0 };
    for (let i = 0; i < 5000; i++) {
      const input = mutant(r);
      const maxBytes = r.pick([64, 512, 16 * 1024]);
      const result = parseClientHello(input, maxBytes);
      seen[result.status]++;
      if (result.status === 'incomplete') {
        expect(input.length, `input ${i}`).toBeLessThan(maxBytes);
        expect(result.needBytes, `input ${i}`).toBeGreaterThan(input.length);
        expect(result.needBytes, `input ${i}`).toBeLessThanOrEqual(maxBytes);
      } else if (result.status === 'complete') {
        const { sni: name, alpn } = result.hello;
        if (name !== undefined) expect(name, `input ${i}`).toMatch(/^[\x21-\x40\x5b-\x7e]{1,255}$/);
        for (const p of alpn) expect(p.length, `input ${i}`).toBeGreaterThan(0);
        // On a single-record hello the sni package reads the same name (it cannot reassemble records).
        if (input.readUIntBE(6, 3) + 4 === input.readUInt16BE(3)) {
          expect(sni(input)?.toLowerCase() ?? undefined, `input ${i}`).toBe(name);
        }
      } else {
        expect(['not-tls', 'sslv2', 'http', 'malformed', 'too-large']).toContain(result.reason);
      }
    }
    // The mutations must reach every verdict, or the fuzzer is testing nothing.
    expect(Math.min(seen.complete, seen.incomplete, seen.invalid)).toBeGreaterThan(100);
  });

  describe('through real sockets', () => {
    let server: net.Server;
    const accepted: Socket[] = [];
    // Connections run 20 at a time: each client finds its server side by its own port.
    const byPort = new Map<number, Socket>();
    const waiting = new Map<number, (s: Socket) => void>();
    beforeAll(async () => {
      server = net.createServer((s) => {
        s.on('error', () => {});
        accepted.push(s);
        const port = s.remotePort ?? 0;
        const waiter = waiting.get(port);
        if (waiter) waiter(s);
        else byPort.set(port, s);
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
    });
    afterAll(async () => {
      for (const s of accepted) s.destroy();
      await new Promise((r) => server.close(r));
    });

    /** Send `input` in 1-3 writes, then end, stay silent, or reset; resolve with the peek's result once it settles. */
    async function one(input: Buffer, r: ReturnType<typeof rng>) {
      const client = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
      client.setNoDelay(true);
      client.on('error', () => {});
      await once(client, 'connect');
      const port = client.localPort ?? 0;
      const socket = byPort.get(port) ?? (await new Promise<Socket>((res) => waiting.set(port, res)));
      byPort.delete(port);
      waiting.delete(port);
      const peek = peekClientHello(socket, { timeoutMs: 100, maxBytes: r.pick([256, 16 * 1024]) });
      const cuts = [0, r.int(input.length + 1), input.length].sort((a, b) => a - b);
      for (let k = 0; k < 2; k++) client.write(input.subarray(cuts[k], cuts[k + 1]));
      const ending = r.int(3);
      if (ending === 0) client.end();
      if (ending === 1) client.resetAndDestroy();
      const started = performance.now();
      const result = await Promise.race([peek, new Promise<'unsettled'>((res) => setTimeout(() => res('unsettled'), 3_000))]);
      const elapsed = performance.now() - started;
      client.destroy();
      socket.destroy();
      return { result, elapsed };
    }

    it('300 connections: every peek settles in bounded time, sockets are closed, memory stays flat', async () => {
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as () => void;
      const r = rng(0xc0ffee);
      gc();
      const heapBefore = process.memoryUsage().heapUsed;
      const outcomes = new Map<string, number>();
      for (let batch = 0; batch < 15; batch++) {
        const results = await Promise.all(Array.from({ length: 20 }, () => one(mutant(r), r)));
        for (const { result, elapsed } of results) {
          expect(result).not.toBe('unsettled');
          expect(elapsed).toBeLessThan(2_000);
          if (result === 'unsettled') continue;
          const key = result.ok ? 'ok' : result.reason;
          outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
        }
      }
      gc();
      const growth = process.memoryUsage().heapUsed - heapBefore;
      expect(growth).toBeLessThan(8 * 1024 * 1024);
      expect([...outcomes.values()].reduce((a, b) => a + b)).toBe(300);
      for (const reason of ['ok', 'timeout', 'closed', 'malformed']) expect(outcomes.get(reason) ?? 0, reason).toBeGreaterThan(0);
      // Closing is asynchronous: poll the server's count for a bounded while.
      let open = -1;
      for (let tries = 0; tries < 50 && open !== 0; tries++) {
        open = await new Promise<number>((res) => server.getConnections((_e, n) => res(n)));
        if (open !== 0) await new Promise((res) => setTimeout(res, 20));
      }
      expect(open).toBe(0);
    });
  });
});
