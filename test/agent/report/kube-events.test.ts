/**
 * The Kubernetes Event channel against a loopback HTTPS stand-in for the API server, through the
 * real client (@kubernetes/client-node, bundled as the image bundles it).
 */
import { execFileSync } from 'child_process';
import * as http from 'http';
import type { AddressInfo } from 'net';
import { Event } from 'kubernetes-models/events.k8s.io/v1';
import type { NotifyConfig } from '../../../agent/src/report/config';
import { EVENT_REASON, REPORTING_CONTROLLER } from '../../../agent/src/report/kube-events';
import { NOTIFICATION_METRIC_NAMES as M } from '../../../agent/src/report/metrics';
import { createNotifier } from '../../../agent/src/report/notifier';
import { eventsV1ServerErrors, type FakeKubeApi, startFakeKubeApi, statusBody } from '../../support/kube-api-server';
import { buildKubeClientBundle, type KubeClientBundle } from '../../support/kube-client-bundle';
import { makeTestCertificates } from '../../support/tls';
import { sampleReport } from './fixtures';
import { BASE_CONFIG, deps, metricValue, serviceAccountDir } from './helpers';

const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.test-token.signature';
/** Fields of an events.k8s.io/v1 Event and of an ObjectReference (the OpenAPI schema does not forbid others). */
const EVENT_FIELDS = ['action', 'apiVersion', 'deprecatedCount', 'deprecatedFirstTimestamp', 'deprecatedLastTimestamp', 'deprecatedSource', 'eventTime',
  'kind', 'metadata', 'note', 'reason', 'regarding', 'related', 'reportingController', 'reportingInstance', 'series', 'type'];
const REFERENCE_FIELDS = ['apiVersion', 'fieldPath', 'kind', 'name', 'namespace', 'resourceVersion', 'uid'];

let bundle: KubeClientBundle;
let api: FakeKubeApi;
let sa: ReturnType<typeof serviceAccountDir>;

beforeAll(async () => {
  bundle = await buildKubeClientBundle();
  api = await startFakeKubeApi();
  sa = serviceAccountDir(api.certs.ca, TOKEN);
}, 60_000);

afterAll(async () => {
  await api.close();
  sa.dispose();
  bundle.dispose();
});

beforeEach(() => {
  api.requests.length = 0;
  api.pods.clear();
  api.eventAnswers = [];
  api.podAnswer = undefined;
});

function kubeNotifier(d: ReturnType<typeof deps>, overrides: Partial<typeof BASE_CONFIG> = {}, credentialsDir = sa.dir) {
  return createNotifier({ ...BASE_CONFIG, ...overrides, kubeEvents: { apiUrl: api.url, credentialsDir } }, 'worker-1', { ...d, loadKubeApi: bundle.load });
}

const eventPosts = () => api.requests.filter((r) => r.method === 'POST');

