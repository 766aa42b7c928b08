/** The pending ACME challenges the edge answers. */
export { createMemoryChallengeRegistry, type ChallengeRegistry } from './registry.js';
