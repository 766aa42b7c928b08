/**
 * Request counters and the latency histogram, kept in plain arrays so that recording a request allocates nothing:
 * prom-client's labelled children hash their labels into a new string on every call, which on the proxy's hot path
 * would cost more than the access line. The series are turned into prom-client values only when scraped
 * (the registry formats them like any other metric).
 */
import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { RequestContext } from '../http/context.js';

/** Upper bounds (seconds) of the latency buckets: a proxy's own answers sit in the first, slow backends in the last. */
export const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;
const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/** The counts of one (router, service) pair. */
interface Series {
  readonly router: string;
  readonly service: string;
  /** Responses by status class, 1xx at 0. */
  readonly classes: number[];
  /** Per bucket, not cumulative; the last slot is +Inf. */
  readonly buckets: number[];
  sum: number;
  count: number;
}

/** A value as prom-client's registry formats it. */
export interface MetricValue {
  readonly value: number;
  readonly labels: Record<string, string | number>;
  readonly metricName?: string;
}

/** A metric whose values are computed when scraped: what prom-client's Registry#registerMetric accepts. */
export interface ScrapedMetric {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly aggregator: 'sum';
  get(): Promise<{ name: string; help: string; type: string; aggregator: 'sum'; values: MetricValue[] }>;
}

/** Requests by router, service and status class, and their latency, for every request the dispatchers close. */
export class RequestMetrics {
  /** router → its series; cleared on reload, since a reload may point a router at another service. */
  readonly #byRouter = new Map<string, Series>();
  /** `router\nservice` → series: counts survive reloads (counters must not go back). */
  readonly #series = new Map<string, Series>();

  /** `serviceOf(router)`: the service the config in force gives that router ('' for none). */
  constructor(private readonly serviceOf: (router: string) => string) {}

  /** The RequestObserver (src/http/dispatch.ts): a map lookup, two increments and a bucket search. */
  readonly observe = (res: ServerResponse, ctx: RequestContext): void => {
    const router = ctx.router ?? '';
    const s = this.#byRouter.get(router) ?? this.#resolve(router);
    const status = res.statusCode;
    s.classes[status >= 100 && status < 600 ? ((status / 100) | 0) - 1 : 4]!++;
    const seconds = (performance.now() - ctx.start) / 1000;
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++;
    s.buckets[i]!++;
    s.sum += seconds;
    s.count++;
  };

  /** A reload changed the routers: each router's service is looked up again on its next request. */
  routersChanged(): void {
    this.#byRouter.clear();
  }

  #resolve(router: string): Series {
    const service = router === '' ? '' : this.serviceOf(router);
    const key = `${router}\n${service}`;
    let s = this.#series.get(key);
    if (s === undefined) {
      s = { router, service, classes: CLASSES.map(() => 0), buckets: [...LATENCY_BUCKETS, Infinity].map(() => 0), sum: 0, count: 0 };
      this.#series.set(key, s);
    }
    this.#byRouter.set(router, s);
    return s;
  }

  /** `gatehouse_http_requests_total` and `gatehouse_http_request_duration_seconds`, computed at scrape time. */
  metrics(): ScrapedMetric[] {
    const requests = scraped('gatehouse_http_requests_total', 'HTTP responses by router, service and status class (router "" = no router matched).', 'counter', () => {
      const out: MetricValue[] = [];
      for (const s of this.#series.values()) {
        s.classes.forEach((n, c) => {
          if (n > 0) out.push({ value: n, labels: { router: s.router, service: s.service, status_class: CLASSES[c]! } });
        });
      }
      return out;
    });
    const latency = scraped('gatehouse_http_request_duration_seconds', 'Time from the request head to the response closing, by router and service.', 'histogram', () => {
      const out: MetricValue[] = [];
      for (const s of this.#series.values()) {
        const labels = { router: s.router, service: s.service };
        let cumulative = 0;
        s.buckets.forEach((n, i) => {
          cumulative += n;
          const le = i < LATENCY_BUCKETS.length ? LATENCY_BUCKETS[i]! : '+Inf';
          out.push({ metricName: 'gatehouse_http_request_duration_seconds_bucket', value: cumulative, labels: { ...labels, le } });
        });
        out.push({ metricName: 'gatehouse_http_request_duration_seconds_sum', value: s.sum, labels });
        out.push({ metricName: 'gatehouse_http_request_duration_seconds_count', value: s.count, labels });
      }
      return out;
    });
    return [requests, latency];
  }
}

/** A metric for the registry whose values `values()` computes on each scrape. */
export function scraped(name: string, help: string, type: ScrapedMetric['type'], values: () => MetricValue[]): ScrapedMetric {
  return { name, help, type, aggregator: 'sum', get: async () => ({ name, help, type, aggregator: 'sum', values: values() }) };
}
