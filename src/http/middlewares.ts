/**
 * Middlewares: each `http.middlewares` entry resolved once into a wrapper `(next) => Handler`. The table below maps
 * a config kind to its builder; a new kind is one row. A middleware that cannot be built is recorded as a problem,
 * and the routers that use it are disabled.
 */
import type { Config, MiddlewareConfig } from '../config/index.js';
import { GatehouseError } from '../errors.js';
import { BUILTIN_MIDDLEWARES, createLookup, type MiddlewareLookup } from '../middlewares/index.js';
import type { Handler, Plugins } from './contract.js';
import { buildPlugin } from './services.js';

/** Wraps the handler that comes after a middleware. */
export type Wrapper = (next: Handler) => Handler;

/** The built middlewares of one config, by name: a wrapper or the reason it could not be built. */
export interface MiddlewareSet {
  readonly wrappers: ReadonlyMap<string, Wrapper | GatehouseError>;
}

type Builder<K extends keyof MiddlewareConfig> = (
  spec: NonNullable<MiddlewareConfig[K]>,
  path: string,
  plugins: Plugins,
  lookup: MiddlewareLookup,
) => Wrapper | GatehouseError;

/** A built-in builder throws a GatehouseError for options it cannot compile; here that becomes the recorded reason. */
function builtin<K extends keyof typeof BUILTIN_MIDDLEWARES>(kind: K): Builder<K> {
  return (spec, path, _plugins, lookup) => {
    try {
      return (BUILTIN_MIDDLEWARES[kind] as (s: typeof spec, p: string, l: MiddlewareLookup) => Wrapper)(spec, path, lookup);
    } catch (err) {
      if (err instanceof GatehouseError) return err;
      return new GatehouseError('MIDDLEWARE_CONFIG', `${kind}: ${(err as Error)?.message ?? String(err)}`, { cause: err, location: { path } });
    }
  };
}

const BUILDERS: { [K in keyof MiddlewareConfig]-?: Builder<K> } = {
  ...(Object.fromEntries(Object.keys(BUILTIN_MIDDLEWARES).map((k) => [k, builtin(k as keyof typeof BUILTIN_MIDDLEWARES)])) as {
    [K in keyof typeof BUILTIN_MIDDLEWARES]: Builder<K>;
  }),
  plugin: (spec, path, plugins) =>
    buildPlugin(spec.name, spec.options, plugins.middlewares, `${path}/plugin`, (factory, options) => {
      // Validate eagerly: a factory that throws on its options must fail at config load, not on the first request.
      factory(options, notReached);
      return (next: Handler) => factory(options, next);
    }),
};

const notReached: Handler = (_req, res) => {
  res.statusCode = 500;
  res.end();
};

/** Build every middleware in `config.http.middlewares`. Never throws. */
export function buildMiddlewares(config: Config, plugins: Plugins): MiddlewareSet {
  const specs = config.http?.middlewares ?? {};
  // Built through a memoised lookup, so a chain can build its members first and a cycle is caught (chain.ts).
  const { lookup, built: wrappers } = createLookup(new Set(Object.keys(specs)), (name, lookup) => {
    const spec = specs[name]!;
    const path = `/http/middlewares/${name}`;
    const kinds = Object.keys(spec) as (keyof MiddlewareConfig)[];
    if (kinds.length !== 1) {
      return new GatehouseError('CONFIG_SCHEMA', `middleware "${name}" must have exactly one kind (${Object.keys(BUILDERS).join(', ')}); found ${kinds.length ? kinds.join(', ') : 'none'}`, {
        location: { path },
      });
    }
    const kind = kinds[0]!;
    return (BUILDERS[kind] as Builder<typeof kind>)(spec[kind]!, path, plugins, lookup);
  });
  for (const name of Object.keys(specs)) lookup(name);
  return { wrappers };
}
