/**
 * `rateLimit`: a token bucket per client address. A bucket holds up to `burst` tokens and refills at
 * `average / period`; a request takes one or is answered 429 with Retry-After (RFC 6585 §4, RFC 9110 §10.2.3).
 * Buckets live in a Map used as an LRU (a hit moves the key to the end), capped at MAX_BUCKETS: a flood of new
 * addresses evicts the least recently seen clients, whose buckets would mostly have refilled anyway.
 */
import { performance } from 'node:perf_hooks';
import type { RateLimitConfig } from '../config/schema-middlewares.js';
import { MIDDLEWARE_DEFAULTS } from '../config/option-defaults.js';
import { parseDuration } from '../config/duration.js';
import type { Wrapper } from '../http/middlewares.js';
import { compileClientIpStrategy } from './client-ip-strategy.js';
import { middlewareConfigError } from './config-error.js';

/** Most clients tracked by one rateLimit middleware (about 100 bytes each). */
export const MAX_BUCKETS = 10_000;

const TOO_MANY = Buffer.from('Too Many Requests\n');

interface Bucket {
  tokens: number;
  /** performance.now() of the last refill. */
  at: number;
}

/** The bucket arithmetic of one rateLimit, separate from HTTP so a table can drive it with a fake clock. */
export class TokenBuckets {
  readonly #buckets = new Map<string, Bucket>();
  readonly #perMs: number;
  readonly #burst: number;
  readonly #max: number;

  constructor(average: number, periodMs: number, burst: number, maxBuckets = MAX_BUCKETS) {
    this.#perMs = average / periodMs;
    this.#burst = burst;
    this.#max = maxBuckets;
  }

  /** Take a token for `key` at time `now` (ms): 0 when granted, else the milliseconds until one is available. */
  take(key: string, now: number): number {
    const buckets = this.#buckets;
    let b = buckets.get(key);
    if (b === undefined) {
      if (buckets.size >= this.#max) buckets.delete(buckets.keys().next().value as string);
      b = { tokens: this.#burst, at: now };
    } else {
      buckets.delete(key); // re-inserted below: most recently used last
      b.tokens = Math.min(this.#burst, b.tokens + (now - b.at) * this.#perMs);
      b.at = now;
    }
    buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return (1 - b.tokens) / this.#perMs;
  }

  /** How many clients are tracked. */
  get size(): number {
    return this.#buckets.size;
  }
}

/** Build a rateLimit; throws MIDDLEWARE_CONFIG for a zero period or a bad excludedIPs entry. */
export function createRateLimit(spec: RateLimitConfig, path: string): Wrapper {
  const periodMs = parseDuration(spec.period ?? MIDDLEWARE_DEFAULTS.rateLimitPeriod);
  if (periodMs <= 0) throw middlewareConfigError(`${path}/period`, 'period must be longer than 0');
  const buckets = new TokenBuckets(spec.average, periodMs, spec.burst ?? MIDDLEWARE_DEFAULTS.rateLimitBurst);
  const clientIpOf = compileClientIpStrategy(spec.sourceCriterion?.ipStrategy, `${path}/sourceCriterion/ipStrategy`);
  return (next) => (req, res, ctx) => {
    const waitMs = buckets.take(clientIpOf(ctx), performance.now());
    if (waitMs === 0) return next(req, res, ctx);
    res.writeHead(429, {
      'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))),
      'content-type': 'text/plain; charset=utf-8',
      'content-length': TOO_MANY.length,
    });
    res.end(TOO_MANY);
  };
}
