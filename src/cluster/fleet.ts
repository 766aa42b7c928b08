/**
 * The primary's side of `workers` > 1 (issue 21): it forks the worker processes (node:cluster, so they share the
 * listening sockets), restarts one that dies (with backoff, logged), and stands in for the edge of a single process
 * (the Edge interface): a reload's `update` is sent to every worker and answered by each, `close` drains them all,
 * `addresses` and `connections` are the workers'. What must exist once stays in the primary (src/api.ts): the ACME
 * manager, the control socket, the admin entry point, the config watch. What ACME installs reaches the workers here:
 * certificates (`certificate`) and pending challenges (`registry`), the latter acknowledged by every worker before
 * the CA is told to validate, since the CA's connection may land on any of them.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Config } from '../config/index.js';
import type { Edge } from '../edge/start.js';
import { GatehouseError, GatehouseErrors, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { ToPrimary, ToWorker, WireCertificate, WireError } from './messages.js';

/** First restart delay of a worker that died; doubled per death in a row, up to RESTART_MAX_MS. */
const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 30_000;
/** A worker that served this long before dying starts the backoff over. */
const RESTART_RESET_MS = 60_000;
/** Longest wait for a worker's answer (a reload, an acknowledgement, metrics) before going on without it. */
const ANSWER_TIMEOUT_MS = 10_000;
/** Longest wait for the workers to start serving. */
const START_TIMEOUT_MS = 30_000;
/** After the grace period, how long a worker still gets to exit before it is killed. */
const EXIT_MARGIN_MS = 5_000;

/** One worker position (id 1..N): the process in it changes when one dies and is restarted. */
interface Slot {
  readonly id: number;
  worker: Worker | undefined;
  /** Sent its `hello`: from then on it gets every reload, certificate and challenge (before, the hello carries them). */
  greeted: boolean;
  ready: boolean;
  startedAt: number;
  /** Deaths in a row (reset by a long enough life): the backoff's exponent. */
  deaths: number;
  restarts: number;
  restartTimer: NodeJS.Timeout | undefined;
  connections: Record<string, number>;
  /** UDP entry points' counters (Edge.udpCounters), as the worker last pushed them. */
  udp: Record<string, unknown>;
  addresses: Record<string, { address: string; port: number }>;
}

/** A worker as the status shows it. */
export interface WorkerInfo {
  readonly id: number;
  readonly pid: number | undefined;
  readonly ready: boolean;
  readonly startedAt: string;
  readonly restarts: number;
}

/** What the fleet reads of its primary. */
export interface FleetSources {
  /** The config in force: a worker (re)started gets this one. */
  config(): Config;
  /** Pending challenges, for a worker that starts while an order waits for validation. */
  challenges(): { http: [string, string][]; alpn: [string, string, string][] };
  /** Whether workers push their open connections (the admin entry point shows them). */
  readonly stats: boolean;
}

/** The primary's workers; an Edge for the gatehouse that owns it. */
export interface Fleet extends Edge {
  /** Forks every worker; resolves when all serve, rejects (and stops them) when one cannot start. */
  start(): Promise<void>;
  /** A certificate ACME installed: every worker (and every worker started later) serves it. */
  certificate(certificate: WireCertificate): void;
  /** A challenge put or removed; resolves when every running worker has it (bounded). */
  challenge(op: 'put' | 'remove', kind: 'http' | 'alpn', key: string, value?: { value?: string; certPem?: string; keyPem?: string }): Promise<void>;
  /** Each running worker's admin metrics (prom-client's getMetricsAsJSON), for the aggregate at /metrics. */
  metrics(): Promise<unknown[][]>;
  /** Sends SIGUSR1's meaning (reopen the log file) to every worker. */
  reopenLogs(): void;
  workers(): WorkerInfo[];
}

