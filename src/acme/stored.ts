/**
 * The ACME manager's store side (src/acme/manager.ts): a certificate another instance stored is adopted rather than
 * ordered again (`adoptStored`, `useStored`, `checkStored`), a certificate obtained whose write failed is stored once
 * the store is back (`saveUnsaved`), and a store failure postpones the name's turn (`postpone`) instead of ordering,
 * which could order twice.
 */
import * as acme from 'acme-client';
import type { GatehouseError } from '../errors.js';
import type { StoredCertificate } from '../storage/index.js';
import type { Entry, ManagerContext } from './manager-context.js';
import { sourceOf } from './manager-context.js';
import { renewalTime } from './schedule.js';

/** Retry delay while the store is unreachable (doubling up to the periodic check). */
const STORAGE_RETRY_MIN_MS = 1_000;

/** The store failed: nothing is ordered (that could order twice); retried soon, and at once when the store is back. */
export function postpone(ctx: ManagerContext, e: Entry, err: unknown, message = 'certificate storage unavailable, order postponed'): void {
  e.storageFailures++;
  e.nextAt = Date.now() + Math.min(ctx.storageCheckMs, STORAGE_RETRY_MIN_MS * 2 ** Math.min(e.storageFailures - 1, 10));
  ctx.log.error({ names: e.wanted.names, code: (err as GatehouseError).code ?? 'STORAGE_UNAVAILABLE', reason: (err as Error).message, retryAt: new Date(e.nextAt).toISOString() }, message);
}

/**
 * Stores a certificate obtained (and already served) whose write failed: until it is stored, the other instances
 * cannot have it and a restart would order again. `first` for the write right after the order, false for a retry.
 * Never throws; retried like any store failure.
 */
export async function saveUnsaved(ctx: ManagerContext, e: Entry, first = false): Promise<void> {
  const issued = e.unsaved!;
  const main = e.wanted.names[0]!;
  try {
    await e.resolver.storage.writeCertificate(main, issued.certPem, issued.keyPem, e.status);
    e.unsaved = undefined;
    e.storageFailures = 0;
    e.stamp = await e.resolver.storage.certificateStamp(main).catch(() => undefined);
    e.nextAt = Date.parse(e.status.renewAt ?? '') || Date.now();
    const fields = { names: e.wanted.names, to: e.resolver.storage.describe(main) };
    // Only a retry follows a write that failed (`unsaved` outlives only a failure); a first write is the ordinary case.
    if (first) ctx.log.info(fields, 'certificate stored');
    else ctx.log.info(fields, 'certificate stored once storage was back');
  } catch (err) {
    postpone(ctx, e, err, 'certificate obtained but not stored, retrying');
  }
}

/**
 * Serves the store's certificate for `e` when it is usable and not the one in service: it covers the names and is
 * not due yet. Returns whether it did. `why` says what led here, for the log.
 */
export async function adoptStored(ctx: ManagerContext, e: Entry, why: 'locked' | 'changed' | 'check'): Promise<boolean> {
  const { wanted: w, resolver: r } = e;
  // The stamp first: a certificate stored between the two reads is seen as a change at the next check.
  e.stamp = await r.storage.certificateStamp(w.names[0]!);
  const stored = await r.storage.readCertificate(w.names[0]!);
  if (!stored || stored.certPem === e.certPem || !useStored(ctx, e, stored, true)) return false;
  ctx.log.info({ names: w.names, from: r.storage.describe(w.names[0]!), reason: why, renewAt: e.status.renewAt }, 'certificate loaded from storage');
  return true;
}

/**
 * Puts a stored certificate in service when it covers `e`'s names (and, with `fresh`, is not due); returns
 * whether it did. The schedule follows its stored status, so every instance renews at the same time.
 */
export function useStored(ctx: ManagerContext, e: Entry, stored: StoredCertificate, fresh: boolean): boolean {
  const w = e.wanted;
  const info = acme.crypto.readCertificateInfo(stored.certPem);
  const have = new Set([info.domains.commonName, ...info.domains.altNames].map((n) => n.toLowerCase()));
  if (!w.names.every((n) => have.has(n))) {
    ctx.log.info({ names: w.names, stored: [...have] }, 'stored certificate has other names, ordering anew');
    return false;
  }
  const renewAt = stored.status?.renewAt ? new Date(stored.status.renewAt) : renewalTime(info.notBefore, info.notAfter);
  if (fresh && renewAt.getTime() <= Date.now()) return false;
  ctx.certs.put(sourceOf(e), stored.certPem, stored.keyPem);
  e.certPem = stored.certPem;
  const retryAt = stored.status?.caRetryAt ? Date.parse(stored.status.caRetryAt) : 0;
  e.status = { ...(stored.status ?? {}), resolver: w.resolver, names: w.names, notBefore: info.notBefore.toISOString(), notAfter: info.notAfter.toISOString(), renewAt: renewAt.toISOString() };
  e.nextAt = Math.max(renewAt.getTime(), retryAt);
  return true;
}

/**
 * Looks for certificates other instances stored (their stamp changed) among `entries` (those `only` picks) and
 * serves them; `schedule` is called after each one adopted.
 */
export async function checkStored(ctx: ManagerContext, entries: readonly Entry[], schedule: () => void, only?: (e: Entry) => boolean): Promise<void> {
  for (const e of entries) {
    if (ctx.stopped || ctx.retired || e.running || (only && !only(e))) continue;
    try {
      const stamp = await e.resolver.storage.certificateStamp(e.wanted.names[0]!);
      if (stamp === undefined || stamp === e.stamp) continue;
      if (await adoptStored(ctx, e, only ? 'changed' : 'check')) schedule();
    } catch (err) {
      ctx.log.debug({ names: e.wanted.names, reason: (err as Error).message }, 'stored certificate not checked');
    }
  }
}
