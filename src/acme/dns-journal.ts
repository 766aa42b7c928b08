/**
 * The dns-01 side of a certificate's turn (src/acme/issuance.ts, src/acme/attempt.ts): the solver of its resolver,
 * and a journal of the TXT values it has out in DNS, kept in the certificate's status in the store. A value is noted
 * before it is written and dropped once removed, so a crash between the two leaves a note, and the next turn (or the
 * next start) removes the value. Only the holder of the certificate's lock writes or removes records.
 */
import { createDnsSolver, type DnsSolver, type TxtRecord } from './dns/index.js';
import type { Entry, ManagerContext } from './manager-context.js';

/** Notes and forgets the TXT values out in DNS; writes the status each time (serialized). */
export interface DnsJournal {
  add(record: TxtRecord): Promise<void>;
  remove(record: TxtRecord): Promise<void>;
}

/** The solver for `e`'s resolver, or undefined when it has no dnsChallenge. */
export async function dnsSolverFor(ctx: ManagerContext, e: Entry): Promise<DnsSolver | undefined> {
  const spec = e.resolver.spec.dnsChallenge;
  if (!spec || !e.wanted.challenges.includes('dns-01')) return undefined;
  return createDnsSolver(spec, { configFile: ctx.configFile });
}

/** The journal of `e`, in `e.status.dnsRecords`. */
export function dnsJournal(e: Entry): DnsJournal {
  let chain: Promise<void> = Promise.resolve();
  const same = (a: TxtRecord, b: TxtRecord) => a.fqdn === b.fqdn && a.value === b.value;
  const write = (change: (list: readonly TxtRecord[]) => readonly TxtRecord[]) => {
    const next = chain.then(async () => {
      const dnsRecords = change(e.status.dnsRecords ?? []);
      e.status = { ...e.status, dnsRecords };
      await e.resolver.storage.writeStatus(e.wanted.names[0]!, e.status);
    });
    chain = next.catch(() => undefined);
    return next;
  };
  return {
    add: (r) => write((list) => [...list.filter((x) => !same(x, r)), r]),
    remove: (r) => write((list) => list.filter((x) => !same(x, r))),
  };
}

/**
 * Removes the TXT values an earlier turn or run left (a crash, a failed clean-up); call under the certificate's
 * lock. Never throws: a value that cannot be removed stays noted and is tried again at the next turn.
 */
export async function removeLeftovers(ctx: ManagerContext, e: Entry): Promise<void> {
  if ((e.status.dnsRecords ?? []).length === 0) return;
  // What this instance read may be stale: another instance sharing the store held the lock since, and removed its
  // own values (a second start read them while that one ordered). Under the lock the store's list is the truth;
  // acting on the stale one removed a value twice and wrote this instance's old status over the holder's.
  let stored: readonly TxtRecord[] | undefined;
  try {
    stored = (await e.resolver.storage.readStatus(e.wanted.names[0]!))?.dnsRecords ?? [];
  } catch {
    stored = undefined; // the store unreadable: the list known here, as before
  }
  if (stored !== undefined) e.status = { ...e.status, dnsRecords: stored };
  const left = e.status.dnsRecords ?? [];
  if (left.length === 0) return;
  let solver: DnsSolver | undefined;
  try {
    solver = e.resolver.spec.dnsChallenge ? await createDnsSolver(e.resolver.spec.dnsChallenge, { configFile: ctx.configFile }) : undefined;
  } catch (err) {
    ctx.log.warn({ names: e.wanted.names, reason: (err as Error).message }, 'dns-01 records left by an earlier run not removed');
    return;
  }
  const journal = dnsJournal(e);
  for (const r of left) {
    try {
      if (solver) await solver.cleanup(r);
      await journal.remove(r);
      ctx.log.info({ names: e.wanted.names, fqdn: r.fqdn, zone: r.zone, provider: solver?.description ?? 'none (dnsChallenge removed from the config)' }, 'dns-01 record left by an earlier run removed');
    } catch (err) {
      ctx.log.warn({ names: e.wanted.names, fqdn: r.fqdn, reason: (err as Error).message }, 'dns-01 records left by an earlier run not removed');
    }
  }
}
