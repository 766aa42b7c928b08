/**
 * The admin's Prometheus registry (its own, never prom-client's global one, so two gatehouses in one process do not
 * mix): request counters and latency (request-metrics.ts), counters the edge and reloads increment, and gauges
 * computed from the status at scrape time (upstream health, open connections, certificates, ACME results).
 * Every name starts with `gatehouse_`; docs/admin.md lists them.
 */
import { createRequire } from 'node:module';
import type { Counter, Histogram, Metric, Registry } from 'prom-client';
import type { ChallengeDecision } from '../challenges/decision.js';
import { tlsHandshakes } from '../upstream/tls-connector.js';
import { RequestMetrics, scraped, type MetricValue, type ScrapedMetric } from './request-metrics.js';
import type { AdminStatus } from './snapshot.js';

/** Reload durations: a few milliseconds for a small file, seconds with a slow certificate store. */
const RELOAD_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** prom-client, loaded by the first AdminMetrics: a gatehouse without an admin section never loads it (~75 ms of CPU). */
function promClient(): typeof import('prom-client') {
  return createRequire(import.meta.url)('prom-client') as typeof import('prom-client');
}

export class AdminMetrics {
  readonly registry: Registry;
  readonly requests: RequestMetrics;
  readonly #challenges: Counter<'challenge' | 'decision'>;
  readonly #reloads: Counter<'result'>;
  readonly #reloadSeconds: Histogram<'result'>;
  readonly #passthroughBytes: Counter<'router' | 'service' | 'direction'>;
  readonly #passthroughConnections: Counter<'router' | 'service'>;

  readonly #workers: (() => Promise<unknown[][]>) | undefined;

  /**
   * `status()` is read at scrape time for the gauges; `serviceOf` names a router's service (request-metrics.ts);
   * `workers` (the primary of `workers` > 1) gives each worker's metrics, aggregated into `text()`.
   */
  constructor(status: () => AdminStatus, serviceOf: (router: string) => string, workers?: () => Promise<unknown[][]>) {
    this.#workers = workers;
    const { Counter, Histogram, Registry, collectDefaultMetrics } = promClient();
    this.registry = new Registry();
    const registers = [this.registry];
    this.requests = new RequestMetrics(serviceOf);
    for (const m of this.requests.metrics()) this.register(m);
    this.#challenges = new Counter({ name: 'gatehouse_challenge_requests_total', help: 'ACME challenge requests (http-01) and validator handshakes (tls-alpn-01) by who answered.', labelNames: ['challenge', 'decision'], registers });
    this.#reloads = new Counter({ name: 'gatehouse_config_reloads_total', help: 'Config reloads by result (success; problems: applied, but it disables routers or certificates, or part of it could not be applied; failure: refused, the running config stays).', labelNames: ['result'], registers });
    this.#reloadSeconds = new Histogram({ name: 'gatehouse_config_reload_duration_seconds', help: 'Time from reading the config file to the new config serving.', labelNames: ['result'], buckets: RELOAD_BUCKETS, registers });
    this.#passthroughBytes = new Counter({ name: 'gatehouse_passthrough_bytes_total', help: 'Bytes of closed passthrough connections by TCP router, service and direction (up: client to backend).', labelNames: ['router', 'service', 'direction'], registers });
    this.#passthroughConnections = new Counter({ name: 'gatehouse_passthrough_connections_total', help: 'Closed passthrough connections by TCP router and service.', labelNames: ['router', 'service'], registers });
    for (const m of scrapeTimeMetrics(status)) this.register(m);
    collectDefaultMetrics({ register: this.registry, prefix: 'gatehouse_' });
  }

  /** A ChallengeObserver (src/challenges/decision.ts). */
  readonly challenge = (d: ChallengeDecision): void => {
    this.#challenges.inc({ challenge: d.challenge, decision: d.answeredBy });
  };

  /** A PassthroughObserver (src/tcp/forward.ts). */
  readonly passthrough = (router: string, service: string, up: number, down: number): void => {
    this.#passthroughBytes.inc({ router, service, direction: 'up' }, up);
    this.#passthroughBytes.inc({ router, service, direction: 'down' }, down);
    this.#passthroughConnections.inc({ router, service });
  };

  /** One reload's outcome (src/api.ts): `problems` when it was applied but disables part of itself. */
  reloaded(outcome: 'ok' | 'problems' | 'refused', ms: number): void {
    const result = outcome === 'ok' ? 'success' : outcome === 'problems' ? 'problems' : 'failure';
    this.#reloads.inc({ result });
    this.#reloadSeconds.observe({ result }, ms / 1000);
  }

