/**
 * Which address a request comes from, as Traefik's `ipStrategy` decides it, shared by ipAllowList and rateLimit.
 * Without a strategy (or depth 0 and no excludedIPs) it is the socket peer. With one, X-Forwarded-For is read
 * from the right, but only when the request came from a trusted proxy (the entry point's
 * forwardedHeaders.trustedIPs, `ctx.trustForwarded`): from anyone else the header is the client's own claim and is
 * ignored, so a spoofed X-Forwarded-For cannot buy a way past an allow list or out of a rate limit.
 */
import { BlockList, isIP } from 'node:net';
import type { RequestContext } from '../http/context.js';
import type { IpStrategyConfig } from '../config/schema-middlewares.js';
import { clientIpMatcher } from '../rules/client-ip-match.js';
import { middlewareConfigError } from './config-error.js';

/** The client address of a request, compiled from an ipStrategy; '' when the strategy finds none. */
export type ClientIpOf = (ctx: RequestContext) => string;

/** Compile addresses and CIDRs into a BlockList; throws MIDDLEWARE_CONFIG naming the bad entry and its path. */
export function compileRanges(ranges: readonly string[], path: string): BlockList {
  const list = new BlockList();
  ranges.forEach((entry, i) => {
    const text = entry.trim();
    const slash = text.indexOf('/');
    const address = slash === -1 ? text : text.slice(0, slash);
    const family = isIP(address);
    if (family === 0) throw middlewareConfigError(`${path}/${i}`, `"${entry}" is not an IP address or CIDR block`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (slash === -1) {
      list.addAddress(address, type);
      return;
    }
    const bits = text.slice(slash + 1);
    const max = family === 4 ? 32 : 128;
    if (!/^[0-9]{1,3}$/.test(bits) || Number(bits) > max) {
      throw middlewareConfigError(`${path}/${i}`, `CIDR "${entry}" needs a prefix length from 0 to ${max}`);
    }
    list.addSubnet(address, Number(bits), type);
  });
  return list;
}

/** `::ffff:1.2.3.4` → `1.2.3.4`: the socket reports IPv4 peers of a dual-stack listener mapped (RFC 4291 §2.5.5.2). */
function unmapped(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/** Compile an ipStrategy (absent: the socket peer). `path` locates it in the config for errors. */
export function compileClientIpStrategy(strategy: IpStrategyConfig | undefined, path: string): ClientIpOf {
  const depth = strategy?.depth ?? 0;
  const excluded = strategy?.excludedIPs;
  if (depth > 0) {
    return (ctx) => (ctx.trustForwarded ? forwardedAtDepth(ctx.headers['x-forwarded-for'], depth) : unmapped(ctx.clientIp));
  }
  if (excluded !== undefined && excluded.length > 0) {
    const isExcluded = clientIpMatcher(compileRanges(excluded, `${path}/excludedIPs`));
    return (ctx) => (ctx.trustForwarded ? firstNotExcluded(ctx.headers['x-forwarded-for'], isExcluded) : unmapped(ctx.clientIp));
  }
  return (ctx) => unmapped(ctx.clientIp);
}

/**
 * The entry `depth` places from the right of X-Forwarded-For (1 = the rightmost, the one the trusted proxy
 * appended), or '' when the list is shorter: Traefik's rule, which then refuses the request rather than guess.
 */
function forwardedAtDepth(xff: string | string[] | undefined, depth: number): string {
  if (xff === undefined) return '';
  const list = typeof xff === 'string' ? xff : xff.join(',');
  let end = list.length;
  for (let n = 1; ; n++) {
    const comma = list.lastIndexOf(',', end - 1);
    if (n === depth) return list.slice(comma + 1, end).trim();
    if (comma === -1) return '';
    end = comma;
  }
}

/** The rightmost X-Forwarded-For entry that is not one of our own proxies, or '' when all are. */
function firstNotExcluded(xff: string | string[] | undefined, isExcluded: (ip: string) => boolean): string {
  if (xff === undefined) return '';
  const list = typeof xff === 'string' ? xff : xff.join(',');
  let end = list.length;
  while (end > 0) {
    const comma = list.lastIndexOf(',', end - 1);
    const ip = list.slice(comma + 1, end).trim();
    if (ip !== '' && !isExcluded(ip)) return ip;
    if (comma === -1) return '';
    end = comma;
  }
  return '';
}
