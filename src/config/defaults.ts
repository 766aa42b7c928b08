/**
 * Default values of the config. The schema shows them (its `default` annotations come from here) and the runtime
 * applies them, so each default is written once.
 */
export const DEFAULTS = {
  logLevel: 'info',
  accessLog: true,
  /** Time to receive a request's headers: a slowloris client is cut off after this. */
  headersTimeout: '10s',
  /** Time to receive a whole request (headers and body). */
  requestTimeout: '300s',
  /** How long an idle keep-alive client connection is kept open. */
  idleTimeout: '60s',
  /** Largest request head (request line and headers) accepted; larger is answered 431. */
  maxHeaderSize: 16384,
  /** Time to open a TCP connection to an upstream. */
  connectTimeout: '5s',
  /** Time from sending the request to the upstream's response headers: past it, 504. */
  responseHeadersTimeout: '60s',
  /** How long an idle upstream keep-alive connection is kept in the pool. */
  upstreamIdleTimeout: '30s',
  /** Connections per upstream in the keep-alive pool. */
  upstreamConnections: 128,
  passHostHeader: true,
  /** How long in-flight requests may run on after SIGTERM/SIGINT before they are cut. */
  graceTimeout: '10s',
  respondStatus: 200,
  redirectStatus: 302,
} as const;
