/**
 * The Kubernetes Event on the pod that wrote a dump: reason HeapDumpUploaded, type Warning, an
 * events.k8s.io/v1 Event whose `regarding` is the pod (with its uid, so `oc describe pod` lists it).
 *
 * Why events.k8s.io/v1 rather than core/v1: it is the current Events API (core/v1 Event is kept
 * for compatibility), its required reportingController/reportingInstance/action make the source
 * explicit, and the API server stores both in the same place, so `oc describe pod` and `oc get
 * events` show it either way. RBAC is per API group: the ClusterRole grants events.k8s.io only.
 *
 * The event's name is derived from the object key, so a retry after a lost answer, or a re-report
 * after an uploader restart, gets 409 AlreadyExists (counted as delivered) instead of a duplicate.
 */
import { createHash } from 'crypto';
import type { LogFields, Logger } from '../runtime/logger';
import type { AttemptOutcome } from './queue';
import { eventNote, type DumpReport } from './report';

export const EVENT_REASON = 'HeapDumpUploaded';
export const EVENT_ACTION = 'UploadHeapDump';
export const REPORTING_CONTROLLER = 'heapdump-pipeline.io/uploader';
/** Annotations on the Event: the full values, which the note may have to shorten. */
export const EVENT_ANNOTATIONS = {
  objectUri: 'heapdump-pipeline.io/object-uri',
  sha256: 'heapdump-pipeline.io/sha256',
  size: 'heapdump-pipeline.io/size',
  complete: 'heapdump-pipeline.io/complete',
  summaryKeys: 'heapdump-pipeline.io/summary-keys',
} as const;

/** Limits the API server enforces on events.k8s.io/v1 Events (pkg/apis/core/validation/events.go). */
export const EVENT_LIMITS = { note: 1024, reportingInstance: 128, name: 253 } as const;

/** Where the client finds the API server and the pod's ServiceAccount credentials. */
export interface KubeApiOptions {
  readonly apiUrl: string;
  readonly credentialsDir: string;
}

/** The two calls the notifier needs (kube-api.ts implements them with @kubernetes/client-node). */
export interface KubeApi {
  /** The pod's uid, or undefined when the pod no longer exists (404). */
  getPodUid(namespace: string, name: string, signal: AbortSignal): Promise<string | undefined>;
  /** Creates the Event; 'exists' when an Event of that name is already there (409). */
  createEvent(namespace: string, body: EventBody, signal: AbortSignal): Promise<'created' | 'exists'>;
}

/** Loads the client module (dynamic import: its memory is paid only when events are enabled and used). */
export type KubeApiLoader = (opts: KubeApiOptions) => Promise<KubeApi>;

export const loadKubeApi: KubeApiLoader = async (opts) => (await import('./kube-api')).createKubeApi(opts);

/** events.k8s.io/v1 Event, as sent (wire format). */
export interface EventBody {
  apiVersion: 'events.k8s.io/v1';
  kind: 'Event';
  metadata: { name: string; namespace: string; annotations: Record<string, string> };
  eventTime: string;
  type: 'Warning' | 'Normal';
  reason: string;
  action: string;
  note: string;
  reportingController: string;
  reportingInstance: string;
  regarding: { apiVersion: 'v1'; kind: 'Pod'; namespace: string; name: string; uid?: string };
}

/** RFC 3339 with microseconds (the API's MicroTime; a 3-digit fraction is rejected). */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** `<pod>.<16 hex of sha256(key)>`, at most 253 characters (a DNS subdomain, like the pod name). */
export function eventName(report: DumpReport): string {
  const suffix = '.' + createHash('sha256').update(report.key).digest('hex').slice(0, 16);
  return report.pod.slice(0, EVENT_LIMITS.name - suffix.length).replace(/[.-]+$/, '') + suffix;
}

