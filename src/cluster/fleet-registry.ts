/**
 * The primary's challenge registry with `workers` > 1: every put and remove also goes to every worker (the CA's
 * validation connection may land on any of them, RFC 8555 §8.3 and RFC 8737 §3), and `published` resolves once every
 * running worker acknowledged it, so the ACME order (src/acme/order.ts) tells the CA to validate only then. A worker
 * started later gets the pending ones in its first message (`pending`). With Redis storage the inner registry is the
 * shared one, whose pub/sub also reaches other instances; its own `published` is awaited too.
 */
import { isSharedRegistry, type ChallengeRegistry, type SharedChallengeRegistry } from '../challenges/index.js';
import type { Fleet } from './fleet.js';

/** A registry whose puts reach every worker; `pending()` is what a starting worker is given. */
export interface FleetRegistry extends SharedChallengeRegistry {
  pending(): { http: [string, string][]; alpn: [string, string, string][] };
}

/** Wraps `inner` (the memory or the shared registry) so that `fleet`'s workers hold the same challenges. */
export function createFleetRegistry(inner: ChallengeRegistry, fleet: () => Fleet | undefined): FleetRegistry {
  const http = new Map<string, string>();
  const alpn = new Map<string, [string, string]>();
  /** The workers' acknowledgement of the last put of each key, awaited by `published`. */
  const delivered = new Map<string, Promise<void>>();
  const deliver = (op: 'put' | 'remove', kind: 'http' | 'alpn', key: string, value?: { value?: string; certPem?: string; keyPem?: string }): void => {
    const done = fleet()?.challenge(op, kind, key, value) ?? Promise.resolve();
    if (op === 'put') delivered.set(`${kind}:${key}`, done);
    else delivered.delete(`${kind}:${key}`);
  };
  return {
    httpKeyAuthorization: (token) => inner.httpKeyAuthorization(token),
    alpnContext: (name) => inner.alpnContext(name),
    putHttp(token, keyAuthorization) {
      inner.putHttp(token, keyAuthorization);
      http.set(token, keyAuthorization);
      deliver('put', 'http', token, { value: keyAuthorization });
    },
    removeHttp(token) {
      inner.removeHttp(token);
      http.delete(token);
      deliver('remove', 'http', token);
    },
    putAlpn(name, certPem, keyPem) {
      inner.putAlpn(name, certPem, keyPem);
      alpn.set(name.toLowerCase(), [certPem, keyPem]);
      deliver('put', 'alpn', name.toLowerCase(), { certPem, keyPem });
    },
    removeAlpn(name) {
      inner.removeAlpn(name);
      alpn.delete(name.toLowerCase());
      deliver('remove', 'alpn', name.toLowerCase());
    },
    ...(inner.fetchHttpKeyAuthorization ? { fetchHttpKeyAuthorization: (token: string) => inner.fetchHttpKeyAuthorization!(token) } : {}),
    ...(inner.fetchAlpnContext ? { fetchAlpnContext: (name: string) => inner.fetchAlpnContext!(name) } : {}),
    async published(kind, key) {
      const k = kind === 'http' ? key : key.toLowerCase();
      await Promise.all([delivered.get(`${kind}:${k}`), isSharedRegistry(inner) ? inner.published(kind, key) : undefined]);
    },
    close() {
      if (isSharedRegistry(inner)) inner.close();
    },
    pending: () => ({ http: [...http], alpn: [...alpn].map(([name, [c, k]]) => [name, c, k] as [string, string, string]) }),
  };
}
