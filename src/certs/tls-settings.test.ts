import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { connect, createServer, type Server } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../log.js';
import { DEFAULT_CIPHERS, secureContextBase, TICKET_KEYS_LENGTH, TicketKeys } from './tls-settings.js';

const pem = readFileSync(new URL('../../test/fixtures/certs/wrong.pem', import.meta.url), 'utf8');
const silent = createLogger({ level: 'silent' });

describe('secureContextBase', () => {
  it.each([
    { description: 'defaults', settings: { minVersion: 'TLSv1.2' as const }, ciphers: DEFAULT_CIPHERS },
    { description: 'a valid custom list is kept', settings: { minVersion: 'TLSv1.3' as const, ciphers: 'ECDHE-RSA-AES256-GCM-SHA384' }, ciphers: 'ECDHE-RSA-AES256-GCM-SHA384' },
    { description: 'a list OpenSSL rejects falls back to the defaults', settings: { minVersion: 'TLSv1.2' as const, ciphers: 'NOT-A-CIPHER' }, ciphers: DEFAULT_CIPHERS },
  ])('$description', ({ settings, ciphers }) => {
    const base = secureContextBase(settings, silent);
    expect(base).toMatchObject({ minVersion: settings.minVersion, ciphers, honorCipherOrder: true, ecdhCurve: 'X25519:P-256:P-384' });
  });

  it('lists only ECDHE key exchange with AEAD ciphers for TLS 1.2', () => {
    for (const suite of DEFAULT_CIPHERS.split(':')) expect(suite).toMatch(/^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
  });
});

describe('TicketKeys', () => {
  const open: { close(): void }[] = [];
  afterEach(() => {
    for (const o of open.splice(0)) o.close();
  });

  async function server(keys: TicketKeys): Promise<{ port: number; server: Server }> {
    const s = createServer({ cert: pem, key: pem, ...secureContextBase({ minVersion: 'TLSv1.2' }, silent) }, (socket) => socket.end());
    keys.attach(s);
    open.push(s);
    const port = await new Promise<number>((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)));
    return { port, server: s };
  }

  /** One TLS 1.2 handshake; returns its session and whether it resumed `session`. */
  function handshake(port: number, session?: Buffer): Promise<{ session: Buffer | undefined; reused: boolean }> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, maxVersion: 'TLSv1.2', ...(session ? { session } : {}) });
      socket.setTimeout(5000, () => socket.destroy(new Error('timeout')));
      socket.on('secureConnect', () => {
        resolve({ session: socket.getSession(), reused: socket.isSessionReused() });
        socket.end();
      });
      socket.on('error', reject);
    });
  }

  it('resumes sessions across servers sharing the keys, and not after a rotation', async () => {
    const keys = new TicketKeys(3600_000);
    open.push(keys);
    expect(keys.current).toHaveLength(TICKET_KEYS_LENGTH);
    const a = await server(keys);
    const b = await server(keys);
    const first = await handshake(a.port);
    expect(first.reused).toBe(false);
    expect((await handshake(b.port, first.session)).reused).toBe(true);
    const before = keys.current;
    keys.rotate();
    expect(keys.current.equals(before)).toBe(false);
    expect(a.server.getTicketKeys().equals(keys.current)).toBe(true);
    expect((await handshake(a.port, first.session)).reused).toBe(false);
  });

  it('rotates on its interval', async () => {
    const keys = new TicketKeys(30);
    open.push(keys);
    const before = keys.current;
    await new Promise((r) => setTimeout(r, 100));
    expect(keys.current.equals(before)).toBe(false);
  });
});