export function buildEvent(report: DumpReport, opts: { readonly podUid?: string; readonly reportingInstance: string }): EventBody {
  return {
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    metadata: {
      name: eventName(report),
      namespace: report.namespace,
      annotations: {
        [EVENT_ANNOTATIONS.objectUri]: report.objectUri,
        [EVENT_ANNOTATIONS.sha256]: report.sha256,
        [EVENT_ANNOTATIONS.size]: String(report.size),
        [EVENT_ANNOTATIONS.complete]: String(report.complete),
        ...(report.summaryKeys.length > 0 ? { [EVENT_ANNOTATIONS.summaryKeys]: report.summaryKeys.join(',') } : {}),
      },
    },
    eventTime: microTime(report.uploadedAt),
    type: 'Warning',
    reason: EVENT_REASON,
    action: EVENT_ACTION,
    note: eventNote(report, EVENT_LIMITS.note),
    reportingController: REPORTING_CONTROLLER,
    reportingInstance: opts.reportingInstance.slice(0, EVENT_LIMITS.reportingInstance),
    regarding: {
      apiVersion: 'v1',
      kind: 'Pod',
      namespace: report.namespace,
      name: report.pod,
      ...(opts.podUid !== undefined ? { uid: opts.podUid } : {}),
    },
  };
}

interface ApiErrorLike {
  readonly status?: number;
  readonly reason?: string;
  readonly message?: string;
}

/** 401/403/404/400/422 will not get better by retrying; network errors, 429 and 5xx may. */
export function outcomeOf(error: unknown): AttemptOutcome {
  // Duck-typed: the client module may come from another realm (a bundle loaded by tests).
  const e = (error ?? {}) as ApiErrorLike;
  const message = typeof e.message === 'string' ? e.message : String(error);
  const status = typeof e.status === 'number' ? e.status : undefined;
  const cause = status !== undefined ? `${status} ${e.reason ?? ''}`.trim() : e.reason ?? 'Error';
  const retryable = status === undefined || status === 408 || status === 429 || status >= 500;
  return { ok: false, retryable, cause, message };
}

export interface KubeEventChannelOptions {
  readonly api: KubeApiOptions;
  /** reportingInstance: which uploader created the event (the node name). */
  readonly reportingInstance: string;
  readonly logger: Logger;
  /** @default loadKubeApi (dynamic import of kube-api.ts and the client) */
  readonly load?: KubeApiLoader;
}

/** One delivery attempt of the Event channel; loads the client on first use. */
export function kubeEventAttempt(opts: KubeEventChannelOptions): (report: DumpReport, signal: AbortSignal) => Promise<AttemptOutcome> {
  const load = opts.load ?? loadKubeApi;
  let api: Promise<KubeApi> | undefined;
  return async (report, signal) => {
    try {
      api ??= load(opts.api);
      const client = await api.catch((error: unknown) => {
        api = undefined; // e.g. the CA file is missing: try again next time
        throw error;
      });
      let podUid: string | undefined;
      try {
        podUid = await client.getPodUid(report.namespace, report.pod, signal);
        if (podUid === undefined) opts.logger.warn('pod not found: event created without its uid', { namespace: report.namespace, pod: report.pod });
      } catch (error) {
        const outcome = outcomeOf(error);
        if (outcome.ok || outcome.retryable) return outcome;
        // e.g. 403 without `get pods`: the Event still shows in `oc get events`, not in `oc describe pod`.
        opts.logger.warn('pod lookup failed: event created without the pod uid', { namespace: report.namespace, pod: report.pod, cause: outcome.cause, error: outcome.message });
      }
      const body = buildEvent(report, { podUid, reportingInstance: opts.reportingInstance });
      const result = await client.createEvent(report.namespace, body, signal);
      const detail: LogFields = { event: body.metadata.name, ...(result === 'exists' ? { note: 'already existed' } : {}) };
      return { ok: true, detail };
    } catch (error) {
      return outcomeOf(error);
    }
  };
}
