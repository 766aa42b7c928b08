/**
 * One turn of a certificate under its storage lock (src/acme/manager.ts schedules the turns): the lock is taken, or
 * kept from a certificate obtained but not stored, renewed while the turn lasts, and released (or kept again) at
 * its end. Of the instances sharing a store, only the lock's holder orders.
 */
import type { StorageLock } from '../storage/index.js';
import { StorageError } from '../storage/index.js';
import { removeLeftovers } from './dns-journal.js';
import { orderAndStore } from './issuance.js';
import type { Entry, ManagerContext } from './manager-context.js';
import { AcmeError } from './problems.js';
import { adoptStored, postpone, saveUnsaved } from './stored.js';

/** How soon a lock held by another instance is tried again. */
const LOCK_RECHECK_MS = 5_000;

/**
 * One turn of a certificate: under its lock (held by one instance of those sharing the store), re-read the store
 * and use a certificate another instance just stored, else order. Without the lock, another instance is ordering:
 * its certificate arrives through `adoptStored` (a change message, the periodic check), or this instance tries
 * again later (a crashed holder's lock expires after lockTtl).
 */
export async function attempt(ctx: ManagerContext, e: Entry): Promise<void> {
  const { log, store } = ctx;
  const forced = e.forced;
  e.forced = false;
  let lock: StorageLock | undefined;
  if (e.kept) {
    try {
      lock = (await e.kept.renew()) ? e.kept : undefined;
    } catch (err) {
      return postpone(ctx, e, err); // kept for the next attempt
    }
    e.kept = undefined;
  }
  lock ??= await takeLock(ctx, e, forced);
  if (!lock) return;
  const renewing = setInterval(() => {
    lock.renew().then(
      (held) => held || log.warn({ names: e.wanted.names, lock: lock.name }, 'certificate lock lost while ordering'),
      (err: unknown) => log.warn({ names: e.wanted.names, lock: lock.name, reason: (err as Error).message }, 'certificate lock not renewed'),
    );
  }, Math.max(1_000, store.lockTtlMs / 3));
  renewing.unref();
  try {
    await removeLeftovers(ctx, e);
    if (e.unsaved) return await saveUnsaved(ctx, e);
    if (!forced && (await adoptStored(ctx, e, 'locked'))) return;
    await orderAndStore(ctx, e);
  } catch (err) {
    postpone(ctx, e, err); // the store failed under the lock (the order's own failures are handled in orderAndStore)
  } finally {
    clearInterval(renewing);
    if (e.unsaved && !ctx.stopped) e.kept = lock; // expires by itself if the store never comes back
    else await lock.release();
  }
}

/**
 * Removes the dns-01 values an earlier run left for `e`, under its lock, outside a turn (at start, for a certificate
 * not due soon). Another instance holding the lock leaves them to the next turn.
 */
export async function cleanUnderLock(ctx: ManagerContext, e: Entry): Promise<void> {
  if (e.running) return;
  let lock: StorageLock | undefined;
  try {
    lock = await ctx.store.tryLock(`cert:${e.resolver.caId}:${e.wanted.names[0]!}`);
    if (lock) await removeLeftovers(ctx, e);
  } catch (err) {
    ctx.log.warn({ names: e.wanted.names, reason: (err as Error).message }, 'dns-01 records left by an earlier run not removed');
  } finally {
    await lock?.release().catch(() => undefined);
  }
}

/** The name's lock; undefined when another instance holds it (a forced renewal waits for it, bounded). */
async function takeLock(ctx: ManagerContext, e: Entry, forced: boolean): Promise<StorageLock | undefined> {
  const { log, store } = ctx;
  const name = `cert:${e.resolver.caId}:${e.wanted.names[0]!}`;
  const deadline = Date.now() + (forced ? store.lockTtlMs : 0);
  try {
    for (;;) {
      const lock = await store.tryLock(name);
      if (lock || Date.now() >= deadline || ctx.stopped) {
        e.storageFailures = 0;
        if (!lock) {
          // The holder's certificate usually arrives first (Redis pushes it); the lock is looked at again soon for a
          // shared directory, which cannot push, and for a holder that failed or crashed.
          e.nextAt = Date.now() + Math.min(ctx.storageCheckMs, LOCK_RECHECK_MS);
          if (!e.lockedOut) log.info({ names: e.wanted.names, lock: name, recheckAt: new Date(e.nextAt).toISOString() }, 'certificate being ordered by another instance');
          e.lockedOut = true;
          if (forced) throw new AcmeError('ACME_ORDER_FAILED', `another instance holds the lock ${name}`);
        }
        if (lock) e.lockedOut = false;
        return lock;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  } catch (err) {
    if (!(err instanceof StorageError)) throw err;
    postpone(ctx, e, err);
    return undefined;
  }
}
