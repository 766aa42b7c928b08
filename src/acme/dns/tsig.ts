/**
 * TSIG (RFC 8945): a message signed with a shared HMAC key, as RFC 2136 servers (BIND, Knot, PowerDNS, Technitium)
 * require for updates. No well-kept npm library signs TSIG (dns-packet knows only the record type), so the signing is
 * here: the MAC covers the message as sent plus the TSIG variables (§4.3.3), and the answer's MAC, which covers the
 * request's MAC too (§4.3.1), is verified so a forged "NOERROR" cannot pass for the server's.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { canonicalName, lastRecordOffset, wire } from './wire.js';

/** A TSIG key: its name as the server knows it, the algorithm, and the decoded secret. */
export interface TsigKey {
  readonly name: string;
  /** `hmac-sha256` and friends, without the trailing dot. */
  readonly algorithm: string;
  readonly secret: Buffer;
}

/** The state a signed request leaves for checking its answer. */
export interface SignedRequest {
  readonly message: Buffer;
  readonly mac: Buffer;
  readonly id: number;
}

/** How far the two clocks may differ (RFC 8945 §10: 300 s recommended). */
const FUDGE_S = 300;
/** TSIG's type and class (RFC 8945 §4.2). */
const TYPE_TSIG = 250;
const CLASS_ANY = 255;

/** RFC 8945 §5.2 error codes, in the TSIG record of an answer. */
const TSIG_ERRORS: Record<number, string> = { 16: 'BADSIG', 17: 'BADKEY', 18: 'BADTIME', 22: 'BADTRUNC' };

const HASH: Record<string, string> = { 'hmac-sha1': 'sha1', 'hmac-sha224': 'sha224', 'hmac-sha256': 'sha256', 'hmac-sha384': 'sha384', 'hmac-sha512': 'sha512' };

/** Appends a TSIG record to `message` (ARCOUNT raised); `now` in seconds since the epoch. */
export function signMessage(message: Buffer, key: TsigKey, now = Math.floor(Date.now() / 1000)): SignedRequest {
  const id = message.readUInt16BE(0);
  const mac = hmac(key, [message, variables(key, now, 0, Buffer.alloc(0))]);
  const signed = Buffer.concat([message, tsigRecord(key, now, mac, id)]);
  signed.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return { message: signed, mac, id };
}

/**
 * Checks a signed answer to `request`: returns undefined when its MAC is right, else what is wrong (the server's
 * TSIG error, such as BADKEY or BADSIG, or a MAC that does not verify). An unsigned answer is what a server sends
 * when it did not know the key (RFC 8945 §5.3.2), with the error in its TSIG record or only in its RCODE.
 */
export function verifyAnswer(answer: Buffer, request: SignedRequest, key: TsigKey): string | undefined {
  if (answer.readUInt16BE(10) === 0) return 'the answer carries no TSIG record';
  const at = lastRecordOffset(answer);
  const owner = wire.name.decode(answer, at);
  let p = at + wire.name.decode.bytes;
  if (answer.readUInt16BE(p) !== TYPE_TSIG) return 'the answer carries no TSIG record';
  p += 10; // type, class, ttl, rdlength
  const algorithm = wire.name.decode(answer, p);
  p += wire.name.decode.bytes;
  const timeSigned = answer.readUIntBE(p, 6);
  const fudge = answer.readUInt16BE(p + 6);
  const macSize = answer.readUInt16BE(p + 8);
  const mac = answer.subarray(p + 10, p + 10 + macSize);
  p += 10 + macSize + 2; // original id
  const error = answer.readUInt16BE(p);
  const otherLen = answer.readUInt16BE(p + 2);
  const other = answer.subarray(p + 4, p + 4 + otherLen);
  if (error !== 0) return `the server answered TSIG ${TSIG_ERRORS[error] ?? error} for key ${owner}`;
  if (owner.toLowerCase() !== key.name.toLowerCase() || algorithm.toLowerCase().replace(/\.$/, '') !== key.algorithm) return `the answer is signed with another key (${owner}, ${algorithm})`;
  const unsigned = Buffer.from(answer.subarray(0, at));
  unsigned.writeUInt16BE(answer.readUInt16BE(10) - 1, 10);
  unsigned.writeUInt16BE(request.id, 0);
  const requestMac = Buffer.alloc(2);
  requestMac.writeUInt16BE(request.mac.length);
  const expected = hmac(key, [requestMac, request.mac, unsigned, variables(key, timeSigned, error, other, fudge)]);
  if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return "the answer's TSIG MAC does not verify";
  return undefined;
}

/** The TSIG variables of RFC 8945 §4.3.3, in digest order. */
function variables(key: TsigKey, timeSigned: number, error: number, other: Buffer, fudge = FUDGE_S): Buffer {
  const fixed = Buffer.alloc(6);
  fixed.writeUInt16BE(CLASS_ANY, 0);
  fixed.writeUInt32BE(0, 2); // TTL
  const tail = Buffer.alloc(12);
  tail.writeUIntBE(timeSigned, 0, 6);
  tail.writeUInt16BE(fudge, 6);
  tail.writeUInt16BE(error, 8);
  tail.writeUInt16BE(other.length, 10);
  return Buffer.concat([canonicalName(key.name), fixed, canonicalName(key.algorithm), tail, other]);
}

/** The TSIG resource record of a request (RFC 8945 §4.2). */
function tsigRecord(key: TsigKey, timeSigned: number, mac: Buffer, id: number): Buffer {
  const algorithm = canonicalName(key.algorithm);
  const rdata = Buffer.alloc(algorithm.length + 16 + mac.length);
  algorithm.copy(rdata, 0);
  let p = algorithm.length;
  rdata.writeUIntBE(timeSigned, p, 6);
  rdata.writeUInt16BE(FUDGE_S, p + 6);
  rdata.writeUInt16BE(mac.length, p + 8);
  mac.copy(rdata, p + 10);
  p += 10 + mac.length;
  rdata.writeUInt16BE(id, p);
  rdata.writeUInt16BE(0, p + 2); // error
  rdata.writeUInt16BE(0, p + 4); // other len
  const head = Buffer.alloc(10);
  head.writeUInt16BE(TYPE_TSIG, 0);
  head.writeUInt16BE(CLASS_ANY, 2);
  head.writeUInt32BE(0, 4);
  head.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([canonicalName(key.name), head, rdata]);
}

function hmac(key: TsigKey, parts: readonly Buffer[]): Buffer {
  const hash = HASH[key.algorithm];
  if (hash === undefined) throw new Error(`TSIG algorithm ${key.algorithm} is not supported`);
  const h = createHmac(hash, key.secret);
  for (const part of parts) h.update(part);
  return h.digest();
}
