/** Notification metrics on the agent's registry (served on /metrics), by channel. */
import { Counter, Gauge, type Registry } from '../runtime/prom';

/** Channels: one Kubernetes Event per dump, one webhook message per dump. */
export const CHANNELS = ['kubernetes-event', 'webhook'] as const;
export type Channel = (typeof CHANNELS)[number];

export const DROP_REASONS = ['queue_full', 'shutdown'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

const P = 'heapdump_uploader_';

export const NOTIFICATION_METRIC_NAMES = {
  sent: `${P}notifications_sent_total`,
  failed: `${P}notifications_failed_total`,
  retries: `${P}notification_retries_total`,
  dropped: `${P}notifications_dropped_total`,
  lastSuccess: `${P}notification_last_success_timestamp_seconds`,
} as const;

export interface NotificationMetrics {
  readonly sent: Counter<'channel'>;
  readonly failed: Counter<'channel'>;
  readonly retries: Counter<'channel'>;
  readonly dropped: Counter<'channel' | 'reason'>;
  readonly lastSuccess: Gauge<'channel'>;
}

/** Registers (or reuses) the metrics, and starts every series of `enabled` channels at 0 so `increase()` sees the first failure. */
export function createNotificationMetrics(registry: Registry, enabled: readonly Channel[]): NotificationMetrics {
  const N = NOTIFICATION_METRIC_NAMES;
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  const registers = [registry];
  const m: NotificationMetrics = {
    sent: get(N.sent, () => new Counter({ name: N.sent, help: 'Notifications delivered (Kubernetes Events created, webhook messages accepted), by channel', labelNames: ['channel'] as const, registers })),
    failed: get(N.failed, () => new Counter({ name: N.failed, help: 'Notifications given up after their last attempt or a permanent error, by channel', labelNames: ['channel'] as const, registers })),
    retries: get(N.retries, () => new Counter({ name: N.retries, help: 'Notification attempts rescheduled after a failure, by channel', labelNames: ['channel'] as const, registers })),
    dropped: get(N.dropped, () => new Counter({ name: N.dropped, help: 'Notifications dropped unsent: queue full (oldest dropped) or shutdown, by channel and reason', labelNames: ['channel', 'reason'] as const, registers })),
    lastSuccess: get(N.lastSuccess, () => new Gauge({ name: N.lastSuccess, help: 'Unix time of the last delivered notification, by channel (0 until the first one)', labelNames: ['channel'] as const, registers })),
  };
  for (const channel of enabled) {
    m.sent.inc({ channel }, 0);
    m.failed.inc({ channel }, 0);
    m.retries.inc({ channel }, 0);
    for (const reason of DROP_REASONS) m.dropped.inc({ channel, reason }, 0);
    m.lastSuccess.set({ channel }, 0);
  }
  return m;
}
