/**
 * The ACME manager's ordering side (src/acme/manager.ts): one certificate ordered from its CA and put in service
 * (`orderAndStore`), after a rehearsal on the staging CA when production has failed repeatedly, with failures
 * explained (a CA gone mid-order is named as unreachable) and turned into the name's backoff.
 */
import * as acme from 'acme-client';
import type { GatehouseError } from '../errors.js';
import { StorageError } from '../storage/index.js';
import { checkDirectory } from './ca.js';
import { createResolver, sourceOf, type Entry, type ManagerContext, type Resolver } from './manager-context.js';
import { dnsJournal, dnsSolverFor } from './dns-journal.js';
import { orderCertificate } from './order.js';
import { AcmeError } from './problems.js';
import { ariCertId, fetchRenewalInfo } from './renewal-info.js';
import { ariTime, renewalTime, retryTime } from './schedule.js';
import { saveUnsaved } from './stored.js';

/**
 * Orders `e`'s certificate, serves it and stores it (a failed write is kept for `saveUnsaved`). A failed order is
 * logged and recorded in the name's status with its next retry, not thrown.
 */
export async function orderAndStore(ctx: ManagerContext, e: Entry): Promise<void> {
  const { log } = ctx;
  const { wanted: w, resolver: r } = e;
  const t0 = performance.now();
  const fields = { names: w.names, ca: r.url, challenges: w.challenges };
  const order = async () => {
    const solver = await dnsSolverFor(ctx, e);
    return orderCertificate({
      client: await r.account.client(),
      names: w.names,
      challenges: w.challenges,
      keyType: r.spec.keyType ?? 'EC256',
      registry: ctx.registry,
      endpoints: ctx.endpoints,
      log,
      ...(solver ? { dns: { solver, journal: dnsJournal(e), stopped: () => ctx.stopped } } : {}),
    });
  };
  try {
    // Checked first so an unreachable CA is named with its real cause (src/acme/ca.ts).
    const directory = await checkDirectory(r.url, ctx.agent!);
    await rehearse(ctx, e);
    let issued;
    try {
      issued = await order();
    } catch (err) {
      if (!(err instanceof AcmeError && err.accountGone)) throw err;
      log.warn({ ...fields, reason: err.message }, 'acme account unknown to the CA, registering again');
      r.account.forget();
      issued = await order();
    }
    if (ctx.stopped) return;
    const info = acme.crypto.readCertificateInfo(issued.certPem);
    const window = directory.renewalInfo ? await fetchRenewalInfo(directory.renewalInfo, ariCertId(issued.certPem), ctx.agent!).catch(() => undefined) : undefined;
    const renewAt = window ? ariTime(window) : renewalTime(info.notBefore, info.notAfter);
    e.certPem = issued.certPem;
    e.status = {
      resolver: w.resolver,
      names: w.names,
      issuedAt: new Date().toISOString(),
      notBefore: info.notBefore.toISOString(),
      notAfter: info.notAfter.toISOString(),
      renewAt: renewAt.toISOString(),
      ...(issued.challenges ? { challenges: issued.challenges } : {}),
      // A dns-01 value whose removal failed stays noted until a later turn removes it.
      ...(e.status.dnsRecords?.length ? { dnsRecords: e.status.dnsRecords } : {}),
    };
    ctx.certs.put(sourceOf(e), issued.certPem, issued.keyPem);
    e.nextAt = renewAt.getTime();
    log.info({ ...fields, notAfter: info.notAfter.toISOString(), renewAt: renewAt.toISOString(), ari: window !== undefined, ms: Math.round(performance.now() - t0) }, 'certificate obtained');
    e.unsaved = issued;
    await saveUnsaved(ctx, e, true);
  } catch (err) {
    if (ctx.stopped) return;
    const wrapped = await explain(ctx, err, r);
    const failures = (e.status.failures ?? 0) + 1;
    const caRetryAt = wrapped instanceof AcmeError ? wrapped.problem?.retryAt : undefined;
    const retryAt = retryTime(failures, Date.now(), caRetryAt);
    e.status = {
      ...e.status,
      lastError: wrapped.message,
      lastErrorAt: new Date().toISOString(),
      retryAt: retryAt.toISOString(),
      failures,
      ...(caRetryAt !== undefined ? { caRetryAt: new Date(caRetryAt).toISOString() } : {}),
    };
    e.nextAt = retryAt.getTime();
    log.error({ ...fields, code: (wrapped as GatehouseError).code, reason: wrapped.message, problem: wrapped instanceof AcmeError ? wrapped.problem : undefined, failures, retryAt: retryAt.toISOString() }, 'certificate order failed');
    await r.storage.writeStatus(w.names[0]!, e.status).catch((we: unknown) => log.warn({ reason: (we as Error).message }, 'acme status not written'));
  }
}

/** The staging CA a resolver rehearses on (its own account there, same email and key type). */
function stagingFor(ctx: ManagerContext, r: Resolver, caServer: string): Resolver {
  const key = `${r.url} rehearsal ${caServer}`;
  let s = ctx.rehearsalResolvers.get(key);
  if (s) return s;
  s = createResolver(ctx, caServer, r.spec);
  ctx.rehearsalResolvers.set(key, s);
  return s;
}

/**
 * After `rehearsal.afterFailures` failed orders, the same order on the staging CA first. Throws when staging
 * fails: the attempt then counts as failed without production having been asked.
 */
async function rehearse(ctx: ManagerContext, e: Entry): Promise<void> {
  const spec = e.resolver.spec.rehearsal;
  const failures = e.status.failures ?? 0;
  if (spec === undefined || failures < (spec.afterFailures ?? 3)) return;
  const staging = stagingFor(ctx, e.resolver, spec.caServer ?? 'letsencrypt-staging');
  const fields = { names: e.wanted.names, ca: staging.url, failures };
  ctx.log.info(fields, 'rehearsing the order on staging after repeated failures');
  try {
    await checkDirectory(staging.url, ctx.agent!);
    await orderCertificate({
      client: await staging.account.client(),
      names: e.wanted.names,
      challenges: e.wanted.challenges,
      keyType: e.resolver.spec.keyType ?? 'EC256',
      registry: ctx.registry,
      endpoints: ctx.endpoints,
      log: ctx.log,
      ...(await dnsSolverFor(ctx, e).then((solver) => (solver ? { dns: { solver, journal: dnsJournal(e), stopped: () => ctx.stopped } } : {}))),
    });
  } catch (err) {
    const why = await explain(ctx, err, staging);
    // Staging's problem document is not passed on: its Retry-After says nothing about production.
    throw new AcmeError('ACME_ORDER_FAILED', `staging rehearsal failed, production not asked: ${why.message}`, { cause: err });
  }
  ctx.log.info(fields, 'staging rehearsal passed, ordering from production');
}

/** acme-client reports a CA gone mid-order as a TypeError; ask the directory for the real cause. */
async function explain(ctx: ManagerContext, err: unknown, r: Resolver): Promise<Error> {
  if (err instanceof AcmeError || err instanceof StorageError || (err as GatehouseError).code === 'ACME_CA_UNREACHABLE') return err as Error;
  try {
    await checkDirectory(r.url, ctx.agent!);
  } catch (down) {
    return down as Error;
  }
  return new AcmeError('ACME_ORDER_FAILED', `order failed: ${(err as Error).message}`, { cause: err });
}
