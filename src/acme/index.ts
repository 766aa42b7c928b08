/** ACME: certificates obtained and renewed by gatehouse itself (RFC 8555, tls-alpn-01 RFC 8737, http-01). */
export { createAcmeManager, type AcmeManager, type AcmeManagerOptions, type ManagedCertificate } from './manager.js';
export { wantedCertificates, type WantedCertificate, type WantedCertificates } from './wanted.js';
export { AcmeError, type AcmeProblem } from './problems.js';
export { listStoredCertificates, AcmeStorage, type CertificateStatus } from './storage.js';
export type { ChallengeEndpoints } from './self-test.js';
