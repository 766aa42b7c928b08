/**
 * A Traefik v2/v3 file-provider config → a gatehouse config. Pure: parsed objects in, `{ config, dropped, notes }`
 * out, nothing read or written. `dropped` lists every piece that does not carry over, with its Traefik path and
 * why; `notes` lists what is ignored on purpose (the ACME storage file). The config returned passes the gatehouse
 * schema: an object that would not is dropped with the schema's message, and so is whatever referred to it.
 */
import { validateConfig, type Config } from '../config/index.js';
import { schemaProblems } from '../config/validate.js';
import { convertMiddleware } from './traefik-middlewares.js';
import { DropList, isPlain, TraefikNode, type Dropped, type Plain } from './traefik-node.js';
import { settle, type Draft, type Seen } from './traefik-references.js';
import { convertHttpRouter, convertTcpRouter } from './traefik-routers.js';
import { convertHttpService, convertTcpService } from './traefik-services.js';
import { convertServersTransport } from './traefik-transports.js';
import { addressPort, convertStatic, DYNAMIC_SECTIONS, type EntryPointDefaults } from './traefik-static.js';
import { convertTls } from './traefik-tls.js';
import { convertTcpMiddleware, PLAIN_TCP_ROUTERS } from './traefik-tcp.js';
import { convertUdp } from './traefik-udp.js';

/** One parsed dynamic file. */
export interface DynamicSource {
  file: string;
  value: unknown;
}

export interface TraefikImport {
  config: Config;
  dropped: Dropped[];
  notes: Dropped[];
}

/**
 * Dynamic files merged as Traefik's file provider merges a directory: named objects from every file side by side;
 * a name defined twice keeps the first and drops the second.
 */
export function mergeDynamic(sources: readonly DynamicSource[], drops: DropList): Plain {
  const merged: Plain = {};
  const origin = new Map<string, string>();
  for (const { file, value } of sources) {
    if (!isPlain(value)) continue;
    for (const [section, body] of Object.entries(value)) {
      if (!isPlain(body)) {
        merged[section] ??= body;
        continue;
      }
      const into = (merged[section] ??= {}) as Plain;
      for (const [kind, items] of Object.entries(body)) {
        if (Array.isArray(items)) {
          into[kind] = [...((into[kind] as unknown[] | undefined) ?? []), ...items];
          continue;
        }
        if (!isPlain(items)) {
          into[kind] ??= items;
          continue;
        }
        const named = (into[kind] ??= {}) as Plain;
        for (const [name, item] of Object.entries(items)) {
          const path = `${section}.${kind}.${name}`;
          if (Object.hasOwn(named, name)) drops.add(path, `defined in ${origin.get(path)} and again in ${file}; the first is kept`);
          else {
            named[name] = item;
            origin.set(path, file);
          }
        }
      }
    }
  }
  return merged;
}

function convertNamed(entries: [string, TraefikNode][], convert: (node: TraefikNode) => Plain | undefined): Record<string, Plain> {
  const out: Record<string, Plain> = {};
  for (const [name, node] of entries) {
    const value = convert(node);
    if (value) out[name] = value;
  }
  return out;
}

/** Entry-point-wide TLS and middlewares (Traefik's `entryPoints.NAME.http`) apply to the routers listed on them. */
function applyEntryPointDefaults(routers: Record<string, Plain>, defaults: Map<string, EntryPointDefaults>): void {
  for (const router of Object.values(routers)) {
    const eps = Array.isArray(router['entryPoints']) ? (router['entryPoints'] as string[]) : [];
    const own = eps.map((ep) => defaults.get(ep));
    const first = own.find((d) => d !== undefined);
    if (!first) continue;
    if (first.middlewares) router['middlewares'] = [...first.middlewares, ...((router['middlewares'] as string[] | undefined) ?? [])];
    if (first.tls && router['tls'] === undefined && own.every((d) => d?.tls)) router['tls'] = structuredClone(first.tls);
  }
}

