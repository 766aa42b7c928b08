/**
 * Active health checks: every server is requested on its own timer; a failed check marks it down (the selection
 * policies skip it) until a check passes again. Timers are unref'd and stop() clears them and cuts checks in
 * flight, so a retired config leaves nothing running.
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Logger } from 'pino';
import type { UpstreamServer } from './upstream-server.js';

/** Active check settings, durations in ms. */
export interface HealthCheckOptions {
  /** Path (and query) requested. */
  path: string;
  method: string;
  /** Default: the server URL's (http). */
  scheme?: 'http' | 'https';
  /** Default: the server URL's port. */
  port?: number;
  /** Host header; default: the server URL's host. */
  hostname?: string;
  headers?: Readonly<Record<string, string>>;
  /** The status that means healthy; absent = any 2xx. */
  status?: number;
  intervalMs: number;
  /** Interval while the server is down. */
  unhealthyIntervalMs: number;
  timeoutMs: number;
}

/** Running checks of one service's servers. */
export interface HealthChecks {
  /** Clear every timer and abort checks in flight; idempotent. */
  stop(): void;
}

class CheckTimeoutError extends Error {
  override name = 'CheckTimeoutError';
}

/** Start checking every server now (first check at once), then every interval. */
export function startHealthChecks(servers: readonly UpstreamServer[], options: HealthCheckOptions, log: Logger): HealthChecks {
  const checkers = servers.map((server) => new ServerCheck(server, options, log));
  for (const c of checkers) c.schedule(0);
  return {
    stop() {
      for (const c of checkers) c.stop();
    },
  };
}

/** The check loop of one server; at most one check in flight at a time. */
class ServerCheck {
  readonly #server: UpstreamServer;
  readonly #options: HealthCheckOptions;
  readonly #log: Logger;
  readonly #request: RequestOptions;
  readonly #https: boolean;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: ClientRequest | undefined;
  #stopped = false;

  constructor(server: UpstreamServer, options: HealthCheckOptions, log: Logger) {
    this.#server = server;
    this.#options = options;
    this.#log = log;
    const url = new URL(server.origin);
    this.#https = (options.scheme ?? 'http') === 'https';
    this.#request = {
      // URL.hostname keeps IPv6 brackets; the socket layer wants the bare address.
      hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
      port: options.port ?? (url.port || (this.#https ? 443 : 80)),
      path: options.path,
      method: options.method,
      headers: { ...options.headers, host: options.hostname ?? server.host },
      // A fresh connection per check: a check must see whether a new connection can be made at all.
      agent: false,
    };
  }

  schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(this.#run, delayMs);
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#inFlight?.destroy();
  }

  #run = (): void => {
    this.#timer = undefined;
    let settled = false;
    const settle = (ok: boolean, reason: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      this.#inFlight = undefined;
      this.#verdict(ok, reason);
    };
    const req = (this.#https ? httpsRequest : httpRequest)(this.#request, (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      const expected = this.#options.status;
      const ok = expected === undefined ? status >= 200 && status < 300 : status === expected;
      // Only the status matters; the body is drained (bounded by the deadline) so the socket closes cleanly.
      res.resume();
      res.on('error', () => {});
      settle(ok, `status ${status}`);
      res.once('end', () => req.destroy());
    });
    this.#inFlight = req;
    const deadline = setTimeout(() => req.destroy(new CheckTimeoutError(`no answer within ${this.#options.timeoutMs} ms`)), this.#options.timeoutMs);
    deadline.unref();
    req.on('error', (err: Error & { code?: string }) => settle(false, err.code ?? err.message));
    req.end();
  };

  #verdict(ok: boolean, reason: string): void {
    if (this.#stopped) return;
    const server = this.#server;
    if (ok && server.activeDown) {
      server.activeDown = false;
      this.#log.info({ upstream: server.url, check: 'active' }, 'upstream server back up');
    } else if (!ok && !server.activeDown) {
      server.activeDown = true;
      this.#log.warn({ code: 'UPSTREAM_UNHEALTHY', upstream: server.url, check: 'active', reason }, 'upstream server taken out');
    }
    this.schedule(server.activeDown ? this.#options.unhealthyIntervalMs : this.#options.intervalMs);
  }
}
