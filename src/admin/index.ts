/**
 * The admin entry point (issue 9): metrics, status page and JSON API for one gatehouse. Created when the config
 * has an `admin` section; its observers are handed to the edge (requests, challenge decisions) and to each runtime
 * (passthrough bytes), and its listener is bound at start and closed at stop. The section is read at start: a
 * reload that changes it is logged and applies at the next start (the observers are wired into listeners that
 * outlive reloads, so turning them on or off would need a restart anyway).
 */
import type { AdminConfig, Config } from '../config/index.js';
import type { ChallengeObserver } from '../challenges/decision.js';
import { GatehouseError } from '../errors.js';
import type { RequestObserver } from '../http/dispatch.js';
import type { Logger } from '../log.js';
import type { PassthroughObserver } from '../tcp/index.js';
import { AdminMetrics } from './metrics.js';
import { RecentDecisions } from './recent-decisions.js';
import { listenAdmin, type AdminServer } from './server.js';

export { checkAdmin } from './server.js';
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
  /** A reload ended: counted; routers are looked up again; a changed `admin` section is logged (next start). */
  reloaded(result: { ok: boolean; ms: number }, config: Config): void;
  /** Bind the listener. Never rejects: an admin that cannot listen is logged, the proxy runs without it. */
  start(): Promise<void>;
  /** The bound address, once listening. */
  address(): { address: string; port: number } | undefined;
  close(): Promise<void>;
}

/** The admin for `spec` (the config's `admin` section at start). */
export function createAdmin(spec: AdminConfig, sources: AdminSources, log: Logger): Admin {
  const recent = new RecentDecisions();
  const status = (): AdminStatus => buildStatus(sources, recent.list());
  const serviceOf = (router: string): string => sources.config().http?.routers?.[router]?.service ?? '';
  const metrics = new AdminMetrics(status, serviceOf);
  const key = JSON.stringify(spec);
  let server: AdminServer | undefined;
  let closed = false;

  return {
    observeRequest: metrics.requests.observe,
    challengeDecided: (d) => {
      metrics.challenge(d);
      recent.add(d);
    },
    passthroughClosed: metrics.passthrough,
    status,
    reloaded(result, config) {
      metrics.reloaded(result.ok, result.ms);
      metrics.requests.routersChanged();
      if (result.ok && JSON.stringify(config.admin ?? null) !== key) {
        log.warn({ admin: server?.address() }, 'admin settings changed: they apply at the next start, the admin entry point keeps its current ones');
      }
    },
    async start() {
      try {
        const bound = await listenAdmin(spec, { status, metrics }, log.child({ component: 'admin' }));
        if (closed) return void (await bound.close());
        server = bound;
        const a = bound.address();
        log.info({ address: a.address, port: a.port, basicAuth: spec.basicAuth !== undefined }, 'admin entry point listening');
      } catch (err) {
        if (!(err instanceof GatehouseError)) throw err;
        log.error({ code: err.code, path: err.location.path, reason: err.message }, 'admin entry point not listening');
      }
    },
    address: () => server?.address(),
    async close() {
      closed = true;
      await server?.close();
      server = undefined;
    },
  };
}