/**
 * Entry points that serve TLS routers or passthrough become TLS entry points. A router without entry points
 * listens on all of them in Traefik; here it goes to the TLS ones, or to those on port 443 when there are none.
 */
function markTlsEntryPoints(d: Draft): void {
  const mark = (name: string): void => {
    const ep = d.entryPoints[name];
    if (ep && !ep['http']) ep['tls'] ??= {};
  };
  let unlisted = false;
  const tlsRouters = [...Object.values(d.routers).filter((r) => r['tls'] !== undefined), ...Object.values(d.tcpRouters).filter((r) => !PLAIN_TCP_ROUTERS.has(r))];
  for (const router of tlsRouters) {
    if (Array.isArray(router['entryPoints'])) for (const ep of router['entryPoints'] as string[]) mark(ep);
    else unlisted = true;
  }
  const anyTls = Object.values(d.entryPoints).some((ep) => ep['tls'] !== undefined);
  if (unlisted && !anyTls) {
    for (const [name, ep] of Object.entries(d.entryPoints)) if (addressPort(String(ep['address'])) === 443) mark(name);
  }
}

/** A load balancer naming a transport that is not defined would be disabled: it keeps the default instead. */
function dropUnknownTransports(services: Record<string, Plain>, transports: Plain, drops: DropList): void {
  for (const [name, service] of Object.entries(services)) {
    const lb = service['loadBalancer'];
    if (!isPlain(lb) || typeof lb['serversTransport'] !== 'string' || Object.hasOwn(transports, lb['serversTransport'])) continue;
    drops.add(`http.services.${name}.loadBalancer.serversTransport`, `serversTransport ${lb['serversTransport']} is not defined (or was dropped); the default transport is used`);
    delete lb['serversTransport'];
  }
}

/** The gatehouse config of a draft, empty sections left out. */
function assemble(d: Draft, tls: Plain | undefined, log: Plain | undefined, udp?: Plain, transports?: Plain): Plain {
  const config: Plain = { entryPoints: d.entryPoints };
  if (log) config['log'] = log;
  const http: Plain = {};
  if (Object.keys(d.routers).length > 0) http['routers'] = d.routers;
  if (Object.keys(d.services).length > 0) http['services'] = d.services;
  if (Object.keys(d.middlewares).length > 0) http['middlewares'] = d.middlewares;
  if (transports && Object.keys(transports).length > 0) http['serversTransports'] = transports;
  if (Object.keys(http).length > 0) config['http'] = http;
  const tcp: Plain = {};
  if (Object.keys(d.tcpRouters).length > 0) tcp['routers'] = d.tcpRouters;
  if (d.tcpMiddlewares && Object.keys(d.tcpMiddlewares).length > 0) tcp['middlewares'] = d.tcpMiddlewares;
  if (Object.keys(d.tcpServices).length > 0) tcp['services'] = d.tcpServices;
  if (Object.keys(tcp).length > 0) config['tcp'] = tcp;
  if (udp) config['udp'] = udp;
  if (tls) config['tls'] = tls;
  if (Object.keys(d.resolvers).length > 0) config['certificateResolvers'] = d.resolvers;
  return config;
}

