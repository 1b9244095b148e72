/**
 * A loopback HTTPS server standing in for the Kubernetes API server, for the calls the agents make: the
 * uploader's notifier (GET a pod, POST an events.k8s.io/v1 Event) and the heapdumps API server (TokenReview,
 * SubjectAccessReview decided by a table of rules the test can change at any time, GET of the
 * `extension-apiserver-authentication` ConfigMap). It records every request and answers from a script, so
 * tests can check what the client really sends.
 */
import * as https from 'https';
import type { AddressInfo } from 'net';
import { makeTestCertificates, type TestCertificates } from './tls';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

export interface Answer {
  readonly status: number;
  readonly body?: unknown;
}

/** A Kubernetes `Status` body, as the API server sends for errors. */
export function statusBody(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

/** A user the stand-in's TokenReview knows (by token). */
export interface FakeUser {
  readonly username: string;
  readonly uid?: string;
  readonly groups?: readonly string[];
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

/**
 * One grant, as an RBAC binding would give it: to a user or a group; `namespace` undefined = a cluster-wide
 * grant (a ClusterRoleBinding: every namespace and the cluster scope), else that namespace only (a RoleBinding).
 * `resources` are `heapdumps` or `heapdumps/<subresource>` (or `*`); `apiGroups` default to heapdump-pipeline.io.
 */
export interface FakeRule {
  readonly user?: string;
  readonly group?: string;
  readonly namespace?: string;
  readonly verbs: readonly string[];
  readonly resources: readonly string[];
  readonly apiGroups?: readonly string[];
  readonly names?: readonly string[];
}

export interface SarSpec {
  readonly user: string;
  readonly groups?: string[];
  readonly resourceAttributes?: { namespace?: string; verb?: string; group?: string; resource?: string; subresource?: string; name?: string };
}

/** The stand-in's RBAC: is `spec` allowed by `rules`? (The authorizer's decision, computed independently of the agent.) */
export function sarAllowed(rules: readonly FakeRule[], spec: SarSpec): boolean {
  const a = spec.resourceAttributes ?? {};
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource ?? '';
  return rules.some((r) => (r.user !== undefined ? r.user === spec.user : r.group !== undefined && (spec.groups ?? []).includes(r.group))
    && (r.verbs.includes('*') || r.verbs.includes(a.verb ?? ''))
    && (r.resources.includes('*') || r.resources.includes(resource))
    && (r.apiGroups ?? ['heapdump-pipeline.io']).includes(a.group ?? '')
    && (r.namespace === undefined || (a.namespace !== undefined && a.namespace !== '' && r.namespace === a.namespace))
    && (r.names === undefined || (a.name !== undefined && r.names.includes(a.name))));
}

export interface FakeKubeApi {
  readonly url: string;
  readonly certs: TestCertificates;
  readonly requests: RecordedRequest[];
  /** Pods that exist: `<namespace>/<name>` -> uid. */
  readonly pods: Map<string, string>;
  /** Answers for POST .../events, consumed in order; the last one repeats. @default [201 echoing the body] */
  eventAnswers: Answer[];
  /** Answer for GET pod (overrides `pods`). */
  podAnswer?: Answer;
  /** TokenReview: token -> user; unknown tokens are not authenticated. */
  readonly users: Map<string, FakeUser>;
  /** SubjectAccessReview decisions; replace or edit at any time. */
  rules: FakeRule[];
  /** Every TokenReview and SubjectAccessReview spec received, in order. */
  readonly reviews: Array<{ readonly kind: 'TokenReview' | 'SubjectAccessReview'; readonly spec: Record<string, unknown> }>;
  /** Data of kube-system/extension-apiserver-authentication; undefined: 404. */
  authConfigMap?: Record<string, string>;
  /** When set, reviews and the ConfigMap need exactly this bearer token (the agent's ServiceAccount token). */
  serviceAccountToken?: string;
  /** When true, reviews and the ConfigMap answer 503 (the API server is in trouble). */
  unavailable: boolean;
  close(): Promise<void>;
}

const POD = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/?]+)$/;
const EVENTS = /^\/apis\/events\.k8s\.io\/v1\/namespaces\/([^/]+)\/events$/;
const REVIEWS = new Map<string, 'TokenReview' | 'SubjectAccessReview'>([
  ['/apis/authentication.k8s.io/v1/tokenreviews', 'TokenReview'],
  ['/apis/authorization.k8s.io/v1/subjectaccessreviews', 'SubjectAccessReview'],
]);
const AUTH_CONFIGMAP = '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication';

