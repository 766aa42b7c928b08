/**
 * Traefik's serversTransports → gatehouse's http.serversTransports: the TLS settings to upstreams (serverName,
 * insecureSkipVerify, rootCAs, the first client certificate), maxIdleConnsPerHost, the forwarding timeouts gatehouse
 * has. The static config's `serversTransport` (Traefik's `default@internal`) becomes the transport named `default`,
 * which gatehouse applies to every load balancer that names none. What gatehouse cannot do is dropped with why.
 */
import { copyFields } from './traefik-fields.js';
import type { Plain, TraefikNode } from './traefik-node.js';

/** A Traefik duration (`42s`, `2m`, or seconds as a number) in gatehouse's form; undefined for 0 or an odd one. */
function duration(v: unknown): string | undefined {
  if (typeof v === 'number' || (typeof v === 'string' && /^\d+$/.test(v))) return Number(v) === 0 ? '0' : `${Number(v)}s`;
  if (typeof v === 'string' && /^\d+(\.\d+)?(ms|s|m|h)$/.test(v)) return v;
  return undefined;
}

const TIMEOUTS = ['dialTimeout', 'responseHeaderTimeout', 'idleConnTimeout'] as const;

function forwardingTimeouts(node: TraefikNode): Plain | undefined {
  const out: Plain = {};
  for (const name of TIMEOUTS) {
    if (!node.has(name)) continue;
    const value = duration(node.get(name));
    if (value === undefined) node.drops.add(node.at(name), 'expected a duration (30s, 2m) or seconds');
    else out[name] = value;
  }
  node.drop('readIdleTimeout', 'HTTP/2 pings to upstreams are not configurable (https:// upstreams speak HTTP/1.1)');
  node.drop('pingTimeout', 'HTTP/2 pings to upstreams are not configurable (https:// upstreams speak HTTP/1.1)');
  node.done();
  return Object.keys(out).length > 0 ? out : undefined;
}

/** One transport (dynamic `http.serversTransports.NAME`, or the static `serversTransport`). */
export function convertServersTransport(node: TraefikNode): Plain {
  const out = copyFields(node, { serverName: 'str', insecureSkipVerify: 'bool', rootCAs: 'strings', maxIdleConnsPerHost: 'int', disableHTTP2: 'bool' });
  if (out['serverName'] === '') delete out['serverName'];
  if (Array.isArray(out['rootCAs']) && out['rootCAs'].length === 0) delete out['rootCAs'];
  const certs = node.children('certificates');
  const first = certs[0];
  if (first) {
    const pair = copyFields(first, { certFile: 'str', keyFile: 'str' });
    first.done();
    if (typeof pair['certFile'] === 'string' && typeof pair['keyFile'] === 'string') out['certificates'] = [pair];
    else first.drops.add(first.path, 'a client certificate needs certFile and keyFile');
  }
  for (const extra of certs.slice(1)) extra.drops.add(extra.path, 'one client certificate per transport: the first is used');
  const ft = node.child('forwardingTimeouts');
  if (ft) {
    const timeouts = forwardingTimeouts(ft);
    if (timeouts) out['forwardingTimeouts'] = timeouts;
  }
  node.drop('cipherSuites', "upstream TLS uses Node's default cipher suites");
  node.drop('minVersion', 'upstream TLS versions are not configurable (TLS 1.2 and 1.3)');
  node.drop('maxVersion', 'upstream TLS versions are not configurable (TLS 1.2 and 1.3)');
  node.drop('peerCertSANs', 'the certificate is checked against serverName (or the URL host) only');
  node.drop('peerCertURI', 'the certificate is checked against serverName (or the URL host) only');
  node.drop('spiffe', 'SPIFFE is not supported');
  node.done();
  return out;
}

/**
 * A load balancer's `serversTransport` reference in gatehouse's form: the name without its `@provider`, or
 * undefined for Traefik's built-in `default@internal` (gatehouse's `default`, or its own default, applies then).
 */
export function transportReference(value: string): string | undefined {
  if (value === '' || value === 'default@internal') return undefined;
  const at = value.lastIndexOf('@');
  return at > 0 ? value.slice(0, at) : value;
}
