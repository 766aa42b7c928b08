/**
 * Route priority when a router sets none. Traefik uses the rule's length, so longer (usually more
 * specific) rules are tried first; Go's len() counts UTF-8 bytes, and so do we, so a non-ASCII rule gets
 * the same priority it had in Traefik. A TCP rule that is exactly HostSNI(`*`) gets −1 instead, so every
 * other TCP router (even ALPN(`h2`), shorter than it) is tried before the catch-all.
 */
import type { RuleNode } from './ast.js';
import { parseRule } from './parse.js';

/** Traefik's default priority: the rule's length in UTF-8 bytes (equal to its character count for ASCII). */
export function defaultPriority(rule: string): number {
  return Buffer.byteLength(rule, 'utf8');
}

/**
 * Whether a TCP rule is Traefik's catch-all: one HostSNI call (any spelling Traefik accepts) with the single
 * argument `*`, however spaced (pkg/muxer/tcp/mux.go AddRoute's catchAll and GetRulePriority).
 */
export function isSniCatchAll(rule: string): boolean {
  let node: RuleNode;
  try {
    node = parseRule(rule);
  } catch {
    return false;
  }
  return node.type === 'call' && node.name.toLowerCase() === 'hostsni' && node.args.length === 1 && node.args[0] === '*';
}

/** Traefik's default TCP priority: −1 for HostSNI(`*`) (pkg/muxer/tcp/mux.go GetRulePriority), else the rule's length. */
export function defaultTcpPriority(rule: string): number {
  return isSniCatchAll(rule) ? -1 : defaultPriority(rule);
}

/**
 * A router's effective priority. 0 means unset, as in Traefik (pkg/server/router/router.go for HTTP and
 * pkg/server/router/tcp/manager.go for TCP replace `Priority == 0` by the default; docs: "priority: 0 means that the default rules length sorting is used").
 */
export function routerPriority(priority: number | undefined, rule: string, kind: 'http' | 'tcp'): number {
  if (priority !== undefined && priority !== 0) return priority;
  return kind === 'tcp' ? defaultTcpPriority(rule) : defaultPriority(rule);
}
