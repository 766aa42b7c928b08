/**
 * dns-01 (RFC 8555 §8.4): the solver the order uses and the providers behind it (RFC 2136 with TSIG, exec,
 * Cloudflare), one file per concept.
 */
export { createDnsSolver, type DnsSolver, type DnsSolverOptions } from './solver.js';
export type { DnsProvider, TxtRecord } from './provider.js';
