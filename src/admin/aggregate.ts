/**
 * `/metrics` of a primary with `workers` > 1: one exposition for the whole gatehouse. What each worker counts (its
 * requests, open connections, challenge answers, passthrough bytes) is summed over the workers; what exists once
 * (reloads, ACME, certificates, upstream health as the primary's checks see it, config problems) is the primary's;
 * the process metrics (CPU, memory, event loop) are aggregated over every process as prom-client's aggregators say
 * (CPU and memory summed, event loop lag averaged). prom-client's AggregatorRegistry does the merging.
 */
import { createRequire } from 'node:module';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';

/** The metrics a worker counts: the primary's own are zero or absent, the workers' are summed. */
const PER_WORKER = new Set([
  'gatehouse_http_requests_total',
  'gatehouse_http_request_duration_seconds',
  'gatehouse_open_connections',
  'gatehouse_challenge_requests_total',
  'gatehouse_passthrough_bytes_total',
  'gatehouse_passthrough_connections_total',
]);

/** Process metrics (collectDefaultMetrics with the `gatehouse_` prefix): every process has its own. */
const isProcessMetric = (name: string): boolean => name.startsWith('gatehouse_process_') || name.startsWith('gatehouse_nodejs_');

type Json = MetricObjectWithValues<MetricValue<string>>;

/** The Prometheus text of the primary's `own` metrics and its `workers`' (each a getMetricsAsJSON array). */
export async function aggregateMetrics(own: readonly unknown[], workers: readonly (readonly unknown[])[]): Promise<string> {
  const { AggregatorRegistry } = createRequire(import.meta.url)('prom-client') as typeof import('prom-client');
  const mine = (own as Json[]).filter((m) => !PER_WORKER.has(m.name));
  const theirs = workers.map((w) => (w as Json[]).filter((m) => PER_WORKER.has(m.name) || isProcessMetric(m.name)));
  return AggregatorRegistry.aggregate([mine, ...theirs]).metrics();
}
