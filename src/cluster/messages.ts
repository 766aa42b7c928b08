/**
 * The IPC messages between the primary and its workers (node:cluster's channel: JSON, in order, per worker). A
 * request that wants an answer carries `seq`; the answer carries the same `seq`.
 */
import type { Config } from '../config/index.js';

/** A typed error crossing the channel: enough to rebuild a GatehouseError with its code and config path. */
export interface WireError {
  readonly code: string;
  readonly message: string;
  readonly path?: string | undefined;
}

/** A certificate the primary's ACME manager installed, by its source name (the certificate store's `put`). */
export type WireCertificate = readonly [source: string, certPem: string, keyPem: string];

/** Pending challenges: http-01 key authorizations by token, tls-alpn-01 certificates by name. */
export interface WireChallenges {
  readonly http: readonly (readonly [token: string, keyAuthorization: string])[];
  readonly alpn: readonly (readonly [name: string, certPem: string, keyPem: string])[];
}

/** Primary → worker. */
export type ToWorker =
  /** The first message: what a worker starts on (the config the primary validated, what ACME installed so far). */
  | { readonly t: 'hello'; readonly id: number; readonly config: Config; readonly certificates: readonly WireCertificate[]; readonly challenges: WireChallenges; readonly stats: boolean }
  /** Swap in a config the primary already validated; answered by `reloaded`. */
  | { readonly t: 'reload'; readonly seq: number; readonly config: Config }
  | { readonly t: 'certificate'; readonly certificate: WireCertificate }
  /** A challenge put or removed; answered by `ack` once the worker's registry has it. */
  | { readonly t: 'challenge'; readonly seq: number; readonly op: 'put' | 'remove'; readonly kind: 'http' | 'alpn'; readonly key: string; readonly value?: string; readonly certPem?: string; readonly keyPem?: string }
  /** Answered by `metrics`: the worker's admin registry as prom-client's getMetricsAsJSON gives it. */
  | { readonly t: 'metrics'; readonly seq: number }
  /** Drain within `graceMs` and exit. */
  | { readonly t: 'stop'; readonly graceMs: number }
  | { readonly t: 'reopen-log' };

/** Worker → primary. */
export type ToPrimary =
  /** The worker listens for messages now (one sent before would be lost): the primary answers with `hello`. */
  | { readonly t: 'waiting' }
  | { readonly t: 'ready'; readonly addresses: Record<string, { address: string; port: number }> }
  | { readonly t: 'failed'; readonly error: WireError }
  | { readonly t: 'reloaded'; readonly seq: number; readonly errors: readonly WireError[]; readonly addresses: Record<string, { address: string; port: number }> }
  | { readonly t: 'ack'; readonly seq: number }
  | { readonly t: 'metrics'; readonly seq: number; readonly metrics: unknown[] }
  /** Pushed every few seconds when the admin entry point is on: open connections per entry point. */
  | { readonly t: 'stats'; readonly connections: Record<string, number>; readonly udp: Record<string, unknown> };
