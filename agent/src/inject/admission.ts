/**
 * One AdmissionReview (admission.k8s.io/v1) in, one answer out: pure, so the HTTPS server only moves bytes.
 *
 * Never blocks a pod: every review of a well-formed request is answered `allowed: true`; an internal error
 * becomes a warning on an unmutated pod (the MutatingWebhookConfiguration's failurePolicy is Ignore too).
 * Only a body that is not an AdmissionReview at all is an HTTP 400 (the API server then applies the
 * failure policy). Skipped without a patch: other kinds, sub-resources and operations, the pipeline's
 * own namespace, pods not opted in (policy opt-in) or opted out, pods that already have everything.
 * The one refusal: exec or attach into heapdump-wait-ready (the exec guard, `execIntoWaitReady`).
 */
import { INJECT_ANNOTATIONS, WAIT_READY_CONTAINER_NAME } from '../contract';
import { collectPod, type CollectOptions, type PodLike } from './collect-pod';
import type { InjectPolicy } from './config';
import { createPatch } from './json-patch';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

/** Metric label of a review's outcome. */
export const REVIEW_RESULTS = [
  'injected', 'unchanged', 'opted-out', 'not-opted-in', 'own-namespace', 'ignored', 'no-container', 'error', 'bad-request', 'exec-refused',
] as const;
export type ReviewResult = (typeof REVIEW_RESULTS)[number];

export interface AdmissionSettings {
  readonly pipelineNamespace: string;
  readonly policy: InjectPolicy;
  readonly collect: CollectOptions;
  /** Per-namespace fallbacks (uid, folder group), e.g. from the namespace's OpenShift annotations. */
  readonly namespaceDefaults?: (namespace: string) => Pick<CollectOptions, 'defaultRunAsUser' | 'folderGroup'> | undefined;
}

export interface ReviewOutcome {
  /** HTTP status to answer with. */
  readonly status: 200 | 400;
  /** JSON body: an AdmissionReview, or `{ error }` for 400. */
  readonly body: unknown;
  readonly result: ReviewResult;
  readonly namespace?: string;
  /** The pod's name, or its generateName followed by `*` (pods of controllers have no name yet). */
  readonly pod?: string;
  readonly warnings: readonly string[];
  /** Internal error message (result `error`), for the log. */
  readonly error?: string;
}

/** Warnings are shown by kubectl; the API server truncates long ones and long lists. */
const MAX_WARNINGS = 8;
const MAX_WARNING_LENGTH = 256;
const WARNING_PREFIX = 'heapdump-pipeline: ';

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function badRequest(message: string): ReviewOutcome {
  return { status: 400, body: { error: message }, result: 'bad-request', warnings: [] };
}

function shortWarnings(warnings: readonly string[]): string[] {
  const out = warnings.slice(0, MAX_WARNINGS).map((w) => {
    const line = WARNING_PREFIX + w.replace(/[\r\n]+/g, ' ');
    return line.length > MAX_WARNING_LENGTH ? `${line.slice(0, MAX_WARNING_LENGTH - 3)}...` : line;
  });
  if (warnings.length > MAX_WARNINGS) out[MAX_WARNINGS - 1] = `${WARNING_PREFIX}${warnings.length - MAX_WARNINGS + 1} more warnings in the webhook's log`;
  return out;
}

/**
 * The exec guard: `kubectl exec` / `kubectl attach` into `heapdump-wait-ready` (a CONNECT on pods/exec or
 * pods/attach whose options name that container). While it runs, that container sees every pod's dump folder on
 * the node and its image has `node`: an exec there would be the pod owner's code with the whole tree, which the
 * admission policy cannot see (a CONNECT is not a change of the pod). Refused whatever the pod.
 */
function execIntoWaitReady(request: Record<string, unknown>, resource: Record<string, unknown>): { refuse: string; namespace?: string; pod?: string } | undefined {
  if (request.operation !== 'CONNECT' || resource.resource !== 'pods' || (request.subResource !== 'exec' && request.subResource !== 'attach')) return undefined;
  const options = isObject(request.object) ? request.object : {};
  if (options.container !== WAIT_READY_CONTAINER_NAME) return undefined;
  return {
    refuse: `${request.subResource} into ${WAIT_READY_CONTAINER_NAME} is not allowed: while it runs, it sees every pod's dump folder on the node`,
    ...(typeof request.namespace === 'string' ? { namespace: request.namespace } : {}),
    ...(typeof request.name === 'string' ? { pod: request.name } : {}),
  };
}

