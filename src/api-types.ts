/**
 * The library's public types: what `createGatehouse` takes (GatehouseOptions), the instance it returns (Gatehouse),
 * a reload's outcome (ReloadResult) and what `gatehouse status` shows (GatehouseStatus). src/api.ts re-exports them;
 * a module that only names them can import them from here without importing the API itself.
 */
import type { Config } from './config/index.js';
import type { ManagedCertificate } from './acme/index.js';
import type { HandlerFactory, MiddlewareFactory } from './http/contract.js';
import type { RouterProblem } from './http/router.js';
import type { Logger } from './log.js';
import type { WorkerInfo } from './cluster/fleet.js';

/** How to build a gatehouse. */
export interface GatehouseOptions {
  /** A config object (validated against the schema) or the path of a JSON config file (with ${VAR} substitution). */
  config: Config | string;
  /** Custom handlers, referenced from `http.services.NAME.plugin.name`. */
  handlers?: Record<string, HandlerFactory>;
  /** Custom middlewares, referenced from `http.middlewares.NAME.plugin.name`. */
  middlewares?: Record<string, MiddlewareFactory>;
  /** A pino logger; by default JSON lines on stdout at the config's level. */
  logger?: Logger;
  /** Environment for ${VAR} substitution; process.env by default. */
  env?: NodeJS.ProcessEnv;
}

/** A running (or ready to run) gatehouse. */
export interface Gatehouse {
  /** The config in force (a reload replaces it). */
  readonly config: Config;
  /** Routers disabled because of a problem in their piece of the config in force. */
  readonly problems: readonly RouterProblem[];
  /** Bind every entry point. Rejects with LISTEN_FAILED if one cannot bind (the others are closed again). */
  start(): Promise<void>;
  /** Bound address and port of each entry point, by name. */
  addresses(): Record<string, { address: string; port: number }>;
  /**
   * Reload: re-read the config file (or take `config`), validate it, build a new runtime and swap it in. Never
   * rejects for a bad config: the running one stays and the result carries the errors (also logged).
   */
  reload(config?: Config): Promise<ReloadResult>;
  /** What `gatehouse status` shows. */
  status(): GatehouseStatus;
  /** Stop accepting, let in-flight requests finish within the grace period, close pools. */
  stop(options?: { graceMs?: number }): Promise<void>;
  /** The certificates ACME manages (certificateResolvers), with their renewal time and last error. */
  managedCertificates(): readonly ManagedCertificate[];
  /** Orders a new certificate for `name` now (ACME); resolves when the attempt ended, logged either way. */
  renewCertificate(name: string): Promise<void>;
  /** Reopens `log.file` at its path (after logrotate renamed it; the CLI does this on SIGUSR1); logs that it did. */
  reopenLogFile(): void;
}

/** The outcome of one reload. */
export interface ReloadResult {
  /** Applied, and all of it serves (outcome `ok`). */
  readonly ok: boolean;
  /**
   * `ok`; `problems`: applied, but it disables routers or certificates, or part of it could not be applied (an entry
   * point that cannot bind); `refused`: the running config stays (invalid file, or `lifecycle.reload: strict` with problems).
   */
  readonly outcome: 'ok' | 'problems' | 'refused';
  /** The outcome in words, as the status page shows it: "ok", "applied with 2 problems", "refused, the running config stays". */
  readonly summary: string;
  readonly at: string;
  /** Time from reading the file to the new config serving. */
  readonly ms: number;
  /** Why the new config was refused (file, JSON path, message), or what could not be applied (an entry point that cannot bind). */
  readonly errors: readonly string[];
  /** What the config disables (as `gatehouse check` lists it): routers with a broken rule or unknown reference, certificates. */
  readonly problems: readonly string[];
}

/** A running instance's state. */
export interface GatehouseStatus {
  readonly configFile: string | undefined;
  readonly startedAt: string | undefined;
  readonly reloads: number;
  readonly lastReload: ReloadResult | undefined;
  readonly entryPoints: Record<string, { address: string; port: number }>;
  /** Routers disabled in the config in force. */
  readonly problems: readonly string[];
  /** Runtimes replaced by a reload that still serve something (long requests, websockets, passthrough streams). */
  readonly retiredRuntimes: number;
  /** Where the admin entry point listens (metrics, status page, JSON API); absent when it is off. */
  readonly admin?: { address: string; port: number } | undefined;
  /** With `workers` > 1: the worker processes (pid, restarts); absent in a single process. */
  readonly workers?: readonly WorkerInfo[] | undefined;
}