describe('Kubernetes Event on the pod that wrote the dump', () => {
  test('GET the pod for its uid, then POST a schema-valid events.k8s.io/v1 Event with the token', async () => {
    api.pods.set('shop/cart-7d9f8-abcde', '5f0c1a2b-0000-4000-8000-00000000beef');
    const d = deps();
    const notifier = kubeNotifier(d);
    notifier.dumpUploaded(sampleReport());
    await notifier.idle();

    expect(api.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /api/v1/namespaces/shop/pods/cart-7d9f8-abcde',
      'POST /apis/events.k8s.io/v1/namespaces/shop/events',
    ]);
    for (const r of api.requests) expect(r.headers.authorization).toBe(`Bearer ${TOKEN}`);
    const post = eventPosts()[0];
    expect(post.headers['content-type']).toMatch(/^application\/json/);

    const body = JSON.parse(post.body) as Record<string, unknown> & { regarding: Record<string, unknown>; note: string; metadata: Record<string, unknown> };
    expect(() => new Event(body as never).validate()).not.toThrow();
    expect(Object.keys(body).filter((k) => !EVENT_FIELDS.includes(k))).toEqual([]);
    expect(Object.keys(body.regarding).filter((k) => !REFERENCE_FIELDS.includes(k))).toEqual([]);
    expect(eventsV1ServerErrors(body)).toEqual([]);
    expect(body).toMatchObject({
      apiVersion: 'events.k8s.io/v1', kind: 'Event', type: 'Warning', reason: EVENT_REASON,
      reportingController: REPORTING_CONTROLLER, reportingInstance: 'worker-1',
      regarding: { apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'cart-7d9f8-abcde', uid: '5f0c1a2b-0000-4000-8000-00000000beef' },
      metadata: { namespace: 'shop' },
    });
    expect(body.eventTime).toBe('2026-11-30T01:02:03.456000Z');
    // The message: S3 URI, size, the three largest classes by shallow size, largest first.
    const report = sampleReport();
    expect(body.note).toContain(report.objectUri);
    expect(body.note).toContain('1.5 GiB');
    const at = (s: string) => body.note.indexOf(s);
    expect(at('byte[] 812.0 MiB in 1,024 instances')).toBeGreaterThan(0);
    expect(at('java.lang.String 64.0 MiB in 2,796,202 instances')).toBeGreaterThan(at('byte[]'));
    expect(at('com.example.shop.CartLine 12.0 MiB in 12,345 instances')).toBeGreaterThan(at('java.lang.String'));
    expect(body.note).not.toContain('HashMap$Node');
    expect(body.note).toContain(`${report.objectUri}.summary.txt`);

    expect(await metricValue(d.registry, M.sent, { channel: 'kubernetes-event' })).toBe(1);
    expect(await metricValue(d.registry, M.failed, { channel: 'kubernetes-event' })).toBe(0);
    expect(await metricValue(d.registry, M.lastSuccess, { channel: 'kubernetes-event' })).toBeGreaterThan(0);
    expect(d.logger.events.find((e) => e.msg === 'notification sent')).toMatchObject({ channel: 'kubernetes-event', namespace: 'shop', pod: 'cart-7d9f8-abcde' });
    // The token never reaches the log.
    expect(JSON.stringify(d.logger.events)).not.toContain('test-token');
    await notifier.close();
  });

  test('the token file is re-read for every request (projected tokens rotate)', async () => {
    const d = deps();
    const notifier = kubeNotifier(d);
    notifier.dumpUploaded(sampleReport());
    await notifier.idle();
    sa.setToken('rotated-token');
    try {
      notifier.dumpUploaded(sampleReport({ key: 'other.hprof', objectUri: 's3://heap-dumps/other.hprof' }));
      await notifier.idle();
      expect(eventPosts().map((r) => r.headers.authorization)).toEqual([`Bearer ${TOKEN}`, 'Bearer rotated-token']);
    } finally {
      sa.setToken(TOKEN);
      await notifier.close();
    }
  });

  test('RBAC denied (403) is one logged failure and a metric, not retried, not a crash', async () => {
    api.eventAnswers = [{ status: 403, body: statusBody(403, 'Forbidden', 'events.events.k8s.io is forbidden: User "system:serviceaccount:heapdump-system:heap-dump-s3-uploader" cannot create resource "events" in API group "events.k8s.io" in the namespace "shop"') }];
    api.podAnswer = { status: 403, body: statusBody(403, 'Forbidden', 'pods "cart-7d9f8-abcde" is forbidden') };
    const d = deps();
    const notifier = kubeNotifier(d);
    notifier.dumpUploaded(sampleReport());
    await notifier.idle();

    expect(eventPosts()).toHaveLength(1);
    expect(await metricValue(d.registry, M.failed, { channel: 'kubernetes-event' })).toBe(1);
    expect(await metricValue(d.registry, M.sent, { channel: 'kubernetes-event' })).toBe(0);
    expect(await metricValue(d.registry, M.retries, { channel: 'kubernetes-event' })).toBe(0);
    const failure = d.logger.events.find((e) => e.msg === 'notification failed');
    expect(failure).toMatchObject({ level: 'error', channel: 'kubernetes-event', cause: '403 Forbidden', attempts: 1 });
    expect(String(failure?.error)).toMatch(/cannot create resource "events" in API group "events.k8s.io"/);
    // Without `get pods` the Event is still attempted, without the uid (and the reason is logged).
    expect(d.logger.events.find((e) => e.msg === 'pod lookup failed: event created without the pod uid')).toMatchObject({ cause: '403 Forbidden' });
    expect(JSON.parse(eventPosts()[0].body).regarding.uid).toBeUndefined();
    await notifier.close();
  });

  test('a 5xx is retried with backoff; the event then goes out once', async () => {
    api.eventAnswers = [
      { status: 503, body: statusBody(503, 'ServiceUnavailable', 'etcd leader changed') },
      { status: 201, body: { apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: { name: 'x' }, eventTime: '2026-11-30T01:02:03.456000Z' } },
    ];
    const d = deps();
    const notifier = kubeNotifier(d);
    notifier.dumpUploaded(sampleReport());
    await notifier.idle();
    expect(eventPosts()).toHaveLength(2);
    // Same name both times: a retry after a lost answer cannot create a second Event.
    expect(new Set(eventPosts().map((r) => JSON.parse(r.body).metadata.name)).size).toBe(1);
    expect(await metricValue(d.registry, M.retries, { channel: 'kubernetes-event' })).toBe(1);
    expect(await metricValue(d.registry, M.sent, { channel: 'kubernetes-event' })).toBe(1);
    await notifier.close();
  });

  test('409 AlreadyExists (the same dump reported again) counts as delivered', async () => {
    api.eventAnswers = [{ status: 409, body: statusBody(409, 'AlreadyExists', 'events.events.k8s.io "cart.0123" already exists') }];
    const d = deps();
    const notifier = kubeNotifier(d);
    notifier.dumpUploaded(sampleReport());
    await notifier.idle();
    expect(await metricValue(d.registry, M.sent, { channel: 'kubernetes-event' })).toBe(1);
    expect(d.logger.events.find((e) => e.msg === 'notification sent')).toMatchObject({ note: 'already existed' });
    await notifier.close();
  });

  test('a pod that is gone (404) still gets its Event, without a uid', async () => {
    const d = deps();
    const notifier = kubeNotifier(d);
    notifier.dumpUploaded(sampleReport());
    await notifier.idle();
    const body = JSON.parse(eventPosts()[0].body);
    expect(body.regarding).toEqual({ apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'cart-7d9f8-abcde' });
    expect(d.logger.events.some((e) => e.msg === 'pod not found: event created without its uid')).toBe(true);
    await notifier.close();
  });

  test('TLS is verified against the ServiceAccount CA: a server signed by another CA is refused', async () => {
    const other = makeTestCertificates();
    const wrongCa = serviceAccountDir(other.ca, TOKEN);
    try {
      const d = deps();
      const notifier = kubeNotifier(d, { maxAttempts: 1 }, wrongCa.dir);
      notifier.dumpUploaded(sampleReport());
      await notifier.idle();
      expect(api.requests).toHaveLength(0);
      expect(await metricValue(d.registry, M.failed, { channel: 'kubernetes-event' })).toBe(1);
      expect(String(d.logger.events.find((e) => e.msg === 'notification failed')?.error)).toMatch(/certificate|self.signed|verify/i);
      await notifier.close();
    } finally {
      wrongCa.dispose();
      other.dispose();
    }
  });

  test('a missing ServiceAccount token is one clear line at start, and a failure (not a crash) per dump', async () => {
    const d = deps();
    const notifier = kubeNotifier(d, { maxAttempts: 1 }, '/nonexistent/serviceaccount');
    expect(d.logger.events.filter((e) => e.msg === 'Kubernetes events enabled but a ServiceAccount file is missing').map((e) => e.file))
      .toEqual(['/nonexistent/serviceaccount/token', '/nonexistent/serviceaccount/ca.crt']);
    notifier.dumpUploaded(sampleReport());
    await notifier.idle();
    expect(await metricValue(d.registry, M.failed, { channel: 'kubernetes-event' })).toBe(1);
    await notifier.close();
  });
});

