/**
 * The rules folder's public face: Traefik v3 rule text parsed once into a tree, compiled once into
 * request-time matchers, and the default route priority.
 */
export type { RuleNode } from './ast.js';
export { ruleCalls } from './ast.js';
export { parseRule } from './parse.js';
export { compileRule, compileTree, matcherError } from './compile.js';
export type { MatcherSite, MatcherSpec, MatcherTable } from './compile.js';
export { compileHttpRule, HTTP_MATCHERS } from './http-matchers.js';
export type { HttpMatchInput, HttpMatcher } from './http-matchers.js';
export { compileSniRule, SNI_MATCHERS } from './sni-matchers.js';
export type { SniMatchInput, SniMatcher } from './sni-matchers.js';
export { defaultPriority, defaultTcpPriority, isSniCatchAll, routerPriority } from './priority.js';
