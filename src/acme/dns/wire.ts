/**
 * The parts of dns-packet's codecs that its type declarations leave out (names, single records, questions), typed
 * once here for the files that build RFC 2136 updates and TSIG records by hand.
 */
import * as dnsPacket from 'dns-packet';

interface Codec<T> {
  encode(value: T, buf?: Buffer, offset?: number): Buffer;
  decode(buf: Buffer, offset?: number): T;
  encodingLength(value: T): number;
}
type Coded<T> = Codec<T> & { encode: { bytes: number }; decode: { bytes: number } };

/** dns-packet's codecs for a domain name, one resource record, one question. */
export const wire = dnsPacket as unknown as {
  name: Coded<string>;
  answer: Coded<dnsPacket.Answer>;
  question: Coded<dnsPacket.Question>;
};

/** A name in canonical wire form (RFC 4034 §6.2: lower case, uncompressed), as TSIG digests it (RFC 8945 §4.3.3). */
export function canonicalName(name: string): Buffer {
  return wire.name.encode(name.toLowerCase().replace(/\.$/, ''));
}

/** The byte offset where the last record of a message starts (the TSIG record, RFC 8945 §4.2: it is always last). */
export function lastRecordOffset(message: Buffer): number {
  const counts = [message.readUInt16BE(4), message.readUInt16BE(6), message.readUInt16BE(8), message.readUInt16BE(10)];
  let offset = 12;
  for (let i = 0; i < counts[0]!; i++) {
    wire.question.decode(message, offset);
    offset += wire.question.decode.bytes;
  }
  const records = counts[1]! + counts[2]! + counts[3]!;
  let last = offset;
  for (let i = 0; i < records; i++) {
    last = offset;
    wire.answer.decode(message, offset);
    offset += wire.answer.decode.bytes;
  }
  return last;
}
