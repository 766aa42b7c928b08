/**
 * Active health checks of TCP servers, as Traefik's (pkg/healthcheck/healthcheck_tcp.go): connect, send `send` if
 * set, read as many bytes as `expect` holds and compare; all within `timeout`. A server that fails is marked down
 * (the balancers skip it for new connections) and checked every `unhealthyInterval` until it passes again.
 * Connections already piped to it are left alone. Timers are unref'd; stop() clears them and cuts checks in flight.
 */
import { connect, type Socket } from 'node:net';
import type { Logger } from '../log.js';
import type { TcpServer } from './backend.js';

/** Check settings of one service; durations in ms. */
export interface TcpHealthCheckOptions {
  /** Port checked instead of the server's. */
  readonly port: number | undefined;
  /** Sent once connected; empty = nothing. */
  readonly send: Buffer;
  /** The answer awaited; empty = none (the check passes once connected and `send` written). */
  readonly expect: Buffer;
  readonly intervalMs: number;
  readonly unhealthyIntervalMs: number;
  readonly timeoutMs: number;
}

/** The running checks of some servers. */
export interface TcpHealthChecks {
  /** Clear every timer and cut checks in flight; idempotent. */
  stop(): void;
}

/** Start checking `servers` (the first check at once), then every interval. */
export function startTcpHealthChecks(servers: readonly TcpServer[], options: TcpHealthCheckOptions, log: Logger): TcpHealthChecks {
  const checks = servers.map((s) => new ServerCheck(s, options, log));
  for (const c of checks) c.schedule(0);
  return {
    stop() {
      for (const c of checks) c.stop();
    },
  };
}

/** One server's check loop; at most one check in flight. */
class ServerCheck {
  readonly #server: TcpServer;
  readonly #options: TcpHealthCheckOptions;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #socket: Socket | undefined;
  #stopped = false;

  constructor(server: TcpServer, options: TcpHealthCheckOptions, log: Logger) {
    this.#server = server;
    this.#options = options;
    this.#log = log;
  }

  schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(this.#run, delayMs);
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#socket?.destroy();
  }

  #run = (): void => {
    this.#timer = undefined;
    const { send, expect, timeoutMs } = this.#options;
    const { host, port } = this.#server.backend;
    const socket = connect({ host, port: this.#options.port ?? port });
    this.#socket = socket;
    let settled = false;
    let got: Buffer = Buffer.alloc(0);
    const settle = (ok: boolean, reason: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      this.#socket = undefined;
      socket.destroy();
      this.#verdict(ok, reason);
    };
    const deadline = setTimeout(() => settle(false, `no ${expect.length > 0 && socket.readyState === 'open' ? 'answer' : 'connection'} within ${timeoutMs} ms`), timeoutMs);
    deadline.unref();
    socket.on('error', (err: NodeJS.ErrnoException) => settle(false, err.code ?? err.message));
    socket.once('connect', () => {
      if (expect.length === 0) {
        // Traefik closes once `send` is written; the write's callback says it reached the kernel.
        if (send.length === 0) return settle(true, 'connected');
        socket.write(send, (err) => settle(err === undefined || err === null, err ? err.message : 'sent'));
        return;
      }
      if (send.length > 0) socket.write(send);
      socket.on('data', (chunk: Buffer) => {
        got = got.length === 0 ? chunk : Buffer.concat([got, chunk]);
        if (got.length < expect.length) return;
        const answer = got.subarray(0, expect.length);
        settle(answer.equals(expect), answer.equals(expect) ? 'expected answer' : `unexpected answer ${JSON.stringify(answer.toString('latin1'))}`);
      });
      socket.once('end', () => settle(false, `closed after ${got.length} of ${expect.length} expected bytes`));
    });
  };

  #verdict(ok: boolean, reason: string): void {
    if (this.#stopped) return;
    const server = this.#server;
    const fields = { service: server.link.service, backend: server.backend.address, check: 'active' };
    if (ok && !server.up) {
      server.up = true;
      this.#log.info(fields, 'tcp backend back up');
    } else if (!ok && server.up) {
      server.up = false;
      this.#log.warn({ code: 'TCP_UNHEALTHY', ...fields, reason }, 'tcp backend taken out');
    }
    this.schedule(server.up ? this.#options.intervalMs : this.#options.unhealthyIntervalMs);
  }
}
