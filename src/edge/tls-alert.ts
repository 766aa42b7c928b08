/**
 * The fatal TLS alert a TLS entry point sends before it closes a connection whose first flight it refuses, so the
 * client reports why (`alert protocol version`) instead of "connection reset". The choices are OpenSSL 3.0's, which
 * nginx and HAProxy send, measured against `openssl s_server` with the same bytes (issue 20):
 * - an SSLv2-framed CLIENT-HELLO: `protocol_version` (70). Go's crypto/tls (Caddy) sends the same alert.
 * - a ClientHello larger than `maxClientHelloSize`: `illegal_parameter` (47), OpenSSL's alert for a handshake
 *   message over its size limit (SSL_R_EXCESSIVE_MESSAGE_SIZE).
 */
import type { PeekFailure } from './client-hello.js';

/** TLS AlertDescription values (RFC 8446 §6, RFC 5246 §7.2). */
const ALERTS = { illegal_parameter: 47, protocol_version: 70 } as const;

/** An alert's name, as TLS stacks print it in their errors. */
export type AlertName = keyof typeof ALERTS;

/** ContentType alert (RFC 8446 §5.1); AlertLevel fatal (RFC 8446 §6). */
const CONTENT_ALERT = 21;
const LEVEL_FATAL = 2;

/** TLS 1.2's record version, what OpenSSL writes when it has not agreed on one: every TLS client reads {3, x}. */
const TLS12 = 0x0303;

/** The alert a refused first flight gets, and the record version it goes in; undefined: close without one. */
export function alertFor(reason: PeekFailure, bytes: Buffer): { name: AlertName; record: Buffer } | undefined {
  if (reason === 'sslv2') {
    // The version the client offered follows msg_type (draft-hickman-netscape-ssl-00 §2.2; RFC 5246 Appendix E.2):
    // a TLS offer in SSLv2 framing gets the alert in a record of that version, as OpenSSL answers; SSLv2 itself, 1.2.
    const offered = bytes.length >= 5 ? (bytes[3]! << 8) | bytes[4]! : 0;
    const version = offered >= 0x0301 && offered <= TLS12 ? offered : TLS12;
    return { name: 'protocol_version', record: alertRecord('protocol_version', version) };
  }
  if (reason === 'too-large') return { name: 'illegal_parameter', record: alertRecord('illegal_parameter', TLS12) };
  return undefined;
}

/** A plaintext fatal alert record: type, record version, length 2, level, description (RFC 8446 §5.1, §6). */
export function alertRecord(name: AlertName, version: number): Buffer {
  return Buffer.from([CONTENT_ALERT, version >> 8, version & 0xff, 0, 2, LEVEL_FATAL, ALERTS[name]]);
}