describe('channels are independent', () => {
  async function hookReceiver(status: number) {
    const bodies: string[] = [];
    const server = http.createServer((req, res) => {
      let b = '';
      req.on('data', (c) => (b += c));
      req.on('end', () => {
        bodies.push(b);
        res.writeHead(status);
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, bodies,
      close: () => new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
    };
  }
  const both = (hookUrl: string): NotifyConfig => ({
    ...BASE_CONFIG, maxAttempts: 2,
    kubeEvents: { apiUrl: api.url, credentialsDir: sa.dir },
    webhook: { url: { kind: 'env', url: hookUrl }, format: 'json', events: ['dump-uploaded'] },
  });

  test('the API server refusing events does not stop the webhook', async () => {
    api.eventAnswers = [{ status: 500, body: statusBody(500, 'InternalError', 'etcdserver: request timed out') }];
    const hook = await hookReceiver(200);
    try {
      const d = deps();
      const notifier = createNotifier(both(hook.url), 'worker-1', { ...d, loadKubeApi: bundle.load });
      notifier.dumpUploaded(sampleReport());
      await notifier.idle();
      expect(hook.bodies).toHaveLength(1);
      expect(await metricValue(d.registry, M.sent, { channel: 'webhook' })).toBe(1);
      expect(await metricValue(d.registry, M.failed, { channel: 'kubernetes-event' })).toBe(1);
      await notifier.close();
    } finally {
      await hook.close();
    }
  });

  test('a failing webhook does not stop the Event', async () => {
    const hook = await hookReceiver(503);
    try {
      const d = deps();
      const notifier = createNotifier(both(hook.url), 'worker-1', { ...d, loadKubeApi: bundle.load });
      notifier.dumpUploaded(sampleReport());
      await notifier.idle();
      expect(eventPosts()).toHaveLength(1);
      expect(await metricValue(d.registry, M.sent, { channel: 'kubernetes-event' })).toBe(1);
      expect(await metricValue(d.registry, M.failed, { channel: 'webhook' })).toBe(1);
      expect(hook.bodies).toHaveLength(2);
      await notifier.close();
    } finally {
      await hook.close();
    }
  });
});

describe('memory', () => {
  test('loading the client (as bundled) costs well under the uploader budget: < 20 MiB RSS', () => {
    // A fresh process with the uploader's NODE_OPTIONS (--jitless): RSS before and after loading the bundle and making the client.
    const script = `
      const before = process.memoryUsage().rss;
      globalThis.api = require(${JSON.stringify(bundle.file)}).createKubeApi({ apiUrl: 'https://127.0.0.1:1', credentialsDir: ${JSON.stringify(sa.dir)} });
      global.gc();
      setTimeout(() => { global.gc(); process.stdout.write(String(process.memoryUsage().rss - before)); }, 200);`;
    const delta = Number(execFileSync(process.execPath, ['--jitless', '--expose-gc', '-e', script], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'ignore'] }));
    const mib = delta / 2 ** 20;
    // Measured ~15 MiB (the package index would be ~27-31 MiB).
    expect(mib).toBeGreaterThan(2);
    expect(mib).toBeLessThan(20);
  });
});
