import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { Pool } from 'undici';
import { PassiveHealth } from './passive-health.js';
import { LeastConnections, SmoothWeightedRoundRobin } from './selection.js';
import { DEFAULT_TRANSPORT } from './transport.js';
import { serverId, type UpstreamServer } from './upstream-server.js';

const NOW = 1_700_000_000_000;

/** A server record with no pool: selection only reads weights, counters and health. */
function servers(weights: number[]): UpstreamServer[] {
  return weights.map((weight, index) => ({
    url: `http://127.0.0.1:${9000 + index}`,
    origin: `http://127.0.0.1:${9000 + index}`,
    protocol: 'http' as const,
    slabReads: true,
    transport: DEFAULT_TRANSPORT,
    connect: undefined,
    pathPrefix: '',
    host: `127.0.0.1:${9000 + index}`,
    pool: null as unknown as Pool,
    index,
    bit: 1 << index,
    weight,
    id: serverId(`http://127.0.0.1:${9000 + index}`),
    inFlight: 0,
    activeDown: false,
    passiveDownUntil: 0,
    currentWeight: 0,
  }));
}

const NAMES = 'abcdefgh';
function sequence(pick: () => UpstreamServer | undefined, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += NAMES[pick()?.index ?? -1] ?? '-';
  return out;
}

describe('SmoothWeightedRoundRobin', () => {
  it.each([
    { description: 'equal weights rotate', weights: [1, 1, 1], expected: 'abcabc' },
    { description: 'one server', weights: [1], expected: 'aaaa' },
    { description: '5/1/1 interleaves as nginx does', weights: [5, 1, 1], expected: 'aabacaa' },
    { description: '2/1 interleaves', weights: [2, 1], expected: 'abaaba' },
    { description: '1/3 spreads the light server out', weights: [1, 3], expected: 'babbbabb' },
  ])('$description', ({ weights, expected }) => {
    const policy = new SmoothWeightedRoundRobin(servers(weights));
    expect(sequence(() => policy.pick(0, NOW), expected.length)).toBe(expected);
  });

  it.each([
    { description: 'skips a server the active check took down', down: (s: UpstreamServer[]) => (s[1]!.activeDown = true), expected: 'acacac' },
    { description: 'skips a server cooling off', down: (s: UpstreamServer[]) => (s[1]!.passiveDownUntil = NOW + 1), expected: 'acacac' },
    { description: 'takes back a server whose cooldown ended', down: (s: UpstreamServer[]) => (s[1]!.passiveDownUntil = NOW), expected: 'abcabc' },
    {
      description: 'gives undefined when every server is down',
      down: (s: UpstreamServer[]) => s.forEach((x) => (x.activeDown = true)),
      expected: '---',
    },
  ])('$description', ({ down, expected }) => {
    const list = servers([1, 1, 1]);
    down(list);
    const policy = new SmoothWeightedRoundRobin(list);
    expect(sequence(() => policy.pick(0, NOW), expected.length)).toBe(expected);
  });

  it('never picks a server in the tried mask', () => {
    const list = servers([1, 1, 1]);
    const policy = new SmoothWeightedRoundRobin(list);
    expect(sequence(() => policy.pick(list[0]!.bit | list[2]!.bit, NOW), 4)).toBe('bbbb');
    expect(policy.pick(0b111, NOW)).toBeUndefined();
  });

  it('honours weights 5/3/2 exactly over 1000 picks', () => {
    const list = servers([5, 3, 2]);
    const policy = new SmoothWeightedRoundRobin(list);
    const counts = [0, 0, 0];
    for (let i = 0; i < 1000; i++) counts[policy.pick(0, NOW)!.index]!++;
    expect(counts).toEqual([500, 300, 200]);
  });
});

describe('LeastConnections', () => {
  it.each([
    { description: 'takes the idle server', inFlight: [3, 0, 2], weights: [1, 1, 1], expected: 'b' },
    { description: 'weighs in-flight counts by weight', inFlight: [4, 3, 9], weights: [4, 1, 1], expected: 'a' },
    { description: 'skips a down server even when idle', inFlight: [0, 1, 2], weights: [1, 1, 1], down: 0, expected: 'b' },
  ])('$description', ({ inFlight, weights, down, expected }) => {
    const list = servers(weights);
    list.forEach((s, i) => (s.inFlight = inFlight[i]!));
    if (down !== undefined) list[down]!.activeDown = true;
    expect(sequence(() => new LeastConnections(list).pick(0, NOW), 1)).toBe(expected);
  });

  it('rotates among ties', () => {
    const policy = new LeastConnections(servers([1, 1, 1]));
    expect(sequence(() => policy.pick(0, NOW), 6)).toBe('abcabc');
  });
});

describe('PassiveHealth', () => {
  const log = pino({ level: 'silent' });
  it.each([
    { description: 'one failure takes a server out when the limit is 1', max: 1, times: [0], out: true },
    { description: 'two failures within the window are not three', max: 3, times: [0, 100], out: false },
    { description: 'three failures within the window take it out', max: 3, times: [0, 100, 200], out: true },
    { description: 'failures spread wider than the window do not', max: 3, times: [0, 600, 1200], out: false },
    { description: 'the last three of four count', max: 3, times: [0, 950, 1050, 1100], out: true },
  ])('$description', ({ max, times, out }) => {
    const list = servers([1, 1]);
    const passive = new PassiveHealth(2, { maxFailedAttempts: max, failureWindowMs: 1000, cooldownMs: 5000 }, log);
    for (const t of times) passive.failed(list[1]!, NOW + t, 'ECONNREFUSED');
    expect(list[1]!.passiveDownUntil).toBe(out ? NOW + times.at(-1)! + 5000 : 0);
    expect(list[0]!.passiveDownUntil).toBe(0);
  });
});
