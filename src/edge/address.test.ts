import { describe, expect, it } from 'vitest';
import { listenProtocol, parseListenAddress } from './address.js';

describe('parseListenAddress', () => {
  it.each([
    ['all interfaces', ':8080', undefined, 8080],
    ['IPv4', '127.0.0.1:80', '127.0.0.1', 80],
    ['IPv6', '[::1]:8443', '::1', 8443],
    ['name', 'localhost:0', 'localhost', 0],
    ['spaces around', ' :9000 ', undefined, 9000],
    ['UDP, as Traefik writes it', ':53/udp', undefined, 53],
    ['TCP written out', '127.0.0.1:25/TCP', '127.0.0.1', 25],
  ])('%s: %s', (_d, text, host, port) => {
    expect(parseListenAddress(text, 'web')).toEqual({ host, port });
  });

  it.each([
    ['no port', '127.0.0.1'],
    ['port too big', ':70000'],
    ['port not a number', ':http'],
    ['IPv6 without brackets', '::1:80'],
    ['empty', ''],
    ['another protocol', ':53/sctp'],
  ])('refuses %s: %j', (_d, text) => {
    expect(() => parseListenAddress(text, 'web')).toThrow(/entry point "web": address .* is not host:port/);
  });

  it.each([
    [':53/udp', 'udp'],
    ['[::1]:51820/UDP', 'udp'],
    [':8080', 'tcp'],
    [':8080/tcp', 'tcp'],
  ] as const)('listenProtocol(%j) is %s', (text, protocol) => {
    expect(listenProtocol(text)).toBe(protocol);
  });
});