/** Parses and answers one request body. */
export function reviewAdmission(raw: string, settings: AdmissionSettings): ReviewOutcome {
  let review: unknown;
  try {
    review = JSON.parse(raw);
  } catch {
    return badRequest('body is not JSON');
  }
  if (!isObject(review) || review.kind !== 'AdmissionReview') return badRequest('body is not an AdmissionReview');
  if (review.apiVersion !== ADMISSION_API_VERSION) return badRequest(`AdmissionReview apiVersion must be ${ADMISSION_API_VERSION}`);
  const request = review.request;
  if (!isObject(request) || typeof request.uid !== 'string' || request.uid === '') return badRequest('AdmissionReview has no request.uid');
  const uid = request.uid;

  const answer = (result: ReviewResult, extra: { patch?: unknown[]; warnings?: string[]; namespace?: string; pod?: string; error?: string; refuse?: string } = {}): ReviewOutcome => {
    const warnings = shortWarnings(extra.warnings ?? []);
    const response: Record<string, unknown> = extra.refuse === undefined
      ? { uid, allowed: true }
      : { uid, allowed: false, status: { code: 403, reason: 'Forbidden', message: extra.refuse } };
    if (extra.patch !== undefined) {
      response.patchType = 'JSONPatch';
      response.patch = Buffer.from(JSON.stringify(extra.patch)).toString('base64');
    }
    if (warnings.length > 0) response.warnings = warnings;
    return {
      status: 200,
      body: { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response },
      result,
      warnings,
      ...(extra.namespace !== undefined ? { namespace: extra.namespace } : {}),
      ...(extra.pod !== undefined ? { pod: extra.pod } : {}),
      ...(extra.error !== undefined ? { error: extra.error } : {}),
    };
  };

  const kind = isObject(request.kind) ? request.kind : {};
  const resource = isObject(request.resource) ? request.resource : {};
  const refused = execIntoWaitReady(request, resource);
  if (refused !== undefined) return answer('exec-refused', refused);
  const isPodCreate = kind.kind === 'Pod' && (kind.group ?? '') === '' && resource.resource === 'pods'
    && (request.subResource === undefined || request.subResource === '') && request.operation === 'CREATE';
  if (!isPodCreate) return answer('ignored');

  const object = request.object;
  const meta = isObject(object) && isObject(object.metadata) ? object.metadata : {};
  const namespace = typeof request.namespace === 'string' && request.namespace !== '' ? request.namespace
    : typeof meta.namespace === 'string' ? meta.namespace : undefined;
  const pod = typeof meta.name === 'string' && meta.name !== '' ? meta.name
    : typeof meta.generateName === 'string' ? `${meta.generateName}*` : undefined;
  const where = { ...(namespace !== undefined ? { namespace } : {}), ...(pod !== undefined ? { pod } : {}) };
  if (namespace === settings.pipelineNamespace) return answer('own-namespace', where);

  try {
    if (!isObject(object) || !isObject(object.spec) || !Array.isArray(object.spec.containers)) {
      throw new Error('request.object is not a pod with spec.containers');
    }
    const annotations = isObject(meta.annotations) ? meta.annotations : {};
    const injectKey = settings.collect.annotations?.inject ?? INJECT_ANNOTATIONS.inject;
    const choice = annotations[injectKey];
    if (choice === 'false') return answer('opted-out', where);
    if (settings.policy === 'opt-in' && choice !== 'true') return answer('not-opted-in', where);

    const defaults = namespace !== undefined ? settings.namespaceDefaults?.(namespace) : undefined;
    const options: CollectOptions = { ...settings.collect, ...defaults, strictness: 'warn' };
    const { pod: mutated, report } = collectPod(object as PodLike, options);
    const warnings = [...report.warnings];
    if (!report.changed) {
      return answer(report.skipped === 'no-container' || report.skipped === 'conflict' ? 'no-container' : 'unchanged', { ...where, warnings });
    }
    return answer('injected', { ...where, warnings, patch: createPatch(object, mutated) });
  } catch (error) {
    const message = (error as Error).message ?? String(error);
    return answer('error', { ...where, warnings: [`not collected: ${message}`], error: message });
  }
}
