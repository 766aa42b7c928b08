/**
 * The one catalogue of gatehouse's error codes. Every code has a line here and a section in docs/errors.md
 * (a test keeps the two in step). Codes are stable: scripts and operators may match on them.
 */
export const ERROR_CODES = {
  CONFIG_READ: 'The config file could not be read (missing, unreadable, or a directory).',
  CONFIG_SYNTAX: 'The config file is not valid JSON; the message gives line and column.',
  CONFIG_VARIABLE: 'A ${VAR} reference names an unset environment variable and has no default, or is malformed.',
  CONFIG_SCHEMA: 'A value in the config does not match the schema (wrong type, unknown key, missing field).',
  CONFIG_REFERENCE: 'A router names a service, middleware or entry point that does not exist.',
  RULE_SYNTAX: 'A router rule does not parse; the message gives the column.',
  RULE_MATCHER: 'A router rule uses an unknown matcher, a wrong argument count, or an invalid regular expression.',
  PLUGIN_UNKNOWN: 'The config names a custom handler or middleware that was not registered through the library API.',
  PLUGIN_FAILED: 'A custom handler or middleware threw while it was being created from its options.',
  MIDDLEWARE_CONFIG: 'A built-in middleware cannot be built from its options (bad CIDR or regex, unreadable usersFile, chain cycle).',
  LISTEN_FAILED: 'An entry point could not bind its address (in use, no permission, bad address).',
  WORKER_FAILED: 'A worker process (`workers` > 1) could not start serving, or died before it did.',
  UPSTREAM_CONNECT: 'The upstream refused or dropped the connection before answering (502).',
  UPSTREAM_TIMEOUT: 'The upstream sent no response headers within the timeout (504).',
  UPSTREAM_FAILED: 'The upstream connection failed while the response was being relayed.',
  UPSTREAM_UNHEALTHY: 'An upstream server failed its health check (active) or too many requests (passive) and was taken out.',
  UPSTREAM_UNAVAILABLE: 'No server of a service is usable (all down or cooling off); requests are answered 503.',
  UPSTREAM_BUSY: "A server was at its maxConnections limit for longer than timeouts.queue, or maxQueued requests already waited; the request got 503 with Retry-After.",
  UPSTREAM_TLS: "TLS to an https:// upstream failed (certificate not trusted, for another name, expired; client certificate missing or refused) (502).",
  TRANSPORT_CONFIG: 'A serversTransport cannot be built (a rootCAs or certificate file missing or not PEM, a key that does not match); the services using it are disabled.',
  CERT_INVALID: 'A certificate or key handed to the certificate store is unusable (not PEM, no matching key, unsupported key type).',
  TCP_CONNECT: 'A passthrough backend refused the connection or could not be reached; the client connection is closed.',
  TCP_CONNECT_TIMEOUT: 'A passthrough backend did not accept the connection within the connect timeout.',
  TCP_UNHEALTHY: 'A TCP service\'s server failed its health check and was taken out; new connections skip it.',
  TCP_UNAVAILABLE: 'No server of a TCP service is up (all taken out by health checks); the client connection is closed.',
  TCP_ENTRY_POINT_CONFLICT: 'HTTP routers and TCP routers name the same entry point without tls; its TCP routers are disabled.',
  ACME_CONFIG: 'A certificate cannot be obtained as configured (unknown resolver, wildcard name, no entry point for its challenges); only that certificate is disabled.',
  ACME_CA_UNREACHABLE: "The ACME CA's directory could not be read (connection refused, DNS, certificate not trusted); retried with backoff.",
  ACME_ORDER_FAILED: 'The CA refused or failed an order (validation failed, rate limited, bad request); retried with backoff, the CA\'s problem document kept.',
  ACME_SELF_TEST: "gatehouse could not reach its own challenge responder before asking the CA to validate; the CA is not asked.",
  ACME_DNS: "dns-01: the TXT record could not be written or removed (provider refused, TSIG key rejected, script failed), its zone was not found, or it did not appear at every authoritative server in time; the CA is not asked, the attempt is retried with backoff.",
  STATE_DIR: 'The state directory (default certificate, ACME state, control socket) cannot be made or written by the user gatehouse runs as; gatehouse does not start.',
  HOST_TUNING: "A kernel setting of the host leaves it open to slow readers (net.ipv4.tcp_notsent_lowat unlimited); a warning at start with the command that fixes it.",
  STORAGE_CONFIG: 'The shared storage is misconfigured (storage.redis.url not redis:// or rediss://, caFile unreadable).',
  STORAGE_UNAVAILABLE: 'The ACME state store cannot be used (Redis down, authentication failed, TLS not trusted, a state file not writable); gatehouse keeps serving and retries.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Where in a config a problem sits, for messages that point the operator at the right line. */
export interface ErrorLocation {
  file?: string;
  /** JSON Pointer-like path, e.g. `/http/routers/web/rule`. */
  path?: string;
  line?: number;
  column?: number;
}

/** A gatehouse error: a stable `code`, a human message, and where it happened when known. */
export class GatehouseError extends Error {
  readonly code: ErrorCode;
  readonly location: ErrorLocation;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; location?: ErrorLocation } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatehouseError';
    this.code = code;
    this.location = options.location ?? {};
  }

  /** One readable line: `file:line:col path: message [CODE]`. */
  override toString(): string {
    return `${formatLocation(this.location)}${this.message} [${this.code}]`;
  }
}

/** Several problems found in one pass (a config check reports all of them at once). */
export class GatehouseErrors extends Error {
  readonly errors: readonly GatehouseError[];

  constructor(errors: readonly GatehouseError[]) {
    super(errors.map((e) => e.toString()).join('\n'));
    this.name = 'GatehouseErrors';
    this.errors = errors;
  }
}

/** `file:line:col at /json/path: ` prefix (`line L:C` when there is no file name), with the parts that are known. */
export function formatLocation(loc: ErrorLocation): string {
  let out = loc.file ?? '';
  // Text checked without a file name (the library API) still deserves its line and column.
  if (loc.line !== undefined) {
    out += loc.file ? `:${loc.line}` : `line ${loc.line}`;
    if (loc.column !== undefined) out += `:${loc.column}`;
  }
  if (loc.path !== undefined) out += `${out ? ' ' : ''}at ${loc.path || '/'}`;
  return out ? `${out}: ` : '';
}
