/**
 * ACME: certificates obtained and renewed by gatehouse itself (RFC 8555, tls-alpn-01 RFC 8737, http-01). The manager
 * and acme-client under it (4.5 MB of heap) are loaded only where a config has resolvers: `loadAcmeManager()`.
 */
export type { AcmeManager, AcmeManagerOptions, ManagedCertificate } from './manager.js';

/** The manager's factory, loaded on first call. */
export async function loadAcmeManager(): Promise<typeof import('./manager.js').createAcmeManager> {
  return (await import('./manager.js')).createAcmeManager;
}
export { wantedCertificates, type WantedCertificate, type WantedCertificates } from './wanted.js';
export { AcmeError, type AcmeProblem } from './problems.js';
export { listStoredCertificates, AcmeStorage, type CertificateStatus } from './storage.js';
export type { ChallengeEndpoints } from './self-test.js';
