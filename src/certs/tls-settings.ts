/**
 * Protocol settings of TLS termination: modern defaults (Mozilla's "intermediate" profile), compiled once into the
 * options every SecureContext is built with, and rotating session ticket keys.
 */
import { constants as cryptoConstants, randomBytes } from 'node:crypto';
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import type { Logger } from '../log.js';

/**
 * TLS 1.2 suites: ECDHE only (forward secrecy), AEAD only (AES-GCM, ChaCha20-Poly1305; RFC 7525 §4.2), ECDSA
 * first since those certificates are smaller and faster. TLS 1.3 suites are OpenSSL's defaults, all strong.
 */
export const DEFAULT_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** Key exchange groups, in preference order (RFC 8446 §4.2.7): X25519, then the NIST curves browsers offer. */
export const DEFAULT_ECDH_CURVE = 'X25519:P-256:P-384';

/** The `tls.options` part of the config that termination reads. */
export interface TlsSettings {
  minVersion: 'TLSv1.2' | 'TLSv1.3';
  ciphers?: string;
}

/**
 * The options shared by every SecureContext (and the https.Server's own). A cipher list OpenSSL rejects disables
 * only that setting: it is logged and the defaults are used, so a typo cannot take HTTPS down.
 */
export function secureContextBase(settings: TlsSettings, log: Logger): SecureContextOptions {
  const base: SecureContextOptions = {
    minVersion: settings.minVersion,
    ciphers: DEFAULT_CIPHERS,
    // The server's order wins, so a client that lists a weaker (still allowed) suite first gets the strong one.
    honorCipherOrder: true,
    ecdhCurve: DEFAULT_ECDH_CURVE,
    // No TLS 1.2 renegotiation at all: a proxy has no use for it, and client-initiated renegotiation lets one
    // client make the server do a full handshake's work over and over (CVE-2011-1473; testssl rates it HIGH).
    secureOptions: cryptoConstants.SSL_OP_NO_RENEGOTIATION,
  };
  if (settings.ciphers !== undefined) {
    try {
      createSecureContext({ ...base, ciphers: settings.ciphers });
      base.ciphers = settings.ciphers;
    } catch (e) {
      log.error({ ciphers: settings.ciphers, reason: (e as Error).message }, 'tls ciphers rejected, using the defaults');
    }
  }
  return base;
}

/** Anything whose session ticket keys can be set: an https.Server or tls.Server. */
export interface TicketKeyHolder {
  setTicketKeys(keys: Buffer): void;
}

/** Length of Node's ticket key block: 16 bytes key name, 16 bytes HMAC secret, 16 bytes AES key. */
export const TICKET_KEYS_LENGTH = 48;

/**
 * Session ticket keys (RFC 5077) for resumption without a server-side cache: random at start, replaced every
 * `intervalMs` on every attached server, so a stolen key decrypts only one period of sessions (forward secrecy
 * of resumed sessions depends on it). Node holds one key per server: tickets issued before a rotation no longer
 * decrypt, and those clients make one full handshake. Servers sharing one TicketKeys resume each other's sessions.
 */
export class TicketKeys {
  readonly #servers = new Set<TicketKeyHolder>();
  readonly #timer: NodeJS.Timeout;
  #keys: Buffer = randomBytes(TICKET_KEYS_LENGTH);
  #generation = 0;
  readonly #applied = new WeakMap<SecureContext, number>();

  constructor(intervalMs: number) {
    this.#timer = setInterval(() => this.rotate(), intervalMs);
    this.#timer.unref();
  }

  /** The current 48 bytes (a copy: nothing outside may change the live keys). */
  get current(): Buffer {
    return Buffer.from(this.#keys);
  }

  /** Gives `server` the current keys and keeps it up to date on every rotation. */
  attach(server: TicketKeyHolder): void {
    this.#servers.add(server);
    server.setTicketKeys(this.#keys);
  }

  /** Stops updating `server` (it keeps its last keys). */
  detach(server: TicketKeyHolder): void {
    this.#servers.delete(server);
  }

  /** Replaces the keys now, on every attached server. */
  rotate(): void {
    this.#keys = randomBytes(TICKET_KEYS_LENGTH);
    this.#generation++;
    for (const server of this.#servers) server.setTicketKeys(this.#keys);
  }

  /**
   * Gives a secure context the current keys unless it already has them: for TLS sockets built on a context chosen
   * per connection (the edge picks it from the peeked SNI), where no server object holds the keys. A WeakMap entry
   * per context; no reference keeps a replaced context alive.
   */
  applyTo(context: SecureContext): SecureContext {
    if (this.#applied.get(context) !== this.#generation) {
      (context as unknown as { context: TicketKeyHolder }).context.setTicketKeys(this.#keys);
      this.#applied.set(context, this.#generation);
    }
    return context;
  }

  /** Stops the rotation timer. */
  close(): void {
    clearInterval(this.#timer);
    this.#servers.clear();
  }
}
