/**
 * The pipeline's alerts (pure data): names, PromQL, severities and the runbook section of each.
 *
 * Every expression is built on metric names the agents export (agent/src/uploader/metrics.ts, which
 * includes the dump-folder usage gauges `heapdump_uploader_volume_used_bytes` / `..._volume_capacity_bytes`,
 * agent/src/uploader/lifecycle.ts, agent/src/mount-guard/guard.ts, agent/src/report/metrics.ts, the process metrics of
 * agent/src/runtime/metrics.ts), plus `up` (Prometheus' own). test/lib/monitoring.test.ts parses every
 * expression and checks each name against a registry filled by the agent's own code. Every selector is scoped to the pipeline's
 * namespace, so two pipelines in one cluster never fire for each other's agents.
 */
import { COMMANDS } from '../agent/src/contract';
import { PipelinePropsError, checkKnownKeys } from './validation';

export type Severity = 'critical' | 'warning' | 'info';

export interface AlertThresholds {
  /**
   * HeapDumpWaitingTooLong fires when the oldest dump not yet in S3 is older (since its last write) than this.
   * @default 3600
   */
  readonly pendingAgeSeconds?: number;
  /**
   * HeapDumpUploadsFailing fires when more upload attempts than this failed within 30 minutes.
   * @default 5
   */
  readonly uploadFailuresPer30m?: number;
  /**
   * HeapDumpNoUploadWhileDumpsWait fires when dumps wait and nothing was verified in S3 for this long
   * (counted from the uploader's start when it has not uploaded since).
   * @default 7200
   */
  readonly noUploadSeconds?: number;
  /**
   * HeapDumpFolderFillingUp fires above this used/capacity ratio of the node's dump folder.
   * @default 0.8
   */
  readonly folderWarningRatio?: number;
  /**
   * HeapDumpFolderFull fires above this ratio.
   * @default 0.95
   */
  readonly folderCriticalRatio?: number;
}

export interface ResolvedThresholds {
  readonly pendingAgeSeconds: number;
  readonly uploadFailuresPer30m: number;
  readonly noUploadSeconds: number;
  readonly folderWarningRatio: number;
  readonly folderCriticalRatio: number;
}

export const DEFAULT_THRESHOLDS: ResolvedThresholds = {
  pendingAgeSeconds: 3600, uploadFailuresPer30m: 5, noUploadSeconds: 7200, folderWarningRatio: 0.8, folderCriticalRatio: 0.95,
};

export function resolveThresholds(t: AlertThresholds = {}): ResolvedThresholds {
  checkKnownKeys('thresholds', t, Object.keys(DEFAULT_THRESHOLDS));
  const r = { ...DEFAULT_THRESHOLDS, ...Object.fromEntries(Object.entries(t).filter(([, v]) => v !== undefined)) } as ResolvedThresholds;
  const positive = (k: keyof ResolvedThresholds) => {
    if (typeof r[k] !== 'number' || !Number.isFinite(r[k]) || r[k] <= 0) throw new PipelinePropsError(`thresholds.${k}`, r[k], 'a number > 0');
  };
  const ratio = (k: keyof ResolvedThresholds) => {
    if (typeof r[k] !== 'number' || !(r[k] > 0 && r[k] < 1)) throw new PipelinePropsError(`thresholds.${k}`, r[k], 'a ratio between 0 and 1 (e.g. 0.8)');
  };
  positive('pendingAgeSeconds');
  positive('uploadFailuresPer30m');
  positive('noUploadSeconds');
  ratio('folderWarningRatio');
  ratio('folderCriticalRatio');
  if (r.folderCriticalRatio <= r.folderWarningRatio) {
    throw new PipelinePropsError('thresholds.folderCriticalRatio', r.folderCriticalRatio, `a ratio above thresholds.folderWarningRatio (${r.folderWarningRatio})`);
  }
  return r;
}

/** One alerting rule, as it goes into a PrometheusRule group. */
export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels: Record<string, string>;
  readonly annotations: { readonly summary: string; readonly description: string; readonly runbook_url: string };
}

/** The anchor GitHub (and most renderers) give a `## <AlertName>` heading of docs/runbook.md. */
export function runbookAnchor(alert: string): string {
  return alert.toLowerCase();
}

export interface AlertRuleOptions {
  /** The pipeline namespace (where the agents run). */
  readonly namespace: string;
  /** docs/runbook.md as the team reads it; `#<alert name in lower case>` is appended. */
  readonly runbookUrl: string;
  readonly thresholds: ResolvedThresholds;
  /**
   * Extra labels on every alert (routing).
   * @default none
   */
  readonly alertLabels?: Record<string, string>;
  /** Container names of the scraped agents (for `up`). @default mount-guard, uploader */
  readonly containers?: readonly string[];
}

