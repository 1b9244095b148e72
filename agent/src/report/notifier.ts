/**
 * "A dump was uploaded" -> tell the owning team: a Kubernetes Event on the pod, and optionally a
 * webhook message. The uploader calls `dumpUploaded(report)` after a dump is verified in S3; the
 * call only queues (never blocks, never throws). Each channel has its own queue and worker, so one
 * failing never holds up the other.
 *
 * Shutdown: when `signal` aborts (or `close()` is called), pending deliveries get `shutdownGraceMs`
 * to go out; then the attempt in flight is aborted and the rest is dropped, with one log line per
 * channel and `heapdump_uploader_notifications_dropped_total{reason="shutdown"}`.
 *
 * ```ts
 * const notifier = createNotifier(resolveNotifyConfig(env), config.nodeName, ctx);
 * ctx.onShutdown('notifications', () => notifier.close());
 * // after the dump is verified:
 * notifier.dumpUploaded(report);
 * ```
 */
import { existsSync } from 'fs';
import * as path from 'path';
import type { Registry } from 'prom-client';
import type { Post } from '../net/http-post';
import type { Clock } from '../runtime/clock';
import type { Logger } from '../runtime/logger';
import type { NotifyConfig } from './config';
import { type KubeApiLoader, kubeEventAttempt } from './kube-events';
import { type Channel, createNotificationMetrics, type NotificationMetrics } from './metrics';
import { DeliveryQueue } from './queue';
import { type DumpReport, eventOf } from './report';
import { webhookAttempt } from './webhook';

export interface NotifierDeps {
  readonly logger: Logger;
  readonly clock: Clock;
  readonly registry: Registry;
  /** Shutdown: starts the grace period. */
  readonly signal: AbortSignal;
  /** The webhook's HTTP client (the uploader's: its CA bundle and proxy). @default createPost() */
  readonly post?: Post;
  /** @default fs.promises.readFile (the webhook URL file) */
  readonly readFile?: (path: string) => Promise<string>;
  /** @default dynamic import of kube-api.ts (@kubernetes/client-node) */
  readonly loadKubeApi?: KubeApiLoader;
  /** Jitter source. @default Math.random */
  readonly random?: () => number;
}

export interface Notifier {
  /** Channels in use (empty: notifications are off and dumpUploaded does nothing). */
  readonly channels: readonly Channel[];
  /** Queues the notifications for a verified dump. Never blocks, never throws. */
  dumpUploaded(report: DumpReport): void;
  /** Starts the shutdown grace (idempotent); resolves once everything is delivered or dropped. */
  close(): Promise<void>;
  /** Resolves once nothing is pending or in flight (tests, benchmarks). */
  idle(): Promise<void>;
}

function describe(report: DumpReport) {
  return { namespace: report.namespace, pod: report.pod, key: report.key };
}

export function createNotifier(config: NotifyConfig, nodeName: string, deps: NotifierDeps): Notifier {
  const log = deps.logger.child('notify');
  const channels: Channel[] = [];
  if (config.kubeEvents) channels.push('kubernetes-event');
  if (config.webhook) channels.push('webhook');
  const metrics: NotificationMetrics = createNotificationMetrics(deps.registry, channels);
  const common = {
    capacity: config.queueSize, maxAttempts: config.maxAttempts, timeoutMs: config.timeoutMs,
    clock: deps.clock, metrics, describe, ...(deps.random ? { random: deps.random } : {}),
  };

  const queues: Array<{ queue: DeliveryQueue<DumpReport>; accepts: (r: DumpReport) => boolean }> = [];

  if (config.kubeEvents) {
    const k = config.kubeEvents;
    // The client is loaded on first use; a missing token is worth one line now rather than at the first dump.
    for (const file of ['token', 'ca.crt']) {
      if (!existsSync(path.join(k.credentialsDir, file))) {
        log.error('Kubernetes events enabled but a ServiceAccount file is missing', {
          file: path.join(k.credentialsDir, file), hint: 'mount a ServiceAccount token (projected volume) into the uploader',
        });
      }
    }
    const logger = log.child('kubernetes-event');
    queues.push({
      // An Event needs the pod it is about: dumps found outside a `<namespace>/<pod>` folder have none.
      accepts: (r) => r.namespace !== '' && r.pod !== '',
      queue: new DeliveryQueue<DumpReport>({
        ...common, channel: 'kubernetes-event', logger,
        attempt: kubeEventAttempt({ api: k, reportingInstance: nodeName, logger, ...(deps.loadKubeApi ? { load: deps.loadKubeApi } : {}) }),
      }),
    });
    log.info('Kubernetes events enabled', { api: k.apiUrl });
  }

  if (config.webhook) {
    const w = config.webhook;
    const channel = webhookAttempt({
      source: w.url, format: w.format, ...(config.clusterName !== undefined ? { cluster: config.clusterName } : {}),
      ...(deps.post ? { post: deps.post } : {}), ...(deps.readFile ? { readFile: deps.readFile } : {}),
    }, () => deps.clock.now());
    const events = new Set(w.events);
    queues.push({
      accepts: (r) => events.has(eventOf(r)),
      queue: new DeliveryQueue<DumpReport>({
        ...common, channel: 'webhook', logger: log.child('webhook'), redact: channel.redact, attempt: channel.attempt,
        describe: (r) => ({ ...describe(r), ...channel.target() }),
      }),
    });
    log.info('webhook notifications enabled', {
      format: w.format, events: w.events.join(','), ...channel.target(), ...(w.url.kind === 'file' ? { urlFile: w.url.path } : {}),
    });
  }

  let shutdown: Promise<void> | undefined;
  const idle = async () => {
    await Promise.all(queues.map((q) => q.queue.idle()));
  };
  const close = (): Promise<void> => {
    shutdown ??= (async () => {
      const graceEnd = new AbortController();
      const drained = idle().then(() => graceEnd.abort());
      await deps.clock.sleep(config.shutdownGraceMs, graceEnd.signal);
      graceEnd.abort();
      // Drained or not: stop every queue (aborts what is in flight, drops and logs what is left).
      await Promise.all(queues.map((q) => q.queue.stop()));
      await drained;
    })();
    return shutdown;
  };
  if (deps.signal.aborted) void close();
  else deps.signal.addEventListener('abort', () => void close(), { once: true });

  return {
    channels,
    dumpUploaded(report) {
      for (const { queue, accepts } of queues) {
        try {
          if (accepts(report)) queue.push(report);
        } catch (error) {
          log.error('notification not queued', { error: error as Error, ...describe(report) });
        }
      }
    },
    close,
    idle,
  };
}
