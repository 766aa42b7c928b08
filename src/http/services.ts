/**
 * Services: what a router hands its requests to. Built once per config; a service that cannot be built is recorded
 * as a problem, and the routers that name it are disabled (STYLE 6), not the proxy. Weighted and mirroring
 * services name other services: those are built first (a memoised lookup), and one that is missing, broken, or
 * leads back to the service itself disables that service with CONFIG_REFERENCE; the others still serve.
 */
import type { Config, LoadBalancerConfig, MirroringConfig, ServiceConfig, WeightedConfig } from '../config/index.js';
import { DEFAULTS, parseDuration } from '../config/index.js';
import { GatehouseError } from '../errors.js';
import type { Logger } from '../log.js';
import { compileTransports, createUpstream, serverId, TransportError, type StickyCookieOptions, type Transport, type Upstream, type UpstreamOptions } from '../upstream/index.js';
import type { Handler, Plugins } from './contract.js';
import { createMirroring } from './mirroring.js';
import { createWeighted } from './weighted.js';

/** The built services of one config: a handler or the reason it could not be built, by service name. */
export interface ServiceSet {
  readonly handlers: ReadonlyMap<string, Handler | GatehouseError>;
  /**
   * The load-balancer upstreams by service name, with the spec they were built from. A reload's new set takes over
   * the ones whose spec did not change (pools, health state, round-robin position carry on); this set then leaves
   * them open when it closes.
   */
  readonly pools?: ReadonlyMap<string, PoolEntry>;
  /** Stop every active health check (a reload retired the set; requests in flight still use its pools). */
  stopHealthChecks(): void;
  /** Close every upstream pool the set opened. */
  close(): Promise<void>;
}

/** One service's upstream, and whether a newer set has taken it over. */
export interface PoolEntry {
  readonly key: string;
  readonly upstream: Upstream;
  handedOver: boolean;
}

/**
 * Build every service in `config.http.services`. Never throws: failures become entries holding the error.
 * `previous` (a reload): its upstreams whose service has the same name and spec (its transport's files included)
 * are taken over, not rebuilt. `baseDir`: what relative paths in serversTransports are relative to (the config
 * file's directory; default the working directory).
 */
