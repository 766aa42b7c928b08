import { describe, expect, it } from 'vitest';
import { ariTime, BACKOFF_MAX_MS, renewalTime, retryTime } from './schedule.js';

const day = 86_400_000;
const t0 = Date.UTC(2025, 0, 1);

describe('renewalTime', () => {
  it.each<[string, number, number, number]>([
    ['90-day certificate, no jitter: at day 60', 90, 0, 60 * day],
    ['45-day certificate, no jitter: at day 30', 45, 0, 30 * day],
    ['90-day certificate, most jitter: 1.8 days earlier', 90, 0.999999, 60 * day - Math.floor(0.999999 * 90 * day * 0.02)],
    ['120 s certificate (Pebble test): at 80 s', 120 / 86_400, 0, 80_000],
  ])('%s', (_d, days, r, offset) => {
    expect(renewalTime(new Date(t0), new Date(t0 + days * day), () => r).getTime()).toBe(t0 + offset);
  });
});

describe('retryTime', () => {
  it.each<[string, number, number | undefined, number, number]>([
    ['first failure: about 1 s', 1, undefined, 800, 1200],
    ['fourth failure: about 8 s', 4, undefined, 6400, 9600],
    ['many failures: capped', 40, undefined, BACKOFF_MAX_MS * 0.8, BACKOFF_MAX_MS * 1.2],
    ['Retry-After later than the backoff wins', 1, t0 + 3600_000, 3600_000, 3600_000],
  ])('%s', (_d, failures, retryAfter, min, max) => {
    for (const r of [0, 0.5, 0.999]) {
      const wait = retryTime(failures, t0, retryAfter, () => r).getTime() - t0;
      expect(wait).toBeGreaterThanOrEqual(min);
      expect(wait).toBeLessThanOrEqual(max);
    }
  });
});

describe('ariTime', () => {
  it.each<[string, number, number]>([
    ['start of the window', 0, 0],
    ['middle of the window', 0.5, 3600_000],
  ])('%s', (_d, r, offset) => {
    expect(ariTime({ start: new Date(t0), end: new Date(t0 + 7200_000) }, () => r).getTime()).toBe(t0 + offset);
  });
});
