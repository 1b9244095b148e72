/**
 * The inject webhook over real HTTPS, with a CA and a serving certificate made by the test: the client
 * verifies the server as the API server does (CA bundle + the Service's DNS name). Every patch is applied
 * with an independent applier; every patched pod validates against the Kubernetes schema, is admitted
 * by the application SCC (while restricted-v2 alone would refuse its hostPath, as on a real cluster where
 * the SCC plugin re-runs after the webhook and must pick the application SCC) and by the dump-volume
 * admission policy (its CEL evaluated with @bufbuild/cel).
 */
import { StuckReads } from '../../../agent/src/fs/stuck-io';
import { mkdtempSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'fs';
import * as https from 'https';
import { tmpdir } from 'os';
import * as path from 'path';
import { COLLECTED_LABEL, INJECT_ANNOTATIONS, INJECT_HTTPS, WAIT_READY_CONTAINER_NAME } from '../../../agent/src/contract';
import { type AdmissionSettings, reviewAdmission } from '../../../agent/src/inject/admission';
import { collectPod, type PodLike } from '../../../agent/src/inject/collect-pod';
import { runInject } from '../../../agent/src/inject/command';
import type { InjectConfig } from '../../../agent/src/inject/config';
import { injectMetrics, type RunningWebhookServer, startWebhookServer } from '../../../agent/src/inject/server';
import { systemClock } from '../../../agent/src/runtime/clock';
import { memoryLogger } from '../../../agent/src/runtime/logger';
import { createRegistry } from '../../../agent/src/runtime/metrics';
import type { Registry } from '../../../agent/src/runtime/prom';
import { dumpVolumePolicy } from '../../../lib/admission-policy';
import { synthPipeline } from '../../../lib/synth';
import { policyRefusals } from '../../support/admission-policy';
import { applyPatch, type Operation } from '../../support/json-patch';
import { find } from '../../support/manifests';
import { admissionReview, type Json, OPENSHIFT_UID, pod, type Workload, WORKLOADS } from '../../support/pods';
import { admissionErrors, RESTRICTED_V2_SCC, type PodSpec, type Scc } from '../../support/scc-admission';
import { schemaErrors } from '../../support/schemas';
import { issueServerCert, makeCa, type TestCa } from '../../support/tls';

const IMAGE = 'registry.example.com/platform/heapdump-agent:0.2.0';
const SERVICE_DNS = ['heapdump-inject.heapdump-system.svc', 'heapdump-inject.heapdump-system.svc.cluster.local'];
const OPT_IN = { [INJECT_ANNOTATIONS.inject]: 'true' };
const MAX_BODY = 2 * 2 ** 20;

const POLICY = dumpVolumePolicy({ agentImage: IMAGE });
const APP_SCC = find(synthPipeline({ agentImage: IMAGE }).objects, 'SecurityContextConstraints', 'heap-dump-app') as unknown as Scc;

const SETTINGS: AdmissionSettings = {
  pipelineNamespace: 'heapdump-system',
  policy: 'opt-in',
  collect: { agentImage: IMAGE, annotations: { inject: INJECT_ANNOTATIONS.inject, containers: INJECT_ANNOTATIONS.containers } },
  namespaceDefaults: (ns) => {
    if (ns === 'team-broken') throw new Error('namespace lookup exploded');
    return undefined;
  },
};

interface Answer {
  status: number;
  json: Json;
  fingerprint256: string;
}

function post(port: number, ca: TestCa, body: string | Buffer, opts: { path?: string; method?: string; chunked?: boolean } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const data = typeof body === 'string' ? Buffer.from(body) : body;
    const req = https.request({
      host: '127.0.0.1', port, path: opts.path ?? INJECT_HTTPS.mutatePods, method: opts.method ?? 'POST', ca: ca.certPem,
      servername: SERVICE_DNS[0], agent: false,
      headers: { 'content-type': 'application/json', ...(opts.chunked ? {} : { 'content-length': data.length }) },
    }, (res) => {
      const chunks: Buffer[] = [];
      const fingerprint256 = (res.socket as import('tls').TLSSocket).getPeerCertificate().fingerprint256;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, json: text === '' ? {} : JSON.parse(text), fingerprint256 });
        } catch (e) {
          reject(new Error(`not JSON (${res.statusCode}): ${text.slice(0, 200)}: ${(e as Error).message}`));
        }
      });
    });
    // A server that answers 413 early may close while the rest of the body is still being written.
    req.on('error', reject);
    if (opts.chunked) {
      let sent = 0;
      const write = () => {
        while (sent < data.length) {
          const part = data.subarray(sent, sent + 64 * 1024);
          sent += part.length;
          if (!req.write(part)) return void req.once('drain', write);
        }
        req.end();
      };
      write();
    } else {
      req.end(data);
    }
  });
}

