/**
 * Default values of the config. The schema shows them (its `default` annotations come from here) and the runtime
 * applies them, so each default is written once.
 */
export const DEFAULTS = {
  logLevel: 'info',
  /** dns-01: how long a TXT record may take to appear at every authoritative server. */
  dnsPropagationTimeout: '2m',
  /** dns-01: time between two propagation checks. */
  dnsPropagationInterval: '2s',
  /** dns-01: TTL of the TXT record, seconds (short: a stale negative answer must not outlive a retry). */
  dnsTtl: 60,
  /** dns-01 exec provider: time one run of the program has. */
  dnsExecTimeout: '1m',
  accessLog: true,
  /** A reload whose config disables routers (or certificates) is applied with the rest serving. */
  reloadMode: 'partial',
  /** Time to receive a request's headers: a slowloris client is cut off after this. */
  headersTimeout: '10s',
  /** Time to receive a whole request (headers and body). */
  requestTimeout: '300s',
  /** How long an idle keep-alive client connection is kept open. */
  idleTimeout: '60s',
  /** Largest request head (request line and headers) accepted; larger is answered 431. */
  maxHeaderSize: 16384,
  /** Most header lines a request may carry; more is answered 431 (Apache's LimitRequestFields, HAProxy's 101 less its request line). */
  maxHeaderCount: 100,
  /** Time to open a TCP connection to an upstream. */
  connectTimeout: '5s',
  /** Time from sending the request to the upstream's response headers: past it, 504. */
  responseHeadersTimeout: '60s',
  /** How long an idle upstream keep-alive connection is kept in the pool. */
  upstreamIdleTimeout: '30s',
  /**
   * Requests in flight (each on its own connection) per upstream server; 0 = no limit, as nginx, HAProxy, Caddy and
   * Traefik have by default. 128 was a limit 1000 slow readers held whole (issue 20).
   */
  upstreamConnections: 0,
  /** Longest wait for a connection of a server at its maxConnections limit (HAProxy's `timeout queue`); then 503. */
  upstreamQueueTimeout: '10s',
  /** Requests that may wait per server at its maxConnections limit (HAProxy's `maxqueue`); one more gets 503. */
  upstreamMaxQueued: 1024,
  /** Bytes per read from an http:// upstream connection: about what a response whose client stops reading holds. */
  upstreamReadBufferSize: 32768,
  passHostHeader: true,
  /** How a load balancer picks a server for each request. */
  lbStrategy: 'roundRobin',
  /** A server's share of requests relative to the others'. */
  serverWeight: 1,
  /** Time between two active health checks of a server. */
  healthCheckInterval: '30s',
  /** Time a health check response has to arrive; past it, the check fails. */
  healthCheckTimeout: '5s',
  healthCheckMethod: 'GET',
  /** Failures within `passiveFailureWindow` that take a server out (nginx's max_fails). */
  passiveMaxFailedAttempts: 1,
  passiveFailureWindow: '10s',
  /** How long a server taken out by passive checks stays out (nginx's fail_timeout). */
  passiveCooldown: '10s',
  /** Retry non-idempotent requests (POST, PATCH) when the connection failed before anything was sent. */
  retryNonIdempotent: false,
  stickyCookiePath: '/',
  stickyCookieHttpOnly: true,
  stickyCookieSecure: false,
  stickyCookieSameSite: 'lax',
  /** Largest request body a mirroring service copies to its mirrors (Traefik: unlimited; bounded here for memory). */
  mirrorMaxBodySize: 1048576,
  /** Mirror copies of one mirroring service in flight at once; past it, copies are skipped, never queued. */
  mirrorMaxInFlight: 64,
  /** How long in-flight requests may run on after SIGTERM/SIGINT before they are cut. */
  graceTimeout: '10s',
  respondStatus: 200,
  redirectStatus: 302,
  /** Time a client on a TLS entry point has to send its whole ClientHello. */
  clientHelloTimeout: '5s',
  /** Largest ClientHello accepted (all records); real ones are under 2 KiB, post-quantum key shares included. */
  maxClientHelloSize: 16384,
  /** Where PEM certificate/key pairs are picked up, relative to the config file's directory. */
  certsDir: 'certs',
  /**
   * Where gatehouse keeps what it generates (default certificate, ACME state, control socket); GATEHOUSE_STATE_DIR
   * overrides. With a config file the default is `state/<environment>` beside it (src/config/paths.ts).
   */
  stateDir: 'state',
  /** One process until a measured default says otherwise (issue 21; bench/README.md has the figures). */
  workers: 1 as number | 'auto',
  sessionTicketRotation: '12h',
  /** A passed-through connection with no bytes either way for this long is closed. */
  tcpIdleTimeout: '10m',
  /** Time one peer has to answer a forwarded ACME challenge before the next is asked (the CA allows 15 s in all). */
  peerTimeout: '3s',
  redisKeyPrefix: 'gatehouse',
  /** How long a per-name ACME lock is held without renewal before another instance may take it. */
  lockTtl: '2m',
  /** Watch the config file (its directory) and reload on a change. */
  watchConfig: true,
  /** Quiet time after a change to the config file before it is read (editors write in several steps). */
  reloadDebounce: '200ms',
  /** Whether websockets and passthrough streams of a route removed by a reload are closed. */
  closeRemovedConnections: false,
  /** A UDP session (client address and port) with no datagram either way for this long is closed (Traefik's default). */
  udpTimeout: '3s',
  /** Sessions open at once per UDP entry point; a datagram that would open one more is dropped. */
  udpMaxSessions: 4096,
} as const;
