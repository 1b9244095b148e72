/** Metrics of the heapdumps API server (served on the agent's /metrics port). */
import { METRIC_PREFIX } from '../runtime/metrics';
import { Counter, Gauge, Histogram, type Registry } from '../runtime/prom';

export interface ApiMetrics {
  readonly requests: Counter<'verb' | 'code'>;
  readonly duration: Histogram<'verb'>;
  readonly downloads: Counter<'result'>;
  readonly downloadBytes: Counter<'namespace'>;
  readonly reviews: Counter<'kind' | 'outcome'>;
  readonly indexDumps: Gauge;
  readonly indexRefreshSeconds: Histogram;
  readonly indexErrors: Counter;
}

export function apiMetrics(registry: Registry): ApiMetrics {
  const p = `${METRIC_PREFIX}api_`;
  return {
    requests: new Counter({ name: `${p}requests_total`, help: 'API and web requests answered, by verb (list, get, download, summary, leaks, discovery, web) and HTTP status.', labelNames: ['verb', 'code'], registers: [registry] }),
    duration: new Histogram({ name: `${p}request_duration_seconds`, help: 'Time to the first byte of the answer.', labelNames: ['verb'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [registry] }),
    downloads: new Counter({ name: `${p}downloads_total`, help: 'Dump downloads, by result (complete, partial, client-closed, store-failed, store-corrupt, store-unavailable, ...).', labelNames: ['result'], registers: [registry] }),
    downloadBytes: new Counter({ name: `${p}download_bytes_total`, help: 'Dump bytes sent, by namespace.', labelNames: ['namespace'], registers: [registry] }),
    reviews: new Counter({ name: `${p}reviews_total`, help: 'Authentication and authorization outcomes, by kind (authn, authz) and outcome.', labelNames: ['kind', 'outcome'], registers: [registry] }),
    indexDumps: new Gauge({ name: `${p}index_dumps`, help: 'Dumps in the in-memory index of the bucket.', registers: [registry] }),
    indexRefreshSeconds: new Histogram({ name: `${p}index_refresh_seconds`, help: 'Time to list the bucket.', buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry] }),
    indexErrors: new Counter({ name: `${p}index_errors_total`, help: 'Failed listings of the bucket.', registers: [registry] }),
  };
}