function patchOf(answer: Answer): Operation[] | undefined {
  const p = answer.json.response?.patch;
  return p === undefined ? undefined : JSON.parse(Buffer.from(p, 'base64').toString('utf8'));
}

async function metricValue(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const value = (metric?.values ?? []).find((v) => Object.entries(labels).every(([k, l]) => (v.labels as Record<string, unknown>)[k] === l));
  return value?.value ?? 0;
}

describe('inject webhook over HTTPS', () => {
  let dir: string;
  let ca: TestCa;
  let server: RunningWebhookServer;
  let registry: Registry;
  let serverLog: ReturnType<typeof memoryLogger>;
  let fingerprint: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'inject-webhook-'));
    ca = makeCa(dir);
    const cert = issueServerCert(ca, dir, SERVICE_DNS);
    fingerprint = cert.fingerprint256;
    registry = createRegistry({ node: 'test', command: 'inject' });
    serverLog = memoryLogger();
    server = await startWebhookServer({
      host: '127.0.0.1', port: 0, tlsCertFile: cert.certFile, tlsKeyFile: cert.keyFile, maxBodyBytes: MAX_BODY,
      settings: SETTINGS, logger: serverLog, metrics: injectMetrics(registry),
    });
  });

  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const review = (object: Json, opts?: Parameters<typeof admissionReview>[1]) => admissionReview(object, opts);

  const cases: Array<[Workload, 'openshift' | 'kubernetes', string | undefined]> = [];
  for (const w of WORKLOADS) {
    cases.push([w, 'openshift', undefined], [w, 'openshift', '-Xmx768m -Dfile.encoding=UTF-8']);
  }
  cases.push(['Deployment', 'kubernetes', undefined], ['Job', 'kubernetes', '-Xmx64m']);

  test.each(cases)('%s pod (%s, JAVA_TOOL_OPTIONS %p): patched, schema-valid, admitted by the application SCC', async (workload, platform, jto) => {
    const object = pod({ workload, platform, javaToolOptions: jto, annotations: OPT_IN });
    const ar = review(object);
    const answer = await post(server.port, ca, JSON.stringify(ar));
    expect(answer.status).toBe(200);
    expect(answer.fingerprint256).toBe(fingerprint);
    expect(answer.json).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: ar.request.uid, allowed: true, patchType: 'JSONPatch' } });
    expect(answer.json.response.warnings).toBeUndefined();
    const patched = applyPatch(object, patchOf(answer)!);

    // the same definition as the cdk8s side gets from collectPod
    expect(patched).toEqual(collectPod(object as PodLike, SETTINGS.collect).pod);
    expect(schemaErrors(patched as never)).toEqual([]);
    // Plain Kubernetes has no SCC and no namespace uid range: the same container rules, any uid.
    const uids: [number, number] | undefined = platform === 'kubernetes' ? [1, 2_147_483_647] : undefined;
    expect(admissionErrors(APP_SCC, patched.spec as PodSpec, uids)).toEqual([]);
    expect(admissionErrors(RESTRICTED_V2_SCC, patched.spec as PodSpec, uids)).toEqual(['volume heapdump-host: type hostPath is not allowed', 'volume heapdump-host: host directories are not allowed']);
    expect(admissionErrors(RESTRICTED_V2_SCC, object.spec as PodSpec, uids)).toEqual([]); // before: restricted-v2 was enough
    expect(policyRefusals(POLICY, patched)).toEqual([]);

    // pods of controllers have no name yet: nothing depends on it at admission
    expect(patched.metadata.name).toBe(object.metadata.name);
    expect(patched.metadata.generateName).toBe(object.metadata.generateName);
    expect(patched.metadata.labels[COLLECTED_LABEL]).toBe('true');
    const init = patched.spec.initContainers[0];
    expect(init.name).toBe(WAIT_READY_CONTAINER_NAME);
    expect(init.securityContext.runAsUser).toBe(platform === 'openshift' ? OPENSHIFT_UID : 1000);
    const app = patched.spec.containers[0];
    const options = app.env.find((e: Json) => e.name === 'JAVA_TOOL_OPTIONS').value;
    expect(options).toBe(`${jto ? `${jto} ` : ''}-XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath=/dumps -XX:+ExitOnOutOfMemoryError`);

    // already injected: allowed, no second patch
    const again = await post(server.port, ca, JSON.stringify(review(patched)));
    expect(again.json.response).toEqual({ uid: expect.any(String), allowed: true });
  });

  test('the exec guard (POST /validate-exec): exec or attach into heapdump-wait-ready is refused with 403, any other container allowed', async () => {
    const connect = (subResource: string, container: string) => ({
      apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
      request: {
        uid: `exec-${subResource}-${container}`, kind: { group: '', version: 'v1', kind: subResource === 'exec' ? 'PodExecOptions' : 'PodAttachOptions' },
        resource: { group: '', version: 'v1', resource: 'pods' }, subResource, name: 'orders-api-7d9f8b6c5d-x2x8q', namespace: 'team-a', operation: 'CONNECT',
        userInfo: { username: 'alice' }, object: { kind: subResource === 'exec' ? 'PodExecOptions' : 'PodAttachOptions', apiVersion: 'v1', container, stdin: true, tty: true, command: ['node', '-e', '1'] },
        oldObject: null, dryRun: false,
      },
    });
    const refusedBefore = await metricValue(registry, 'heapdump_agent_inject_reviews_total', { result: 'exec-refused' });
    for (const sub of ['exec', 'attach']) {
      const answer = await post(server.port, ca, JSON.stringify(connect(sub, WAIT_READY_CONTAINER_NAME)), { path: INJECT_HTTPS.validateExec });
      expect(answer.json.response).toEqual({
        uid: `exec-${sub}-${WAIT_READY_CONTAINER_NAME}`, allowed: false,
        status: { code: 403, reason: 'Forbidden', message: `${sub} into heapdump-wait-ready is not allowed: while it runs, it sees every pod's dump folder on the node` },
      });
    }
    const app = await post(server.port, ca, JSON.stringify(connect('exec', 'app')), { path: INJECT_HTTPS.validateExec });
    expect(app.json.response).toEqual({ uid: 'exec-exec-app', allowed: true });
    expect(await metricValue(registry, 'heapdump_agent_inject_reviews_total', { result: 'exec-refused' })).toBe(refusedBefore + 2);
    expect(serverLog.events.filter((e) => e.msg === 'exec into the wait-ready container refused').map((e) => [e.namespace, e.pod]))
      .toEqual([['team-a', 'orders-api-7d9f8b6c5d-x2x8q'], ['team-a', 'orders-api-7d9f8b6c5d-x2x8q']]);
  });

  test('a pod with a log shipper and a containers annotation: only the named container; warnings reach the user', async () => {
    const object = pod({ workload: 'Deployment', sidecar: true, annotations: { ...OPT_IN, [INJECT_ANNOTATIONS.containers]: 'app,api' } });
    const answer = await post(server.port, ca, JSON.stringify(review(object)));
    expect(answer.json.response.warnings).toEqual(['heapdump-pipeline: container "api" is not in the pod (containers: app, log-shipper)']);
    const patched = applyPatch(object, patchOf(answer)!);
    expect(patched.spec.containers[1]).toEqual(object.spec.containers[1]);
    expect(admissionErrors(APP_SCC, patched.spec as PodSpec)).toEqual([]);
    expect(policyRefusals(POLICY, patched)).toEqual([]);
  });

  test('not opted in, opted out, and the pipeline\'s own namespace: allowed, no patch', async () => {
    for (const [object, ns] of [
      [pod({ workload: 'Deployment' }), undefined],
      [pod({ workload: 'Deployment', annotations: { [INJECT_ANNOTATIONS.inject]: 'false' } }), undefined],
      [pod({ workload: 'Deployment', namespace: 'heapdump-system', annotations: OPT_IN }), undefined],
      // namespace only in the request (as for pods of controllers, whose object may not carry it)
      [{ ...pod({ workload: 'Job', annotations: OPT_IN }), metadata: { ...pod({ workload: 'Job', annotations: OPT_IN }).metadata, namespace: undefined } }, 'heapdump-system'],
    ] as Array<[Json, string | undefined]>) {
      const ar = review(object, ns ? { namespace: ns } : {});
      const answer = await post(server.port, ca, JSON.stringify(ar));
      expect(answer.json).toEqual({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: ar.request.uid, allowed: true } });
    }
    expect(await metricValue(registry, 'heapdump_agent_inject_reviews_total', { result: 'own-namespace' })).toBe(2);
  });

  test('other kinds, sub-resources and operations: allowed, no patch', async () => {
    const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'orders-api', namespace: 'team-a', annotations: OPT_IN }, spec: {} };
    const requests = [
      review(deployment, { kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, resource: { group: 'apps', version: 'v1', resource: 'deployments' } }),
      review(pod({ workload: 'Deployment', annotations: OPT_IN }), { subResource: 'ephemeralcontainers' }),
      review(pod({ workload: 'StatefulSet', annotations: OPT_IN }), { operation: 'UPDATE' }),
    ];
    for (const ar of requests) {
      const answer = await post(server.port, ca, JSON.stringify(ar));
      expect(answer.json.response).toEqual({ uid: ar.request.uid, allowed: true });
    }
  });

  test('an internal error never blocks: allowed, no patch, a warning', async () => {
    const object = pod({ workload: 'Deployment', namespace: 'team-broken', annotations: OPT_IN });
    const answer = await post(server.port, ca, JSON.stringify(review(object)));
    expect(answer.status).toBe(200);
    expect(answer.json.response).toEqual({ uid: expect.any(String), allowed: true, warnings: ['heapdump-pipeline: not collected: namespace lookup exploded'] });
    expect(serverLog.events.some((e) => e.msg === 'pod not collected: internal error' && e.namespace === 'team-broken')).toBe(true);
    const notAPod = { ...review(object), request: { ...review(object).request, object: { metadata: {} } } };
    expect((await post(server.port, ca, JSON.stringify(notAPod))).json.response.warnings).toEqual(['heapdump-pipeline: not collected: request.object is not a pod with spec.containers']);
  });

  test('malformed bodies: HTTP 400 with a JSON error; the server keeps serving', async () => {
    const bodies: Array<[string, string]> = [
      ['not json {', 'body is not JSON'],
      ['', 'body is not JSON'],
      ['[1,2]', 'body is not an AdmissionReview'],
      ['{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1beta1","request":{"uid":"u"}}', 'AdmissionReview apiVersion must be admission.k8s.io/v1'],
      ['{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{}}', 'AdmissionReview has no request.uid'],
      ['{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1"}', 'AdmissionReview has no request.uid'],
      ['\u0000\u00ff\u00fe', 'body is not JSON'],
    ];
    for (const [body, error] of bodies) {
      expect(await post(server.port, ca, body)).toMatchObject({ status: 400, json: { error } });
    }
    expect(await post(server.port, ca, '{}', { method: 'GET' })).toMatchObject({ status: 405 });
    expect(await post(server.port, ca, '{}', { path: '/mutate' })).toMatchObject({ status: 404 });
    const ok = await post(server.port, ca, JSON.stringify(review(pod({ workload: 'Deployment', annotations: OPT_IN }))));
    expect(ok.json.response.patchType).toBe('JSONPatch');
  });

  test('a huge body is rejected with the limit (declared or streamed); the server keeps serving', async () => {
    const huge = JSON.stringify({ ...review(pod({ workload: 'Deployment', annotations: OPT_IN })), padding: 'x'.repeat(MAX_BODY) });
    expect(huge.length).toBeGreaterThan(MAX_BODY);
    const declared = await post(server.port, ca, huge);
    expect(declared).toMatchObject({ status: 413, json: { error: `body larger than ${MAX_BODY} bytes` } });
    const streamed = await post(server.port, ca, huge, { chunked: true }).catch((e: NodeJS.ErrnoException) => ({ status: -1, code: e.code }));
    // Streamed: the answer comes as soon as the limit is passed; a client still writing may see the reset instead.
    if (process.env.INJECT_TEST_VERBOSE) console.log(`streamed huge body: ${JSON.stringify(streamed)}`);
    expect([413, -1]).toContain(streamed.status);
    if (streamed.status === -1) expect(['ECONNRESET', 'EPIPE']).toContain((streamed as { code?: string }).code);
    const atLimit = JSON.stringify({ ...review(pod({ workload: 'Deployment', annotations: OPT_IN })), padding: 'x'.repeat(MAX_BODY - 10_000) });
    expect((await post(server.port, ca, atLimit)).json.response.patchType).toBe('JSONPatch');
    expect(await metricValue(registry, 'heapdump_agent_inject_reviews_total', { result: 'bad-request' })).toBeGreaterThanOrEqual(2);
  });

  test('metrics: reviews by result and the latency histogram', async () => {
    expect(await metricValue(registry, 'heapdump_agent_inject_reviews_total', { result: 'injected' })).toBeGreaterThanOrEqual(cases.length);
    const text = await registry.metrics();
    expect(text).toMatch(/heapdump_agent_inject_review_duration_seconds_bucket\{le="0.02",[^}]*result="injected"\} \d+/);
    expect(text).toMatch(/heapdump_agent_inject_certificate_expiry_timestamp_seconds\{[^}]*\} \d+/);
  });
});

