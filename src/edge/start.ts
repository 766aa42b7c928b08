/**
 * Bring up every entry point of a config: plain HTTP ones and TLS ones, each with its redirection hook, and take
 * them down again. The sources (routes, TCP routes, certificates) are read per connection and request, so a reload
 * can swap them under listeners that stay bound.
 */
import type { Config, EntryPointConfig } from '../config/index.js';
import { GatehouseError, GatehouseErrors } from '../errors.js';
import { chainHooks, createAcmeResponder, type AcmeChallengeSources } from '../http/acme-responder.js';
import { createHttpsRedirect } from '../http/https-redirect.js';
import type { AccessLogSwitch, EntryHook } from '../http/dispatch.js';
import type { Logger } from '../log.js';
import { listenProtocol } from './address.js';
import { entryPointSettings } from './entry-point.js';
import { listenHttp, type Listener } from './http-listener.js';
import { listenTls, type TlsSources } from './tls-listener.js';
import { listenUdp, type UdpCounters, type UdpListener, type UdpSources } from '../udp/index.js';
import { plainEntryPoints } from '../tcp/index.js';
import { listenTcp } from './tcp-listener.js';

/** The bound entry points. */
export interface Edge {
  addresses(): Record<string, { address: string; port: number }>;
  /** Open client connections per bound entry point (passthrough included). */
  connections(): Record<string, number>;
  /** Counters of each bound UDP entry point (datagrams, sessions opened, drops). */
  udpCounters?(): Record<string, Readonly<UdpCounters>>;
  /**
   * Bring the listeners in line with a reloaded `config`: entry points added are bound, removed ones stop
   * accepting and drain within `graceMs`, ones whose settings changed are bound anew (the old socket drains), and
   * the unchanged ones stay bound, untouched. Every entry point's hooks (redirection, ACME) are rebuilt. Rejects
   * with the LISTEN_FAILED errors of entry points that could not bind, once the rest is applied.
   */
  update(config: Config, graceMs: number): Promise<void>;
  /** Stop accepting everywhere and drain within `graceMs`. */
  close(graceMs: number): Promise<void>;
}

interface Bound {
  readonly listener: Listener | UdpListener;
  /** The entry point's config without its hooks' part: a change here needs a new socket. */
  readonly key: string;
  /** The address it was bound with: a reload that moves it binds the new one before letting this one go. */
  readonly address?: string;
}

/** Binding a port that an entry point just released can meet EADDRINUSE for a moment; tries, 50 ms apart. */
const REBIND_ATTEMPTS = 20;