/** gatehouse path → Traefik path, for messages: the one name that differs is the resolvers'. */
function traefikPath(path: readonly string[]): string {
  const parts = path.map((p, i) => (i === 0 && p === 'certificateResolvers' ? 'certificatesResolvers' : p));
  return parts.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** The draft map holding the object a schema problem is in, and that object's name. */
function owner(d: Draft, extra: Plain, path: readonly string[]): [Plain, string] | undefined {
  const [a, b, c] = path;
  if ((a === 'tls' || a === 'log') && b && isPlain(extra[a])) return [extra[a], b];
  if (a === 'entryPoints' && b) return [d.entryPoints, b];
  if (a === 'certificateResolvers' && b) return [d.resolvers, b];
  if (a === 'http' && c) return [b === 'routers' ? d.routers : b === 'services' ? d.services : d.middlewares, c];
  if (a === 'tcp' && c) return [b === 'routers' ? d.tcpRouters : b === 'middlewares' ? (d.tcpMiddlewares ?? {}) : d.tcpServices, c];
  if (a === 'udp' && c && isPlain(extra['udp']) && isPlain(extra['udp'][b!])) return [extra['udp'][b!] as Plain, c];
  return undefined;
}

/**
 * Converts a Traefik static config and its dynamic files. Never throws on odd input: whatever it cannot use is in
 * `dropped`, except a config without any usable entry point (an Error: there is nothing to write).
 */
export function convertTraefik(staticValue: unknown, sources: readonly DynamicSource[]): TraefikImport {
  const drops = new DropList();
  const notes = new DropList();
  const root = new TraefikNode(isPlain(staticValue) ? staticValue : {}, '', drops);
  const st = convertStatic(root, notes);
  const dyn = new TraefikNode(mergeDynamic(sources, drops), '', drops);
  const http = dyn.child('http');
  const tcp = dyn.child('tcp');
  const names = (node: TraefikNode | undefined, key: string) => new Set(Object.keys((node?.value[key] as Plain | undefined) ?? {}));
  const seen: Seen = { services: names(http, 'services'), middlewares: names(http, 'middlewares'), tcpServices: names(tcp, 'services'), tcpMiddlewares: names(tcp, 'middlewares') };
  const d: Draft = {
    entryPoints: st.entryPoints,
    resolvers: st.resolvers,
    routers: convertNamed(http?.entries('routers') ?? [], (n) => convertHttpRouter(n, st.ruleSyntax)),
    services: convertNamed(http?.entries('services') ?? [], convertHttpService),
    middlewares: convertNamed(http?.entries('middlewares') ?? [], convertMiddleware),
    tcpRouters: convertNamed(tcp?.entries('routers') ?? [], (n) => convertTcpRouter(n, st.ruleSyntax)),
    tcpServices: convertNamed(tcp?.entries('services') ?? [], convertTcpService),
    tcpMiddlewares: convertNamed(tcp?.entries('middlewares') ?? [], convertTcpMiddleware),
  };
  const transports = convertNamed(http?.entries('serversTransports') ?? [], convertServersTransport);
  const staticTransport = root.child('serversTransport');
  if (staticTransport) {
    // Traefik's default@internal: gatehouse applies a transport named `default` to load balancers naming none.
    if (Object.hasOwn(transports, 'default')) drops.add('serversTransport', 'http.serversTransports.default is defined too; that one is kept');
    else transports['default'] = convertServersTransport(staticTransport);
  }
  dropUnknownTransports(d.services, transports, drops);
  http?.done();
  tcp?.drop('serversTransports', 'serversTransports are not supported');
  tcp?.done();
  const udp = convertUdp(dyn.child('udp'));
  const tlsNode = dyn.child('tls');
  const tls = tlsNode ? convertTls(tlsNode) : undefined;
  for (const key of Object.keys(dyn.value)) if (!(DYNAMIC_SECTIONS as readonly string[]).includes(key)) dyn.drop(key, 'not a section of a dynamic config');

  if (Object.keys(d.entryPoints).length === 0) throw new Error('the static config has no entry point gatehouse can use (entryPoints.NAME.address)');
  applyEntryPointDefaults(d.routers, st.defaults);
  settle(d, seen, drops);
  markTlsEntryPoints(d);
  // Whatever the schema refuses is dropped with its message, then references are settled again; each round
  // removes at least one object, so the loop ends.
  for (let round = 0; round < 50; round++) {
    const problems = schemaProblems(assemble(d, tls, st.log, udp, transports));
    if (problems.length === 0) break;
    let removed = false;
    for (const p of problems) {
      const found = owner(d, { tls, log: st.log, udp }, p.path);
      if (found && Object.hasOwn(found[0], found[1])) {
        delete found[0][found[1]];
        removed = true;
      }
      drops.add(traefikPath(p.path), p.message);
    }
    if (!removed) break;
    settle(d, seen, drops);
  }
  const config = validateConfig(assemble(d, tls, st.log, udp, transports));
  return { config, dropped: drops.items, notes: notes.items };
}
