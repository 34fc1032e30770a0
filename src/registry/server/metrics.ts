import {
  Counter,
  Histogram,
  Registry as MetricsRegistry,
  collectDefaultMetrics,
} from 'prom-client';
import type { RequestRecord } from '../index.js';

/** Prometheus metrics of one server: requests, bytes, latencies, storage errors, process. */
export function createMetrics() {
  const registry = new MetricsRegistry();
  collectDefaultMetrics({ register: registry, prefix: 'nv2_' });
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({
    name: 'nv2_http_requests_total',
    help: 'HTTP requests served.',
    labelNames,
    registers: [registry],
  });
  const bytes = new Counter({
    name: 'nv2_http_bytes_total',
    help: 'HTTP body bytes, by direction (in: received, out: sent).',
    labelNames: ['direction'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'nv2_http_request_duration_seconds',
    help: 'Time from request start to the end of the response.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const storageErrors = new Counter({
    name: 'nv2_storage_errors_total',
    help: 'Requests that failed because storage failed (HTTP 5xx).',
    registers: [registry],
  });
  const enforcement = new Counter({
    name: 'nv2_registry_enforcement_decisions_total',
    help: 'Manifest pulls judged by the trust policy, by decision (allow, deny, audit, exempt) and status.',
    labelNames: ['decision', 'status', 'level'] as const,
    registers: [registry],
  });
  // Label sets bound once (prom-client looks a label set up by hashing it on every call).
  const bytesIn = bytes.labels({ direction: 'in' });
  const bytesOut = bytes.labels({ direction: 'out' });
  const requestsBy = new Map<string, Counter.Internal>();
  const durationBy = new Map<string, Histogram.Internal<'method' | 'route'>>();
  return {
    registry,
    observe(record: RequestRecord): void {
      const { method, status } = record;
      const route = record.route ?? 'unknown';
      const routeKey = `${method} ${route}`;
      const key = `${routeKey} ${status}`;
      let counter = requestsBy.get(key);
      if (counter === undefined) {
        counter = requests.labels({ method, route, status: String(status) });
        requestsBy.set(key, counter);
      }
      counter.inc();
      let histogram = durationBy.get(routeKey);
      if (histogram === undefined) {
        histogram = duration.labels({ method, route });
        durationBy.set(routeKey, histogram);
      }
      histogram.observe(record.durationMs / 1000);
      bytesIn.inc(record.bytesIn);
      bytesOut.inc(record.bytesOut);
      if (status >= 500) storageErrors.inc();
      if (record.enforcement !== undefined) {
        const { decision, status: verdict, level } = record.enforcement;
        enforcement.inc({ decision, status: verdict, level });
      }
    },
  };
}
