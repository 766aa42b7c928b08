/**
 * ACME state on disk, under `<stateDir>/acme/<ca-id>/`: the account key (0600) and URL per email, and per
 * certificate a directory with the chain, its key (0600) and a small status file (last error, next renewal).
 * The implementation is the directory backend of src/storage/ (which also has Redis); this name stays for
 * `gatehouse certs`, which reads the directory of a running or stopped instance.
 */
export { DirectoryCaStorage as AcmeStorage, listStoredCertificates, type CertificateStatus, type StoredCertificate } from '../storage/index.js';