/** Bind every entry point; on a failure the ones already bound are closed again and the error is rethrown. */
export async function startEdge(
  config: Config,
  sources: TlsSources & Partial<UdpSources>,
  log: Logger,
  accessLog: AccessLogSwitch,
  challenges?: Pick<AcmeChallengeSources, 'registry' | 'settings' | 'decided'>,
  options: { readonly bindUdp?: boolean } = {},
): Promise<Edge> {
  // With workers (node:cluster) a UDP socket is one process's: sessions live in the process that has the socket, and
  // two workers cannot bind one port exclusively. The others leave UDP entry points alone.
  const skipUdp = (spec: EntryPointConfig): boolean => options.bindUdp === false && listenProtocol(spec.address) === 'udp';
  const bound = new Map<string, Bound>();
  const draining = new Set<Promise<void>>();
  // Read per request through one stable closure per entry point, so a reload swaps them under a bound listener.
  const hooks = new Map<string, EntryHook | undefined>();
  // http-01 is fetched over plain HTTP (RFC 8555 §8.3): the responder sits on every plain entry point, before the
  // redirection, which would otherwise send the CA to an HTTPS port that may have no certificate yet. It runs even
  // without a resolver: challenges for backends and peers still need routing past middlewares and redirects.
  const responder = createAcmeResponder({
    registry: () => challenges?.registry(),
    settings: () => challenges?.settings(),
    decided: challenges?.decided,
    routes: (ep) => sources.routes(ep),
    // Every bound address: isSelf compares the peers' HTTP port too, so the TLS ones never match.
    bound: () => [...bound.values()].map((b) => b.listener.address()),
  });

  // Plain entry points that TCP routers name get a raw TCP listener (src/tcp/plain-entry-points.ts); set with the hooks.
  let tcpPlain: ReadonlySet<string> = new Set();
  const setHooks = (cfg: Config): void => {
    tcpPlain = plainEntryPoints(cfg).tcp;
    hooks.clear();
    for (const [name, spec] of Object.entries(cfg.entryPoints)) {
      const redirect = redirectionHook(cfg, name, (ep) => bound.get(ep)?.listener.address().port);
      hooks.set(name, spec.tls ? redirect : chainHooks(responder, redirect));
    }
  };

  const open = async (name: string, spec: EntryPointConfig): Promise<Listener | UdpListener> => {
    const settings = entryPointSettings(name, spec);
    if (settings.udp) {
      const udp = await listenUdp(name, settings.address, spec.address, settings.udp, { udpRoute: (ep) => sources.udpRoute?.(ep) }, log);
      const a = udp.address();
      log.info({ entryPoint: name, address: a.address, port: a.port, protocol: 'udp' }, 'entry point listening');
      return udp;
    }
    const hook: EntryHook = (req, res, ctx) => {
      const h = hooks.get(name);
      return h !== undefined && h(req, res, ctx);
    };
    const tcp = settings.tls === undefined && tcpPlain.has(name);
    const listener = settings.tls
      ? await listenTls(settings, spec.address, sources, log, accessLog, hook)
      : tcp
        ? await listenTcp(settings, spec.address, sources, log, accessLog)
        : await listenHttp(settings, spec.address, sources, log, accessLog, hook);
    const a = listener.address();
    log.info({ entryPoint: name, address: a.address, port: a.port, tls: settings.tls !== undefined, ...(tcp ? { protocol: 'tcp' } : {}) }, 'entry point listening');
    return listener;
  };

  const retire = (name: string, graceMs: number): void => {
    const old = bound.get(name);
    if (!old) return;
    bound.delete(name);
    const done = old.listener.close(graceMs).finally(() => draining.delete(done));
    draining.add(done);
  };

  setHooks(config);
  try {
    for (const [name, spec] of Object.entries(config.entryPoints)) if (!skipUdp(spec)) bound.set(name, { listener: await open(name, spec), key: listenKey(spec, tcpPlain.has(name)), address: spec.address });
  } catch (err) {
    await Promise.allSettled([...bound.values()].map((b) => b.listener.close(0)));
    throw err;
  }

  return {
    addresses: () => Object.fromEntries([...bound].map(([name, b]) => [name, b.listener.address()])),
    connections: () => Object.fromEntries([...bound].map(([name, b]) => [name, b.listener.connections()])),
    udpCounters: () => Object.fromEntries([...bound].flatMap(([name, b]) => ('counters' in b.listener ? [[name, b.listener.counters()]] : []))),
    async update(next, graceMs) {
      setHooks(next);
      for (const name of [...bound.keys()]) {
        if (next.entryPoints[name] === undefined) {
          log.info({ entryPoint: name }, 'entry point removed, draining');
          retire(name, graceMs);
        }
      }
      const failures: GatehouseError[] = [];
      for (const [name, spec] of Object.entries(next.entryPoints)) {
        const key = listenKey(spec, tcpPlain.has(name));
        const had = bound.get(name);
        if (skipUdp(spec)) {
          if (had) retire(name, graceMs);
          continue;
        }
        if (had?.key === key) {
          // A UDP entry point's session settings apply to the socket it has (and its sessions): no rebind.
          if ('reconfigure' in had.listener) had.listener.reconfigure(entryPointSettings(name, spec).udp!);
          continue;
        }
        if (had !== undefined && had.address !== undefined && movedPort(had.address, spec.address)) {
          // Moved: the new address is bound first, so a taken port leaves the entry point serving where it was.
          try {
            const listener = await open(name, spec);
            log.info({ entryPoint: name, from: had.address }, 'entry point moved, the old address draining');
            retire(name, graceMs);
            bound.set(name, { listener, key, address: spec.address });
          } catch (err) {
            if (!(err instanceof GatehouseError)) throw err;
            log.error({ entryPoint: name, code: err.code, reason: err.message, stillOn: had.address }, 'entry point not listening');
            failures.push(err);
          }
          continue;
        }
        if (had) {
          log.info({ entryPoint: name }, 'entry point settings changed, binding anew');
          retire(name, graceMs);
        }
        try {
          bound.set(name, { listener: await bindWithRetry(() => open(name, spec), had !== undefined), key, address: spec.address });
        } catch (err) {
          if (!(err instanceof GatehouseError)) throw err;
          log.error({ entryPoint: name, code: err.code, reason: err.message }, 'entry point not listening');
          failures.push(err);
        }
      }
      if (failures.length > 0) throw new GatehouseErrors(failures);
    },
    close: async (graceMs) => {
      await Promise.all([...[...bound.values()].map((b) => b.listener.close(graceMs)), ...draining]);
      bound.clear();
    },
  };
}

