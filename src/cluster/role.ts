/**
 * How a gatehouse process takes part in `workers` > 1 (src/api.ts reads it; types only, so a single process loads
 * none of src/cluster/). The primary forks the workers and owns what must exist once; a worker serves the entry
 * points on the config the primary validated, with the certificates and challenges the primary's ACME manager sends.
 */
import type { Admin } from '../admin/index.js';
import type { CertStore } from '../certs/index.js';
import type { ChallengeRegistry } from '../challenges/index.js';
import type { Config } from '../config/index.js';
import type { Edge } from '../edge/start.js';

/** The primary: `count` workers serve; this process binds no entry point. */
export interface PrimaryRole {
  readonly kind: 'primary';
  readonly count: number;
}

/** A worker: no ACME manager, no control socket, no admin listener, no config watch; the primary asks for all that. */
export interface WorkerRole {
  readonly kind: 'worker';
  /** 1..N, in log lines as `worker`. */
  readonly id: number;
  /** The config the primary validated (it is not read from the file: the file may have changed since). */
  readonly config: Config;
  /** Filled by the primary's messages; read by the edge. */
  readonly challenges: ChallengeRegistry;
  /** Each certificate store built (at start, by a reload): the worker puts the ACME certificates it holds into it. */
  certStoreBuilt(store: CertStore): void;
  /** Once started: what the worker's message handler reads (metrics, open connections). */
  attach(view: { admin(): Admin | undefined; edge(): Edge | undefined }): void;
}

export type ClusterRole = PrimaryRole | WorkerRole;
