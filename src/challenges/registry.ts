/**
 * Pending ACME challenges: the http-01 key authorizations by token and the tls-alpn-01 certificates by name, put by
 * the ACME manager while an authorization is being validated and read by the edge (the HTTP entry hook, the TLS
 * listener's ClientHello branch). The edge only reads, per request or handshake, and never waits on anything.
 */
import { createSecureContext, type SecureContext } from 'node:tls';

/**
 * What the edge and the ACME manager need from a challenge store. Contract: reads are synchronous and never throw
 * (the edge calls them on its hot path); a put replaces any earlier entry for the same token or name; a remove of an
 * absent entry is a no-op. Issue 6 adds a store shared by several instances behind this same interface: its reads
 * must then answer from a local cache, filled ahead of the CA's validation.
 */
export interface ChallengeRegistry {
  /** The key authorization to answer for an http-01 token (RFC 8555 §8.3), or undefined. */
  httpKeyAuthorization(token: string): string | undefined;
  /** The acme-tls/1 context for a name with a pending tls-alpn-01 challenge (RFC 8737 §3), or undefined. */
  alpnContext(name: string): SecureContext | undefined;
  putHttp(token: string, keyAuthorization: string): void;
  removeHttp(token: string): void;
  /** Compiles the challenge certificate once; the handshake only looks it up. */
  putAlpn(name: string, certPem: string, keyPem: string): void;
  removeAlpn(name: string): void;
  /**
   * Shared stores only (issue 6): ask the shared store for a token the local cache does not hold (another instance's
   * pending challenge). Bounded in time; resolves undefined when absent or when the store cannot be reached.
   */
  fetchHttpKeyAuthorization?(token: string): Promise<string | undefined>;
  /** Shared stores only: the acme-tls/1 context of another instance's pending tls-alpn-01 challenge for `name`. */
  fetchAlpnContext?(name: string): Promise<SecureContext | undefined>;
}

/** A registry held in this process's memory (one instance; lost on restart, which only aborts pending orders). */
export function createMemoryChallengeRegistry(): ChallengeRegistry {
  const tokens = new Map<string, string>();
  const alpn = new Map<string, SecureContext>();
  // SNI is case-insensitive (RFC 6066 §3); names are stored lower case and looked up the same way.
  return {
    httpKeyAuthorization: (token) => tokens.get(token),
    alpnContext: (name) => (alpn.size === 0 ? undefined : alpn.get(name.toLowerCase())),
    putHttp: (token, keyAuthorization) => void tokens.set(token, keyAuthorization),
    removeHttp: (token) => void tokens.delete(token),
    putAlpn(name, certPem, keyPem) {
      alpn.set(name.toLowerCase(), createSecureContext({ cert: certPem, key: keyPem, minVersion: 'TLSv1.2' }));
    },
    removeAlpn: (name) => void alpn.delete(name.toLowerCase()),
  };
}
