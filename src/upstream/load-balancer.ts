/**
 * The load balancer of one service: which server a request goes to (sticky cookie first, then the selection
 * policy among usable servers), whether a failed attempt may go to another one, and the bookkeeping that
 * health and least-connections need. Everything here is built at config load; per request it compares numbers.
 */
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { PassiveHealth, type PassiveHealthOptions } from './passive-health.js';
import { SlotQueue } from './queue.js';
import { createPolicy, type SelectionPolicy, type Strategy } from './selection.js';
import { StickyCookie, type StickyCookieOptions } from './sticky-cookie.js';
import { isUsable, type UpstreamServer } from './upstream-server.js';

/** Retry settings, already defaulted. */
export interface RetryOptions {
  /** Servers one request may try in all; 1 = no retry. */
  attempts: number;
  /** Retry non-idempotent methods too. */
  nonIdempotent: boolean;
}

/** What the load balancer is built from. */
export interface LoadBalancerOptions {
  /** true: the client's Host goes upstream; false: the server URL's host. */
  passHostHeader: boolean;
  strategy: Strategy;
  retry: RetryOptions;
  passiveHealthCheck?: PassiveHealthOptions;
  sticky?: StickyCookieOptions;
  /**
   * Requests in flight per server (> 0; absent or 0: no limit) and the bound of the wait for one: past `timeoutMs`,
   * or behind `maxLength` others, a request gets 503.
   */
  slots?: { maxConnections: number; timeoutMs: number; maxLength: number };
}

/** RFC 9110 §9.2.2: the methods a client (or proxy) may repeat automatically after a communication failure. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** Chooses servers for one service; `choose` and `next` run per request and allocate nothing. */
export class LoadBalancer {
  readonly servers: readonly UpstreamServer[];
  readonly sticky: StickyCookie | undefined;
  readonly passHostHeader: boolean;
  /** Whether the last `choose` used the server named by the request's sticky cookie; read it right after. */
  pinnedHit = false;
  /** Each server's slot queue (by UpstreamServer.index), or none when requests per server are not limited. */
  readonly queues: readonly (SlotQueue | undefined)[];
  /** The limit of requests in flight per server; 0: none. */
  readonly maxConnections: number;
  /** The Retry-After (seconds) of a 503 for a request whose wait for a slot ran out: the queue's timeout. */
  readonly retryAfter: string;
  readonly #policy: SelectionPolicy;
  readonly #passive: PassiveHealth | undefined;
  readonly #retry: RetryOptions;
  readonly #log: Logger;
  /** Set while no server is usable, so the outage is logged once, not once per refused request. */
  #outage = false;

  constructor(servers: readonly UpstreamServer[], options: LoadBalancerOptions, log: Logger) {
    if (servers.length === 0) throw new TypeError('an upstream needs at least one server');
    this.servers = servers;
    this.#policy = createPolicy(options.strategy, servers);
    this.#passive = options.passiveHealthCheck && new PassiveHealth(servers.length, options.passiveHealthCheck, log);
    this.sticky = options.sticky && new StickyCookie(options.sticky, servers);
    this.#retry = options.retry;
    this.passHostHeader = options.passHostHeader;
    this.#log = log;
    const slots = options.slots;
    this.maxConnections = slots !== undefined && slots.maxConnections > 0 ? slots.maxConnections : 0;
    this.queues = servers.map(() => (slots !== undefined && this.maxConnections > 0 ? new SlotQueue(slots.maxConnections, slots.timeoutMs, slots.maxLength) : undefined));
    this.retryAfter = String(Math.max(1, Math.ceil((slots?.timeoutMs ?? 0) / 1000)));
  }

  /**
   * The server for a new request: the one its sticky cookie names when that one is usable, else the policy's
   * pick; undefined when no server is usable (the caller answers 503).
   */
  choose(rawHeaders: readonly string[]): UpstreamServer | undefined {
    const now = Date.now();
    this.pinnedHit = false;
    if (this.sticky !== undefined) {
      const pinned = this.sticky.pinned(rawHeaders);
      if (pinned !== undefined && isUsable(pinned, now)) {
        this.pinnedHit = true;
        this.#outage = false;
        return pinned;
      }
    }
    const server = this.#policy.pick(0, now);
    if (server === undefined) {
      if (!this.#outage) {
        this.#outage = true;
        this.#log.warn({ code: 'UPSTREAM_UNAVAILABLE', servers: this.servers.length }, 'no healthy upstream');
      }
    } else {
      this.#outage = false;
    }
    return server;
  }

  /**
   * Another server for a request whose attempt number `attempt` (1-based) failed before any response, or undefined
   * when it must not be retried. `written`: the request went (at least partly) onto the wire, so the server may
   * have acted on it: only idempotent methods are replayed then (RFC 9110 §9.2.2), whatever `nonIdempotent` says.
   * `bodyReplayable`: the request has no body, or none of it was read yet. Also undefined when the attempts are
   * spent or every usable server was tried.
   */
  next(req: IncomingMessage, written: boolean, bodyReplayable: boolean, attempt: number, tried: number): UpstreamServer | undefined {
    if (attempt >= this.#retry.attempts || !bodyReplayable) return undefined;
    if ((written || !this.#retry.nonIdempotent) && !IDEMPOTENT.has(req.method as string)) return undefined;
    return this.#policy.pick(tried, Date.now());
  }

  /** Record a failed attempt on `server` for passive health (no-op when passive checks are off). */
  failed(server: UpstreamServer, reason: string): void {
    this.#passive?.failed(server, Date.now(), reason);
  }
}
