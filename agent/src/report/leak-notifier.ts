/**
 * The analyzer's notifications: a follow-up Kubernetes Event on the pod that wrote the dump (reason
 * HeapDumpAnalyzed, the same `regarding` pod as the uploader's HeapDumpUploaded), and the webhook
 * message (event `dump-analyzed`), each channel with its own bounded queue and retries (queue.ts),
 * exactly as the uploader's notifier (notifier.ts) does for uploads.
 *
 * The Event's name is derived from the report's key, so a re-report after a restart gets 409
 * AlreadyExists (counted as delivered) instead of a second Event.
 */
import { createHash } from 'crypto';
import type { Registry } from 'prom-client';
import type { Clock } from '../runtime/clock';
import type { Logger } from '../runtime/logger';
import type { NotifyConfig } from './config';
import { EVENT_LIMITS, type EventBody, type KubeApi, type KubeApiLoader, loadKubeApi, microTime, outcomeOf } from './kube-events';
import { LEAK_NOTIFICATION_EVENT, leakEventNote, type LeakNotice, leakWebhookBody, reportUri } from './leak-report';
import { type Channel, createNotificationMetrics } from './metrics';
import { type AttemptOutcome, DeliveryQueue } from './queue';
import type { Post } from '../net/http-post';
import { webhookAttempt } from './webhook';

export const LEAK_EVENT_REASON = 'HeapDumpAnalyzed';
export const LEAK_EVENT_ACTION = 'AnalyzeHeapDump';
export const ANALYZER_REPORTING_CONTROLLER = 'heapdump-pipeline.io/analyzer';
export const LEAK_EVENT_ANNOTATIONS = {
  objectUri: 'heapdump-pipeline.io/object-uri',
  leaksKeys: 'heapdump-pipeline.io/leaks-keys',
  status: 'heapdump-pipeline.io/leaks-status',
} as const;

/** `<pod>.<16 hex>`: another name than the upload's Event (whose hash is of the key alone). */
export function leakEventName(n: LeakNotice): string {
  const suffix = '.' + createHash('sha256').update(`${n.key}\u0000leaks`).digest('hex').slice(0, 16);
  return n.pod.slice(0, EVENT_LIMITS.name - suffix.length).replace(/[.-]+$/, '') + suffix;
}

export function buildLeakEvent(n: LeakNotice, opts: { readonly podUid?: string; readonly reportingInstance: string }): EventBody {
  return {
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    metadata: {
      name: leakEventName(n),
      namespace: n.namespace,
      annotations: {
        [LEAK_EVENT_ANNOTATIONS.objectUri]: n.objectUri,
        [LEAK_EVENT_ANNOTATIONS.leaksKeys]: `${n.reportKeys.json},${n.reportKeys.text}`,
        [LEAK_EVENT_ANNOTATIONS.status]: n.status,
      },
    },
    eventTime: microTime(n.analyzedAt),
    // Normal when there is nothing to fix: an analysis without a suspect, or none at all, is not a warning.
    type: n.status === 'analyzed' && n.suspects > 0 ? 'Warning' : 'Normal',
    reason: LEAK_EVENT_REASON,
    action: LEAK_EVENT_ACTION,
    note: leakEventNote(n, EVENT_LIMITS.note),
    reportingController: ANALYZER_REPORTING_CONTROLLER,
    reportingInstance: opts.reportingInstance.slice(0, EVENT_LIMITS.reportingInstance),
    regarding: { apiVersion: 'v1', kind: 'Pod', namespace: n.namespace, name: n.pod, ...(opts.podUid !== undefined ? { uid: opts.podUid } : {}) },
  };
}

