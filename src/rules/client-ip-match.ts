/**
 * `ClientIP(...)`: the socket peer address against addresses and CIDR blocks (src/ip/address-list.ts does the
 * parsing and matching; this file only turns its errors into located rule errors).
 */
import type { BlockList } from 'node:net';
import { addressMatcher, AddressListError, compileAddressList } from '../ip/address-list.js';
import { matcherError, type MatcherSite, type MatcherSpec } from './compile.js';

/** Builds one BlockList from the arguments; throws RULE_MATCHER naming the bad address or prefix length. */
export function compileClientIps(args: readonly string[], site: MatcherSite): BlockList {
  try {
    return compileAddressList(args);
  } catch (err) {
    if (!(err instanceof AddressListError)) throw err;
    const what = err.message.startsWith('CIDR')
      ? `${site.name} ${err.message}`
      : `${site.name} expects an IP address or CIDR block, got "${err.entry}"`;
    throw matcherError(`${what} (column ${site.column})`, site);
  }
}

/** The request-time test of a compiled list (remembers its last answer; never throws). */
export const clientIpMatcher = addressMatcher;

/** `ClientIP(...)` as a table row, shared by the HTTP and the SNI tables (both inputs carry `clientIp`). */
export const CLIENT_IP_SPEC: MatcherSpec<{ readonly clientIp: string }> = {
  minArgs: 1,
  maxArgs: Infinity,
  build(args, site) {
    const test = clientIpMatcher(compileClientIps(args, site));
    return (input) => test(input.clientIp);
  },
};
