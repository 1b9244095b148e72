/** Uploader metrics on the agent's registry (served on /metrics). */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface UploaderMetrics {
  readonly uploaded: Counter;
  readonly failed: Counter;
  readonly duplicates: Counter;
  readonly bytes: Counter;
  readonly duration: Histogram;
  readonly retries: Counter;
  readonly backlog: Gauge;
  readonly oldestPendingAge: Gauge;
  readonly lastSuccess: Gauge;
  readonly deleted: Counter<'reason'>;
}

const P = 'heapdump_uploader_';

export function createUploaderMetrics(registry: Registry): UploaderMetrics {
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(P + name) as T | undefined) ?? make();
  const registers = [registry];
  return {
    uploaded: get(`files_uploaded_total`, () => new Counter({ name: `${P}files_uploaded_total`, help: 'Dumps uploaded and verified in S3', registers })),
    failed: get(`upload_failures_total`, () => new Counter({ name: `${P}upload_failures_total`, help: 'Failed upload attempts', registers })),
    duplicates: get(`files_skipped_duplicate_total`, () =>
      new Counter({ name: `${P}files_skipped_duplicate_total`, help: 'Dumps skipped because S3 already holds the same content', registers })),
    bytes: get(`bytes_uploaded_total`, () => new Counter({ name: `${P}bytes_uploaded_total`, help: 'Bytes stored in S3 by completed uploads', registers })),
    duration: get(`upload_duration_seconds`, () =>
      new Histogram({
        name: `${P}upload_duration_seconds`,
        help: 'Time from start of hashing to verified object',
        buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800],
        registers,
      })),
    retries: get(`retries_total`, () => new Counter({ name: `${P}retries_total`, help: 'Upload attempts scheduled after a failure', registers })),
    backlog: get(`backlog_files`, () => new Gauge({ name: `${P}backlog_files`, help: 'Dump files seen and not yet in S3', registers })),
    oldestPendingAge: get(`oldest_pending_age_seconds`, () =>
      new Gauge({ name: `${P}oldest_pending_age_seconds`, help: 'Age (since last modification) of the oldest dump not yet in S3', registers })),
    lastSuccess: get(`last_success_timestamp_seconds`, () =>
      new Gauge({ name: `${P}last_success_timestamp_seconds`, help: 'Unix time of the last verified upload', registers })),
    deleted: get(`local_files_deleted_total`, () =>
      new Counter({ name: `${P}local_files_deleted_total`, help: 'Local dumps removed after verification', labelNames: ['reason'] as const, registers })),
  };
}
