/**
 * Middlewares: each `http.middlewares` entry resolved once into a wrapper `(next) => Handler`. The table below maps
 * a config kind to its builder; a new kind is one row. A middleware that cannot be built is recorded as a problem,
 * and the routers that use it are disabled.
 */
import type { Config, MiddlewareConfig } from '../config/index.js';
import { GatehouseError } from '../errors.js';
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
) => Wrapper | GatehouseError;

const BUILDERS: { [K in keyof MiddlewareConfig]-?: Builder<K> } = {
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
  const wrappers = new Map<string, Wrapper | GatehouseError>();
  for (const [name, spec] of Object.entries(config.http?.middlewares ?? {})) {
    const path = `/http/middlewares/${name}`;
    const kinds = Object.keys(spec) as (keyof MiddlewareConfig)[];
    if (kinds.length !== 1) {
      wrappers.set(
        name,
        new GatehouseError('CONFIG_SCHEMA', `middleware "${name}" must have exactly one kind (${Object.keys(BUILDERS).join(', ')}); found ${kinds.length ? kinds.join(', ') : 'none'}`, {
          location: { path },
        }),
      );
      continue;
    }
    const kind = kinds[0]!;
    wrappers.set(name, (BUILDERS[kind] as Builder<typeof kind>)(spec[kind]!, path, plugins));
  }
  return { wrappers };
}
