/**
 * Active health checks: every server is requested on its own timer; a failed check marks it down (the selection
 * policies skip it) until a check passes again. Timers are unref'd and stop() clears them and cuts checks in
 * flight, so a retired config leaves nothing running. An https:// server is checked through its own TLS connector
 * (its transport's CAs, server name and client certificate; a TLS failure is the reason logged, in the same words as
 * a request's), an h2c:// one over HTTP/2 with prior knowledge (an h2c-only server answers nothing else).
 */
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type RequestOptions } from 'node:http';
import { connect as h2Connect, constants as h2, type ClientHttp2Session } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import type { Logger } from 'pino';
import { ConnectorAgent } from './tls-connector.js';
import type { UpstreamServer } from './upstream-server.js';

/** Active check settings, durations in ms. */
export interface HealthCheckOptions {
  /** Path (and query) requested. */
  path: string;
  method: string;
  /** Default: the server URL's (an h2c:// server is checked over h2c). */
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

/** A failed check's reason: Node's error code, or the whole message of a TLS failure (it says what to fix). */
function reasonOf(err: Error & { code?: string }): string {
  return err.code === 'UPSTREAM_TLS' || err.code === undefined ? err.message : err.code;
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
  /** The server is h2c:// and no other scheme was asked for: checked over HTTP/2. */
  readonly #h2c: boolean;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: { destroy(err?: Error): unknown } | undefined;
  #stopped = false;

  constructor(server: UpstreamServer, options: HealthCheckOptions, log: Logger) {
    this.#server = server;
    this.#options = options;
    this.#log = log;
    const url = new URL(server.origin);
    this.#https = (options.scheme ?? (server.protocol === 'https' ? 'https' : 'http')) === 'https';
    this.#h2c = server.protocol === 'h2c' && options.scheme === undefined;
    // https:// servers: through their own connector (a fresh connection per check; the TLS session is resumed).
    const agent = this.#https && server.protocol === 'https' && server.connect !== undefined ? new ConnectorAgent(server.connect) : false;
    this.#request = {
      // URL.hostname keeps IPv6 brackets; the socket layer wants the bare address.
      hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
      port: options.port ?? (url.port || (this.#https ? 443 : 80)),
      path: options.path,
      method: options.method,
      headers: { ...options.headers, host: options.hostname ?? server.host },
      // A fresh connection per check: a check must see whether a new connection can be made at all.
      agent,
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

  /** Whether `status` means healthy. */
  #healthy(status: number): boolean {
    const expected = this.#options.status;
    return expected === undefined ? status >= 200 && status < 300 : status === expected;
  }

  #run = (): void => {
    this.#timer = undefined;
    let settled = false;
    let deadline: NodeJS.Timeout | undefined;
    const settle = (ok: boolean, reason: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      this.#inFlight = undefined;
      this.#verdict(ok, reason);
    };
    if (this.#h2c) {
      const check = this.#h2cCheck(settle);
      this.#inFlight = check;
      deadline = setTimeout(() => check.destroy(new CheckTimeoutError(`no answer within ${this.#options.timeoutMs} ms`)), this.#options.timeoutMs);
      deadline.unref();
      return;
    }
    const req = (this.#https ? httpsRequest : httpRequest)(this.#request, (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      const ok = this.#healthy(status);
      // Only the status matters; the body is drained (bounded by the deadline) so the socket closes cleanly.
      res.resume();
      res.on('error', () => {});
      settle(ok, `status ${status}`);
      res.once('end', () => req.destroy());
    });
    this.#inFlight = req;
    deadline = setTimeout(() => req.destroy(new CheckTimeoutError(`no answer within ${this.#options.timeoutMs} ms`)), this.#options.timeoutMs);
    deadline.unref();
    req.on('error', (err: Error & { code?: string }) => settle(false, reasonOf(err)));
    req.end();
  };

  /** One check over HTTP/2 with prior knowledge (RFC 9113 §3.3) on a fresh session; `settle` gets the outcome. */
  #h2cCheck(settle: (ok: boolean, reason: string) => void): { destroy(err?: Error): void } {
    const r = this.#request;
    const session: ClientHttp2Session = h2Connect(`http://${r.hostname?.includes(':') ? `[${r.hostname}]` : r.hostname}:${r.port}`);
    const fail = (err: Error & { code?: string }): void => {
      settle(false, reasonOf(err));
      session.destroy();
    };
    session.on('error', fail);
    const { host, ...headers } = (r.headers ?? {}) as Record<string, string>;
    const request: OutgoingHttpHeaders = { ...headers, [h2.HTTP2_HEADER_METHOD]: r.method ?? 'GET', [h2.HTTP2_HEADER_PATH]: r.path ?? '/', [h2.HTTP2_HEADER_AUTHORITY]: host };
    const stream = session.request(request);
    stream.on('error', fail);
    stream.on('response', (head) => {
      const status = Number(head[h2.HTTP2_HEADER_STATUS] ?? 0);
      settle(this.#healthy(status), `status ${status}`);
      stream.close();
      session.close();
    });
    stream.resume();
    stream.end();
    return {
      destroy: (err?: Error) => {
        if (err) fail(err);
        else session.destroy();
      },
    };
  }

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
