/**
 * Where a dns-01 record goes: `_acme-challenge.<name>` after any CNAME (RFC 8555 §8.4 allows the record to be
 * delegated; acme-dns set-ups point it into another zone), the zone that holds it, found by SOA look-ups from the
 * name upwards (RFC 2308 §3: a negative answer carries the zone's SOA in its authority section), and that zone's
 * authoritative servers from its NS records. Look-ups go to the configured resolvers, else the system's.
 */
import { lookup } from 'node:dns/promises';
import { getServers } from 'node:dns';
import { isIP } from 'node:net';
import type * as dnsPacket from 'dns-packet';
import { formatServer, parseServer, query, rcodeOf, type DnsServer } from './query.js';

/** The name a record is written at and its zone (lower case, no trailing dot). */
export interface RecordPlace {
  readonly fqdn: string;
  readonly zone: string;
  /** The CNAME chain followed from `_acme-challenge.<name>`, when there was one. */
  readonly via: readonly string[];
}

/** CNAME hops followed at most (a loop ends here). */
const MAX_CNAMES = 8;

/** The resolvers to ask: the configured ones, else the system's (`/etc/resolv.conf`). */
export function resolverList(configured: readonly string[] | undefined): DnsServer[] {
  return (configured ?? getServers()).map((s) => parseServer(s));
}

/** Finds where the TXT record for `name` (without `*.`) goes; rejects saying which resolver answered what. */
export async function findRecordPlace(name: string, resolvers: readonly DnsServer[]): Promise<RecordPlace> {
  let fqdn = `_acme-challenge.${trim(name)}`;
  const via: string[] = [];
  for (let hop = 0; hop < MAX_CNAMES; hop++) {
    const answer = await ask(resolvers, fqdn, 'CNAME').catch(() => undefined);
    const cname = answer?.packet.answers?.find((a) => a.type === 'CNAME' && trim(a.name) === fqdn);
    if (!cname) break;
    via.push(fqdn);
    fqdn = trim(String((cname as { data?: unknown }).data));
  }
  return { fqdn, zone: await findZone(fqdn, resolvers), via };
}

/** The zone holding `fqdn`: the first name upwards whose SOA the resolvers give. */
export async function findZone(fqdn: string, resolvers: readonly DnsServer[]): Promise<string> {
  const labels = trim(fqdn).split('.');
  const notes: string[] = [];
  // Never up to a top-level domain alone: no zone for a certificate's name sits there.
  for (let i = 0; i < labels.length - 1; i++) {
    const candidate = labels.slice(i).join('.');
    let answer;
    try {
      answer = await ask(resolvers, candidate, 'SOA');
    } catch (err) {
      notes.push(`${candidate}: ${(err as Error).message}`);
      continue;
    }
    const { packet, server } = answer;
    const soa = packet.answers?.find((a) => a.type === 'SOA');
    if (soa && rcodeOf(packet) === 'NOERROR') return trim(soa.name);
    const negative = packet.authorities?.find((a) => a.type === 'SOA');
    if (negative) return trim(negative.name);
    notes.push(`${candidate}: ${formatServer(server)} answered ${rcodeOf(packet)}${(packet.answers?.length ?? 0) > 0 ? ' without a SOA' : ''}`);
  }
  throw new Error(`no zone found for ${fqdn} by SOA look-ups (${notes.join('; ')})`);
}

/** The zone's authoritative servers: its NS names, each resolved to its addresses, at port 53. */
export async function authoritativeServers(zone: string, resolvers: readonly DnsServer[]): Promise<DnsServer[]> {
  const { packet, server } = await ask(resolvers, zone, 'NS');
  const names = (packet.answers ?? []).filter((a) => a.type === 'NS').map((a) => trim(String((a as { data?: unknown }).data)));
  if (names.length === 0) throw new Error(`no NS records for zone ${zone} at ${formatServer(server)} (${rcodeOf(packet)})`);
  const servers: DnsServer[] = [];
  for (const ns of names) {
    const addresses = isIP(ns) ? [ns] : await addressesOf(ns, resolvers);
    if (addresses.length === 0) throw new Error(`the name server ${ns} of zone ${zone} has no address`);
    for (const host of addresses) servers.push({ host, port: 53 });
  }
  return servers;
}

async function addressesOf(name: string, resolvers: readonly DnsServer[]): Promise<string[]> {
  const found: string[] = [];
  for (const type of ['A', 'AAAA'] as const) {
    const answer = await ask(resolvers, name, type).catch(() => undefined);
    for (const a of answer?.packet.answers ?? []) if (a.type === type) found.push(String((a as { data?: unknown }).data));
  }
  if (found.length > 0) return found;
  return (await lookup(name, { all: true }).catch(() => [])).map((a) => a.address);
}

/** Asks the resolvers in turn; the first that answers other than REFUSED/SERVFAIL wins. */
async function ask(resolvers: readonly DnsServer[], name: string, type: dnsPacket.RecordType): Promise<{ packet: dnsPacket.Packet; server: DnsServer }> {
  let last: { packet: dnsPacket.Packet; server: DnsServer } | undefined;
  const errors: string[] = [];
  for (const server of resolvers) {
    try {
      const packet = await query(server, name, type);
      last = { packet, server };
      if (!['REFUSED', 'SERVFAIL'].includes(rcodeOf(packet))) return last;
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  if (last) return last;
  throw new Error(errors.join('; ') || 'no resolvers');
}

function trim(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}