/**
 * What of an entry point's config is fixed once it listens: everything but `http` (the hooks, rebuilt on reload) and
 * `udp`; and for a plain one, whether TCP routers take it (raw TCP) or not (HTTP): a change of either binds anew.
 */
function listenKey(spec: EntryPointConfig, rawTcp = false): string {
  // `udp` (session timeout and limit) is applied to a bound UDP entry point in place (UdpListener.reconfigure).
  const { http: _hooks, udp: _sessions, ...rest } = spec;
  return JSON.stringify(rest) + (rawTcp ? ' tcp' : '');
}

/**
 * Whether a reload moves an entry point to another port (or to port 0), which can be bound while the old one still
 * listens. The same port on another host may clash with the old socket: that one is let go first, as before.
 */
function movedPort(from: string, to: string): boolean {
  const port = (a: string): string => /:(\d+)(?:\/[a-z]+)?$/i.exec(a.trim())?.[1] ?? '';
  return from !== to && (port(from) !== port(to) || port(to) === '0');
}

/** An entry point rebound on the port its predecessor just released may meet EADDRINUSE for a moment. */
async function bindWithRetry<L>(bindOnce: () => Promise<L>, rebinding: boolean): Promise<L> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await bindOnce();
    } catch (err) {
      const code = ((err as GatehouseError).cause as NodeJS.ErrnoException | undefined)?.code;
      if (!rebinding || code !== 'EADDRINUSE' || attempt >= REBIND_ATTEMPTS) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/**
 * The HTTP → HTTPS redirection of an entry point, when configured. Throws CONFIG_REFERENCE when it names an entry
 * point that does not exist or is not a TLS one (`check` calls this too).
 */
export function redirectionHook(config: Config, name: string, boundPort: (entryPoint: string) => number | undefined): EntryHook | undefined {
  const spec = config.entryPoints[name]?.http?.redirections?.entryPoint;
  if (!spec) return undefined;
  const target = config.entryPoints[spec.to];
  if (!target?.tls) {
    const tlsNames = Object.keys(config.entryPoints).filter((n) => config.entryPoints[n]?.tls);
    throw new GatehouseError(
      'CONFIG_REFERENCE',
      `entry point "${name}" redirects to "${spec.to}", which ${target ? 'is not a TLS entry point (it has no "tls")' : 'does not exist'}${tlsNames.length ? `; TLS entry points: ${tlsNames.join(', ')}` : ''}`,
      { location: { path: `/entryPoints/${name}/http/redirections/entryPoint/to` } },
    );
  }
  const fixed = spec.port;
  return createHttpsRedirect({ permanent: spec.permanent ?? true, port: () => fixed ?? boundPort(spec.to) });
}