  /** The Prometheus text exposition. */
  async text(): Promise<string> {
    if (this.#workers === undefined) return this.registry.metrics();
    const { aggregateMetrics } = await import('./aggregate.js');
    return aggregateMetrics(await this.registry.getMetricsAsJSON(), await this.#workers());
  }

  private register(m: ScrapedMetric): void {
    // The registry only calls get() and reads name/help/type: the shape of a prom-client metric it formats.
    this.registry.registerMetric(m as unknown as Metric);
  }
}

/** Gauges read from the status at scrape time: one status per scrape, shared by all of them. */
function scrapeTimeMetrics(status: () => AdminStatus): ScrapedMetric[] {
  let cached: { at: number; status: AdminStatus } | undefined;
  // A scrape formats the metrics one after another within a few milliseconds: they share one status.
  const now = (): AdminStatus => {
    const t = Date.now();
    if (cached === undefined || t - cached.at > 1000) cached = { at: t, status: status() };
    return cached.status;
  };
  const gauge = (name: string, help: string, values: (s: AdminStatus) => MetricValue[]): ScrapedMetric => scraped(name, help, 'gauge', () => values(now()));
  return [
    gauge('gatehouse_upstream_up', '1 when the server takes requests (active and passive health checks agree), else 0.', (s) =>
      s.services.flatMap((svc) => (svc.servers ?? []).map((srv) => ({ value: srv.up ? 1 : 0, labels: { service: svc.name, server: srv.url } }))),
    ),
    gauge('gatehouse_tcp_server_up', '1 while a TCP service\'s server takes new connections (its health check passes, or it has none), else 0.', (s) =>
      s.tcpServices.flatMap((svc) => svc.servers.map((srv) => ({ value: srv.up ? 1 : 0, labels: { service: svc.name, server: srv.address } }))),
    ),
    gauge('gatehouse_open_connections', 'Client connections open now per entry point (HTTP, terminated TLS and passthrough).', (s) =>
      s.entryPoints.map((e) => ({ value: e.connections, labels: { entry_point: e.name } })),
    ),
    gauge('gatehouse_certificate_expiry_timestamp_seconds', 'When each certificate in service expires (Unix time); subtract time() for the seconds left.', (s) =>
      s.certificates.flatMap((c) => c.names.map((name) => ({ value: Math.floor(Date.parse(c.notAfter) / 1000), labels: { name, source: c.source } }))),
    ),
    gauge('gatehouse_acme_last_result', 'Per ACME certificate: 1 when its last attempt succeeded (or none failed yet), 0 when the last one failed.', (s) =>
      s.acme.map((m) => ({ value: m.lastError === undefined ? 1 : 0, labels: { name: m.id, resolver: m.resolver } })),
    ),
    gauge('gatehouse_acme_renewal_timestamp_seconds', 'When each ACME certificate is due for renewal (Unix time).', (s) =>
      s.acme.filter((m) => m.renewAt !== undefined).map((m) => ({ value: Math.floor(Date.parse(m.renewAt!) / 1000), labels: { name: m.id, resolver: m.resolver } })),
    ),
    gauge('gatehouse_config_last_reload_success', '1 when the last reload was applied and all of it serves, 0 when it was refused or applied with problems; absent before the first reload.', (s) =>
      s.lastReload === undefined ? [] : [{ value: s.lastReload.ok ? 1 : 0, labels: {} }],
    ),
    gauge('gatehouse_config_problems', 'Problems of the config in force: routers it disables (a broken rule, an unknown service or middleware); 0 when all of it serves.', (s) => [
      { value: s.routers.filter((r) => r.disabled !== undefined).length + s.tcpRouters.filter((r) => r.disabled !== undefined).length + s.udpRouters.filter((r) => r.disabled !== undefined).length, labels: {} },
    ]),
    ...udpMetrics(now),
    // Module-wide counts (tls-connector.ts): with keep-alive and session resumption, far fewer than requests.
    scraped('gatehouse_upstream_tls_handshakes_total', 'TLS handshakes to https:// upstreams since start: full, or resumed (an abbreviated handshake on a session from an earlier connection).', 'counter', () => [
      { value: tlsHandshakes.full, labels: { kind: 'full' } },
      { value: tlsHandshakes.resumed, labels: { kind: 'resumed' } },
    ]),
  ];
}

/** UDP entry points (src/udp/listener.ts): sessions open now, and counters since each was bound. */
function udpMetrics(now: () => AdminStatus): ScrapedMetric[] {
  const udp = (s: AdminStatus) => s.entryPoints.filter((e) => e.udp !== undefined);
  const counter = (name: string, help: string, values: (s: AdminStatus) => MetricValue[]): ScrapedMetric => scraped(name, help, 'counter', () => values(now()));
  return [
    scraped('gatehouse_udp_sessions', 'UDP sessions (client address and port) open now per UDP entry point.', 'gauge', () =>
      udp(now()).map((e) => ({ value: e.connections, labels: { entry_point: e.name } })),
    ),
    counter('gatehouse_udp_sessions_opened_total', 'UDP sessions opened per UDP entry point since it was bound.', (s) =>
      udp(s).map((e) => ({ value: e.udp!.sessionsOpened, labels: { entry_point: e.name } })),
    ),
    counter('gatehouse_udp_datagrams_total', 'Datagrams per UDP entry point since it was bound: in from clients (dropped ones included), out to clients.', (s) =>
      udp(s).flatMap((e) => [
        { value: e.udp!.datagramsIn, labels: { entry_point: e.name, direction: 'in' } },
        { value: e.udp!.datagramsOut, labels: { entry_point: e.name, direction: 'out' } },
      ]),
    ),
    counter('gatehouse_udp_dropped_total', 'Datagrams dropped per UDP entry point: session_limit (udp.maxSessions reached), no_route (no UDP router serves it), queue_full (a session still opening, or a socket whose send queue is full).', (s) =>
      udp(s).flatMap((e) => [
        { value: e.udp!.droppedSessionLimit, labels: { entry_point: e.name, reason: 'session_limit' } },
        { value: e.udp!.droppedNoRoute, labels: { entry_point: e.name, reason: 'no_route' } },
        { value: e.udp!.droppedQueueFull, labels: { entry_point: e.name, reason: 'queue_full' } },
      ]),
    ),
    counter('gatehouse_udp_upstream_errors_total', 'UDP sessions ended by an error of their upstream socket (ECONNREFUSED: nothing listens at the server).', (s) =>
      udp(s).map((e) => ({ value: e.udp!.upstreamErrors, labels: { entry_point: e.name } })),
    ),
  ];
}
