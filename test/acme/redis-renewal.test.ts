/**
 * Renewal by several instances on one Redis, against a real Pebble issuing 9-second certificates: the renewal is
 * due at the same time on all three (the schedule is part of the shared status), one of them renews under the lock,
 * and all three serve the new serial without a restart; Pebble receives one order per certificate, not three.
 */
import { describe, expect, it } from 'vitest';
import { usePebble } from '../helpers/acme-lab.js';
import { stopAllGatehouses } from '../helpers/gatehouse-process.js';
import { servedSerials, startAllGated } from '../helpers/redis-lab.js';

const INSTANCES = ['127.0.0.2', '127.0.0.3', '127.0.0.4'] as const;
const VALIDITY_S = 9;
const pebble = usePebble({ certValidity: VALIDITY_S });

describe('renewal by several instances on one Redis', () => {
  it('the renewal is one order, under the lock, and all three serve the new serial without a restart', async () => {
    const name = 'renew.rr.lab.test';
    await pebble.setA(name, ...INSTANCES);
    const before = pebble.orders();
    const { ghs, gate } = await startAllGated(pebble, INSTANCES, () => ({ http: [name] }));
    try {
      const root = await pebble.root();
      const first = await servedSerials(pebble, INSTANCES, name, root);
      expect(new Set(first).size, `first serials: ${first.join(', ')}`).toBe(1);
      expect(first[0]).toBeDefined();
      expect(pebble.orders() - before).toBe(1);

      // Due at two thirds of 9 s: one instance renews, the others take its certificate.
      const renewed = await servedSerials(pebble, INSTANCES, name, root, { not: first[0]! });
      expect(new Set(renewed).size, `renewed serials: ${renewed.join(', ')}`).toBe(1);
      expect(renewed[0]).toBeDefined();
      expect(renewed[0]).not.toBe(first[0]);
      // Read at once: the next renewal is due about 6 s after this one.
      expect(pebble.orders() - before).toBe(2);
      // Log lines are written in batches: the new certificate can be served before its order's line is read here.
      const placedNow = (): number[] => ghs.map((g) => g.logs.filter((l) => l.msg === 'acme order placed').length);
      const total = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
      for (let waited = 0; total(placedNow()) < 2 && waited < 3_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
      const placed = placedNow();
      expect(total(placed), `orders placed per instance: ${placed.join(', ')}`).toBe(2);
    } finally {
      await stopAllGatehouses();
      await gate.stop();
    }
  }, 60_000);
});
