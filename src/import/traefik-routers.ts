/**
 * Traefik routers → gatehouse routers, before references are resolved: HTTP routers (rule, priority, entry
 * points, middlewares, service, tls) and TCP routers: TLS passthrough, and plain TCP (no tls) on the entry points
 * they name. Names
 * of services and middlewares stay as Traefik wrote them (`auth@file`); the caller resolves them.
 */
import { convertHttpRule, convertTcpRule } from './traefik-rules.js';
import { convertRouterTls } from './traefik-static.js';
import type { Plain, TraefikNode } from './traefik-node.js';
import { PLAIN_TCP_ROUTERS } from './traefik-tcp.js';

/** Traefik's own services, reachable only as `NAME@internal`; `noop` is a placeholder for routers that only redirect. */
const INTERNAL_SERVICES: Readonly<Record<string, string>> = {
  'api@internal': 'the Traefik dashboard and API are not in gatehouse',
  'dashboard@internal': 'the Traefik dashboard and API are not in gatehouse',
  'ping@internal': 'the ping endpoint is not in gatehouse; a router with `respond` does the same',
  'prometheus@internal': 'metrics are not in gatehouse yet',
};

function ruleOf(node: TraefikNode, convert: typeof convertHttpRule, syntax: string | undefined): string | undefined {
  const rule = node.str('rule');
  const own = node.str('ruleSyntax');
  if (rule === undefined) {
    node.drops.add(node.path, 'no rule');
    return undefined;
  }
  const result = convert(rule, own ?? syntax);
  if ('error' in result) {
    node.drops.add(node.at('rule'), result.error);
    return undefined;
  }
  return result.rule;
}

function common(node: TraefikNode, rule: string): Plain {
  const out: Plain = { rule };
  const priority = node.int('priority');
  if (priority !== undefined) out['priority'] = priority;
  const entryPoints = node.strings('entryPoints');
  if (entryPoints) out['entryPoints'] = entryPoints;
  return out;
}

/** One HTTP router, or undefined when it was dropped. */
export function convertHttpRouter(node: TraefikNode, ruleSyntax?: string): Plain | undefined {
  const rule = ruleOf(node, convertHttpRule, ruleSyntax);
  const out = rule === undefined ? undefined : common(node, rule);
  const middlewares = node.strings('middlewares');
  const service = node.str('service');
  const tls = node.child('tls');
  const tlsOut = tls ? convertRouterTls(tls) : undefined;
  tls?.drop('passthrough', 'passthrough is for TCP routers');
  tls?.done();
  node.drop('observability', 'per-router observability settings are not supported');
  node.done();
  if (!out) return undefined;
  if (middlewares && middlewares.length > 0) out['middlewares'] = middlewares;
  if (service === undefined) {
    node.drops.add(node.path, 'no service');
    return undefined;
  }
  const internal = INTERNAL_SERVICES[service];
  if (internal) {
    node.drops.add(node.at('service'), `${service}: ${internal}`);
    return undefined;
  }
  // noop@internal serves routers whose middlewares answer (a redirect); gatehouse's router answers itself.
  if (service === 'noop@internal') out['respond'] = { status: 404 };
  else out['service'] = service;
  if (tlsOut) out['tls'] = tlsOut;
  return out;
}

/** One TCP router, or undefined when it was dropped (gatehouse only passes TLS through by SNI). */
export function convertTcpRouter(node: TraefikNode, ruleSyntax?: string): Plain | undefined {
  const rule = ruleOf(node, convertTcpRule, ruleSyntax);
  const out = rule === undefined ? undefined : common(node, rule);
  const service = node.str('service');
  const middlewares = node.strings('middlewares');
  const tls = node.child('tls');
  const passthrough = tls?.bool('passthrough');
  tls?.ignore('certResolver');
  tls?.ignore('domains');
  tls?.ignore('options');
  tls?.done();
  node.done();
  if (!out) return undefined;
  if (tls !== undefined && passthrough !== true) {
    node.drops.add(node.path, 'TCP routers that terminate TLS are not supported; gatehouse passes TLS through (tls.passthrough: true) or routes plain TCP (no tls)');
    return undefined;
  }
  if (tls === undefined) {
    // Plain TCP: Traefik puts a router without entryPoints on every entry point; gatehouse serves raw TCP only on
    // the entry points a router names, which then carry no HTTP.
    if (!Array.isArray(out['entryPoints']) || (out['entryPoints'] as unknown[]).length === 0) {
      node.drops.add(node.path, 'a TCP router without tls needs entryPoints here: gatehouse routes raw TCP only on the entry points a router names');
      return undefined;
    }
    PLAIN_TCP_ROUTERS.add(out);
  }
  if (service === undefined) {
    node.drops.add(node.path, 'no service');
    return undefined;
  }
  if (middlewares && middlewares.length > 0) out['middlewares'] = middlewares;
  out['service'] = service;
  return out;
}