function eventAttempt(api: { apiUrl: string; credentialsDir: string }, reportingInstance: string, logger: Logger, load: KubeApiLoader) {
  let client: Promise<KubeApi> | undefined;
  return async (n: LeakNotice, signal: AbortSignal): Promise<AttemptOutcome> => {
    try {
      client ??= load(api);
      const c = await client.catch((error: unknown) => {
        client = undefined;
        throw error;
      });
      let podUid: string | undefined;
      try {
        podUid = await c.getPodUid(n.namespace, n.pod, signal);
      } catch (error) {
        const outcome = outcomeOf(error);
        if (outcome.ok || outcome.retryable) return outcome;
        logger.warn('pod lookup failed: event created without the pod uid', { namespace: n.namespace, pod: n.pod, cause: outcome.cause });
      }
      const body = buildLeakEvent(n, { podUid, reportingInstance });
      const result = await c.createEvent(n.namespace, body, signal);
      return { ok: true, detail: { event: body.metadata.name, ...(result === 'exists' ? { note: 'already existed' } : {}) } };
    } catch (error) {
      return outcomeOf(error);
    }
  };
}

export interface LeakNotifier {
  readonly channels: readonly Channel[];
  /** Queues the notifications for a written report. Never blocks, never throws. */
  reportWritten(n: LeakNotice): void;
  close(): Promise<void>;
  idle(): Promise<void>;
}

export interface LeakNotifierDeps {
  readonly logger: Logger;
  readonly clock: Clock;
  readonly registry: Registry;
  readonly signal: AbortSignal;
  /** The webhook's HTTP client (the analyzer passes one with the S3 CA bundle and proxy, as the uploader does). */
  readonly post?: Post;
  readonly loadKubeApi?: KubeApiLoader;
}

export function createLeakNotifier(config: NotifyConfig, reportingInstance: string, deps: LeakNotifierDeps): LeakNotifier {
  const log = deps.logger.child('notify');
  const channels: Channel[] = [];
  const queues: Array<{ queue: DeliveryQueue<LeakNotice>; accepts: (n: LeakNotice) => boolean }> = [];
  const describe = (n: LeakNotice) => ({ namespace: n.namespace, pod: n.pod, key: n.key, report: reportUri(n, n.reportKeys.text) });
  if (config.kubeEvents) channels.push('kubernetes-event');
  const webhookOn = config.webhook !== undefined && config.webhook.events.includes(LEAK_NOTIFICATION_EVENT as never);
  if (webhookOn) channels.push('webhook');
  const metrics = createNotificationMetrics(deps.registry, channels);
  const common = { capacity: config.queueSize, maxAttempts: config.maxAttempts, timeoutMs: config.timeoutMs, clock: deps.clock, metrics, describe };
  if (config.kubeEvents) {
    const logger = log.child('kubernetes-event');
    queues.push({
      accepts: (n) => n.namespace !== '' && n.pod !== '',
      queue: new DeliveryQueue<LeakNotice>({ ...common, channel: 'kubernetes-event', logger, attempt: eventAttempt(config.kubeEvents, reportingInstance, logger, deps.loadKubeApi ?? loadKubeApi) }),
    });
  }
  if (webhookOn) {
    const w = config.webhook!;
    const channel = webhookAttempt<LeakNotice>({
      source: w.url, format: w.format, body: leakWebhookBody, ...(config.clusterName !== undefined ? { cluster: config.clusterName } : {}),
      ...(deps.post ? { post: deps.post } : {}),
    }, () => deps.clock.now());
    queues.push({
      accepts: () => true,
      queue: new DeliveryQueue<LeakNotice>({ ...common, channel: 'webhook', logger: log.child('webhook'), redact: channel.redact, attempt: channel.attempt, describe: (n) => ({ ...describe(n), ...channel.target() }) }),
    });
  }
  let closing: Promise<void> | undefined;
  const idle = async () => {
    await Promise.all(queues.map((q) => q.queue.idle()));
  };
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const grace = new AbortController();
      const drained = idle().then(() => grace.abort());
      await deps.clock.sleep(config.shutdownGraceMs, grace.signal);
      grace.abort();
      await Promise.all(queues.map((q) => q.queue.stop()));
      await drained;
    })();
    return closing;
  };
  return {
    channels,
    reportWritten(n) {
      for (const { queue, accepts } of queues) {
        try {
          if (accepts(n)) queue.push(n);
        } catch (error) {
          log.error('notification not queued', { error: error as Error, ...describe(n) });
        }
      }
    },
    close,
    idle,
  };
}
