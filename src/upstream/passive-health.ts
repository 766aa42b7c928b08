/**
 * Passive health: servers judged by the requests they fail, with no traffic of our own. A server that fails
 * `maxFailedAttempts` times within `failureWindowMs` is taken out for `cooldownMs`, then gets requests again (one
 * more failure in a fresh window takes it out again). nginx's max_fails/fail_timeout, Traefik's passiveHealthCheck.
 */
import type { Logger } from 'pino';
import type { UpstreamServer } from './upstream-server.js';

/** Passive check settings, durations in ms. */
export interface PassiveHealthOptions {
  maxFailedAttempts: number;
  failureWindowMs: number;
  cooldownMs: number;
}

/** Counts failures per server in a ring of the last `maxFailedAttempts` failure times (allocated once). */
export class PassiveHealth {
  readonly #options: PassiveHealthOptions;
  readonly #log: Logger;
  /** Failure times, `maxFailedAttempts` slots per server; 0 = empty slot. */
  readonly #stamps: Float64Array;
  /** Next slot to write, per server. */
  readonly #next: Int32Array;

  constructor(serverCount: number, options: PassiveHealthOptions, log: Logger) {
    this.#options = options;
    this.#log = log;
    this.#stamps = new Float64Array(serverCount * options.maxFailedAttempts);
    this.#next = new Int32Array(serverCount);
  }

  /** Record one failure of `server` at `now` (epoch ms); takes it out when the window holds enough failures. */
  failed(server: UpstreamServer, now: number, reason: string): void {
    const max = this.#options.maxFailedAttempts;
    const base = server.index * max;
    const slot = this.#next[server.index] as number;
    this.#stamps[base + slot] = now;
    const next = slot + 1 === max ? 0 : slot + 1;
    this.#next[server.index] = next;
    // After the write, the slot to be overwritten next holds the oldest of the last `max` failures.
    const oldest = this.#stamps[base + next] as number;
    if (oldest === 0 || now - oldest > this.#options.failureWindowMs) return;
    this.#stamps.fill(0, base, base + max);
    if (server.passiveDownUntil > now) return;
    server.passiveDownUntil = now + this.#options.cooldownMs;
    this.#log.warn(
      { code: 'UPSTREAM_UNHEALTHY', upstream: server.url, check: 'passive', reason, failures: max, cooldownMs: this.#options.cooldownMs },
      'upstream server taken out',
    );
  }
}
