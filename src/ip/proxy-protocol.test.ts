import { once } from 'node:events';
import net, { type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { capturedHellos } from '../../test/fixtures/client-hello/index.js';
import { peekClientHello } from '../edge/peek.js';
import { encodeProxyHeader, parseProxyHeader, readProxyHeader } from './proxy-protocol.js';

// Byte layouts from proxy-protocol.txt §2.1 (v1 lines) and §2.2 (v2: signature, ver/cmd, fam, len, addresses).
const SIG = '0d0a0d0a000d0a515549540a';
const hex = (...parts: string[]) => Buffer.from(parts.join('').replace(/\s/g, ''), 'hex');
const text = (s: string) => Buffer.from(s, 'latin1');
const V6_SRC = '20010db8 00000000 00000000 00000001'; // 2001:db8::1
const V6_DST = '20010db8 00000000 00000000 00000002'; // 2001:db8::2
const FFFF = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';

describe('encodeProxyHeader', () => {
  it.each([
    ['v1 TCP4', 1, ['192.0.2.1', 56324], ['198.51.100.2', 443], text('PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n')],
    ['v1 TCP6', 1, ['2001:db8::1', 1], ['2001:db8::2', 65535], text('PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n')],
    ['v1 IPv4-mapped on both sides is TCP4', 1, ['::ffff:127.0.0.1', 40000], ['::ffff:127.0.0.2', 8443], text('PROXY TCP4 127.0.0.1 127.0.0.2 40000 8443\r\n')],
    ['v1 IPv4 client, IPv6 listener: TCP6, mapped', 1, ['127.0.0.1', 5], ['::1', 6], text('PROXY TCP6 ::ffff:127.0.0.1 ::1 5 6\r\n')],
    ['v2 TCP4', 2, ['192.0.2.1', 56324], ['198.51.100.2', 443], hex(SIG, '21 11 000c', 'c0000201 c6336402', 'dc04 01bb')],
    ['v2 TCP6', 2, ['2001:db8::1', 1], ['2001:db8::2', 65535], hex(SIG, '21 21 0024', V6_SRC, V6_DST, '0001 ffff')],
    ['v2 IPv4-mapped is TCP4', 2, ['::ffff:10.0.0.1', 0], ['10.0.0.2', 80], hex(SIG, '21 11 000c', '0a000001 0a000002', '0000 0050')],
    ['v2 IPv4 and IPv6 mix: TCP6, mapped', 2, ['10.0.0.1', 1], ['2001:db8::2', 2], hex(SIG, '21 21 0024', '00000000 00000000 0000ffff 0a000001', V6_DST, '0001 0002')],
  ] as const)('%s', (_d, version, [sa, sp], [da, dp], expected) => {
    expect(encodeProxyHeader(version, { address: sa, port: sp }, { address: da, port: dp }).toString('hex')).toBe(expected.toString('hex'));
  });

  it.each([
    ['a host name', { address: 'localhost', port: 1 }],
    ['an empty address', { address: '', port: 1 }],
    ['a port past 65535', { address: '127.0.0.1', port: 65536 }],
    ['a fractional port', { address: '127.0.0.1', port: 1.5 }],
  ])('refuses %s', (_d, src) => {
    expect(() => encodeProxyHeader(2, src, { address: '127.0.0.1', port: 443 })).toThrow(TypeError);
  });
});

describe('parseProxyHeader', () => {
  it.each([
    ['v1 TCP4', text('PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n'), { address: '192.0.2.1', port: 56324 }, 45],
    ['v1 TCP6', text('PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n'), { address: '2001:db8::1', port: 1 }, 44],
    ['v1 TCP6 at its longest (104 bytes)', text(`PROXY TCP6 ${FFFF} ${FFFF} 65535 65535\r\n`), { address: FFFF, port: 65535 }, 104],
    ['v1 TCP6 carrying an IPv4-mapped client', text('PROXY TCP6 ::ffff:10.1.2.3 ::1 9 443\r\n'), { address: '10.1.2.3', port: 9 }, 38],
    ['v1 UNKNOWN', text('PROXY UNKNOWN\r\n'), undefined, 15],
    ['v1 UNKNOWN at the 107-byte limit', text(`PROXY UNKNOWN ${FFFF} ${FFFF} 65535 65535\r\n`), undefined, 107],
    ['v2 TCP4', hex(SIG, '21 11 000c', 'c0000201 c6336402', 'dc04 01bb'), { address: '192.0.2.1', port: 56324 }, 28],
    ['v2 TCP6', hex(SIG, '21 21 0024', V6_SRC, V6_DST, '0001 ffff'), { address: '2001:db8::1', port: 1 }, 52],
    ['v2 TCP6 IPv4-mapped', hex(SIG, '21 21 0024', '00000000 00000000 0000ffff 0a000001', V6_DST, '0001 0002'), { address: '10.0.0.1', port: 1 }, 52],
    ['v2 TCP4 with TLVs after the addresses', hex(SIG, '21 11 0014', 'c0000201 c6336402', 'dc04 01bb', '01 0002 6832', '04 0000'), { address: '192.0.2.1', port: 56324 }, 36],
    ['v2 LOCAL (a health check): socket address', hex(SIG, '20 11 000c', 'c0000201 c6336402', 'dc04 01bb'), undefined, 28],
    ['v2 LOCAL UNSPEC, no address block', hex(SIG, '20 00 0000'), undefined, 16],
    ['v2 UDP4: not ours to route, socket address', hex(SIG, '21 12 000c', 'c0000201 c6336402', 'dc04 01bb'), undefined, 28],
    ['v2 UNIX stream: socket address', Buffer.concat([hex(SIG, '21 31 00d8'), Buffer.alloc(216)]), undefined, 232],
  ])('%s', (_d, bytes, source, length) => {
    expect(parseProxyHeader(Buffer.concat([bytes, text('GET / HTTP/1.1\r\n')]))).toEqual({ status: 'complete', source, length });
  });

  it.each([
    ['plain HTTP', text('GET / HTTP/1.1\r\n'), 'not-proxy'],
    ['a TLS record', capturedHellos()[0]!.bytes, 'not-proxy'],
    ['P without ROXY', text('PROXZ TCP4'), 'not-proxy'],
    ['CR LF then something else', hex('0d0a0d0a 01'), 'not-proxy'],
    ['v1 without CR', text('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n'), 'malformed'],
    ['v1 TCP4 with an IPv6 address', text('PROXY TCP4 ::1 ::1 1 2\r\n'), 'malformed'],
    ['v1 TCP6 with an IPv4 address', text('PROXY TCP6 1.2.3.4 ::1 1 2\r\n'), 'malformed'],
    ['v1 a host name', text('PROXY TCP4 evil.test 5.6.7.8 1 2\r\n'), 'malformed'],
    ['v1 port past 65535', text('PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n'), 'malformed'],
    ['v1 port with a leading zero', text('PROXY TCP4 1.2.3.4 5.6.7.8 0443 2\r\n'), 'malformed'],
    ['v1 two spaces', text('PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n'), 'malformed'],
    ['v1 a missing port', text('PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n'), 'malformed'],
    ['v1 unknown protocol', text('PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n'), 'malformed'],
    ['v1 no CRLF within 107 bytes', text(`PROXY UNKNOWN ${'x'.repeat(120)}\r\n`), 'too-large'],
    ['v2 version 1 in the version nibble', hex(SIG, '11 11 000c', '00'.repeat(12)), 'malformed'],
    ['v2 command 2', hex(SIG, '22 11 000c', '00'.repeat(12)), 'malformed'],
    ['v2 family 4', hex(SIG, '21 41 000c', '00'.repeat(12)), 'malformed'],
    ['v2 transport 3', hex(SIG, '21 13 000c', '00'.repeat(12)), 'malformed'],
    ['v2 TCP4 block too short for its addresses', hex(SIG, '21 11 0008', '00'.repeat(8)), 'malformed'],
    ['v2 TCP6 block too short for its addresses', hex(SIG, '21 21 000c', '00'.repeat(12)), 'malformed'],
    ['v2 length past the 4 KiB cap', hex(SIG, '21 11 1000'), 'too-large'],
  ])('%s → %s', (_d, bytes, reason) => {
    expect(parseProxyHeader(bytes)).toEqual({ status: 'invalid', reason });
  });

  it.each([
    ['v1', text('PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n')],
    ['v2', hex(SIG, '21 11 0014', 'c0000201 c6336402', 'dc04 01bb', '01 0002 6832', '04 0000')],
  ])('%s: every proper prefix is incomplete and asks for more', (_d, bytes) => {
    for (let n = 0; n < bytes.length; n++) {
      const r = parseProxyHeader(bytes.subarray(0, n));
      expect(r.status, `prefix ${n}`).toBe('incomplete');
      if (r.status === 'incomplete') expect(r.needBytes).toBeGreaterThan(n);
    }
  });
});

describe('readProxyHeader on real sockets', () => {
  let server: net.Server | undefined;
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    if (server) await new Promise((r) => server!.close(r));
    server = undefined;
  });

  async function pair(): Promise<{ client: Socket; accepted: Socket }> {
    server = net.createServer((s) => sockets.push(s));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const connected = once(server, 'connection') as Promise<[Socket]>;
    const client = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
    client.setNoDelay(true);
    client.on('error', () => {});
    sockets.push(client);
    const [accepted] = await connected;
    accepted.on('error', () => {});
    return { client, accepted };
  }
  const write = (s: Socket, b: Buffer) => new Promise<void>((r) => s.write(b, () => r()));

  it.each([
    ['v1 IPv4', 1, { address: '203.0.113.7', port: 50123 }],
    ['v1 IPv6', 1, { address: '2001:db8::7', port: 50123 }],
    ['v2 IPv4', 2, { address: '203.0.113.7', port: 50123 }],
    ['v2 IPv6', 2, { address: '2001:db8::7', port: 50123 }],
  ] as const)('%s: what the encoder writes, the reader reads back, and the ClientHello after it is replayed', async (_d, version, src) => {
    const { client, accepted } = await pair();
    const hello = capturedHellos()[0]!;
    const dst = src.address.includes(':') ? { address: '2001:db8::1', port: 443 } : { address: '198.51.100.1', port: 443 };
    await write(client, Buffer.concat([encodeProxyHeader(version, src, dst), hello.bytes]));
    const header = await readProxyHeader(accepted, { timeoutMs: 2_000 });
    expect(header.ok && header.source).toEqual(src);
    accepted.unshift(header.rest);
    const peeked = await peekClientHello(accepted, { timeoutMs: 2_000, maxBytes: 16_384 });
    expect(peeked.ok && peeked.hello.sni).toBe(hello.sni);
    expect(peeked.bytes.equals(hello.bytes)).toBe(true);
  });

  it('reads a v2 header arriving one byte per write, consuming nothing past it', async () => {
    const { client, accepted } = await pair();
    const header = encodeProxyHeader(2, { address: '2001:db8::9', port: 7 }, { address: '2001:db8::1', port: 443 });
    const read = readProxyHeader(accepted, { timeoutMs: 2_000 });
    for (const byte of header) await write(client, Buffer.from([byte]));
    const result = await read;
    await write(client, text('next'));
    expect(result).toEqual({ ok: true, source: { address: '2001:db8::9', port: 7 }, rest: Buffer.alloc(0) });
    accepted.resume();
    expect(((await once(accepted, 'data')) as [Buffer])[0].toString()).toBe('next');
  });

  it.each([
    ['a client with no header', text('GET / HTTP/1.1\r\n\r\n'), 'not-proxy'],
    ['a v1 line that never ends', text(`PROXY TCP4 ${'1'.repeat(150)}`), 'too-large'],
    ['a v2 header announcing 60 KiB', hex(SIG, '21 11 f000', '00'.repeat(40)), 'too-large'],
  ])('refuses %s, handing back every byte read', async (_d, sent, reason) => {
    const { client, accepted } = await pair();
    await write(client, sent);
    const result = await readProxyHeader(accepted, { timeoutMs: 2_000 });
    expect(result.ok === false && result.reason).toBe(reason);
    expect(sent.subarray(0, result.rest.length).equals(result.rest)).toBe(true);
  });

  it('gives up on a balancer that sends half a header and goes quiet, within bounds', async () => {
    const { client, accepted } = await pair();
    await write(client, text('PROXY TCP4 1.2.3.4'));
    const started = performance.now();
    const result = await readProxyHeader(accepted, { timeoutMs: 150 });
    expect(result).toEqual({ ok: false, reason: 'timeout', rest: text('PROXY TCP4 1.2.3.4') });
    expect(performance.now() - started).toBeLessThan(1_500);
  });

  it('reports closed when the peer ends inside the header', async () => {
    const { client, accepted } = await pair();
    const read = readProxyHeader(accepted, { timeoutMs: 2_000 });
    client.end(hex(SIG, '21 11'));
    expect(await read).toEqual({ ok: false, reason: 'closed', rest: hex(SIG, '21 11') });
  });
});
