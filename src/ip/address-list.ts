/**
 * Lists of IP addresses and CIDR blocks (trusted proxies, ClientIP rules, allow lists), compiled once into a
 * net.BlockList, which does the address arithmetic for IPv4 and IPv6. Node reports IPv4 peers on dual-stack sockets
 * as IPv4-mapped IPv6 (`::ffff:127.0.0.1`, RFC 4291 §2.5.5.2); those are checked as the IPv4 address they carry, so
 * a list written with IPv4 blocks matches them whatever the listener's family.
 */
import { BlockList, isIP } from 'node:net';

const MAPPED_PREFIX = '::ffff:';

/** Why an entry of a list is not an address or CIDR block, for the caller to wrap in its own error. */
export class AddressListError extends Error {
  constructor(
    readonly index: number,
    readonly entry: string,
    message: string,
  ) {
    super(message);
  }
}

/** Compile addresses and CIDR blocks; throws AddressListError naming the first bad entry. */
export function compileAddressList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  entries.forEach((entry, index) => {
    const text = entry.trim();
    const slash = text.indexOf('/');
    const address = slash === -1 ? text : text.slice(0, slash);
    const family = isIP(address);
    if (family === 0) throw new AddressListError(index, entry, `"${entry}" is not an IP address or CIDR block`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (slash === -1) {
      list.addAddress(address, type);
      return;
    }
    const prefixText = text.slice(slash + 1);
    const max = family === 4 ? 32 : 128;
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) {
      throw new AddressListError(index, entry, `CIDR "${entry}" needs a prefix length from 0 to ${max}`);
    }
    list.addSubnet(address, Number(prefixText), type);
  });
  return list;
}

/**
 * The request-time test: unwraps IPv4-mapped addresses and zone ids, never throws. BlockList.check costs about a
 * microsecond (it builds a SocketAddress and calls into C++), and the requests of one keep-alive connection repeat
 * the same address, so each matcher remembers its last answer.
 */
export function addressMatcher(list: BlockList): (ip: string) => boolean {
  let lastIp: string | undefined;
  let lastResult = false;
  return (ip) => {
    if (ip === lastIp) return lastResult;
    lastResult = checkAddress(list, ip);
    lastIp = ip;
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
