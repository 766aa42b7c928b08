/**
 * Traefik services → gatehouse services: HTTP load balancers (servers, passHostHeader, health check, sticky
 * cookie), weighted and mirroring services, and TCP load balancers (addresses, PROXY protocol). Names of other
 * services inside weighted and mirroring services are returned raw; the caller resolves `@provider` suffixes.
 */
import { copyFields } from './traefik-fields.js';
import { transportReference } from './traefik-transports.js';
import type { Plain, TraefikNode } from './traefik-node.js';
import { convertTcpHealthCheck } from './traefik-tcp.js';

const HEALTH_CHECK = {
  path: 'str',
  method: 'str',
  scheme: 'str',
  port: 'int',
  hostname: 'str',
  headers: 'map',
  status: 'int',
  interval: 'str',
  unhealthyInterval: 'str',
  timeout: 'str',
} as const;

const STICKY_COOKIE = { name: 'str', secure: 'bool', httpOnly: 'bool', sameSite: 'str', maxAge: 'int', path: 'str' } as const;

function sticky(parent: TraefikNode): Plain | undefined {
  const node = parent.child('sticky');
  if (!node) return undefined;
  const cookieNode = node.child('cookie');
  node.done();
  if (!cookieNode) return undefined;
  const cookie = copyFields(cookieNode, STICKY_COOKIE);
  if (typeof cookie['sameSite'] === 'string') cookie['sameSite'] = cookie['sameSite'].toLowerCase();
  // Traefik writes SameSite only when set; gatehouse's default is lax, which browsers apply anyway.
  if (cookie['sameSite'] === '') delete cookie['sameSite'];
  cookieNode.done();
  return { cookie };
}

function loadBalancer(node: TraefikNode): Plain | undefined {
  const servers: Plain[] = [];
  for (const s of node.children('servers')) {
    const url = s.str('url');
    const weight = s.int('weight');
    s.drop('preservePath', 'preservePath is not supported; gatehouse prefixes a server URL\'s path to the request path');
    s.done();
    if (url === undefined) continue;
    if (!/^(https?|h2c):\/\//.test(url)) {
      s.drops.add(s.path, `server ${url}: only http://, https:// and h2c:// upstreams are supported`);
      continue;
    }
    servers.push(weight !== undefined ? { url, weight } : { url });
  }
  if (servers.length === 0) {
    node.drops.add(node.path, 'no usable servers');
    return undefined;
  }
  const out: Plain = { servers };
  const pass = node.bool('passHostHeader');
  if (pass !== undefined) out['passHostHeader'] = pass;
  const hc = node.child('healthCheck');
  if (hc) {
    hc.drop('mode', 'only HTTP health checks are supported');
    hc.drop('followRedirects', 'health checks do not follow redirects; a 3xx counts as down unless `status` says so');
    const check = copyFields(hc, HEALTH_CHECK);
    if (typeof check['scheme'] === 'string') check['scheme'] = check['scheme'].toLowerCase();
    hc.done();
    out['healthCheck'] = check;
  }
  const st = sticky(node);
  if (st) out['sticky'] = st;
  const strategy = node.str('strategy');
  if (strategy !== undefined && strategy.toLowerCase() !== 'wrr') node.drops.add(node.at('strategy'), `strategy ${strategy} is not supported; round robin is used`);
  const transport = node.str('serversTransport');
  const reference = transport === undefined ? undefined : transportReference(transport);
  if (reference !== undefined) out['serversTransport'] = reference;
  node.drop('responseForwarding', 'responses are streamed as they arrive; flushInterval is not needed');
  node.done();
  return { loadBalancer: out };
}

function weighted(node: TraefikNode): Plain {
  const services = node.children('services').map((s) => {
    const out = copyFields(s, { name: 'str', weight: 'int' });
    s.done();
    return out;
  });
  const out: Plain = { services };
  const st = sticky(node);
  if (st) out['sticky'] = st;
  node.drop('healthCheck', 'weighted services follow the health of the services they name; the option is not needed');
  node.done();
  return { weighted: out };
}

function mirroring(node: TraefikNode): Plain {
  const out = copyFields(node, { service: 'str', maxBodySize: 'int', mirrorBody: 'bool' });
  const mirrors = node.children('mirrors').map((m) => {
    const mirror = copyFields(m, { name: 'str', percent: 'int' });
    m.done();
    return mirror;
  });
  if (mirrors.length > 0) out['mirrors'] = mirrors;
  node.drop('healthCheck', 'mirroring services follow the health of their main service; the option is not needed');
  node.done();
  return { mirroring: out };
}

/** One HTTP service, or undefined when it was dropped (the reason is on the drop list). */
export function convertHttpService(node: TraefikNode): Plain | undefined {
  const lb = node.child('loadBalancer');
  const w = node.child('weighted');
  const m = node.child('mirroring');
  node.drop('failover', 'failover services are not supported; a load balancer with health checks skips servers that are down');
  node.done();
  if (lb) return loadBalancer(lb);
  if (w) return weighted(w);
  if (m) return mirroring(m);
  return undefined;
}

/** One TCP service, or undefined when it was dropped. */
export function convertTcpService(node: TraefikNode): Plain | undefined {
  const lb = node.child('loadBalancer');
  const weighted = node.child('weighted');
  node.done();
  if (!lb && weighted) {
    const services: Plain[] = [];
    for (const s of weighted.children('services')) {
      const name = s.str('name');
      const weight = s.int('weight');
      s.done();
      if (name !== undefined) services.push(weight !== undefined ? { name, weight } : { name });
    }
    const hc = weighted.child('healthCheck');
    hc?.done();
    weighted.done();
    if (services.length === 0) {
      weighted.drops.add(weighted.path, 'no services');
      return undefined;
    }
    return { weighted: hc ? { services, healthCheck: {} } : { services } };
  }
  if (!lb) return undefined;
  const servers: Plain[] = [];
  for (const s of lb.children('servers')) {
    const address = s.str('address');
    s.drop('tls', 'gatehouse passes TLS through untouched; it does not open TLS to a TCP backend');
    s.done();
    if (address !== undefined) servers.push({ address });
  }
  const out: Plain = { servers };
  const pp = lb.child('proxyProtocol');
  if (pp) {
    const version = pp.int('version');
    pp.done();
    out['proxyProtocol'] = version !== undefined ? { version } : {};
  }
  const hc = lb.child('healthCheck');
  if (hc) out['healthCheck'] = convertTcpHealthCheck(hc);
  lb.drop('terminationDelay', 'a closed side closes the other at once');
  lb.drop('serversTransport', 'serversTransports are not supported');
  lb.done();
  if (servers.length === 0) {
    lb.drops.add(lb.path, 'no usable servers');
    return undefined;
  }
  return { loadBalancer: out };
}
