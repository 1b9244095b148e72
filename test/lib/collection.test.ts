/**
 * Collecting teams' services (issues 8 and 9): what the pipeline emits for several collected namespaces on both
 * platforms (RoleBindings, labels, the webhook and its certificates, the admission policy, monitoring), validated
 * against the Kubernetes / CRD schemas; the synthesized admission policy's CEL (@bufbuild/cel) against the
 * synthesized pods; the synthesized injector's settings, parsed by the agent's own resolver, give the webhook
 * exactly what `pipeline.collect()` gives a cdk8s workload; `patches/collect-patch.json` applied to a sample
 * Deployment by an independent strategic-merge applier equals collectPod's output; and the "fails ..." cases.
 */
import { ApiObject, Chart, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { type CelInput, isCelError, run } from '@bufbuild/cel';
import { COMMANDS, INJECT_ANNOTATIONS } from '../../agent/src/contract';
import { resolveConfig } from '../../agent/src/config';
import { reviewAdmission } from '../../agent/src/inject/admission';
import { collectPod, type PodLike } from '../../agent/src/inject/collect-pod';
import type { InjectConfig } from '../../agent/src/inject/config';
import type { DumpVolumePolicy } from '../../lib/admission-policy';
import { HeapDumpPipeline, type HeapDumpPipelineProps } from '../../lib/pipeline';
import { synthPipeline } from '../../lib/synth';
import { PipelinePropsError } from '../../lib/validation';
import { resolveEnv, type Container } from '../e2e/kubelet-sim';
import { policyRefusals, toCel } from '../support/admission-policy';
import { applyPatch, type Operation } from '../support/json-patch';
import { find, ofKind, podSpec, type AnyObj } from '../support/manifests';
import { admissionReview, type Json, OPENSHIFT_UID, pod as fixture } from '../support/pods';
import { admissionErrors, RESTRICTED_V2_SCC, type PodSpec, type Scc, usableSccs } from '../support/scc-admission';
import { schemaErrors } from '../support/schemas';
import { strategicMerge } from '../support/strategic-merge';

const IMAGE = 'registry.example.com/platform/heapdump-agent:0.3.0';
const TEAMS = ['orders', 'payments', 'search'];
const OPENSHIFT: HeapDumpPipelineProps = {
  agentImage: IMAGE,
  collect: { namespaces: ['orders', { name: 'payments', serviceAccounts: ['ledger', 'ledger-batch'] }, 'search'] },
  uploader: { notifications: { kubernetesEvents: true, clusterName: 'prod-eu-1', webhook: { secretName: 'dump-webhook', format: 'slack' } } },
};
const KUBERNETES: HeapDumpPipelineProps = { ...OPENSHIFT, platform: 'kubernetes', monitoring: { selectorLabels: { release: 'kube-prometheus-stack' } } };

const names = (objects: AnyObj[] | ReturnType<typeof synthPipeline>['objects']) => objects.map((o) => `${o.kind}/${o.metadata.name}${o.metadata.namespace ? ` (${o.metadata.namespace})` : ''}`);

/** The policy as the API server would run it: the synthesized object's variables, validations and match conditions. */
function synthesizedPolicy(objects: ReturnType<typeof synthPipeline>['objects']): DumpVolumePolicy & { matches(pod: Json): boolean } {
  const vap = find(objects, 'ValidatingAdmissionPolicy', 'heapdump-dump-volume');
  const conditions: { expression: string }[] = vap.spec.matchConditions ?? [];
  return {
    variables: vap.spec.variables,
    validations: vap.spec.validations,
    matches: (pod) => conditions.every((c) => {
      const r = run(c.expression, { object: toCel(pod) as CelInput, request: toCel({ namespace: pod.metadata?.namespace ?? '' }) as CelInput });
      if (isCelError(r)) throw new Error(r.message);
      return r === true;
    }),
  };
}

/** The injector's settings as its own process would resolve them from the synthesized Deployment. */
function injectorConfig(objects: ReturnType<typeof synthPipeline>['objects']): InjectConfig {
  const spec = podSpec(find(objects, 'Deployment', 'heapdump-injector'));
  const c = spec.containers.find((x: Container) => x.name === COMMANDS.inject) as Container;
  const env = resolveEnv(c, { nodeName: 'worker-1', namespace: 'heapdump-system', podName: 'heapdump-injector-0', configMaps: {}, secrets: {} });
  const r = resolveConfig(COMMANDS.inject, env);
  if (r.command !== COMMANDS.inject) throw new Error('not inject');
  return r.config;
}

/** A pod as the API server hands it to the webhook: from a template, in a namespace, after SCC pass 1 on OpenShift. */
function admittedPod(template: Json, namespace: string, openshift: boolean): Json {
  const p: Json = { apiVersion: 'v1', kind: 'Pod', metadata: { ...structuredClone(template.metadata ?? {}), namespace, generateName: 'orders-api-5d9c-' }, spec: structuredClone(template.spec) };
  if (openshift) {
    p.metadata.annotations = { ...p.metadata.annotations, 'openshift.io/scc': 'restricted-v2' };
    for (const c of [...(p.spec.initContainers ?? []), ...p.spec.containers]) c.securityContext = { runAsUser: OPENSHIFT_UID, ...c.securityContext };
  }
  return p;
}

describe.each([['openshift', OPENSHIFT], ['kubernetes', KUBERNETES]] as const)('%s: several collected namespaces', (platform, props) => {
  const { objects } = synthPipeline(props);

  test('every object validates against its Kubernetes or CRD schema (cert-manager, monitoring, SCC, Route)', () => {
    expect(objects.flatMap(schemaErrors)).toEqual([]);
  });

  test('per collected namespace: the SCC RoleBinding (OpenShift) and the event-reporter RoleBinding; no team Namespace object', () => {
    for (const ns of ['memory-leak-demo', ...TEAMS]) {
      const here = names(objects.filter((o) => o.metadata.namespace === ns && o.kind === 'RoleBinding'));
      expect({ ns, here }).toEqual({
        ns,
        here: [...(platform === 'openshift' ? ['RoleBinding/heapdump-app-scc'] : []), 'RoleBinding/heap-dump-s3-uploader-events', 'RoleBinding/heapdump-analyzer-events'].map((n) => `${n} (${ns})`),
      });
    }
    // The pipeline emits the demo's namespace only: a team's namespace is the team's (deleting the pipeline never deletes it).
    expect(ofKind(objects, 'Namespace').map((n) => [n.metadata.name, n.metadata.labels['heapdump-pipeline.io/collect']])).toEqual([
      ['heapdump-system', undefined], ['memory-leak-demo', 'true'],
    ]);
  });

  test('the webhook selects exactly the collected namespaces that carry the label, never the pipeline\'s; CA injection per platform', () => {
    const mwc = find(objects, 'MutatingWebhookConfiguration', 'heapdump-pipeline-inject');
    const [w] = mwc.webhooks;
    expect(w).toMatchObject({
      failurePolicy: 'Ignore', sideEffects: 'None', reinvocationPolicy: 'IfNeeded', timeoutSeconds: 5, admissionReviewVersions: ['v1'],
      rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
      clientConfig: { service: { name: 'heapdump-injector', namespace: 'heapdump-system', path: '/mutate-pods', port: 443 } },
    });
    expect(w.objectSelector).toBeUndefined();
    expect(w.namespaceSelector).toEqual({
      matchLabels: { 'heapdump-pipeline.io/collect': 'true' },
      matchExpressions: [
        { key: 'kubernetes.io/metadata.name', operator: 'In', values: ['memory-leak-demo', ...TEAMS] },
        { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['heapdump-system'] },
      ],
    });
    expect(mwc.metadata.annotations).toEqual(platform === 'openshift'
      ? { 'service.beta.openshift.io/inject-cabundle': 'true' }
      : { 'cert-manager.io/inject-ca-from': 'heapdump-system/heapdump-injector-serving' });
  });

  test('the exec guard: CONNECT pods/exec and pods/attach, only into heapdump-wait-ready (matchCondition), fail closed, collected namespaces by name', () => {
    const vwc = find(objects, 'ValidatingWebhookConfiguration', 'heapdump-pipeline-exec-guard');
    const [w] = vwc.webhooks;
    expect(w).toMatchObject({
      name: 'exec-guard.heapdump-pipeline.io', failurePolicy: 'Fail', sideEffects: 'None', timeoutSeconds: 5, admissionReviewVersions: ['v1'],
      rules: [{ operations: ['CONNECT'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods/exec', 'pods/attach'] }],
      clientConfig: { service: { name: 'heapdump-injector', namespace: 'heapdump-system', path: '/validate-exec', port: 443 } },
    });
    expect(w.namespaceSelector).toEqual({ matchExpressions: [
      { key: 'kubernetes.io/metadata.name', operator: 'In', values: ['memory-leak-demo', ...TEAMS] },
      { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['heapdump-system'] },
    ] });
    expect(vwc.metadata.annotations).toEqual(find(objects, 'MutatingWebhookConfiguration', 'heapdump-pipeline-inject').metadata.annotations);
    // The matchCondition, evaluated as the API server would with the request's options object (PodExecOptions).
    const [condition] = w.matchConditions;
    const matches = (subResource: string, object: Json | null) => {
      const r = run(condition.expression, { request: toCel({ subResource, operation: 'CONNECT' }), object: object === null ? null : toCel(object) } as never);
      if (isCelError(r)) throw new Error(r.message);
      return r;
    };
    const exec = (container?: string) => ({ kind: 'PodExecOptions', apiVersion: 'v1', stdin: true, tty: true, command: ['sh'], ...(container ? { container } : {}) });
    expect([
      matches('exec', exec('heapdump-wait-ready')), matches('attach', { kind: 'PodAttachOptions', container: 'heapdump-wait-ready' }),
      matches('exec', exec('app')), matches('exec', exec()), matches('portforward', { kind: 'PodPortForwardOptions' }), matches('exec', null),
    ]).toEqual([true, true, false, false, false, false]);
  });

  test('the injector: 2 replicas, PDB, Service 443 -> https, probes on the agent port, TLS Secret mounted; certificates per platform', () => {
    const dep = find(objects, 'Deployment', 'heapdump-injector');
    expect(dep.metadata.namespace).toBe('heapdump-system');
    expect(dep.spec.replicas).toBe(2);
    const c = podSpec(dep).containers[0];
    expect([c.name, c.args, c.readinessProbe.httpGet, c.livenessProbe.httpGet]).toEqual(['inject', ['inject'], { path: '/readyz', port: 'http' }, { path: '/healthz', port: 'http' }]);
    expect(c.env.find((e: Json) => e.name === 'NODE_OPTIONS').value).toBe('--jitless');
    expect(podSpec(dep).volumes[0]).toEqual({ name: 'tls', secret: { secretName: 'heapdump-injector-tls', defaultMode: 0o444 } });
    expect(find(objects, 'PodDisruptionBudget', 'heapdump-injector').spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: { app: 'heapdump-injector' } } });
    const svc = find(objects, 'Service', 'heapdump-injector');
    expect(svc.spec.ports).toEqual([{ name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' }]);
    if (platform === 'openshift') {
      expect(svc.metadata.annotations).toEqual({ 'service.beta.openshift.io/serving-cert-secret-name': 'heapdump-injector-tls' });
      expect(objects.filter((o) => o.apiVersion.startsWith('cert-manager.io/'))).toEqual([]);
    } else {
      expect(svc.metadata.annotations).toBeUndefined();
      expect(names(objects.filter((o) => o.apiVersion === 'cert-manager.io/v1' && o.metadata.name.startsWith('heapdump-injector')))).toEqual([
        'Issuer/heapdump-injector-selfsigned (heapdump-system)', 'Certificate/heapdump-injector-ca (heapdump-system)',
        'Issuer/heapdump-injector-ca (heapdump-system)', 'Certificate/heapdump-injector-serving (heapdump-system)',
      ]);
      const serving = find(objects, 'Certificate', 'heapdump-injector-serving');
      expect(serving.spec).toMatchObject({ secretName: 'heapdump-injector-tls', dnsNames: ['heapdump-injector.heapdump-system.svc', 'heapdump-injector.heapdump-system.svc.cluster.local'], issuerRef: { name: 'heapdump-injector-ca', kind: 'Issuer' } });
      expect(find(objects, 'Certificate', 'heapdump-injector-ca').spec).toMatchObject({ isCA: true, issuerRef: { name: 'heapdump-injector-selfsigned' } });
    }
    // Before the Deployment that mounts it.
    const order = names(objects);
    if (platform === 'kubernetes') expect(order.indexOf('Certificate/heapdump-injector-serving (heapdump-system)')).toBeLessThan(order.indexOf('Deployment/heapdump-injector (heapdump-system)'));
  });

  test('the admission policy: pods and pods/ephemeralcontainers, Deny, scoped to the application SCC (OpenShift) or the collected namespaces', () => {
    const vap = find(objects, 'ValidatingAdmissionPolicy', 'heapdump-dump-volume');
    expect(vap.spec.matchConstraints.resourceRules).toEqual([{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods', 'pods/ephemeralcontainers'] }]);
    expect(vap.spec.failurePolicy).toBe('Fail');
    expect(JSON.stringify(vap.spec.validations)).toContain(`c.image == '${IMAGE}'`);
    const binding = find(objects, 'ValidatingAdmissionPolicyBinding', 'heapdump-dump-volume');
    expect(binding.spec.validationActions).toEqual(['Deny']);
    if (platform === 'openshift') {
      expect(binding.spec.matchResources).toBeUndefined();
      const policy = synthesizedPolicy(objects);
      // Pods the application SCC admitted, anywhere; every pod of a collected namespace (also one whose annotation was edited).
      expect(policy.matches({ metadata: { namespace: 'elsewhere', annotations: { 'openshift.io/scc': 'heap-dump-app' } }, spec: { containers: [] } })).toBe(true);
      expect(policy.matches({ metadata: { namespace: 'elsewhere', annotations: { 'openshift.io/scc': 'restricted-v2' } }, spec: { containers: [] } })).toBe(false);
      expect(policy.matches({ metadata: { namespace: 'elsewhere' }, spec: { containers: [] } })).toBe(false);
      expect(policy.matches({ metadata: { namespace: 'orders', annotations: { 'openshift.io/scc': 'restricted-v2' } }, spec: { containers: [] } })).toBe(true);
      expect(policy.matches({ metadata: { namespace: 'heapdump-system', annotations: { 'openshift.io/scc': 'heap-dump-uploader' } }, spec: { containers: [] } })).toBe(false);
    } else {
      expect(vap.spec.matchConditions).toBeUndefined();
      expect(binding.spec.matchResources).toEqual({ namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['memory-leak-demo', ...TEAMS] }] } });
    }
  });

  test('notifications: the uploader gets NOTIFY_* from the ConfigMap, the webhook URL only as a mounted Secret key, a projected token', () => {
    const cm = find(objects, 'ConfigMap', 's3-uploader-config');
    expect(cm.data).toMatchObject({ NOTIFY_KUBE_EVENTS: 'true', NOTIFY_CLUSTER_NAME: 'prod-eu-1', NOTIFY_WEBHOOK_FORMAT: 'slack', NOTIFY_WEBHOOK_EVENTS: 'dump-uploaded,incomplete-dump-uploaded,dump-analyzed' });
    const ds = find(objects, 'DaemonSet', 'heap-dump-s3-uploader');
    const spec = podSpec(ds);
    expect(spec.automountServiceAccountToken).toBe(false);
    const up = spec.containers[0];
    expect(up.env.find((e: Json) => e.name === 'NOTIFY_WEBHOOK_URL_FILE').value).toBe('/etc/heapdump/notify-webhook/url');
    expect(up.env.find((e: Json) => e.name === 'NOTIFY_WEBHOOK_URL')).toBeUndefined();
    expect(spec.volumes.find((v: Json) => v.name === 'notify-webhook').secret).toEqual({ secretName: 'dump-webhook', items: [{ key: 'url', path: 'url' }], defaultMode: 0o400 });
    expect(spec.volumes.find((v: Json) => v.name === 'kube-api-access').projected.sources[0]).toEqual({ serviceAccountToken: { path: 'token', expirationSeconds: 3600 } });
    expect(up.volumeMounts).toContainEqual({ name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true });
    // The uploader's own parser accepts what the constructs wrote.
    const env = resolveEnv(up, { nodeName: 'worker-1', namespace: 'heapdump-system', podName: 'u', configMaps: { 's3-uploader-config': cm.data }, secrets: { 's3-credentials': { AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b' } } });
    const r = resolveConfig(COMMANDS.uploader, { ...env, KUBERNETES_SERVICE_HOST: '172.30.0.1' });
    expect(r.command === COMMANDS.uploader && r.config.notify).toEqual({
      kubeEvents: { apiUrl: 'https://172.30.0.1:443', credentialsDir: '/var/run/secrets/kubernetes.io/serviceaccount' },
      webhook: { url: { kind: 'file', path: '/etc/heapdump/notify-webhook/url' }, format: 'slack', events: ['dump-uploaded', 'incomplete-dump-uploaded', 'dump-analyzed'] },
      clusterName: 'prod-eu-1', timeoutMs: 10_000, maxAttempts: 5, queueSize: 100, shutdownGraceMs: 5000,
      // the heapdumps API is deployed: Events and notifications name its command
      retrieval: { cli: platform === 'openshift' ? 'oc' : 'kubectl' },
    });
  });

  test('monitoring: the PodMonitor scrapes the injector, the heapdumps API and the analyzer too; the stack follows the platform', () => {
    const pm = find(objects, 'PodMonitor', 'heapdump-agents');
    expect(pm.spec.selector.matchExpressions[0].values).toEqual(['mount-guard', 'uploader', 'inject', 'api', 'analyzer']);
    // every selected component has a pod in the synthesized objects that carries that label and a port named as scraped
    const port = pm.spec.podMetricsEndpoints[0].port;
    for (const component of pm.spec.selector.matchExpressions[0].values as string[]) {
      const workloads = (objects as Json[]).filter((o) => ['DaemonSet', 'Deployment'].includes(o.kind) && o.spec.template.metadata.labels['app.kubernetes.io/component'] === component);
      expect({ component, scraped: workloads.some((w) => w.spec.template.spec.containers.some((c: Json) => (c.ports ?? []).some((p: Json) => p.name === port))) }).toEqual({ component, scraped: true });
    }
    const rule = find(objects, 'PrometheusRule', 'heapdump-pipeline-alerts');
    expect(rule.metadata.labels['openshift.io/prometheus-rule-evaluation-scope']).toBe(platform === 'openshift' ? 'leaf-prometheus' : undefined);
    if (platform === 'kubernetes') expect(rule.metadata.labels.release).toBe('kube-prometheus-stack');
    expect(synthPipeline({ ...props, monitoring: { enabled: false } }).objects.filter((o) => o.apiVersion.startsWith('monitoring.coreos.com'))).toEqual([]);
  });

  test('the synthesized policy admits the demo pod and the webhook\'s output, and refuses /etc, another pod\'s folder and a fake wait-ready', () => {
    const policy = synthesizedPolicy(objects);
    const openshift = platform === 'openshift';
    const asScc = (p: Json) => { if (openshift) p.metadata.annotations = { ...p.metadata.annotations, 'openshift.io/scc': 'heap-dump-app' }; return p; };
    const demo = asScc(admittedPod(find(objects, 'Deployment', 'memory-leak-app').spec.template, 'memory-leak-demo', openshift));
    if (openshift) expect(policy.matches(demo)).toBe(true);
    expect(policyRefusals(policy, demo)).toEqual([]);

    // A team's pod in another namespace, through the webhook with the synthesized injector's own settings.
    const team = fixture({ workload: 'Deployment', namespace: 'orders', platform, annotations: { [INJECT_ANNOTATIONS.inject]: 'true' }, javaToolOptions: '-Xmx1g' });
    const cfg = injectorConfig(objects);
    const out = reviewAdmission(JSON.stringify(admissionReview(team)), { pipelineNamespace: cfg.pipelineNamespace, policy: cfg.policy, collect: cfg.collect });
    expect(out.result).toBe('injected');
    const patch = JSON.parse(Buffer.from((out.body as Json).response.patch, 'base64').toString()) as Operation[];
    const patched = asScc(applyPatch(structuredClone(team), patch));
    expect(policyRefusals(policy, patched)).toEqual([]);
    expect(schemaErrors(patched as never)).toEqual([]);

    const refused = (mutate: (p: Json) => void) => {
      const p = structuredClone(patched);
      mutate(p);
      return policyRefusals(policy, p);
    };
    expect(refused((p) => {
      p.spec.volumes.push({ name: 'etc', hostPath: { path: '/etc', type: 'Directory' } });
      p.spec.containers[0].volumeMounts.push({ name: 'etc', mountPath: '/host-etc' });
    })).toContain('hostPath volumes are allowed only for /mnt/dump with type Directory');
    expect(refused((p) => {
      const m = p.spec.containers[0].volumeMounts.find((x: Json) => x.name === 'heapdump-host');
      delete m.subPathExpr;
      m.subPath = 'payments/ledger-0';
    })).toEqual([expect.stringMatching(/^a container mounts \/mnt\/dump other than with subPathExpr/)]);
    expect(refused((p) => {
      const w = p.spec.initContainers.find((c: Json) => c.name === 'heapdump-wait-ready');
      w.image = 'registry.example.com/evil/agent:1';
    })).toEqual([expect.stringMatching(/^an init container mounts \/mnt\/dump but is neither the exact heapdump-wait-ready/)]);
    expect(refused((p) => {
      p.spec.initContainers.find((c: Json) => c.name === 'heapdump-wait-ready').env.push({ name: 'NODE_OPTIONS', value: '--import data:text/javascript,1' });
    })).toHaveLength(1);
  });
});

describe('OpenShift: the webhook\'s output for a team\'s pod is admitted by the application SCC only where it is granted', () => {
  const { objects } = synthPipeline(OPENSHIFT);
  const cfg = injectorConfig(objects);
  const inject = (ns: string, serviceAccountName: string) => {
    const team = fixture({ workload: 'StatefulSet', namespace: ns, annotations: { [INJECT_ANNOTATIONS.inject]: 'true' } });
    team.spec.serviceAccountName = serviceAccountName;
    const out = reviewAdmission(JSON.stringify(admissionReview(team)), { pipelineNamespace: cfg.pipelineNamespace, policy: cfg.policy, collect: cfg.collect });
    const patch = JSON.parse(Buffer.from((out.body as Json).response.patch, 'base64').toString()) as Operation[];
    return applyPatch(team, patch) as Json;
  };
  const admitting = (p: Json, ns: string) => usableSccs(objects, p.spec.serviceAccountName, ns)
    .filter((scc: Scc) => admissionErrors(scc, p.spec as PodSpec).length === 0).map((s: Scc) => s.metadata.name);

  test.each([
    ['orders', 'orders-api', ['heap-dump-app']],
    ['payments', 'ledger', ['heap-dump-app']],
    ['payments', 'reporting', []], // payments grants only ledger and ledger-batch: the SCC plugin refuses the pod
    ['search', 'default', ['heap-dump-app']],
  ])('%s/%s', (ns, sa, expected) => {
    const p = inject(ns, sa);
    expect(admissionErrors(RESTRICTED_V2_SCC, p.spec as PodSpec)).not.toEqual([]);
    expect(admitting(p, ns)).toEqual(expected);
  });

  test('the webhook never mutates the pipeline namespace\'s pods', () => {
    const own = fixture({ workload: 'Deployment', namespace: 'heapdump-system', annotations: { [INJECT_ANNOTATIONS.inject]: 'true' } });
    expect(reviewAdmission(JSON.stringify(admissionReview(own)), { pipelineNamespace: cfg.pipelineNamespace, policy: cfg.policy, collect: cfg.collect }).result).toBe('own-namespace');
  });
});

describe('pipeline.collect() gives a cdk8s workload exactly what the webhook gives its pods', () => {
  function teamChart(props: HeapDumpPipelineProps, platform: 'openshift' | 'kubernetes') {
    const app = Testing.app();
    const chart = new Chart(app, 'team');
    const pipeline = new HeapDumpPipeline(chart, 'dumps', { ...props, platform });
    const deployment = new kplus.Deployment(chart, 'orders-api', {
      metadata: { name: 'orders-api', namespace: 'orders' },
      replicas: 2,
      securityContext: { ensureNonRoot: true, ...(platform === 'kubernetes' ? { user: 1000, fsGroup: 1000 } : {}) },
      containers: [{ name: 'app', image: 'registry.example.com/orders/api:2.3.1', portNumber: 8080, envVariables: { JAVA_TOOL_OPTIONS: kplus.EnvValue.fromValue('-Xmx768m') } }],
    });
    return { app, chart, pipeline, deployment };
  }

  test.each(['openshift', 'kubernetes'] as const)('%s: a cdk8s-plus Deployment', (platform) => {
    const { chart, pipeline, deployment } = teamChart(OPENSHIFT, platform);
    // The workload as written, before collect(): what the API server would hand the webhook (opted in).
    const before = structuredClone((ApiObject.of(deployment).toJson() as Json).spec.template);
    before.metadata.annotations = { [INJECT_ANNOTATIONS.inject]: 'true' };
    deployment.podMetadata.addAnnotation(INJECT_ANNOTATIONS.inject, 'true');
    const result = pipeline.collect(deployment);
    expect(result.report.instrumented).toEqual(['app']);
    const synthesized = (chart.toJson() as Json[]).find((o) => o.kind === 'Deployment' && o.metadata.name === 'orders-api')!;

    const objects = chart.toJson() as never;
    const cfg = injectorConfig(objects);
    const review = admissionReview({ apiVersion: 'v1', kind: 'Pod', metadata: { ...before.metadata, namespace: 'orders', generateName: 'orders-api-7c-' }, spec: before.spec });
    const out = reviewAdmission(JSON.stringify(review), { pipelineNamespace: cfg.pipelineNamespace, policy: cfg.policy, collect: cfg.collect });
    expect(out.result).toBe('injected');
    const patched = applyPatch(structuredClone(review.request.object), JSON.parse(Buffer.from((out.body as Json).response.patch, 'base64').toString()) as Operation[]) as Json;
    expect(patched.spec).toEqual(synthesized.spec.template.spec);
    const { namespace: _ns, generateName: _g, ...meta } = patched.metadata;
    expect(meta).toEqual(synthesized.spec.template.metadata);
    // JAVA_TOOL_OPTIONS extended, never replaced.
    expect(synthesized.spec.template.spec.containers[0].env.find((e: Json) => e.name === 'JAVA_TOOL_OPTIONS').value)
      .toBe('-Xmx768m -XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath=/dumps -XX:+ExitOnOutOfMemoryError');
    expect(schemaErrors(synthesized as never)).toEqual([]);
  });

  test('an ApiObject, a StatefulSet with a chosen container, a plain template; containers added after collect() are collected too', () => {
    const { app, chart, pipeline } = teamChart(OPENSHIFT, 'openshift');
    const sts = new kplus.StatefulSet(chart, 'ledger', {
      metadata: { name: 'ledger', namespace: 'payments' },
      containers: [{ name: 'jvm', image: 'registry.example.com/p/ledger:1', portNumber: 8080 }, { name: 'proxy', image: 'envoyproxy/envoy:v1.31.0', portNumber: 9901 }],
    });
    pipeline.collect(sts, { containers: ['jvm'] });
    sts.addContainer({ name: 'late', image: 'registry.example.com/p/late:1', portNumber: 7000 });
    const plain = pipeline.collect({ spec: { containers: [{ name: 'c', image: 'x' }] } });
    expect(plain.template.spec.initContainers?.[0].name).toBe('heapdump-wait-ready');
    app.synth();
    const out = (chart.toJson() as Json[]).find((o) => o.kind === 'StatefulSet')!;
    const cs = out.spec.template.spec.containers;
    expect(cs.map((c: Json) => [c.name, (c.volumeMounts ?? []).some((m: Json) => m.name === 'heapdump-host')])).toEqual([['jvm', true], ['proxy', false], ['late', false]]);
    expect(out.spec.template.metadata.annotations['heapdump-pipeline.io/instrumented']).toBe('jvm');
  });
});

describe('patches/collect-patch.json: a strategic merge patch for an existing Deployment', () => {
  const pipeline = new HeapDumpPipeline(Testing.chart(), 'p', { agentImage: IMAGE });
  const patch = pipeline.collectPatch();

  test('applied (container name filled in) to a sample Deployment with its own env, volumes and mounts, it gives what collectPod gives', () => {
    const deployment: Json = {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'orders-api', namespace: 'orders' },
      spec: {
        selector: { matchLabels: { app: 'orders-api' } },
        template: {
          metadata: { labels: { app: 'orders-api' } },
          spec: {
            containers: [{
              name: 'api', image: 'registry.example.com/orders/api:2', env: [{ name: 'SPRING_PROFILES_ACTIVE', value: 'prod' }],
              volumeMounts: [{ name: 'config', mountPath: '/config' }],
            }, { name: 'log-shipper', image: 'fluent/fluent-bit:3.1' }],
            volumes: [{ name: 'config', configMap: { name: 'orders-config' } }],
          },
        },
      },
    };
    const filled = JSON.parse(JSON.stringify(patch).replace(/CONTAINER_NAME/g, 'api')) as Json;
    const merged = strategicMerge(structuredClone(deployment), filled);
    const expected = collectPod(deployment.spec.template as PodLike, { ...pipeline.collectOptions, containers: ['api'], strictness: 'error' }).pod;
    expect(merged.spec.template).toEqual(expected);
    expect(schemaErrors(merged as never)).toEqual([]);
  });

  test('the patch names no real container until filled in: a forgotten substitution is refused by the API (invalid name)', () => {
    expect(JSON.stringify(patch)).toContain('"name":"CONTAINER_NAME"');
    expect(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test('CONTAINER_NAME')).toBe(false);
  });
});

describe('fails ...', () => {
  const err = (props: Partial<HeapDumpPipelineProps>) => {
    try {
      synthPipeline({ agentImage: IMAGE, ...props });
    } catch (e) {
      expect(e).toBeInstanceOf(PipelinePropsError);
      return (e as Error).message;
    }
    throw new Error('expected a PipelinePropsError');
  };

  test.each([
    ['a bad namespace name', { collect: { namespaces: ['Team_A'] } }, /^Invalid collect\.namespaces\[0\]: "Team_A" \(expected a Kubernetes name \(RFC 1123 label\)/],
    ['a bad ServiceAccount name', { collect: { namespaces: [{ name: 'a', serviceAccounts: ['Bad SA'] }] } }, /^Invalid collect\.namespaces\[0\]\.serviceAccounts\[0\]: "Bad SA"/],
    ['a namespace listed twice', { collect: { namespaces: ['orders', { name: 'orders' }] } }, /^Invalid collect\.namespaces\[1\]: "orders" \(expected each namespace once\)/],
    ['the pipeline namespace collected', { collect: { namespaces: ['heapdump-system'] } }, /^Invalid collect\.namespaces\[0\]: "heapdump-system" \(expected a namespace other than the pipeline's own/],
    ['a platform namespace collected', { collect: { namespaces: ['openshift-monitoring'] } }, /^Invalid collect\.namespaces\[0\]: "openshift-monitoring" \(expected an application namespace/],
    ['kube-system collected', { collect: { namespaces: ['kube-system'] } }, /^Invalid collect\.namespaces\[0\]: "kube-system"/],
    ['the demo in the pipeline namespace', { app: { namespace: 'heapdump-system' } }, /^Invalid app\.namespace: "heapdump-system" \(expected a namespace other than the pipeline's/],
    ['a bad demo namespace', { app: { namespace: 'Demo' } }, /^Invalid app\.namespace: "Demo"/],
    ['a dump path collectPod refuses', { collect: { mountPath: '/' } }, /^Invalid collect\.mountPath: "\/"/],
    ['a wait timeout in fractions of seconds', { waitTimeoutSeconds: 1.5 }, /^Invalid waitTimeoutSeconds: 1\.5 \(expected a whole number of seconds/],
    ['a webhook without its Secret', { uploader: { notifications: { webhook: { format: 'json' } } } }, /^Invalid uploader\.notifications\.webhook\.secretName: undefined/],
    ['a webhook URL in the file', { uploader: { notifications: { webhook: { secretName: 's', url: 'https://hooks.example.com/x' } } } } as never, /^Unknown key uploader\.notifications\.webhook\.url \(expected a key of uploader\.notifications\.webhook: /],
    ['an unknown injector setting', { injector: { replica: 3 } } as never, /^Unknown key injector\.replica: did you mean injector\.replicas\? \(expected a key of injector: /],
    ['a bad monitoring stack', { monitoring: { stack: 'victoria' } } as never, /^Invalid monitoring\.stack: "victoria"/],
  ])('%s', (_name, props, message) => {
    expect(err(props as Partial<HeapDumpPipelineProps>)).toMatch(message);
  });

  test('an unknown container in collect(), a workload in a namespace that is not collected, a kind without a pod template', () => {
    const chart = Testing.chart();
    const pipeline = new HeapDumpPipeline(chart, 'p', { agentImage: IMAGE, collect: { namespaces: ['orders'] } });
    const d = new kplus.Deployment(chart, 'd', { metadata: { namespace: 'orders' }, containers: [{ name: 'app', image: 'x', portNumber: 8080 }] });
    expect(() => pipeline.collect(d, { containers: ['ap'] })).toThrow(/^collect\(Deployment\/.*\): container "ap" is not in the pod \(containers: app\)$/);
    const elsewhere = new kplus.Deployment(chart, 'e', { metadata: { namespace: 'billing' }, containers: [{ name: 'app', image: 'x', portNumber: 8080 }] });
    expect(() => pipeline.collect(elsewhere)).toThrow(/^collect\(Deployment\/.*\): namespace "billing" is not collected \(collected: memory-leak-demo, orders\); add it to collect\.namespaces$/);
    const cm = new kplus.ConfigMap(chart, 'cm', { metadata: { namespace: 'orders' } });
    expect(() => pipeline.collect(cm)).toThrow(/^collect\(ConfigMap\/.*\): kind ConfigMap has no pod template/);
    const withInit = new kplus.Deployment(chart, 'i', { metadata: { namespace: 'orders' }, initContainers: [{ name: 'migrate', image: 'x' }], containers: [{ name: 'app', image: 'x', portNumber: 8080 }] });
    expect(() => pipeline.collect(withInit, { containers: ['migrate'] })).toThrow(/container "migrate" is an init container: init containers are never instrumented/);
  });
});
