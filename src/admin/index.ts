/**
 * The admin entry point (issue 9): metrics, status page and JSON API for one gatehouse. Created when the config
 * has an `admin` section at start; its observers are handed to the edge (requests, challenge decisions) and to each
 * runtime (passthrough bytes), and its listener is bound at start and closed at stop. A reload that changes the
 * section re-binds it (new address, new users) or closes it (section removed); one that adds it to a gatehouse
 * started without it needs a restart, since the edge's observers are wired at start.
 */
import type { AdminConfig, Config } from '../config/index.js';
import type { ChallengeObserver } from '../challenges/decision.js';
import { GatehouseError } from '../errors.js';
import type { RequestObserver } from '../http/dispatch.js';
import type { Logger } from '../log.js';
import type { PassthroughObserver } from '../tcp/index.js';
import { ADMIN_DEFAULT_ADDRESS } from '../config/option-defaults.js';
import { AdminMetrics } from './metrics.js';
import { RecentDecisions } from './recent-decisions.js';
import { listenAdmin, type AdminServer } from './server.js';

export { checkAdmin } from './check.js';
import { buildStatus, type AdminSources, type AdminStatus } from './snapshot.js';

export type { AdminSources, AdminStatus } from './snapshot.js';
export { escapeHtml, renderStatusPage } from './page.js';

/** One gatehouse's admin entry point. */
export interface Admin {
  /** For the dispatchers (RouteSource.observeRequest). */
  readonly observeRequest: RequestObserver;
  /** For the http-01 responder and the TLS listener. */
  readonly challengeDecided: ChallengeObserver;
  /** For each runtime's passthrough forwarders. */
  readonly passthroughClosed: PassthroughObserver;
  /** The status as `/api/status` returns it. */
  status(): AdminStatus;
  /** A reload ended: counted; routers are looked up again; a changed `admin` section is applied (in the background). */
  reloaded(result: { outcome: 'ok' | 'problems' | 'refused'; ms: number }, config: Config): void;
  /** Bind the listener. Never rejects: an admin that cannot listen is logged, the proxy runs without it. */
  start(): Promise<void>;
  /** The bound address, once listening. */
  address(): { address: string; port: number } | undefined;
  /** This process's metrics as prom-client's JSON (a worker answers the primary's scrape with it). */
  metricsJson(): Promise<unknown[]>;
  close(): Promise<void>;
}

/** The admin for `spec` (the config's `admin` section at start). */
export function createAdmin(spec: AdminConfig, sources: AdminSources, log: Logger, options: { listen?: boolean } = {}): Admin {
  const recent = new RecentDecisions();
  const status = (): AdminStatus => buildStatus(sources, recent.list());
  const serviceOf = (router: string): string => sources.config().http?.routers?.[router]?.service ?? '';
  const metrics = new AdminMetrics(status, serviceOf, sources.workerMetrics);
  // A worker (`workers` > 1) only counts: the primary listens and asks it for `metricsJson` at each scrape.
  const listening = options.listen !== false;
  const adminLog = log.child({ component: 'admin' });
  /** The settings in force (undefined: a reload removed the section) and their JSON, to tell a change. */
  let current: AdminConfig | undefined = spec;
  let key = JSON.stringify(spec);
  let server: AdminServer | undefined;
  let closed = false;
  // Listening and re-listening happen one at a time, in order: a burst of reloads ends on the last settings.
  let settled: Promise<void> = Promise.resolve();

  /** Bind `wanted`; undefined (logged) when it cannot listen. */
  const listen = async (wanted: AdminConfig): Promise<AdminServer | undefined> => {
    try {
      const bound = await listenAdmin(wanted, { status, metrics }, adminLog);
      const a = bound.address();
      log.info({ address: a.address, port: a.port, basicAuth: wanted.basicAuth !== undefined }, 'admin entry point listening');
      return bound;
    } catch (err) {
      if (!(err instanceof GatehouseError)) throw err;
      log.error({ code: err.code, path: err.location.path, reason: err.message }, 'admin entry point not listening');
      return undefined;
    }
  };

  /**
   * A reload changed the section. A new address is bound before the old one is closed (the old one stays when the
   * new one cannot listen); the same address (new users) is closed, then bound again. A removed section closes it.
   */
  const apply = async (wanted: AdminConfig | undefined, before: AdminConfig | undefined): Promise<void> => {
    if (closed || !listening) return;
    const old = server;
    if (wanted === undefined) {
      server = undefined;
      await old?.close();
      if (old) log.info('admin entry point closed: the admin section was removed');
      return;
    }
    const sameAddress = old !== undefined && (wanted.address ?? ADMIN_DEFAULT_ADDRESS) === (before?.address ?? ADMIN_DEFAULT_ADDRESS);
    if (sameAddress) {
      server = undefined;
      await old.close();
      server = await listen(wanted);
      return;
    }
    const fresh = await listen(wanted);
    if (fresh === undefined) return; // logged; the old one (if any) keeps serving
    server = fresh;
    await old?.close();
  };

  return {
    observeRequest: metrics.requests.observe,
    challengeDecided: (d) => {
      metrics.challenge(d);
      recent.add(d);
    },
    passthroughClosed: metrics.passthrough,
    status,
    reloaded(result, config) {
      metrics.reloaded(result.outcome, result.ms);
      metrics.requests.routersChanged();
      const next = JSON.stringify(config.admin ?? null);
      if (next === key) return;
      const before = current;
      current = config.admin;
      key = next;
      settled = settled.then(() => apply(config.admin, before));
    },
    async start() {
      settled = settled.then(async () => {
        if (current === undefined || closed || !listening) return;
        server = await listen(current);
      });
      await settled;
    },
    address: () => server?.address(),
    metricsJson: () => metrics.registry.getMetricsAsJSON(),
    async close() {
      closed = true;
      await settled;
      await server?.close();
      server = undefined;
    },
  };
}
