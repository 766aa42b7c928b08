/**
 * Traefik's TCP pieces that need more than a field copy: `tcp.middlewares` (ipAllowList, its deprecated
 * ipWhiteList, inFlightConn; the others are dropped) and the TCP routers without TLS, which gatehouse serves on
 * plain entry points (docs/config.md "TCP on plain entry points").
 */
import type { Plain, TraefikNode } from './traefik-node.js';

/**
 * The draft TCP routers without `tls` (raw TCP): their entry points stay plain (markTlsEntryPoints skips them). Kept
 * beside the draft rather than in it, as the gatehouse shape has no such field.
 */
export const PLAIN_TCP_ROUTERS = new WeakSet<Plain>();

/** One TCP middleware, or undefined when it was dropped. */
export function convertTcpMiddleware(node: TraefikNode): Plain | undefined {
  const allow = node.child('ipAllowList') ?? node.child('ipWhiteList');
  const inFlight = node.child('inFlightConn');
  let out: Plain | undefined;
  if (allow) {
    const sourceRange = allow.strings('sourceRange');
    allow.done();
    if (sourceRange && sourceRange.length > 0) out = { ipAllowList: { sourceRange } };
    else allow.drops.add(allow.path, 'no sourceRange');
  } else if (inFlight) {
    const amount = inFlight.int('amount');
    inFlight.done();
    // Traefik's amount 0 closes every connection; gatehouse asks for 1 or more (a router to nowhere says nothing).
    if (amount !== undefined && amount > 0) out = { inFlightConn: { amount } };
    else inFlight.drops.add(inFlight.at('amount'), 'amount must be 1 or more');
  }
  node.done('this TCP middleware is not supported (gatehouse has ipAllowList and inFlightConn)');
  return out;
}

/** A TCP load balancer's healthCheck, Traefik's fields as they are. */
export function convertTcpHealthCheck(node: TraefikNode): Plain {
  const out: Plain = {};
  const port = node.int('port');
  if (port !== undefined) out['port'] = port;
  for (const key of ['send', 'expect', 'interval', 'unhealthyInterval', 'timeout']) {
    const value = node.str(key);
    if (value !== undefined) out[key] = value;
  }
  node.done();
  return out;
}
