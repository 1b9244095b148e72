/**
 * A loopback HTTPS server standing in for the Kubernetes API server, for the two calls the
 * uploader's notifier makes (GET a pod, POST an events.k8s.io/v1 Event). It records every request
 * and answers from a script, so tests can check what the client really sends.
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
  close(): Promise<void>;
}

const POD = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/?]+)$/;
const EVENTS = /^\/apis\/events\.k8s\.io\/v1\/namespaces\/([^/]+)\/events$/;

export async function startFakeKubeApi(): Promise<FakeKubeApi> {
  const certs = makeTestCertificates();
  const requests: RecordedRequest[] = [];
  const api: FakeKubeApi = {
    url: '',
    certs,
    requests,
    pods: new Map(),
    eventAnswers: [],
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
