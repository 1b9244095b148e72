/** Uploader metrics on the agent's registry (served on /metrics). */
import { Counter, Gauge, Histogram, type Registry } from '../runtime/prom';

export interface UploaderMetrics {
  readonly uploaded: Counter;
  readonly failed: Counter;
  readonly fileErrors: Counter<'reason'>;
  readonly duplicates: Counter;
  readonly bytes: Counter;
  readonly duration: Histogram;
  readonly retries: Counter;
  readonly backlog: Gauge;
  readonly oldestPendingAge: Gauge;
  readonly lastSuccess: Gauge;
  readonly settled: Counter<'action'>;
  readonly settleErrors: Counter<'reason'>;
  readonly skipped: Gauge<'reason'>;
  readonly untracked: Gauge;
  readonly truncatedPods: Gauge;
  readonly analyses: Counter<'result'>;
  readonly analysisQueue: Gauge;
  readonly jobsRunning: Gauge;
  readonly watched: Gauge;
  readonly unwatched: Gauge;
  readonly localBytes: Gauge<'state'>;
  readonly volumeCapacity: Gauge;
  readonly volumeUsed: Gauge;
  readonly summaries: Counter<'result'>;
}

export const UPLOADER_METRIC_PREFIX = 'heapdump_uploader_';
const P = UPLOADER_METRIC_PREFIX;

export function createUploaderMetrics(registry: Registry): UploaderMetrics {
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(P + name) as T | undefined) ?? make();
  const registers = [registry];
  const counter = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) =>
    get(name, () => new Counter<L>({ name: P + name, help, labelNames, registers }));
  const gauge = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) =>
    get(name, () => new Gauge<L>({ name: P + name, help, labelNames, registers }));
  return {
    uploaded: counter('files_uploaded_total', 'Dumps uploaded and verified in S3'),
    failed: counter('upload_failures_total', 'Failed upload attempts (any cause)'),
    fileErrors: counter('file_errors_total', 'Failed attempts by cause: transient, a per-file S3 refusal code, local ..., permanent causes', ['reason']),
    duplicates: counter('files_skipped_duplicate_total', 'Dumps skipped because S3 already holds the same content'),
    bytes: counter('bytes_uploaded_total', 'Bytes stored in S3 by completed uploads'),
    duration: get('upload_duration_seconds', () => new Histogram({
      name: `${P}upload_duration_seconds`,
      help: 'Time from the start of the read pass to the verified object',
      buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers,
    })),
    retries: counter('retries_total', 'Upload attempts scheduled after a failure'),
    backlog: gauge('backlog_files', 'Dump files seen and not yet in S3'),
    oldestPendingAge: gauge('oldest_pending_age_seconds', 'Age (since last modification) of the oldest dump not yet in S3'),
    lastSuccess: gauge('last_success_timestamp_seconds', 'Unix time of the last verified upload'),
    settled: counter('local_files_settled_total', 'Local dumps handled after verification: archived, deleted, or expired from the archive', ['action']),
    settleErrors: counter('settle_errors_total', 'Verified dumps that could not be archived or deleted yet (they stay in place, retried), by error code', ['reason']),
    skipped: gauge('skipped_files', 'Matching entries in the last scan that are not plain dump files, never uploaded: fifo, socket, device, symlink, hardlink, sparse', ['reason']),
    untracked: gauge('untracked_files', 'Dump files found in the last scan but not tracked: beyond DUMP_MAX_FILES_PER_NAMESPACE or their namespace\'s share of DUMP_MAX_FILES'),
    truncatedPods: gauge('scan_truncated_pod_folders', 'Pod folders whose entry budget (DUMP_MAX_ENTRIES_PER_POD) ran out in the last scan: the rest of them was not looked at'),
    analyses: counter('analyses_total', 'Dump analyses: complete, stopped (by a budget: partial summary), failed (the process failed or was stopped), skipped (not run: see the log)', ['result']),
    analysisQueue: gauge('analysis_queue', 'Dump analyses waiting or running (one runs at a time)'),
    jobsRunning: gauge('jobs_running', 'Dumps being worked on now (at most UPLOAD_SLOTS, one per namespace)'),
    watched: gauge('watched_directories', 'Directories watched for filesystem events'),
    unwatched: gauge('unwatched_directories', 'Directories beyond WATCH_MAX_DIRECTORIES (found by the periodic scan only)'),
    localBytes: gauge('local_dump_bytes', 'Bytes of dumps on this node: pending (not in S3 yet) and archived (verified copies)', ['state']),
    volumeCapacity: gauge('volume_capacity_bytes', 'Capacity of the filesystem holding the dump folder (the PVC)'),
    volumeUsed: gauge('volume_used_bytes', 'Used bytes of the filesystem holding the dump folder (the PVC)'),
    summaries: counter('summaries_total', 'Dump summaries written next to the dumps, or failed', ['result']),
  };
}
