/**
 * DNS messages on the wire for dns-01: a query over UDP (TCP when the answer is truncated, RFC 1035 §4.2) and a
 * message exchanged over TCP (updates, RFC 2136 §3.8 allows either; TCP needs no retransmission logic). Messages are
 * encoded and decoded by `dns-packet` (mafintosh/dns-packet, ~60 M downloads a week); this file only moves bytes.
 */
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { connect } from 'node:net';
import * as dnsPacket from 'dns-packet';

/** A DNS server: an address (or host name) and a port. */
export interface DnsServer {
  readonly host: string;
  readonly port: number;
}

/** Time one query (or one TCP exchange) has before it fails. */
export const QUERY_TIMEOUT_MS = 3_000;

/** `host`, `host:port`, `[v6]:port`, a bare IPv6 address; port 53 when left out. */
export function parseServer(text: string, defaultPort = 53): DnsServer {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) return { host: bracketed[1]!, port: bracketed[2] ? Number(bracketed[2]) : defaultPort };
  if (isIPv6(text)) return { host: text, port: defaultPort };
  const i = text.lastIndexOf(':');
  if (i > 0 && /^\d+$/.test(text.slice(i + 1))) return { host: text.slice(0, i), port: Number(text.slice(i + 1)) };
  return { host: text, port: defaultPort };
}

/** `host:port`, bracketed for IPv6: how servers are named in logs and errors. */
export function formatServer(s: DnsServer): string {
  return isIPv6(s.host) ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`;
}

/** Asks `server` one question; `recursion` sets RD (off for an authoritative server). Rejects on timeout or socket error. */
export async function query(server: DnsServer, name: string, type: dnsPacket.RecordType, options: { recursion?: boolean; timeoutMs?: number } = {}): Promise<dnsPacket.Packet> {
  const id = randomInt(0, 65536);
  const message = dnsPacket.encode({
    type: 'query',
    id,
    flags: options.recursion === false ? 0 : dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
  });
  const answer = dnsPacket.decode(await exchangeUdp(server, message, id, options.timeoutMs ?? QUERY_TIMEOUT_MS));
  if (((answer.flags ?? 0) & dnsPacket.TRUNCATED_RESPONSE) === 0) return answer;
  return dnsPacket.decode(await exchangeTcp(server, message, options.timeoutMs ?? QUERY_TIMEOUT_MS));
}

/** One UDP round trip: sent twice at most (a lost datagram), the answer matched by id. */
function exchangeUdp(server: DnsServer, message: Buffer, id: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIPv6(server.host) ? 'udp6' : 'udp4');
    let sends = 0;
    let timer: NodeJS.Timeout | undefined;
    const done = (err: Error | undefined, data?: Buffer) => {
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(data!);
    };
    const send = () => {
      sends++;
      socket.send(message, server.port, server.host, (err) => err && done(err));
      timer = setTimeout(() => (sends < 2 ? send() : done(new Error(`no answer from ${formatServer(server)} within ${timeoutMs} ms`))), timeoutMs / 2);
    };
    socket.on('message', (data) => {
      if (data.length >= 2 && data.readUInt16BE(0) === id) done(undefined, data);
    });
    // ICMP port unreachable: nothing listens there.
    socket.on('error', (err: NodeJS.ErrnoException) => done(new Error(`${formatServer(server)}: ${err.code ?? err.message}`)));
    send();
  });
}

/** One TCP exchange: the message with its 2-byte length (RFC 1035 §4.2.2), one answer read back. */
export function exchangeTcp(server: DnsServer, message: Buffer, timeoutMs = QUERY_TIMEOUT_MS): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: server.host, port: server.port });
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => done(new Error(`no answer from ${formatServer(server)} within ${timeoutMs} ms`)), timeoutMs);
    const done = (err: Error | undefined, data?: Buffer) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(data!);
    };
    socket.on('connect', () => {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(message.length);
      socket.write(Buffer.concat([length, message]));
    });
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) done(undefined, buffered.subarray(2, 2 + buffered.readUInt16BE(0)));
    });
    socket.on('end', () => done(new Error(`${formatServer(server)} closed the connection without an answer`)));
    socket.on('error', (err: NodeJS.ErrnoException) => done(new Error(`${formatServer(server)}: ${err.code ?? err.message}`)));
  });
}

/** The answer's RCODE name (NOERROR, NXDOMAIN, REFUSED, NOTAUTH, ...). */
export function rcodeOf(p: dnsPacket.Packet): string {
  return (p as { rcode?: string }).rcode ?? 'NOERROR';
}
