/**
 * A real TLS server standing in for a passthrough backend (the test proxy or VM of field notes 000/001), with its
 * own certificate from test/fixtures/tls (backend.test and *.pass.test, signed by the fixture CA; make.sh there
 * regenerates them). Listens on 127.0.0.1 port 0 with half-open connections allowed; `close()` destroys every
 * socket it accepted. `closeAllTlsBackends()` (afterEach) closes any a test left open.
 */
import { X509Certificate, createCipheriv, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer, type TLSSocket } from 'node:tls';

const FIXTURES = new URL('../fixtures/tls/', import.meta.url);

/** The fixture CA that signed the backend's certificate; clients pass it as `ca`. */
export const BACKEND_CA = readFileSync(new URL('ca.pem', FIXTURES));
const BACKEND_CERT = readFileSync(new URL('backend.pem', FIXTURES));
const BACKEND_KEY = readFileSync(new URL('backend-key.pem', FIXTURES));

/** SHA-256 fingerprint of the backend's certificate, in the form `TLSSocket.getPeerCertificate().fingerprint256` gives. */
export const BACKEND_FINGERPRINT = new X509Certificate(BACKEND_CERT).fingerprint256;

/** A running TLS backend. */
export interface TlsBackend {
  readonly port: number;
  /** `127.0.0.1:port`, as a tcp service's server address. */
  readonly address: string;
  /** Sockets accepted so far, in order. */
  readonly sockets: TLSSocket[];
  close(): Promise<void>;
}

const open = new Set<TlsBackend>();

/** Start a TLS backend that hands each secure connection to `onConnection` (which must handle 'error'). */
export async function startTlsBackend(onConnection: (socket: TLSSocket) => void): Promise<TlsBackend> {
  const sockets: TLSSocket[] = [];
  const server = createServer({ cert: BACKEND_CERT, key: BACKEND_KEY, allowHalfOpen: true }, (socket) => {
    sockets.push(socket);
    socket.on('error', () => {}); // a test that resets the connection on purpose must not crash the runner
    onConnection(socket);
  });
  // Handshake failures (a client that gives up) are expected in fault tests; they are not test failures.
  server.on('tlsClientError', () => {});
  // Raw connections too: one cut mid-handshake stays half-open (allowHalfOpen) and would hold server.close() forever.
  const raw = new Set<import('node:net').Socket>();
  server.on('connection', (s: import('node:net').Socket) => {
    raw.add(s);
    s.once('close', () => raw.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  const backend: TlsBackend = {
    port,
    address: `127.0.0.1:${port}`,
    sockets,
    close: () => {
      open.delete(backend);
      closing ??= new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        for (const s of raw) s.destroy();
        server.close(() => resolve());
      });
      return closing;
    },
  };
  open.add(backend);
  return backend;
}

/** Close every backend still open. */
export async function closeAllTlsBackends(): Promise<void> {
  await Promise.all([...open].map((b) => b.close()));
}

/** `size` bytes of deterministic pseudo-random data (so a mix-up of two streams cannot look intact): AES-CTR keystream. */
export function patternBytes(size: number, seed: string): Buffer {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()]);
}

/** Hex SHA-256 of a buffer. */
export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
