/**
 * `chain`: a named list of middlewares applied in order, as if the router listed them. A chain is resolved when
 * the config is built, through the same lookup the routers use; a chain that reaches itself (directly or through
 * other chains) or names a missing or broken middleware is a MIDDLEWARE_CONFIG error.
 */
import type { ChainConfig } from '../config/schema-middlewares.js';
import { GatehouseError } from '../errors.js';
import type { Handler } from '../http/contract.js';
import type { Wrapper } from '../http/middlewares.js';
import { middlewareConfigError } from './config-error.js';

/** Looks a middleware up by name: its wrapper, the reason it is broken, or undefined when none has that name. */
export type MiddlewareLookup = (name: string) => Wrapper | GatehouseError | undefined;

/** Build a chain from its members, looked up with `resolve` (which detects cycles). */
export function createChain(spec: ChainConfig, path: string, resolve: MiddlewareLookup): Wrapper {
  const wrappers = spec.middlewares.map((name, i) => {
    const w = resolve(name);
    if (w === undefined) throw middlewareConfigError(`${path}/middlewares/${i}`, `chain member "${name}" does not exist`);
    if (w instanceof GatehouseError) {
      throw middlewareConfigError(`${path}/middlewares/${i}`, `chain member "${name}" is broken: ${w.message}`, w);
    }
    return w;
  });
  return (next: Handler) => {
    let handler = next;
    for (let i = wrappers.length - 1; i >= 0; i--) handler = wrappers[i]!(handler);
    return handler;
  };
}

/**
 * A memoised lookup over builders that detects cycles: `build(name, lookup)` builds one middleware and may look
 * others up. A name looked up while it is being built is a cycle, reported on the middleware that closes it.
 */
export function createLookup(
  names: ReadonlySet<string>,
  build: (name: string, lookup: MiddlewareLookup) => Wrapper | GatehouseError,
): { lookup: MiddlewareLookup; built: Map<string, Wrapper | GatehouseError> } {
  const built = new Map<string, Wrapper | GatehouseError>();
  const building: string[] = [];
  const lookup: MiddlewareLookup = (name) => {
    if (!names.has(name)) return undefined;
    const done = built.get(name);
    if (done !== undefined) return done;
    if (building.includes(name)) {
      const cycle = [...building.slice(building.indexOf(name)), name].join(' → ');
      return middlewareConfigError(`/http/middlewares/${name}`, `chain cycle: ${cycle}`);
    }
    building.push(name);
    const result = build(name, lookup);
    building.pop();
    built.set(name, result);
    return result;
  };
  return { lookup, built };
}
