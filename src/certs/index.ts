/** The certificates' public face: the store the TLS listener asks, its parts, and the TLS protocol settings. */
export { createCertStore, type CertInfo, type CertStore, type CertStoreOptions } from './store.js';
export { buildSniIndex, type IndexedCert, type NameConflict, type SniIndex } from './lookup.js';
export { dnsNames, pairCertificates, parsePemFile, type CertPair, type KeyType, type ParsedCert, type ParsedKey, type PemFile } from './pem.js';
export { DEFAULT_CERT_NAME, generateSelfSigned, loadOrCreateDefaultCertificate, type PemPair } from './self-signed.js';
export { ensurePrivateDir, writeFileAtomic } from './atomic-write.js';
export { DEFAULT_CIPHERS, DEFAULT_ECDH_CURVE, secureContextBase, TicketKeys, type TicketKeyHolder, type TlsSettings } from './tls-settings.js';
export { resolveCertsDir, resolveConfigRelative, resolveStateDir, resolveTlsPaths, type TlsPaths } from '../config/paths.js';
