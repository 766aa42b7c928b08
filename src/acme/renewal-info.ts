/**
 * ACME Renewal Information (RFC 9773): when the CA's directory offers `renewalInfo`, it says when to renew each
 * certificate (a suggested window), and may move that window earlier (a mass revocation). The certificate is named
 * by its ARI identifier, RFC 9773 §4.1: base64url(authority key identifier) "." base64url(serial number).
 */
import { X509Certificate } from 'node:crypto';
import type { Agent } from 'node:https';
import { request } from 'node:https';

/** The ARI identifier of a PEM certificate (the leaf: the first certificate of a chain). */
export function ariCertId(certPem: string): string {
  const cert = new X509Certificate(certPem);
  const aki = authorityKeyIdentifier(cert.raw);
  if (!aki) throw new Error('the certificate has no authority key identifier');
  let hex = cert.serialNumber.replace(/[^0-9A-Fa-f]/g, '');
  if (hex.length % 2 === 1) hex = `0${hex}`;
  let serial = Buffer.from(hex, 'hex');
  // The DER INTEGER's content octets: a serial with its high bit set carries a leading zero byte (X.690 §8.3).
  if ((serial[0] ?? 0) & 0x80) serial = Buffer.concat([Buffer.from([0]), serial]);
  return `${aki.toString('base64url')}.${serial.toString('base64url')}`;
}

/** The keyIdentifier of the authorityKeyIdentifier extension (RFC 5280 §4.2.1.1), read from the DER. */
function authorityKeyIdentifier(der: Buffer): Buffer | undefined {
  // OID 2.5.29.35 is unique in a certificate; what follows is [critical BOOLEAN] OCTET STRING { SEQUENCE { [0] keyId ... } }.
  const oid = Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x23]);
  let at = der.indexOf(oid);
  if (at < 0) return undefined;
  at += oid.length;
  if (der[at] === 0x01) at += 2 + (der[at + 1] ?? 0);
  const octets = readTlv(der, at, 0x04);
  if (!octets) return undefined;
  const seq = readTlv(der, octets.start, 0x30);
  if (!seq) return undefined;
  const keyId = readTlv(der, seq.start, 0x80);
  return keyId ? der.subarray(keyId.start, keyId.end) : undefined;
}

function readTlv(der: Buffer, at: number, tag: number): { start: number; end: number } | undefined {
  if (der[at] !== tag) return undefined;
  let len = der[at + 1] ?? 0;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (der[start + i] ?? 0);
    start += n;
  }
  return start + len <= der.length ? { start, end: start + len } : undefined;
}

/** The CA's suggested renewal window for a certificate. */
export interface RenewalWindow {
  readonly start: Date;
  readonly end: Date;
}

/** GETs `<renewalInfo>/<certId>` (RFC 9773 §4.2) within `timeoutMs`; undefined when the CA has no usable answer. */
export function fetchRenewalInfo(base: string, certId: string, agent: Agent, timeoutMs = 5_000): Promise<RenewalWindow | undefined> {
  return new Promise((resolve) => {
    const req = request(`${base.replace(/\/+$/, '')}/${certId}`, { agent, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => {
        if (body.length < 65_536) body += c;
      });
      res.on('end', () => {
        if (res.statusCode !== 200) return resolve(undefined);
        try {
          const w = (JSON.parse(body) as { suggestedWindow?: { start?: string; end?: string } }).suggestedWindow;
          const start = new Date(String(w?.start));
          const end = new Date(String(w?.end));
          resolve(Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()) || end < start ? undefined : { start, end });
        } catch {
          resolve(undefined);
        }
      });
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}
