/**
 * What an entry point's config compiles into, once: its listening address, the facts every request on it shares
 * (scheme, whom to trust for X-Forwarded-*), the HTTP server options carrying its client-side limits, and the TLS
 * and PROXY protocol settings of a TLS entry point. `check` runs this too, so a bad address or CIDR is reported
 * before anything listens.
 */
import { ServerResponse, type ServerOptions } from 'node:http';
import type { EntryPointConfig } from '../config/index.js';
import { DEFAULTS, parseDuration } from '../config/index.js';
import { GatehouseError } from '../errors.js';
import type { EntryPointInfo } from '../http/context.js';
import { DEFAULT_ENCODED_CHARACTERS } from '../http/request-path.js';
import { CountingResponse } from '../http/counting-response.js';
import { addressMatcher, AddressListError, compileAddressList } from '../ip/address-list.js';
import { parseListenAddress, type ListenAddress } from './address.js';
import { udpEntrySettings, type UdpEntrySettings } from '../udp/settings.js';

/**
 * Read and write buffer bound of every client socket (plain, TLS, raw TCP), the same on every Node line: Node 22 raised
 * the streams' default from 16 KiB to 64 KiB, which let a client that stops reading hold 64 KiB of response written
 * ahead on its socket (issue 20, row 2: 102 KiB per stalled response on Node 24 against 45 KiB on Node 20).
 */
export const CLIENT_SOCKET_HIGH_WATER_MARK = 16 * 1024;

/** The compiled settings of one entry point. */
export interface EntryPointSettings {
  readonly name: string;
  readonly address: ListenAddress;
  readonly entry: EntryPointInfo;
  readonly serverOptions: ServerOptions;
  /** Most header lines a request may carry; more is answered 431 (see header-count). */
  readonly maxHeaderCount: number;
  /** Set for a TLS entry point: how long and how much of a ClientHello to wait for. */
  readonly tls: { readonly clientHelloTimeoutMs: number; readonly maxClientHelloSize: number; readonly http2: boolean } | undefined;
  /** Set when a load balancer in front sends PROXY protocol headers: whom to accept them from. */
  readonly proxyProtocolFrom: ((ip: string) => boolean) | undefined;
  /** Set for a UDP entry point (address ending in `/udp`): its session settings (src/udp/). */
  readonly udp?: UdpEntrySettings | undefined;
}

/** Compile an entry point's config. Throws CONFIG_SCHEMA for a bad address or CIDR. */
export function entryPointSettings(name: string, spec: EntryPointConfig): EntryPointSettings {
  const address = parseListenAddress(spec.address, name);
  const udp = udpEntrySettings(name, spec);
  const t = spec.timeouts ?? {};
  const headersTimeout = parseDuration(t.headers ?? DEFAULTS.headersTimeout);
  const requestTimeout = parseDuration(t.request ?? DEFAULTS.requestTimeout);
  const entry: EntryPointInfo = {
    name,
    scheme: spec.tls ? 'https' : 'http',
    trusts: spec.forwardedHeaders?.insecure
      ? () => true
      : addressList(spec.forwardedHeaders?.trustedIPs, `/entryPoints/${name}/forwardedHeaders/trustedIPs`, name),
    encodedCharacters: { ...DEFAULT_ENCODED_CHARACTERS, ...spec.http?.encodedCharacters },
  };
  const serverOptions: ServerOptions = {
    ServerResponse: CountingResponse as unknown as typeof ServerResponse,
    maxHeaderSize: spec.maxHeaderSize ?? DEFAULTS.maxHeaderSize,
    headersTimeout,
    // Node requires headersTimeout <= requestTimeout when the latter is on.
    requestTimeout: requestTimeout === 0 ? 0 : Math.max(requestTimeout, headersTimeout),
    keepAliveTimeout: parseDuration(t.idle ?? DEFAULTS.idleTimeout),
    // How often Node checks the two timeouts above; its 30 s default would let a slowloris client linger.
    connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor((headersTimeout || 30_000) / 4))),
  };
  const tls = spec.tls
    ? {
        clientHelloTimeoutMs: parseDuration(spec.tls.clientHelloTimeout ?? DEFAULTS.clientHelloTimeout),
        maxClientHelloSize: spec.tls.maxClientHelloSize ?? DEFAULTS.maxClientHelloSize,
        http2: spec.tls.http2 ?? true,
      }
    : undefined;
  const proxyProtocolFrom = spec.proxyProtocol
    ? addressList(spec.proxyProtocol.trustedIPs, `/entryPoints/${name}/proxyProtocol/trustedIPs`, name)
    : undefined;
  const maxHeaderCount = spec.maxHeaderCount ?? DEFAULTS.maxHeaderCount;
  return { name, address, entry, serverOptions, maxHeaderCount, tls, proxyProtocolFrom, udp };
}

function addressList(entries: readonly string[] | undefined, path: string, name: string): (ip: string) => boolean {
  if (!entries || entries.length === 0) return () => false;
  try {
    return addressMatcher(compileAddressList(entries));
  } catch (err) {
    if (!(err instanceof AddressListError)) throw err;
    throw new GatehouseError('CONFIG_SCHEMA', `entry point "${name}": ${err.message}`, { location: { path: `${path}/${err.index}` } });
  }
}
