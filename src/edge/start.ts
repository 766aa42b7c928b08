/**
 * Bring up every entry point of a config: plain HTTP ones and TLS ones, each with its redirection hook, and take
 * them down again. The sources (routes, TCP routes, certificates) are read per connection and request, so a reload
 * can swap them under listeners that stay bound.
 */
import type { Config } from '../config/index.js';
import { GatehouseError } from '../errors.js';
import type { ChallengeRegistry } from '../challenges/index.js';
import { chainHooks, createAcmeResponder } from '../http/acme-responder.js';
import { createHttpsRedirect } from '../http/https-redirect.js';
import type { EntryHook } from '../http/dispatch.js';
import type { Logger } from '../log.js';
import { entryPointSettings } from './entry-point.js';
import { listenHttp, type Listener } from './http-listener.js';
import { listenTls, type TlsSources } from './tls-listener.js';

/** The bound entry points. */
export interface Edge {
  addresses(): Record<string, { address: string; port: number }>;
  /** Stop accepting everywhere and drain within `graceMs`. */
  close(graceMs: number): Promise<void>;
}

/** Bind every entry point; on a failure the ones already bound are closed again and the error is rethrown. */
export async function startEdge(config: Config, sources: TlsSources, log: Logger, accessLog: boolean, challenges?: ChallengeRegistry): Promise<Edge> {
  const bound = new Map<string, Listener>();
  // http-01 is fetched over plain HTTP (RFC 8555 §8.3): the responder sits on every plain entry point, before the
  // redirection, which would otherwise send the CA to an HTTPS port that may have no certificate yet.
  const responder = challenges ? createAcmeResponder(challenges) : undefined;
  try {
    for (const [name, spec] of Object.entries(config.entryPoints)) {
      const settings = entryPointSettings(name, spec);
      const redirect = redirectionHook(config, name, (ep) => bound.get(ep)?.address().port);
      const hook = settings.tls ? redirect : chainHooks(responder, redirect);
      const listener = settings.tls
        ? await listenTls(settings, spec.address, sources, log, accessLog, hook)
        : await listenHttp(settings, spec.address, sources, log, accessLog, hook);
      bound.set(name, listener);
      const a = listener.address();
      log.info({ entryPoint: name, address: a.address, port: a.port, tls: settings.tls !== undefined }, 'entry point listening');
    }
  } catch (err) {
    await Promise.allSettled([...bound.values()].map((l) => l.close(0)));
    throw err;
  }
  return {
    addresses: () => Object.fromEntries([...bound].map(([name, l]) => [name, l.address()])),
    close: async (graceMs) => {
      await Promise.all([...bound.values()].map((l) => l.close(graceMs)));
    },
  };
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