test('opt-out policy: every pod of a selected namespace unless annotated "false"', () => {
  const settings: AdmissionSettings = { ...SETTINGS, policy: 'opt-out' };
  const plain = reviewAdmission(JSON.stringify(admissionReview(pod({ workload: 'Deployment' }))), settings);
  expect(plain.result).toBe('injected');
  const out = reviewAdmission(JSON.stringify(admissionReview(pod({ workload: 'Deployment', annotations: { [INJECT_ANNOTATIONS.inject]: 'false' } }))), settings);
  expect(out.result).toBe('opted-out');
});

describe('certificate files replaced while running', () => {
  let dir: string;
  let ca: TestCa;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'inject-rotate-'));
    ca = makeCa(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /**
   * A Secret volume as the kubelet writes it: files are symlinks through `..data`, which points at a
   * timestamped directory; an update writes a new directory and renames a new `..data` link over the old.
   */
  function secretVolume(): { dir: string; publish(cert: string, key: string): void } {
    const vol = path.join(dir, 'secret');
    mkdirSync(vol);
    let n = 0;
    return {
      dir: vol,
      publish(cert, key) {
        const version = `..2026_11_30_01_02_03.${++n}`;
        mkdirSync(path.join(vol, version));
        writeFileSync(path.join(vol, version, 'tls.crt'), cert);
        writeFileSync(path.join(vol, version, 'tls.key'), key);
        symlinkSync(version, path.join(vol, '..data_tmp'));
        renameSync(path.join(vol, '..data_tmp'), path.join(vol, '..data'));
        if (n === 1) {
          symlinkSync('..data/tls.crt', path.join(vol, 'tls.crt'));
          symlinkSync('..data/tls.key', path.join(vol, 'tls.key'));
        }
      },
    };
  }

  test('the inject command serves the new certificate without a restart; a half-written pair is not loaded', async () => {
    const first = issueServerCert(ca, dir, SERVICE_DNS, 'first');
    const second = issueServerCert(ca, dir, SERVICE_DNS, 'second');
    const vol = secretVolume();
    vol.publish(first.certPem, first.keyPem);

    const controller = new AbortController();
    const log = memoryLogger();
    const registry = createRegistry({ node: 'test', command: 'inject' });
    const steps: Array<() => Promise<void> | void> = [];
    let ready = false;
    const config: InjectConfig = {
      nodeName: 'worker-0', httpHost: '127.0.0.1', httpPort: 0, logLevel: 'debug', shutdownTimeoutMs: 5000,
      pipelineNamespace: 'heapdump-system', httpsPort: 0, tlsCertFile: path.join(vol.dir, 'tls.crt'), tlsKeyFile: path.join(vol.dir, 'tls.key'),
      certReloadIntervalMs: 100, maxBodyBytes: MAX_BODY, policy: 'opt-in', collect: SETTINGS.collect as InjectConfig['collect'],
    };
    const running = runInject(config, {
      logger: log, clock: systemClock, registry, signal: controller.signal,
      setReady: (r) => void (ready = r), onShutdown: (_n, s) => void steps.push(s), stuckReads: new StuckReads(),
    });
    try {
      await waitFor(() => ready, 5000);
      const port = log.events.find((e) => e.msg === 'webhook listening')?.port as number;
      const body = JSON.stringify(admissionReview(pod({ workload: 'Deployment', annotations: OPT_IN })));
      expect((await post(port, ca, body)).fingerprint256).toBe(first.fingerprint256);

      // half-rotated: the new certificate with the old key is not a pair; the old one stays
      vol.publish(second.certPem, first.keyPem);
      await waitFor(() => log.events.some((e) => e.msg.startsWith('changed certificate files are not a usable pair')), 5000);
      expect((await post(port, ca, body)).fingerprint256).toBe(first.fingerprint256);

      vol.publish(second.certPem, second.keyPem);
      await waitFor(() => log.events.some((e) => e.msg === 'certificate reloaded'), 5000);
      const after = await post(port, ca, body);
      expect(after.fingerprint256).toBe(second.fingerprint256);
      expect(after.json.response.patchType).toBe('JSONPatch');
      expect(await metricValue(registry, 'heapdump_agent_inject_certificate_reloads_total', { outcome: 'loaded' })).toBe(1);
      expect(await metricValue(registry, 'heapdump_agent_inject_certificate_reloads_total', { outcome: 'rejected' })).toBe(1);
    } finally {
      controller.abort();
      await running;
      for (const step of steps) await step();
    }
  });
});

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