/** A fleet of `count` workers forked from this process (the CLI: they run `gatehouse start` with the same argv). */
export function createFleet(count: number, sources: FleetSources, log: Logger): Fleet {
  const slots: Slot[] = Array.from({ length: count }, (_, i) => ({
    id: i + 1,
    worker: undefined,
    greeted: false,
    ready: false,
    startedAt: 0,
    deaths: 0,
    restarts: 0,
    restartTimer: undefined,
    connections: {},
    udp: {},
    addresses: {},
  }));
  const certificates = new Map<string, WireCertificate>();
  /** Answers awaited, by seq: resolved by the worker's answer, its death, or the timeout. */
  const waiting = new Map<number, { slot: Slot; done: (answer: ToPrimary | undefined) => void }>();
  let seq = 0;
  let stopping = false;
  /** While starting: told of each worker that serves or fails. */
  let onStartEvent: ((slot: Slot, error?: WireError) => void) | undefined;

  const send = (slot: Slot, msg: ToWorker): boolean => {
    const w = slot.worker;
    if (!w || !w.isConnected()) return false;
    try {
      w.send(msg);
      return true;
    } catch {
      return false; // the channel closed under us: the exit handler takes it from here
    }
  };

  /** Sends a request to `slot` and resolves with its answer, or undefined (worker gone, timeout). */
  const ask = (slot: Slot, make: (seq: number) => ToWorker, timeoutMs = ANSWER_TIMEOUT_MS): Promise<ToPrimary | undefined> =>
    new Promise((resolve) => {
      const n = ++seq;
      if (!send(slot, make(n))) return resolve(undefined);
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      timer.unref();
      const finish = (answer: ToPrimary | undefined): void => {
        clearTimeout(timer);
        waiting.delete(n);
        resolve(answer);
      };
      waiting.set(n, { slot, done: finish });
    });

  const fork = (slot: Slot): void => {
    const worker = cluster.fork({ GATEHOUSE_WORKER: String(slot.id) });
    slot.worker = worker;
    slot.greeted = false;
    slot.ready = false;
    slot.startedAt = Date.now();
    slot.connections = {};
    worker.on('message', (msg: ToPrimary) => onMessage(slot, worker, msg));
    worker.on('exit', (code: number | null, signal: string | null) => onExit(slot, worker, code, signal as NodeJS.Signals | null));
    // An IPC error (the worker went away mid-send) is followed by its exit; nothing more to do here.
    worker.on('error', () => undefined);
  };

  const onMessage = (slot: Slot, worker: Worker, msg: ToPrimary): void => {
    if (slot.worker !== worker) return;
    switch (msg.t) {
      case 'waiting':
        // Read now, not at fork: a reload or a certificate since then is in it.
        slot.greeted = true;
        send(slot, { t: 'hello', id: slot.id, config: sources.config(), certificates: [...certificates.values()], challenges: sources.challenges(), stats: sources.stats });
        return;
      case 'ready':
        slot.ready = true;
        slot.addresses = msg.addresses;
        log.info({ worker: slot.id, pid: worker.process.pid, restarts: slot.restarts }, 'worker serving');
        onStartEvent?.(slot);
        return;
      case 'failed':
        onStartEvent?.(slot, msg.error);
        return;
      case 'stats':
        slot.connections = msg.connections;
        slot.udp = msg.udp;
        return;
      default:
        waiting.get(msg.seq)?.done(msg);
    }
  };

  const onExit = (slot: Slot, worker: Worker, code: number | null, signal: NodeJS.Signals | null): void => {
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    slot.ready = false;
    slot.connections = {};
    for (const w of waiting.values()) if (w.slot === slot) w.done(undefined);
    if (stopping || onStartEvent) {
      if (onStartEvent) onStartEvent(slot, { code: 'WORKER_FAILED', message: `worker ${slot.id} exited (code ${code ?? '-'}, signal ${signal ?? '-'}) before serving` });
      return;
    }
    const lived = Date.now() - slot.startedAt;
    slot.deaths = lived > RESTART_RESET_MS ? 1 : slot.deaths + 1;
    const delayMs = Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** (slot.deaths - 1));
    log.error({ worker: slot.id, pid: worker.process.pid, code, signal, livedMs: lived, restartInMs: delayMs }, 'worker exited, restarting it');
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (stopping) return;
      slot.restarts++;
      fork(slot);
    }, delayMs);
  };

  const start = async (): Promise<void> => {
    const settled = new Promise<void>((resolve, reject) => {
      let ready = 0;
      const timer = setTimeout(() => reject(new GatehouseError('WORKER_FAILED', `the workers did not all start serving within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
      onStartEvent = (slot, error) => {
        if (error) {
          clearTimeout(timer);
          return reject(fromWire(error));
        }
        if (++ready === slots.length) {
          clearTimeout(timer);
          resolve();
        }
        void slot;
      };
    });
    for (const slot of slots) fork(slot);
    try {
      await settled;
    } catch (err) {
      onStartEvent = undefined;
      await stopAll(0);
      throw err;
    }
    onStartEvent = undefined;
  };

  /** Tells every worker to drain within `graceMs`, waits for them to exit (killing any that outstays the margin). */
  const stopAll = async (graceMs: number): Promise<void> => {
    stopping = true;
    const exits: Promise<void>[] = [];
    for (const slot of slots) {
      clearTimeout(slot.restartTimer);
      const w = slot.worker;
      if (!w) continue;
      exits.push(
        new Promise<void>((resolve) => {
          if (w.isDead()) return resolve();
          const kill = setTimeout(() => w.process.kill('SIGKILL'), graceMs + EXIT_MARGIN_MS);
          w.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          if (!send(slot, { t: 'stop', graceMs })) w.process.kill('SIGTERM');
        }),
      );
    }
    await Promise.all(exits);
  };

  const running = (): Slot[] => slots.filter((s) => s.greeted && s.worker !== undefined && s.worker.isConnected());

  // Asserted: the UDP entry points' counters (Edge.udpCounters) are passed through as the workers give them.
  return {
    start,
    addresses() {
      return slots.find((s) => s.ready)?.addresses ?? {};
    },
    connections() {
      const sum: Record<string, number> = {};
      for (const s of slots) for (const [ep, n] of Object.entries(s.connections)) sum[ep] = (sum[ep] ?? 0) + n;
      return sum;
    },
    udpCounters: () => Object.assign({}, ...slots.map((s) => s.udp)) as Record<string, unknown>,
    async update(config, _graceMs) {
      // Every worker swaps to the config the primary validated; a worker that dies meanwhile is restarted on it.
      const live = running();
      const answers = await Promise.all(live.map((s) => ask(s, (n) => ({ t: 'reload', seq: n, config }))));
      const seen = new Set<string>();
      const errors: GatehouseError[] = [];
      answers.forEach((a, i) => {
        if (a?.t === 'reloaded') live[i]!.addresses = a.addresses;
      });
      for (const a of answers) {
        if (a?.t !== 'reloaded') continue;
        for (const e of a.errors) {
          if (seen.has(e.message)) continue;
          seen.add(e.message);
          errors.push(fromWire(e));
        }
      }
      if (errors.length > 0) throw new GatehouseErrors(errors);
    },
    close: stopAll,
    certificate(certificate) {
      certificates.set(certificate[0], certificate);
      for (const s of running()) send(s, { t: 'certificate', certificate });
    },
    async challenge(op, kind, key, value = {}) {
      await Promise.all(running().map((s) => ask(s, (n) => ({ t: 'challenge', seq: n, op, kind, key, ...value }))));
    },
    async metrics() {
      const answers = await Promise.all(running().filter((s) => s.ready).map((s) => ask(s, (n) => ({ t: 'metrics', seq: n }), 2_000)));
      return answers.flatMap((a) => (a?.t === 'metrics' ? [a.metrics] : []));
    },
    reopenLogs() {
      for (const s of running()) send(s, { t: 'reopen-log' });
    },
    workers: () =>
      slots.map((s) => ({ id: s.id, pid: s.worker?.process.pid, ready: s.ready, startedAt: new Date(s.startedAt).toISOString(), restarts: s.restarts })),
  } as Fleet;
}

/** A GatehouseError from its wire form (a worker's start or reload error). */
export function fromWire(e: WireError): GatehouseError {
  return new GatehouseError(e.code as ErrorCode, e.message, e.path !== undefined ? { location: { path: e.path } } : {});
}

/** The wire form of an error a worker met. */
export function toWire(err: unknown): WireError {
  if (err instanceof GatehouseErrors) return { ...toWire(err.errors[0]), message: err.errors.map((e) => e.message).join('; ') };
  if (err instanceof GatehouseError) return { code: err.code, message: err.message, ...(err.location.path !== undefined ? { path: err.location.path } : {}) };
  return { code: 'WORKER_FAILED', message: (err as Error)?.message ?? String(err) };
}