export async function startFakeKubeApi(): Promise<FakeKubeApi> {
  const certs = makeTestCertificates();
  const requests: RecordedRequest[] = [];
  const api: FakeKubeApi = {
    url: '',
    certs,
    requests,
    pods: new Map(),
    eventAnswers: [],
    users: new Map(),
    rules: [],
    reviews: [],
    unavailable: false,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      certs.dispose();
    },
  };
  const server = https.createServer({ key: certs.key, cert: certs.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const path = req.url ?? '/';
      requests.push({ method: req.method ?? '', path, headers: req.headers, body });
      const send = (a: Answer) => {
        res.writeHead(a.status, { 'content-type': 'application/json' });
        res.end(a.body === undefined ? '' : JSON.stringify(a.body));
      };
      const pathOnly = path.split('?')[0];
      if (REVIEWS.has(pathOnly) || pathOnly === AUTH_CONFIGMAP) {
        if (api.serviceAccountToken !== undefined && req.headers.authorization !== `Bearer ${api.serviceAccountToken}`) {
          return send({ status: 401, body: statusBody(401, 'Unauthorized', 'Unauthorized') });
        }
        if (api.unavailable) return send({ status: 503, body: statusBody(503, 'ServiceUnavailable', 'the server is currently unable to handle the request') });
      }
      if (pathOnly === AUTH_CONFIGMAP && req.method === 'GET') {
        if (api.authConfigMap === undefined) return send({ status: 404, body: statusBody(404, 'NotFound', 'configmaps "extension-apiserver-authentication" not found') });
        return send({ status: 200, body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'extension-apiserver-authentication', namespace: 'kube-system' }, data: api.authConfigMap } });
      }
      const review = REVIEWS.get(pathOnly);
      if (review !== undefined && req.method === 'POST') {
        const doc = JSON.parse(body) as { kind?: string; spec?: Record<string, unknown> };
        if (doc.kind !== review) return send({ status: 400, body: statusBody(400, 'BadRequest', `expected a ${review}`) });
        const spec = doc.spec ?? {};
        api.reviews.push({ kind: review, spec });
        if (review === 'TokenReview') {
          const user = api.users.get(String(spec.token));
          const status = user === undefined ? { authenticated: false, error: 'token not found' }
            : { authenticated: true, user: { username: user.username, uid: user.uid, groups: [...(user.groups ?? []), 'system:authenticated'], extra: user.extra } };
          return send({ status: 201, body: { ...doc, status } });
        }
        const allowed = sarAllowed(api.rules, spec as unknown as SarSpec);
        return send({ status: 201, body: { ...doc, status: { allowed, ...(allowed ? {} : { reason: 'no RBAC policy matched' }) } } });
      }
      let m = POD.exec(pathOnly);
      if (m && req.method === 'GET') {
        if (api.podAnswer) return send(api.podAnswer);
        const uid = api.pods.get(`${decodeURIComponent(m[1])}/${decodeURIComponent(m[2])}`);
        if (uid === undefined) return send({ status: 404, body: statusBody(404, 'NotFound', `pods "${decodeURIComponent(m[2])}" not found`) });
        return send({ status: 200, body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: decodeURIComponent(m[2]), namespace: decodeURIComponent(m[1]), uid } } });
      }
      m = EVENTS.exec(pathOnly);
      if (m && req.method === 'POST') {
        const scripted = api.eventAnswers.length > 1 ? api.eventAnswers.shift() : api.eventAnswers[0];
        if (scripted) return send(scripted);
        const event = JSON.parse(body) as { metadata?: Record<string, unknown> };
        return send({ status: 201, body: { ...event, metadata: { ...event.metadata, uid: 'event-uid', resourceVersion: '1', creationTimestamp: '2026-11-30T00:00:00Z' } } });
      }
      send({ status: 404, body: statusBody(404, 'NotFound', 'the server could not find the requested resource') });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (api as { url: string }).url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return api;
}

/**
 * The checks the API server makes on an events.k8s.io/v1 Event beyond its OpenAPI schema
 * (kubernetes/pkg/apis/core/validation/events.go, ValidateEventCreate for events.k8s.io/v1).
 */
export function eventsV1ServerErrors(e: Record<string, unknown>): string[] {
  const errors: string[] = [];
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  const bytes = (v: unknown) => Buffer.byteLength(str(v), 'utf8');
  const meta = (e.metadata ?? {}) as Record<string, unknown>;
  const regarding = (e.regarding ?? {}) as Record<string, unknown>;
  const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
  const qualifiedName = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
  if (!dns1123Subdomain.test(str(meta.name)) || str(meta.name).length > 253) errors.push('metadata.name: not a DNS-1123 subdomain');
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(str(e.eventTime))) errors.push('eventTime: not a MicroTime (RFC 3339 with 6 fraction digits)');
  if (e.type !== 'Normal' && e.type !== 'Warning') errors.push('type: must be Normal or Warning');
  if (!qualifiedName.test(str(e.reportingController)) || str(e.reportingController).split('/').pop()!.length > 63) errors.push('reportingController: not a qualified name');
  if (str(e.reportingInstance) === '' || bytes(e.reportingInstance) > 128) errors.push('reportingInstance: required, at most 128 bytes');
  if (str(e.action) === '' || bytes(e.action) > 128) errors.push('action: required, at most 128 bytes');
  if (str(e.reason) === '' || bytes(e.reason) > 128) errors.push('reason: required, at most 128 bytes');
  if (bytes(e.note) > 1024) errors.push('note: at most 1024 bytes');
  if (str(regarding.namespace) !== str(meta.namespace)) errors.push('regarding.namespace: does not match the event namespace');
  for (const f of ['deprecatedFirstTimestamp', 'deprecatedLastTimestamp', 'deprecatedCount', 'deprecatedSource']) if (e[f] !== undefined) errors.push(`${f}: needs to be unset`);
  return errors;
}