/** Seconds as Prometheus' `for`/range duration (e.g. 3600 -> `1h`, 90 -> `90s`). */
function duration(s: number): string {
  if (s % 3600 === 0) return `${s / 3600}h`;
  if (s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

export function heapDumpAlertRules(o: AlertRuleOptions): AlertRule[] {
  const ns = `namespace="${o.namespace}"`;
  const t = o.thresholds;
  const containers = o.containers ?? [COMMANDS.mountGuard, COMMANDS.uploader];
  const rule = (alert: string, severity: Severity, expr: string, forDuration: string | undefined, summary: string, description: string): AlertRule => ({
    alert,
    expr,
    ...(forDuration !== undefined ? { for: forDuration } : {}),
    labels: { ...o.alertLabels, severity },
    annotations: { summary, description, runbook_url: `${o.runbookUrl}#${runbookAnchor(alert)}` },
  });
  return [
    rule('HeapDumpAgentDown', 'warning',
      `up{${ns}, container=~"${containers.join('|')}"} == 0`, '10m',
      'A heap dump agent cannot be scraped',
      'Prometheus cannot scrape {{ $labels.container }} in pod {{ $labels.pod }} ({{ $labels.namespace }}) for 10 minutes: its mount and upload alerts cannot fire for that node.'),
    rule('HeapDumpMountLost', 'critical',
      `heapdump_mount_guard_mounted{${ns}} == 0`, '5m',
      'The node\'s dump folder is not on the dump volume',
      'On node {{ $labels.node }} /mnt/dump has not been the bind mount of the dump volume for 5 minutes: new pods there wait in wait-ready, and dumps written now may land on the node\'s disk.'),
    rule('HeapDumpMountRemounted', 'warning',
      `increase(heapdump_mount_guard_remounts_total{${ns}}[30m]) > 0`, undefined,
      'The dump folder mount was lost and re-made',
      'The mount guard on node {{ $labels.node }} re-made /mnt/dump in the last 30 minutes. Pods that started before may still write into the old mount.'),
    rule('HeapDumpWaitingTooLong', 'warning',
      `heapdump_uploader_oldest_pending_age_seconds{${ns}} > ${t.pendingAgeSeconds}`, '10m',
      'A heap dump has waited too long to reach S3',
      `On node {{ $labels.node }} the oldest dump not yet in S3 was last written {{ $value | humanizeDuration }} ago (threshold ${duration(t.pendingAgeSeconds)}).`),
    rule('HeapDumpUploadsFailing', 'warning',
      `increase(heapdump_uploader_upload_failures_total{${ns}}[30m]) > ${t.uploadFailuresPer30m}`, '5m',
      'Heap dump uploads keep failing',
      `The uploader on node {{ $labels.node }} had {{ $value | printf "%.0f" }} failed upload attempts in 30 minutes (threshold ${t.uploadFailuresPer30m}).`),
    rule('HeapDumpNoUploadWhileDumpsWait', 'critical',
      `(heapdump_uploader_backlog_files{${ns}} > 0) and on (namespace, pod) (time() - (heapdump_uploader_last_success_timestamp_seconds{${ns}} > 0 or heapdump_agent_process_start_time_seconds{${ns}, command="${COMMANDS.uploader}"}) > ${t.noUploadSeconds})`,
      '15m',
      'Dumps are waiting and nothing reached S3',
      `On node {{ $labels.node }} {{ $value }} dump file(s) wait, and the uploader has verified no upload for more than ${duration(t.noUploadSeconds)} (or since it started).`),
    rule('HeapDumpNotificationsFailing', 'warning',
      `sum by (namespace, pod, node, channel) (increase(heapdump_uploader_notifications_failed_total{${ns}}[30m])) > 0 or sum by (namespace, pod, node, channel) (increase(heapdump_uploader_notifications_dropped_total{${ns}}[30m])) > 0`,
      undefined,
      'Owning teams are not being told about heap dumps',
      'The uploader on node {{ $labels.node }} failed or dropped {{ $labels.channel }} notifications in the last 30 minutes: the dumps are in S3, but their owners may not know.'),
    // One alert per pipeline, not per node: every uploader checks the same bucket and prefix.
    rule('HeapDumpBucketLifecycleMissing', 'warning',
      `min by (namespace) (heapdump_uploader_bucket_lifecycle_ok{${ns}}) == 0`, '1h',
      'Heap dumps in S3 do not expire',
      'No lifecycle rule of the bucket expires the pipeline\'s objects within uploader.retentionDays, or an uploader cannot read the bucket\'s lifecycle configuration: dumps, which hold every secret their JVMs had, stay in S3 until someone deletes them.'),
    rule('HeapDumpFolderFillingUp', 'warning',
      `heapdump_uploader_volume_used_bytes{${ns}} / heapdump_uploader_volume_capacity_bytes{${ns}} > ${t.folderWarningRatio}`, '15m',
      'The dump folder is filling up',
      `The dump folder on node {{ $labels.node }} is {{ $value | humanizePercentage }} full (threshold ${t.folderWarningRatio * 100}%).`),
    rule('HeapDumpFolderFull', 'critical',
      `heapdump_uploader_volume_used_bytes{${ns}} / heapdump_uploader_volume_capacity_bytes{${ns}} > ${t.folderCriticalRatio}`, '5m',
      'The dump folder is (almost) full: new dumps will be truncated',
      `The dump folder on node {{ $labels.node }} is {{ $value | humanizePercentage }} full (threshold ${t.folderCriticalRatio * 100}%). A JVM that runs out of memory now writes a truncated dump or none.`),
  ];
}
