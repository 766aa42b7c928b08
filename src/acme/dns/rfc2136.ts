/**
 * The RFC 2136 provider: a dynamic update to the zone's primary server, signed with TSIG (RFC 8945). `present` adds
 * one TXT value to the RRset (RFC 2136 §2.5.1), `cleanup` deletes that value only (§2.5.4: class NONE), so the two
 * values of a wildcard and its apex, and other clients' records, stay. Messages are built with dns-packet; the
 * class-NONE delete and the TSIG record are written here, because dns-packet has neither.
 */
import { randomInt } from 'node:crypto';
import * as dnsPacket from 'dns-packet';
import type { DnsProvider, TxtRecord } from './provider.js';
import { exchangeTcp, formatServer, rcodeOf, type DnsServer } from './query.js';
import { signMessage, verifyAnswer, type TsigKey } from './tsig.js';
import { wire } from './wire.js';

/** RFC 2136 §2.4: UPDATE is opcode 5. */
const OPCODE_UPDATE = 5;
/** RFC 2136 §2.5.4: an update RR of class NONE deletes that one record. */
const CLASS_NONE = 254;

/** What each answer code means for an update (RFC 2136 §2.2, RFC 8945 §5.3). */
const MEANING: Record<string, string> = {
  REFUSED: 'the server does not allow this update (no update-policy for the key, or updates by address only)',
  NOTAUTH: 'the server is not authoritative for the zone or did not accept the TSIG key',
  NOTZONE: 'the name is not inside the zone',
  SERVFAIL: 'the server failed to apply the update',
  YXRRSET: 'a prerequisite failed',
};

/** Options of the RFC 2136 provider: where updates go and the TSIG key (none: unsigned updates). */
export interface Rfc2136Options {
  readonly server: DnsServer;
  readonly key: TsigKey | undefined;
}

/** Builds the provider. */
export function createRfc2136Provider(options: Rfc2136Options): DnsProvider {
  const { server, key } = options;
  const update = async (record: TxtRecord, remove: boolean) => {
    const request = updateMessage(record, remove);
    const signed = key ? signMessage(request, key) : undefined;
    const answerBuf = await exchangeTcp(server, signed?.message ?? request);
    const answer = dnsPacket.decode(answerBuf);
    const rcode = rcodeOf(answer);
    const tsigProblem = key && signed ? verifyAnswer(answerBuf, signed, key) : undefined;
    const what = `${remove ? 'removal' : 'update'} of TXT ${record.fqdn} in zone ${record.zone} at ${formatServer(server)}${key ? ` (TSIG key ${key.name})` : ''}`;
    if (rcode !== 'NOERROR') throw new Error(`${what} refused: ${rcode}${tsigProblem && tsigProblem !== 'the answer carries no TSIG record' ? `, ${tsigProblem}` : ''} (${MEANING[rcode] ?? 'see the server log'})`);
    // A success that does not verify may be forged, or the key is wrong and the server did not sign.
    if (tsigProblem) throw new Error(`${what}: NOERROR but ${tsigProblem}`);
  };
  return {
    description: `rfc2136 ${formatServer(server)}`,
    present: (r) => update(r, false),
    cleanup: (r) => update(r, true),
  };
}

/** The UPDATE message: zone section = the zone's SOA (RFC 2136 §2.3), no prerequisites, one update RR. */
function updateMessage(record: TxtRecord, remove: boolean): Buffer {
  const head = dnsPacket.encode({ type: 'query', id: randomInt(0, 65536), flags: OPCODE_UPDATE << 11, questions: [{ name: record.zone, type: 'SOA', class: 'IN' }] });
  const rr = wire.answer.encode({ name: record.fqdn, type: 'TXT', class: 'IN', ttl: remove ? 0 : record.ttl, data: record.value });
  if (remove) rr.writeUInt16BE(CLASS_NONE, wire.name.encodingLength(record.fqdn) + 2);
  const message = Buffer.concat([head, rr]);
  message.writeUInt16BE(1, 8); // UPCOUNT (the authority section's count in a query)
  return message;
}
