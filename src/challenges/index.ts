/** The pending ACME challenges the edge answers. */
export { createMemoryChallengeRegistry, type ChallengeRegistry } from './registry.js';
export { isSelf, LOOP_GUARD_HEADER, peerSettings, type Peer, type PeerSettings } from './peers.js';
export { createSharedChallengeRegistry, isSharedRegistry, type SharedChallengeRegistry } from './shared-registry.js';
