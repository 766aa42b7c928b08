/**
 * The built-in middlewares, one row per config kind (`http.middlewares.NAME.KIND`, as in Traefik). Each builder
 * compiles its options once and returns the wrapper; options it cannot compile throw a MIDDLEWARE_CONFIG
 * GatehouseError with the JSON path, which src/http/middlewares.ts records so the routers using it are disabled.
 */
import type { MiddlewareConfig } from '../config/index.js';
import type { Wrapper } from '../http/middlewares.js';
import { createBasicAuth } from './basic-auth.js';
import { createBuffering } from './buffering.js';
import { createChain, type MiddlewareLookup } from './chain.js';
import { createCompress } from './compress.js';
import { createForwardAuth } from './forward-auth.js';
import { createHeaders } from './headers.js';
import { createIpAllowList } from './ip-allow-list.js';
import { createAddPrefix, createReplacePath, createReplacePathRegex, createStripPrefix, createStripPrefixRegex } from './path-rewrites.js';
import { createRateLimit } from './rate-limit.js';
import { createRedirectRegex, createRedirectScheme } from './redirects.js';

export { createLookup, type MiddlewareLookup } from './chain.js';
export { isAcmeChallenge, isAcmeChallengePath, ACME_CHALLENGE_PREFIX } from './acme-path.js';

type BuiltinKind = Exclude<keyof MiddlewareConfig, 'plugin'>;

/** Builds one kind from its options; `lookup` finds other middlewares by name (chains need it). Throws on bad options. */
export type BuiltinBuilder<K extends BuiltinKind> = (spec: NonNullable<MiddlewareConfig[K]>, path: string, lookup: MiddlewareLookup) => Wrapper;

/** Every built-in kind's builder. A new kind is one row here and one schema in src/config/schema-middlewares.ts. */
export const BUILTIN_MIDDLEWARES: { [K in BuiltinKind]-?: BuiltinBuilder<K> } = {
  basicAuth: (spec, path) => createBasicAuth(spec, `${path}/basicAuth`),
  forwardAuth: (spec, path) => createForwardAuth(spec, `${path}/forwardAuth`),
  ipAllowList: (spec, path) => createIpAllowList(spec, `${path}/ipAllowList`),
  rateLimit: (spec, path) => createRateLimit(spec, `${path}/rateLimit`),
  headers: (spec, path) => createHeaders(spec, `${path}/headers`),
  redirectScheme: (spec, path) => createRedirectScheme(spec, `${path}/redirectScheme`),
  redirectRegex: (spec, path) => createRedirectRegex(spec, `${path}/redirectRegex`),
  stripPrefix: (spec, path) => createStripPrefix(spec, `${path}/stripPrefix`),
  stripPrefixRegex: (spec, path) => createStripPrefixRegex(spec, `${path}/stripPrefixRegex`),
  addPrefix: (spec, path) => createAddPrefix(spec, `${path}/addPrefix`),
  replacePath: (spec, path) => createReplacePath(spec, `${path}/replacePath`),
  replacePathRegex: (spec, path) => createReplacePathRegex(spec, `${path}/replacePathRegex`),
  compress: (spec, path) => createCompress(spec, `${path}/compress`),
  buffering: (spec, path) => createBuffering(spec, `${path}/buffering`),
  chain: (spec, path, lookup) => createChain(spec, `${path}/chain`, lookup),
};