export function buildServices(config: Config, plugins: Plugins, log: Logger, previous?: ServiceSet, baseDir: string = process.cwd()): ServiceSet {
  const specs = config.http?.services ?? {};
  const transports = compileTransports(config.http?.serversTransports, baseDir);
  const handlers = new Map<string, Handler | GatehouseError>();
  const pools = new Map<string, PoolEntry>();
  // Dropped once built: the closures returned below share this scope, and holding the previous set would chain
  // every set since start.
  let predecessor = previous;
  const building: string[] = [];

  /** The built service `name` (building it first if needed), or undefined when there is none by that name. */
  const lookup = (name: string): Handler | GatehouseError | undefined => {
    const spec = Object.hasOwn(specs, name) ? specs[name] : undefined;
    if (spec === undefined) return undefined;
    const done = handlers.get(name);
    if (done !== undefined) return done;
    if (building.includes(name)) {
      const cycle = [...building.slice(building.indexOf(name)), name].join(' → ');
      return new GatehouseError('CONFIG_REFERENCE', `service cycle: ${cycle}`, { location: { path: `/http/services/${name}` } });
    }
    building.push(name);
    const built = buildOne(name, spec);
    building.pop();
    handlers.set(name, built);
    return built;
  };

  /** A service a weighted or mirroring service names, or the CONFIG_REFERENCE error that disables the one naming it. */
  const reference = (owner: string, wanted: string, path: string): Handler | GatehouseError => {
    const found = lookup(wanted);
    if (found === undefined) {
      return new GatehouseError('CONFIG_REFERENCE', `service "${owner}" is disabled: service "${wanted}" does not exist`, { location: { path } });
    }
    if (found instanceof GatehouseError) {
      const why = found.message.startsWith('service cycle') ? found.message : `service "${wanted}" is broken: ${found.message}`;
      return new GatehouseError('CONFIG_REFERENCE', `service "${owner}" is disabled: ${why}`, { cause: found, location: { path } });
    }
    return found;
  };

  const buildOne = (name: string, spec: ServiceConfig): Handler | GatehouseError => {
    const path = `/http/services/${name}`;
    const kinds = Object.keys(spec);
    if (kinds.length !== 1) {
      return new GatehouseError('CONFIG_SCHEMA', `service "${name}" must have exactly one of loadBalancer, weighted, mirroring, plugin; found ${kinds.length ? kinds.join(', ') : 'none'}`, {
        location: { path },
      });
    }
    if (spec.loadBalancer) {
      const transport = transportOf(spec.loadBalancer, transports, `${path}/loadBalancer`);
      if (transport instanceof GatehouseError) return transport;
      if (transport?.tls.insecureSkipVerify && spec.loadBalancer.servers.some((s) => s.url.startsWith('https:'))) {
        // Once per start and per reload: a config that turns verification off should never be forgotten about.
        log.warn({ service: name, transport: transport.name }, 'upstream certificates not verified (insecureSkipVerify)');
      }
      const key = `${JSON.stringify(spec.loadBalancer)}|${transport?.key ?? ''}`;
      const prior = predecessor?.pools?.get(name);
      let upstream: Upstream;
      if (prior !== undefined && prior.key === key && !prior.handedOver) {
        prior.handedOver = true;
        upstream = prior.upstream;
      } else {
        try {
          const serviceLog = log.child({ service: name });
          upstream = createUpstream(
            {
              ...upstreamOptions(spec.loadBalancer, name, transport),
              service: name,
              onCertificateRequested: (server, message) => serviceLog.warn({ code: 'UPSTREAM_TLS', upstream: server, reason: message }, 'upstream asked for a client certificate'),
            },
            serviceLog,
          );
        } catch (cause) {
          // A server URL the schema lets through but the forwarder cannot use (ftp://): this service only.
          return new GatehouseError('CONFIG_SCHEMA', (cause as Error).message, { cause, location: { path: `${path}/loadBalancer` } });
        }
      }
      pools.set(name, { key, upstream, handedOver: false });
      return forwardingHandler(upstream);
    }
    if (spec.weighted) return buildWeighted(name, spec.weighted, `${path}/weighted`, reference);
    if (spec.mirroring) return buildMirroring(name, spec.mirroring, `${path}/mirroring`, reference, log.child({ service: name }));
    return buildPlugin(spec.plugin!.name, spec.plugin!.options, plugins.handlers, `${path}/plugin`, (f, o) => f(o));
  };

  for (const name of Object.keys(specs)) lookup(name);
  predecessor = undefined;
  const owned = (): Upstream[] => [...pools.values()].filter((p) => !p.handedOver).map((p) => p.upstream);
  return {
    handlers,
    pools,
    stopHealthChecks: () => {
      for (const u of owned()) u.stopHealthChecks();
    },
    close: async () => {
      await Promise.allSettled(owned().map((u) => u.close()));
    },
  };
}

type Reference = (owner: string, wanted: string, path: string) => Handler | GatehouseError;

function buildWeighted(name: string, spec: WeightedConfig, path: string, reference: Reference): Handler | GatehouseError {
  const children = [];
  for (const [i, child] of spec.services.entries()) {
    const handler = reference(name, child.name, `${path}/services/${i}/name`);
    if (handler instanceof GatehouseError) return handler;
    children.push({ name: child.name, weight: child.weight ?? DEFAULTS.serverWeight, handler });
  }
  try {
    return createWeighted(children, spec.sticky && stickyOptions(spec.sticky.cookie, name));
  } catch (cause) {
    return new GatehouseError('CONFIG_SCHEMA', `service "${name}": ${(cause as Error).message}`, { cause, location: { path: `${path}/services` } });
  }
}

