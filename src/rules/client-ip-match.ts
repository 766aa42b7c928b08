/**
 * `ClientIP(...)`: the socket peer address against addresses and CIDR blocks, with Node's net.BlockList
 * doing the address arithmetic. Node reports IPv4 peers on dual-stack sockets as IPv4-mapped IPv6
 * (`::ffff:127.0.0.1`, RFC 4291 §2.5.5.2); those are checked as the IPv4 address they carry, so a rule
 * written with IPv4 blocks matches them whatever the listener's family.
 */
import { BlockList, isIP } from 'node:net';
import { matcherError, type MatcherSite } from './compile.js';

const MAPPED_PREFIX = '::ffff:';

/** Builds one BlockList from the arguments; throws RULE_MATCHER naming the bad address or prefix length. */
export function compileClientIps(args: readonly string[], site: MatcherSite): BlockList {
  const list = new BlockList();
  for (const arg of args) {
    const text = arg.trim();
    const slash = text.indexOf('/');
    const address = slash === -1 ? text : text.slice(0, slash);
    const family = isIP(address);
    if (family === 0) {
      throw matcherError(`${site.name} expects an IP address or CIDR block, got "${arg}" (column ${site.column})`, site);
    }
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (slash === -1) {
      list.addAddress(address, type);
      continue;
    }
    const prefixText = text.slice(slash + 1);
    const prefix = Number(prefixText);
    const max = family === 4 ? 32 : 128;
    if (!/^\d{1,3}$/.test(prefixText) || prefix > max) {
      throw matcherError(
        `${site.name} CIDR "${arg}" needs a prefix length from 0 to ${max} (column ${site.column})`,
        site,
      );
    }
    list.addSubnet(address, prefix, type);
  }
  return list;
}

/**
 * The request-time test: unwraps IPv4-mapped addresses and zone ids, never throws. BlockList.check costs
 * about a microsecond (it builds a SocketAddress and calls into C++), and the requests of one keep-alive
 * connection repeat the same address, so each matcher remembers its last answer.
 */
export function clientIpMatcher(list: BlockList): (clientIp: string) => boolean {
  let lastIp: string | undefined;
  let lastResult = false;
  return (clientIp) => {
    if (clientIp === lastIp) return lastResult;
    lastResult = checkAddress(list, clientIp);
    lastIp = clientIp;
    return lastResult;
  };
}

function checkAddress(list: BlockList, clientIp: string): boolean {
  let ip = clientIp;
  if (ip.startsWith(MAPPED_PREFIX) && ip.includes('.', MAPPED_PREFIX.length)) {
    return list.check(ip.slice(MAPPED_PREFIX.length), 'ipv4');
  }
  const zone = ip.indexOf('%'); // link-local peers come as fe80::1%eth0; BlockList wants the bare address
  if (zone !== -1) ip = ip.slice(0, zone);
  const family = isIP(ip);
  if (family === 0) return false;
  return list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}
