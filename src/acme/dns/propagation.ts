/**
 * Propagation: before the CA is told to validate, the TXT value is looked up at every authoritative server of its
 * zone, without recursion (a cache could hold the old negative answer; the CA asks the authorities), until each has
 * it or the time is up. A value the CA cannot see yet would cost a failed validation (rate-limited per account).
 */
import * as dnsPacket from 'dns-packet';
import type { TxtRecord } from './provider.js';
import { formatServer, query, rcodeOf, type DnsServer } from './query.js';

/** How long to wait, how often to look. */
export interface PropagationOptions {
  readonly timeoutMs: number;
  readonly intervalMs: number;
  /** Stops the wait early (the manager stopped). */
  readonly stopped?: () => boolean;
}

/**
 * Resolves once every server answers `record.value` among the TXT values at `record.fqdn`, authoritatively;
 * rejects after `timeoutMs` naming each server that did not, with its last answer.
 */
export async function waitForTxt(record: TxtRecord, servers: readonly DnsServer[], options: PropagationOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  const pending = new Map<DnsServer, string>(servers.map((s) => [s, 'not asked yet']));
  for (;;) {
    await Promise.all(
      [...pending.keys()].map(async (server) => {
        const seen = await lookAt(server, record).catch((err: Error) => err.message);
        if (seen === true) pending.delete(server);
        else pending.set(server, seen);
      }),
    );
    if (pending.size === 0) return;
    if (Date.now() + options.intervalMs > deadline || options.stopped?.()) {
      const missing = [...pending].map(([s, last]) => `${formatServer(s)} (last answer: ${last})`).join(', ');
      throw new Error(`TXT ${record.fqdn} did not show the challenge value within ${Math.round(options.timeoutMs / 1000)} s at ${missing}`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs));
  }
}

/** true when `server` has the value; otherwise what it answered. */
async function lookAt(server: DnsServer, record: TxtRecord): Promise<true | string> {
  const answer = await query(server, record.fqdn, 'TXT', { recursion: false });
  const rcode = rcodeOf(answer);
  if (rcode !== 'NOERROR') return rcode;
  if (((answer.flags ?? 0) & dnsPacket.AUTHORITATIVE_ANSWER) === 0) return 'an answer without authority (not an authoritative server for the zone)';
  const values = (answer.answers ?? []).filter((a) => a.type === 'TXT').map((a) => txtText((a as { data?: unknown }).data));
  if (values.includes(record.value)) return true;
  return values.length === 0 ? 'no TXT values' : `other TXT values (${values.length})`;
}

/** A TXT record's character strings joined (RFC 7208 §3.3 style), as the CA reads a value split in 255-byte strings. */
function txtText(data: unknown): string {
  const parts = Array.isArray(data) ? data : [data];
  return parts.map((p) => (Buffer.isBuffer(p) ? p.toString('utf8') : String(p))).join('');
}