function buildMirroring(name: string, spec: MirroringConfig, path: string, reference: Reference, log: Logger): Handler | GatehouseError {
  const main = reference(name, spec.service, `${path}/service`);
  if (main instanceof GatehouseError) return main;
  const mirrors = [];
  for (const [i, m] of (spec.mirrors ?? []).entries()) {
    const handler = reference(name, m.name, `${path}/mirrors/${i}/name`);
    if (handler instanceof GatehouseError) return handler;
    mirrors.push({ name: m.name, percent: m.percent ?? 0, handler });
  }
  return createMirroring({
    main,
    mirrors,
    maxBodyBytes: spec.maxBodySize ?? DEFAULTS.mirrorMaxBodySize,
    mirrorBody: spec.mirrorBody ?? true,
    maxInFlight: DEFAULTS.mirrorMaxInFlight,
    log,
  });
}

/**
 * The transport a load balancer uses: the one it names, else the one named `default`, else undefined (the built-in
 * one). A name that does not exist, or a transport that could not be built, is the error that disables the service.
 */
export function transportOf(lb: LoadBalancerConfig, transports: ReadonlyMap<string, Transport | TransportError>, path: string): Transport | undefined | GatehouseError {
  const name = lb.serversTransport;
  const found = transports.get(name ?? 'default');
  if (found === undefined) {
    if (name === undefined) return undefined;
    const known = [...transports.keys()];
    return new GatehouseError('CONFIG_REFERENCE', `serversTransport "${name}" does not exist in http.serversTransports${known.length ? ` (defined: ${known.join(', ')})` : ''}`, {
      location: { path: `${path}/serversTransport` },
    });
  }
  if (found instanceof TransportError) {
    return new GatehouseError('TRANSPORT_CONFIG', `serversTransport "${name ?? 'default'}" cannot be built: ${found.message}`, { cause: found, location: { path: found.path } });
  }
  return found;
}

/**
 * The load balancer config of service `name` with every default applied and durations in ms. Timeouts and pool
 * size: the load balancer's own, else its transport's, else the defaults.
 */
export function upstreamOptions(lb: LoadBalancerConfig, name: string, transport?: Transport): UpstreamOptions {
  const t = lb.timeouts ?? {};
  const hc = lb.healthCheck;
  const passive = lb.passiveHealthCheck;
  const cookie = lb.sticky?.cookie;
  const interval = hc && parseDuration(hc.interval ?? DEFAULTS.healthCheckInterval);
  return {
    servers: lb.servers.map((s) => ({ url: s.url, weight: s.weight ?? DEFAULTS.serverWeight })),
    passHostHeader: lb.passHostHeader ?? DEFAULTS.passHostHeader,
    connectTimeoutMs: t.connect !== undefined ? parseDuration(t.connect) : (transport?.connectTimeoutMs ?? parseDuration(DEFAULTS.connectTimeout)),
    responseHeadersTimeoutMs:
      t.responseHeaders !== undefined ? parseDuration(t.responseHeaders) : (transport?.responseHeadersTimeoutMs ?? parseDuration(DEFAULTS.responseHeadersTimeout)),
    idleTimeoutMs: t.idle !== undefined ? parseDuration(t.idle) : (transport?.idleTimeoutMs ?? parseDuration(DEFAULTS.upstreamIdleTimeout)),
    maxConnections: lb.maxConnections ?? transport?.maxConnections ?? DEFAULTS.upstreamConnections,
    queueTimeoutMs: parseDuration(t.queue ?? DEFAULTS.upstreamQueueTimeout),
    maxQueued: lb.maxQueued ?? DEFAULTS.upstreamMaxQueued,
    readBufferBytes: lb.readBufferSize ?? DEFAULTS.upstreamReadBufferSize,
    ...(transport && { transport }),
    strategy: lb.strategy ?? DEFAULTS.lbStrategy,
    ...(hc &&
      interval !== undefined && {
        healthCheck: {
          path: hc.path,
          method: hc.method ?? DEFAULTS.healthCheckMethod,
          ...(hc.scheme && { scheme: hc.scheme }),
          ...(hc.port !== undefined && { port: hc.port }),
          ...(hc.hostname !== undefined && { hostname: hc.hostname }),
          ...(hc.headers && { headers: hc.headers }),
          ...(hc.status !== undefined && { status: hc.status }),
          // A 0 interval would spin: checks need a pause between them, so 0 means the shortest sane one.
          intervalMs: Math.max(interval, MIN_CHECK_INTERVAL_MS),
          unhealthyIntervalMs: Math.max(hc.unhealthyInterval ? parseDuration(hc.unhealthyInterval) : interval, MIN_CHECK_INTERVAL_MS),
          // A check with no deadline could hang forever and stop the loop: 0 falls back to the default.
          timeoutMs: parseDuration(hc.timeout ?? DEFAULTS.healthCheckTimeout) || parseDuration(DEFAULTS.healthCheckTimeout),
        },
      }),
    ...(passive && {
      passiveHealthCheck: {
        maxFailedAttempts: passive.maxFailedAttempts ?? DEFAULTS.passiveMaxFailedAttempts,
        failureWindowMs: parseDuration(passive.failureWindow ?? DEFAULTS.passiveFailureWindow),
        cooldownMs: parseDuration(passive.cooldown ?? DEFAULTS.passiveCooldown),
      },
    }),
    retry: { ...(lb.retry?.attempts !== undefined && { attempts: lb.retry.attempts }), nonIdempotent: lb.retry?.nonIdempotent ?? DEFAULTS.retryNonIdempotent },
    ...(cookie && { sticky: stickyOptions(cookie, name) }),
  };
}

