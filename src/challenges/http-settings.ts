/**
 * What the http-01 challenge chain needs from one config, compiled once: the peers, the stateless thumbprints by
 * name, and the names this config orders itself. A reload builds a new one and swaps it whole; the responder reads
 * it per request through a getter, never captures it.
 */
import type { Config } from '../config/index.js';
import type { GatehouseError } from '../errors.js';
import { statelessAnswers, type ResolverNames } from './http-stateless.js';
import { peerSettings, type PeerSettings } from './peers.js';

/** The http-01 settings of one config. */
export interface HttpChallengeSettings {
  readonly peers: PeerSettings | undefined;
  /** Stateless resolvers' account key thumbprints, by lower-case name. */
  readonly statelessThumbprints: ReadonlyMap<string, string>;
  /**
   * Names this config orders certificates for. Their tokens are gatehouse's own (this instance's or a peer's), so a
   * router's backend is not asked for them.
   */
  readonly managedNames: ReadonlySet<string>;
  /** Config problems found while building (a stateless resolver without a usable account key). */
  readonly problems: readonly GatehouseError[];
}

/** Builds the settings; `wanted` is acme/wanted.ts's list for `config`. Never throws. */
export function httpChallengeSettings(config: Config, configFile: string | undefined, wanted: readonly ResolverNames[]): HttpChallengeSettings {
  const stateless = statelessAnswers(config, configFile, wanted);
  return {
    peers: peerSettings(config),
    statelessThumbprints: stateless.thumbprints,
    managedNames: new Set(wanted.flatMap((w) => w.names)),
    problems: stateless.problems,
  };
}
