/**
 * Defaults of the middleware options and of the admin entry point, written once: the schema shows them
 * (schema-middlewares.ts, schema-admin.ts) and src/middlewares and src/admin apply them. A file of its own so that
 * code applying a default does not load the schema's TypeBox builders.
 */

/** Defaults of the middleware options, written once: the schema shows them and src/middlewares applies them. */
export const MIDDLEWARE_DEFAULTS = {
  realm: 'gatehouse',
  /** How long a successful basic-auth check is remembered, so a logged-in browser does not pay bcrypt per request. */
  basicAuthCacheMs: 60_000,
  forwardAuthTimeout: '30s',
  rateLimitPeriod: '1s',
  rateLimitBurst: 1,
  ipAllowListRejectStatus: 403,
  compressMinBytes: 1024,
  /** br first: at quality 4 it is about as fast as gzip and smaller. */
  compressEncodings: ['br', 'gzip'],
} as const;

/** Where the admin entry point listens by default: this host only. */
export const ADMIN_DEFAULT_ADDRESS = '127.0.0.1:8081';