/** A sticky cookie's settings with the defaults applied, for service `name`. */
function stickyOptions(cookie: NonNullable<LoadBalancerConfig['sticky']>['cookie'], name: string): StickyCookieOptions {
  return {
    // Traefik's default name is likewise derived from the service, so two services' cookies never collide.
    name: cookie.name ?? `_gh_${serverId(name).slice(0, 8)}`,
    secure: cookie.secure ?? DEFAULTS.stickyCookieSecure,
    httpOnly: cookie.httpOnly ?? DEFAULTS.stickyCookieHttpOnly,
    sameSite: cookie.sameSite ?? DEFAULTS.stickyCookieSameSite,
    ...(cookie.maxAge !== undefined && { maxAge: cookie.maxAge }),
    path: cookie.path ?? DEFAULTS.stickyCookiePath,
  };
}

/** Health checks closer together than this are refused: they would load the upstream more than they tell. */
const MIN_CHECK_INTERVAL_MS = 100;

/** Plain requests go through the pool; an Upgrade request takes its socket back from the response and is piped. */
function forwardingHandler(upstream: Upstream): Handler {
  return (req, res, ctx) => {
    const up = ctx.upgrade;
    if (up) {
      res.detachSocket(up.socket as import('node:net').Socket);
      upstream.upgrade(req, up.socket, up.head, ctx);
    } else {
      upstream.forward(req, res, ctx);
    }
  };
}

/**
 * Look up a registered factory and call it with its options. Unknown names and throwing factories become errors
 * with the config path, so the operator sees which entry to fix.
 */
export function buildPlugin<F, R>(
  name: string,
  options: unknown,
  registry: Readonly<Record<string, F>> | undefined,
  path: string,
  call: (factory: F, options: unknown) => R,
): R | GatehouseError {
  const factory = registry?.[name];
  if (!factory) {
    const known = Object.keys(registry ?? {});
    return new GatehouseError(
      'PLUGIN_UNKNOWN',
      `no custom piece named "${name}" was registered through the library API${known.length ? ` (registered: ${known.join(', ')})` : ''}`,
      { location: { path } },
    );
  }
  try {
    return call(factory, options);
  } catch (cause) {
    return new GatehouseError('PLUGIN_FAILED', `"${name}" could not be created: ${(cause as Error)?.message ?? String(cause)}`, {
      cause,
      location: { path },
    });
  }
}
