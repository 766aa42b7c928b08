/**
 * The admin section's own checks, apart from the admin itself: `gatehouse check` and every reload run them, and a
 * running gatehouse without an admin loads nothing else of it (the page, the metrics, prom-client).
 */
import type { AdminConfig } from '../config/index.js';
import { ADMIN_DEFAULT_ADDRESS } from '../config/option-defaults.js';
import { parseListenAddress, type ListenAddress } from '../edge/address.js';
import { GatehouseError } from '../errors.js';
import type { Wrapper } from '../http/middlewares.js';
import { createBasicAuth } from '../middlewares/basic-auth.js';

const ADMIN_REALM = 'gatehouse admin';
/** The admin's name where an entry point's would be (log lines, address errors). */
export const ADMIN_NAME = 'admin';

/** The admin's listen address; throws CONFIG_SCHEMA at `/admin/address` when it is not host:port. */
export function adminAddress(text: string): ListenAddress {
  try {
    return parseListenAddress(text, ADMIN_NAME);
  } catch (err) {
    if (!(err instanceof GatehouseError)) throw err;
    throw new GatehouseError('CONFIG_SCHEMA', `admin: address ${JSON.stringify(text)} is not host:port (expected e.g. "127.0.0.1:8081", ":8081", "[::1]:8081")`, { location: { path: '/admin/address' } });
  }
}

/** The basic auth around every admin path, or none; throws MIDDLEWARE_CONFIG (at `/admin/basicAuth/users/N`) for a line it cannot use. */
export function adminAuth(spec: AdminConfig): Wrapper | undefined {
  return spec.basicAuth && createBasicAuth({ users: spec.basicAuth.users, realm: spec.basicAuth.realm ?? ADMIN_REALM }, '/admin/basicAuth');
}

/** What `gatehouse check` reports about an `admin` section: an address that is not host:port, an unusable basicAuth line. */
export function checkAdmin(spec: AdminConfig): GatehouseError[] {
  const problems: GatehouseError[] = [];
  for (const step of [() => adminAddress(spec.address ?? ADMIN_DEFAULT_ADDRESS), () => adminAuth(spec)]) {
    try {
      step();
    } catch (err) {
      if (!(err instanceof GatehouseError)) throw err;
      problems.push(err);
    }
  }
  return problems;
}

