/**
 * The operations settings of issue 10, item 6: scheduling (nodeSelector, tolerations, affinity, the control-plane
 * exclusion), imagePullSecrets, resources per container, extraEnv, the S3 endpoint's CA bundle, the proxy, and
 * namePrefix. Each appears in the manifests as expected on both platforms, the objects pass their schemas and
 * (OpenShift) the SCC admission model, two pipelines side by side share no name, and every bad value stops synth
 * with one line naming the prop path, the value and what was expected.
 */
import { resolveUploaderConfig } from '../../agent/src/config';
import { waitReadyContainer } from '../../agent/src/inject/collect-pod';
import { SETTINGS } from '../../agent/src/settings';
import type { HeapDumpPipelineProps } from '../../lib/pipeline';
import { CONTROL_PLANE_ROLE_LABELS, WORKER_ROLE_LABEL } from '../../lib/scheduling';
import { synthPipeline, type K8sObject } from '../../lib/synth';
import { PipelinePropsError } from '../../lib/validation';
import { resolveEnv, type Container } from '../e2e/kubelet-sim';
import { CLUSTER_SCOPED_KINDS, container, envVar, find, podSpec, workloads, type AnyObj } from '../support/manifests';
import { admissionErrors, type PodSpec, usableSccs } from '../support/scc-admission';
import { schemaErrors } from '../support/schemas';

const IMAGE = 'registry.example.com/platform/heapdump-agent:0.1.0';
const PREFIX = 'team-x-';

/** The control-plane exclusion as it must appear: off control-plane nodes, unless a node is a worker too. */
const EXCLUSION_TERMS = [
  { matchExpressions: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'DoesNotExist' }, { key: 'node-role.kubernetes.io/master', operator: 'DoesNotExist' }] },
  { matchExpressions: [{ key: 'node-role.kubernetes.io/worker', operator: 'Exists' }] },
];
const DEFAULT_SPREAD = {
  podAntiAffinity: {
    preferredDuringSchedulingIgnoredDuringExecution: [{
      weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: 'heapdump-injector' } } },
    }],
  },
};

const ZONES = { key: 'topology.kubernetes.io/zone', operator: 'In' as const, values: ['zone-a', 'zone-b'] };
const RESOURCES = (cpu: string) => ({ requests: { cpu, memory: '64Mi' }, limits: { cpu: '1', memory: '512Mi' } });

/** Every new setting at once. */
function full(platform: 'openshift' | 'kubernetes'): HeapDumpPipelineProps {
  return {
    agentImage: IMAGE,
    platform,
    namePrefix: PREFIX,
    imagePullSecrets: ['registry-pull', 'mirror-pull'],
    scheduling: {
      nodeSelector: { 'example.com/java': 'true' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'java', effect: 'NoSchedule' }, { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 600 }],
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [ZONES] }, { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['worker-9'] }] }] },
          preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 10, preference: { matchExpressions: [{ key: 'example.com/ssd', operator: 'Exists' }] } }],
        },
      },
    },
    volumeManager: { resources: RESOURCES('20m'), extraEnv: [{ name: 'TZ', value: 'UTC' }] },
    uploader: {
      resources: RESOURCES('300m'),
      waitReadyResources: RESOURCES('5m'),
      extraEnv: [
        { name: 'WATCH_MAX_DIRECTORIES', value: '4096' },
        { name: 'TEAM_API_TOKEN', valueFrom: { secretKeyRef: { name: 'team-secrets', key: 'token' } } },
        { name: 'MY_POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      ],
      caBundle: platform === 'openshift' ? { source: 'openshift-trusted' } : { source: 'configmap', configMapName: 's3-private-ca', key: 'ca.crt' },
      proxy: { httpsProxy: 'http://proxy.example.com:3128', noProxy: ['.svc', '.cluster.local', '10.0.0.0/8', 'minio.storage.example.com:9000'] },
      notifications: { kubernetesEvents: true },
    },
    injector: {
      resources: RESOURCES('50m'),
      nodeSelector: { 'node-role.kubernetes.io/infra': '' },
      tolerations: [{ key: 'node-role.kubernetes.io/infra', operator: 'Exists', effect: 'NoSchedule' }],
      affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 50, preference: { matchExpressions: [ZONES] } }] } },
      extraEnv: [{ name: 'TZ', value: 'UTC' }],
    },
    collect: { namespaces: ['orders'] },
  };
}

const PLATFORMS = ['openshift', 'kubernetes'] as const;
const names = (objects: K8sObject[]) => objects.map((o) => `${o.kind}/${o.metadata.name}${o.metadata.namespace ? ` (${o.metadata.namespace})` : ''}`);
const AGENTS = [['DaemonSet', 'dump-volume-manager'], ['DaemonSet', 'heap-dump-s3-uploader'], ['Deployment', 'heapdump-injector']] as const;

describe.each(PLATFORMS)('%s: defaults', (platform) => {
  const { objects } = synthPipeline({ agentImage: IMAGE, platform });

  test('both DaemonSets tolerate every taint and stay off control-plane nodes that are not workers; nothing else is added', () => {
    for (const name of ['dump-volume-manager', 'heap-dump-s3-uploader']) {
      const spec = podSpec(find(objects, 'DaemonSet', name));
      expect(spec.tolerations).toEqual([{ operator: 'Exists' }]);
      expect(spec.affinity).toEqual({ nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: EXCLUSION_TERMS } } });
      expect(spec.nodeSelector).toBeUndefined();
      expect(spec.imagePullSecrets).toBeUndefined();
    }
    expect([...CONTROL_PLANE_ROLE_LABELS, WORKER_ROLE_LABEL]).toEqual(['node-role.kubernetes.io/control-plane', 'node-role.kubernetes.io/master', 'node-role.kubernetes.io/worker']);
  });

  test('the injector keeps its spreading and no tolerations; resources are today\'s', () => {
    const spec = podSpec(find(objects, 'Deployment', 'heapdump-injector'));
    expect(spec.affinity).toEqual(DEFAULT_SPREAD);
    expect(spec.tolerations).toBeUndefined();
    expect(spec.nodeSelector).toBeUndefined();
    const up = find(objects, 'DaemonSet', 'heap-dump-s3-uploader');
    expect(container(up, 'uploader').resources).toEqual({ requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '1', memory: '256Mi' } });
    expect(container(up, 'heapdump-wait-ready').resources).toEqual({ requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '100m', memory: '128Mi' } });
  });

  test('no CA bundle, no proxy: no extra volume, no proxy variable', () => {
    const up = find(objects, 'DaemonSet', 'heap-dump-s3-uploader');
    expect(podSpec(up).volumes.map((v: { name: string }) => v.name)).toEqual(['host-dump', 'tmp']);
    expect(envVar(container(up, 'uploader'), 'S3_CA_BUNDLE_FILE')).toBeUndefined();
    const data = find(objects, 'ConfigMap', 's3-uploader-config').data;
    for (const k of ['HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY']) expect(data[k]).toBeUndefined();
  });
});

test('a collected pod\'s wait-ready (collectPod) and the uploader\'s have the same default resources', () => {
  const fromCollect = waitReadyContainer({ agentImage: IMAGE, imagePullPolicy: 'IfNotPresent', volumeName: 'v', logLevel: 'info', waitTimeoutSeconds: 600 }).resources;
  expect(fromCollect).toEqual(SETTINGS.uploaderWaitReadyResources.default);
});

describe.each(PLATFORMS)('%s: every new setting', (platform) => {
  const { objects } = synthPipeline(full(platform));
  const guard = find(objects, 'DaemonSet', `${PREFIX}dump-volume-manager`);
  const uploader = find(objects, 'DaemonSet', `${PREFIX}heap-dump-s3-uploader`);
  const injector = find(objects, 'Deployment', `${PREFIX}heapdump-injector`);

  test('every object validates against its Kubernetes or CRD schema', () => {
    expect(objects.flatMap(schemaErrors)).toEqual([]);
  });

  test('scheduling: the same node selector, tolerations and affinity on both DaemonSets; the exclusion ANDed to each own term', () => {
    for (const ds of [guard, uploader]) {
      const spec = podSpec(ds);
      expect(spec.nodeSelector).toEqual({ 'example.com/java': 'true' });
      expect(spec.tolerations).toEqual(full(platform).scheduling!.tolerations);
      expect(spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution)
        .toEqual([{ weight: 10, preference: { matchExpressions: [{ key: 'example.com/ssd', operator: 'Exists' }] } }]);
      // (zone OR worker-9) AND (not control plane OR worker): four terms, each own term with each exclusion term.
      expect(spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms).toEqual([
        { matchExpressions: [ZONES, ...EXCLUSION_TERMS[0].matchExpressions] },
        { matchExpressions: [ZONES, ...EXCLUSION_TERMS[1].matchExpressions] },
        { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['worker-9'] }], matchExpressions: EXCLUSION_TERMS[0].matchExpressions },
        { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['worker-9'] }], matchExpressions: EXCLUSION_TERMS[1].matchExpressions },
      ]);
    }
  });

  test('the injector: its own node selector and tolerations, its node affinity next to the default spreading', () => {
    const spec = podSpec(injector);
    expect(spec.nodeSelector).toEqual({ 'node-role.kubernetes.io/infra': '' });
    expect(spec.tolerations).toEqual([{ key: 'node-role.kubernetes.io/infra', operator: 'Exists', effect: 'NoSchedule' }]);
    expect(spec.affinity).toEqual({
      nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 50, preference: { matchExpressions: [ZONES] } }] },
      podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: `${PREFIX}heapdump-injector` } } } }] },
    });
  });

  test('imagePullSecrets on the three agent pods only (not on the application\'s)', () => {
    for (const w of [guard, uploader, injector]) expect(podSpec(w).imagePullSecrets).toEqual([{ name: 'registry-pull' }, { name: 'mirror-pull' }]);
    expect(podSpec(find(objects, 'Deployment', 'memory-leak-app')).imagePullSecrets).toBeUndefined();
  });

  test('resources per container: guard, uploader, its wait-ready, injector', () => {
    expect(container(guard, 'mount-guard').resources).toEqual(RESOURCES('20m'));
    expect(container(uploader, 'uploader').resources).toEqual(RESOURCES('300m'));
    expect(container(uploader, 'heapdump-wait-ready').resources).toEqual(RESOURCES('5m'));
    expect(container(injector, 'inject').resources).toEqual(RESOURCES('50m'));
  });

  test('extraEnv comes after the pipeline\'s own variables, as written', () => {
    const tail = (c: { env: unknown[] }, k: number) => c.env.slice(-k);
    expect(tail(container(guard, 'mount-guard'), 1)).toEqual([{ name: 'TZ', value: 'UTC' }]);
    expect(tail(container(injector, 'inject'), 1)).toEqual([{ name: 'TZ', value: 'UTC' }]);
    expect(tail(container(uploader, 'uploader'), 3)).toEqual(full(platform).uploader!.extraEnv);
  });

  test('the CA bundle is mounted into the uploader and named by S3_CA_BUNDLE_FILE', () => {
    const spec = podSpec(uploader);
    const up = container(uploader, 'uploader');
    const volume = spec.volumes.find((v: { name: string }) => v.name === 's3-ca');
    if (platform === 'openshift') {
      // Emitted empty and labelled: the Cluster Network Operator writes ca-bundle.crt into it.
      const cm = find(objects, 'ConfigMap', `${PREFIX}heapdump-trusted-ca-bundle`);
      expect(cm.metadata.namespace).toBe(`${PREFIX}heapdump-system`);
      expect(cm.metadata.labels['config.openshift.io/inject-trusted-cabundle']).toBe('true');
      expect(cm.data).toBeUndefined();
      expect(objects.indexOf(cm as K8sObject)).toBeLessThan(objects.indexOf(uploader as K8sObject));
      expect(volume).toEqual({ name: 's3-ca', configMap: { name: `${PREFIX}heapdump-trusted-ca-bundle`, items: [{ key: 'ca-bundle.crt', path: 'ca-bundle.crt' }], defaultMode: 0o444 } });
    } else {
      // Your own ConfigMap: referenced, never emitted.
      expect(objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.name === 's3-private-ca')).toEqual([]);
      expect(volume).toEqual({ name: 's3-ca', configMap: { name: 's3-private-ca', items: [{ key: 'ca.crt', path: 'ca-bundle.crt' }], defaultMode: 0o444 } });
    }
    expect(up.volumeMounts).toContainEqual({ name: 's3-ca', mountPath: '/etc/heapdump/s3-ca', readOnly: true });
    expect(envVar(up, 'S3_CA_BUNDLE_FILE')).toEqual({ name: 'S3_CA_BUNDLE_FILE', value: '/etc/heapdump/s3-ca/ca-bundle.crt' });
  });

  test('the proxy reaches the agent through the ConfigMap, and the agent resolves it (and the rest of the env) as set', () => {
    const cm = find(objects, 'ConfigMap', `${PREFIX}s3-uploader-config`);
    expect(cm.data).toMatchObject({ HTTPS_PROXY: 'http://proxy.example.com:3128', NO_PROXY: '.svc,.cluster.local,10.0.0.0/8,minio.storage.example.com:9000' });
    expect(cm.data.HTTP_PROXY).toBeUndefined();
    const env = resolveEnv(container(uploader, 'uploader') as Container, {
      nodeName: 'worker-1', namespace: `${PREFIX}heapdump-system`, podName: 'up-0', podIP: '10.128.0.7',
      configMaps: { [cm.metadata.name]: cm.data }, secrets: { 's3-credentials': { AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b' }, 'team-secrets': { token: 't' } },
    });
    // The bundle itself is a mounted file, read at start (test/agent/s3-transport.test.ts): here only its name.
    const { S3_CA_BUNDLE_FILE: caFile, ...rest } = env;
    expect(caFile).toBe('/etc/heapdump/s3-ca/ca-bundle.crt');
    // The kubelet adds the API server's address to every pod (Kubernetes Events are on here).
    const cfg = resolveUploaderConfig({ ...rest, KUBERNETES_SERVICE_HOST: '172.30.0.1', KUBERNETES_SERVICE_PORT: '443' });
    expect(cfg.s3.proxy).toEqual({ httpsProxy: 'http://proxy.example.com:3128', noProxy: ['.svc', '.cluster.local', '10.0.0.0/8', 'minio.storage.example.com:9000'] });
    expect(cfg.maxWatches).toBe(4096);
  });

  if (platform === 'openshift') {
    test('SCC admission: each agent pod is admitted by an SCC its ServiceAccount may use, its own prefixed one', () => {
      const expected: Record<string, string[]> = {
        [`${PREFIX}dump-volume-manager`]: [`${PREFIX}dump-volume-privileged`],
        [`${PREFIX}heap-dump-s3-uploader`]: [`${PREFIX}heap-dump-uploader`],
        [`${PREFIX}heapdump-injector`]: ['restricted-v2'],
        [`${PREFIX}heapdump-analyzer`]: ['restricted-v2'],
        'memory-leak-app': [`${PREFIX}heap-dump-app`],
      };
      for (const w of workloads(objects)) {
        const pod = podSpec(w) as PodSpec;
        const admitting = usableSccs(objects, pod.serviceAccountName!, w.metadata.namespace!)
          .filter((scc) => admissionErrors(scc, pod).length === 0).map((s) => s.metadata.name);
        expect({ [w.metadata.name]: admitting }).toEqual({ [w.metadata.name]: expected[w.metadata.name] });
      }
    });
  }
});

describe('includeControlPlane, empty tolerations, the injector\'s anti-affinity, secret-looking names', () => {
  test('true: no exclusion; an affinity of your own is used as written', () => {
    const plain = synthPipeline({ agentImage: IMAGE, scheduling: { includeControlPlane: true } }).objects;
    for (const [, name] of AGENTS.slice(0, 2)) expect(podSpec(find(plain, 'DaemonSet', name)).affinity).toBeUndefined();
    const affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [ZONES] }] } } };
    const own = synthPipeline({ agentImage: IMAGE, scheduling: { includeControlPlane: true, affinity } }).objects;
    for (const [, name] of AGENTS.slice(0, 2)) expect(podSpec(find(own, 'DaemonSet', name)).affinity).toEqual(affinity);
  });

  test('an empty toleration list: none at all (tainted nodes then get no guard)', () => {
    const { objects } = synthPipeline({ agentImage: IMAGE, scheduling: { tolerations: [] } });
    for (const [, name] of AGENTS.slice(0, 2)) expect(podSpec(find(objects, 'DaemonSet', name)).tolerations).toBeUndefined();
  });

  test('extraEnv: names that only look secret because they name a file are fine as literals; secret-looking ones are not', () => {
    const literal = (name: string) => ({ agentImage: IMAGE, uploader: { extraEnv: [{ name, value: '/var/run/secrets/tokens/token' }] } });
    for (const name of ['AWS_WEB_IDENTITY_TOKEN_FILE', 'TRUST_STORE_PATH', 'CREDENTIALS_DIR', 'AWS_ROLE_ARN', 'KEYSTORE_TYPE']) {
      expect(() => synthPipeline(literal(name))).not.toThrow();
    }
    for (const name of ['GITHUB_TOKEN', 'db_password', 'API_KEY', 'MY_APIKEY', 'SECRET', 'MINIO_ACCESS_KEY', 'SSH_PRIVATE_KEY', 'PROXY_CREDENTIALS']) {
      expect(() => synthPipeline(literal(name))).toThrow(`Invalid uploader.extraEnv[0].value: "<redacted>"`);
    }
  });

  test('a podAntiAffinity of the injector\'s own replaces its spreading', () => {
    const anti = { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'topology.kubernetes.io/zone', labelSelector: { matchLabels: { app: 'heapdump-injector' } } }] };
    const { objects } = synthPipeline({ agentImage: IMAGE, injector: { affinity: { podAntiAffinity: anti } } });
    expect(podSpec(find(objects, 'Deployment', 'heapdump-injector')).affinity).toEqual({ podAntiAffinity: anti });
  });
});

describe('namePrefix: two pipelines in one cluster', () => {
  const a = synthPipeline({ agentImage: IMAGE, collect: { namespaces: ['orders'] }, uploader: { notifications: { kubernetesEvents: true } } }).objects;
  const b = synthPipeline({ ...full('openshift'), collect: { namespaces: ['payments'] } }).objects;
  const key = (o: K8sObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

  test('no object of one has the kind, namespace and name of an object of the other', () => {
    const inA = new Set(a.map(key));
    expect(b.map(key).filter((k) => inA.has(k))).toEqual([]);
    // Cluster-scoped objects are where a clash would hurt: every one of the second pipeline is prefixed.
    const clusterScoped = b.filter((o) => CLUSTER_SCOPED_KINDS.includes(o.kind));
    expect(clusterScoped.length).toBeGreaterThanOrEqual(13);
    expect(clusterScoped.filter((o) => !o.metadata.name.startsWith(PREFIX)).map(key)).toEqual([]);
  });

  test('every name the pipeline chooses is prefixed; names you set (the demo\'s app names) are not', () => {
    const unprefixed = b.filter((o) => !o.metadata.name.startsWith(PREFIX)).map(key);
    expect(unprefixed.sort()).toEqual([
      'ConfigMap/team-x-memory-leak-demo/memory-leak-app-source',
      'Deployment/team-x-memory-leak-demo/memory-leak-app',
      'Route/team-x-memory-leak-demo/memory-leak-app',
      'Service/team-x-memory-leak-demo/memory-leak-service',
      'ServiceAccount/team-x-memory-leak-demo/memory-leak-app',
    ]);
    expect(names(b).filter((n) => n.startsWith('Namespace/'))).toEqual(['Namespace/team-x-heapdump-system', 'Namespace/team-x-memory-leak-demo']);
    expect(find(b, 'PriorityClass', `${PREFIX}dump-volume-critical`)).toBeDefined();
    expect(find(b, 'PersistentVolumeClaim', `${PREFIX}dump-storage-pvc`).metadata.namespace).toBe(`${PREFIX}heapdump-system`);
  });

  test('without a prefix every name is today\'s (the snapshot and the name list of pipeline.test.ts), with one', () => {
    expect(names(a)).toContain('SecurityContextConstraints/dump-volume-privileged');
    expect(names(b)).toEqual(expect.arrayContaining([
      'SecurityContextConstraints/team-x-dump-volume-privileged', 'ClusterRole/team-x-dump-volume-scc-user',
      'SecurityContextConstraints/team-x-heap-dump-uploader', 'ClusterRole/team-x-heap-dump-uploader-scc-user',
      'SecurityContextConstraints/team-x-heap-dump-app', 'ClusterRole/team-x-heap-dump-app-scc-user',
      'ClusterRole/team-x-heapdump-event-reporter', 'PriorityClass/team-x-dump-volume-critical',
      'ValidatingAdmissionPolicy/team-x-heapdump-dump-volume', 'ValidatingAdmissionPolicyBinding/team-x-heapdump-dump-volume',
      'MutatingWebhookConfiguration/team-x-heapdump-pipeline-inject', 'ValidatingWebhookConfiguration/team-x-heapdump-pipeline-exec-guard',
      'RoleBinding/team-x-heapdump-app-scc (payments)', 'RoleBinding/team-x-heap-dump-s3-uploader-events (payments)',
      'ConfigMap/team-x-s3-uploader-config (team-x-heapdump-system)', 'Service/team-x-heapdump-injector (team-x-heapdump-system)',
      'PodMonitor/team-x-heapdump-agents (team-x-heapdump-system)', 'PrometheusRule/team-x-heapdump-pipeline-alerts (team-x-heapdump-system)',
    ]));
  });

  test('the collection label\'s value names the pipeline: each webhook selects only its own namespaces', () => {
    const selector = (objs: K8sObject[], name: string) => (find(objs, 'MutatingWebhookConfiguration', name) as AnyObj).webhooks[0].namespaceSelector.matchLabels;
    expect(selector(a, 'heapdump-pipeline-inject')).toEqual({ 'heapdump-pipeline.io/collect': 'true' });
    expect(selector(b, `${PREFIX}heapdump-pipeline-inject`)).toEqual({ 'heapdump-pipeline.io/collect': 'team-x' });
    expect(find(b, 'Namespace', `${PREFIX}memory-leak-demo`).metadata.labels['heapdump-pipeline.io/collect']).toBe('team-x');
    expect(find(a, 'Namespace', 'memory-leak-demo').metadata.labels['heapdump-pipeline.io/collect']).toBe('true');
    // The webhook calls its own injector, whose certificate (Kubernetes) or Service (OpenShift) is its own.
    const hook = (find(b, 'MutatingWebhookConfiguration', `${PREFIX}heapdump-pipeline-inject`) as AnyObj).webhooks[0];
    expect(hook.clientConfig.service).toMatchObject({ name: `${PREFIX}heapdump-injector`, namespace: `${PREFIX}heapdump-system` });
    const k8s = synthPipeline({ ...full('kubernetes') }).objects;
    expect(find(k8s, 'MutatingWebhookConfiguration', `${PREFIX}heapdump-pipeline-inject`).metadata.annotations['cert-manager.io/inject-ca-from'])
      .toBe(`${PREFIX}heapdump-system/${PREFIX}heapdump-injector-serving`);
    expect(find(k8s, 'Certificate', `${PREFIX}heapdump-injector-serving`).spec.dnsNames).toEqual([
      `${PREFIX}heapdump-injector.${PREFIX}heapdump-system.svc`, `${PREFIX}heapdump-injector.${PREFIX}heapdump-system.svc.cluster.local`,
    ]);
  });

  test('the admission policy of each pipeline follows the pods its own application SCC admitted', () => {
    const vap = find(b, 'ValidatingAdmissionPolicy', `${PREFIX}heapdump-dump-volume`);
    expect(vap.spec.matchConditions[0].expression).toContain(`== '${PREFIX}heap-dump-app'`);
    expect(find(b, 'ValidatingAdmissionPolicyBinding', `${PREFIX}heapdump-dump-volume`).spec.policyName).toBe(`${PREFIX}heapdump-dump-volume`);
  });

  test('no ServiceAccount of one pipeline can use the other\'s SCCs', () => {
    const both = [...a, ...b];
    const sccs = (sa: string, ns: string) => usableSccs(both, sa, ns).map((s) => s.metadata.name).sort();
    expect(sccs('dump-volume-manager', 'heapdump-system')).toEqual(['dump-volume-privileged', 'restricted-v2']);
    expect(sccs(`${PREFIX}dump-volume-manager`, `${PREFIX}heapdump-system`)).toEqual(['restricted-v2', `${PREFIX}dump-volume-privileged`]);
    expect(sccs('default', 'payments')).toEqual(['restricted-v2', `${PREFIX}heap-dump-app`]);
    expect(sccs('default', 'orders')).toEqual(['heap-dump-app', 'restricted-v2']);
  });
});

/** [what, props (as a config file would have them: deliberately wrong), the one line]. Secrets never appear. */
const FAILURES: [string, Record<string, unknown>, string][] = [
  ['a name prefix without its dash', { namePrefix: 'team-x' },
    'Invalid namePrefix: "team-x" (expected "" or a prefix such as "team-x-": at most 30 lowercase letters, digits and \'-\', starting with a letter or digit and ending with \'-\')'],
  ['a toleration with a value and Exists', { scheduling: { tolerations: [{ key: 'a', operator: 'Exists', value: 'x' }] } },
    'Invalid scheduling.tolerations[0].value: "x" (expected no value with operator Exists)'],
  ['a toleration of every key with Equal', { scheduling: { tolerations: [{ effect: 'NoSchedule' }] } },
    'Invalid scheduling.tolerations[0].operator: undefined (missing) (expected operator Exists when the key is empty (a toleration of every taint))'],
  ['tolerationSeconds without NoExecute', { injector: { tolerations: [{ key: 'a', operator: 'Exists', effect: 'NoSchedule', tolerationSeconds: 30 }] } },
    'Invalid injector.tolerations[0].tolerationSeconds: 30 (expected tolerationSeconds only with effect NoExecute)'],
  ['an unknown taint effect', { scheduling: { tolerations: [{ key: 'a', operator: 'Exists', effect: 'NoRun' }] } },
    'Invalid scheduling.tolerations[0].effect: "NoRun" (expected one of NoSchedule, PreferNoSchedule, NoExecute)'],
  ['In without values', { scheduling: { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In' }] }] } } } } },
    'Invalid scheduling.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values: undefined (missing) (expected at least one value with operator In)'],
  ['Gt with a word', { scheduling: { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'cores', operator: 'Gt', values: ['many'] }] }] } } } } },
    'Invalid scheduling.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values: ["many"] (expected exactly one whole number with operator Gt)'],
  ['an empty node selector term', { scheduling: { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{}] } } } } },
    'Invalid scheduling.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions: undefined (missing) (expected at least one requirement (an empty term selects no node))'],
  ['a pod affinity term without topologyKey', { injector: { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: {} }] } } } },
    'Invalid injector.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: undefined (missing) (expected a label key such as example.com/name; it is required)'],
  ['a misspelt affinity key', { scheduling: { affinity: { nodeAfinity: {} } } },
    'Unknown key scheduling.affinity.nodeAfinity: did you mean scheduling.affinity.nodeAffinity? (expected a key of scheduling.affinity: nodeAffinity, podAffinity, podAntiAffinity)'],
  ['a node selector key with a space', { scheduling: { nodeSelector: { 'bad key': 'x' } } },
    'Invalid scheduling.nodeSelector.bad key: "bad key" (expected a label key such as example.com/name)'],
  ['includeControlPlane as a string', { scheduling: { includeControlPlane: 'yes' } },
    'Invalid scheduling.includeControlPlane: "yes" (expected true or false)'],
  ['a misspelt scheduling key', { scheduling: { tolerances: [] } },
    'Unknown key scheduling.tolerances (expected a key of scheduling: nodeSelector, tolerations, affinity, includeControlPlane)'],
  ['a pull Secret name with capitals', { imagePullSecrets: ['Registry_Pull'] },
    'Invalid imagePullSecrets[0]: "Registry_Pull" (expected a Kubernetes name (RFC 1123 subdomain))'],
  ['a pull Secret twice', { imagePullSecrets: ['pull', 'pull'] }, 'Invalid imagePullSecrets[1]: "pull" (expected each entry once)'],
  ['uploader resources without limits', { uploader: { resources: { requests: { cpu: '1', memory: '1Gi' } } } },
    'Invalid uploader.resources.limits: undefined (missing) (expected an object with cpu and memory)'],
  ['a wait-ready cpu that is no quantity', { uploader: { waitReadyResources: { requests: { cpu: 'lots', memory: '1Mi' }, limits: { cpu: '1', memory: '1Mi' } } } },
    'Invalid uploader.waitReadyResources.requests.cpu: "lots" (expected a positive Kubernetes quantity such as 10Gi, 512Mi or 100m)'],
  ['an extra variable the pipeline sets (guard)', { volumeManager: { extraEnv: [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=64' }] } },
    'Invalid volumeManager.extraEnv[0].name: "NODE_OPTIONS" (expected a name the pipeline does not set on this container (this variable is a setting of its own))'],
  ['an extra variable that is a ConfigMap key of the uploader', { uploader: { extraEnv: [{ name: 'S3_BUCKET', valueFrom: { secretKeyRef: { name: 's', key: 'b' } } }] } },
    'Invalid uploader.extraEnv[0].name: "S3_BUCKET" (expected a name the pipeline does not set on this container (this variable is a setting of its own))'],
  ['a literal value for a variable that has a prop', { uploader: { extraEnv: [{ name: 'HTTPS_PROXY', value: 'http://proxy:3128' }] } },
    'Invalid uploader.extraEnv[0].name: "HTTPS_PROXY" (expected the prop uploader.proxy.httpsProxy instead (a literal value of this variable is that setting))'],
  ['a literal secret', { uploader: { extraEnv: [{ name: 'DB_PASSWORD', value: 'hunter2' }] } },
    'Invalid uploader.extraEnv[0].value: "<redacted>" (expected valueFrom.secretKeyRef for a secret: a literal value would be in dist/)'],
  ['a literal value of a secret agent variable', { injector: { extraEnv: [{ name: 'NOTIFY_WEBHOOK_URL', value: 'https://hooks.example.com/x' }] } },
    'Invalid injector.extraEnv[0].value: "<redacted>" (expected valueFrom.secretKeyRef for a secret: a literal value would be in dist/)'],
  ['an agent variable with a value the agent refuses', { uploader: { extraEnv: [{ name: 'WATCH_MAX_DIRECTORIES', value: 'lots' }] } },
    'Invalid uploader.extraEnv[0].value: "lots" (expected a whole number between 0 and 100000 (what WATCH_MAX_DIRECTORIES accepts))'],
  ['an extra variable twice', { injector: { extraEnv: [{ name: 'TZ', value: 'UTC' }, { name: 'TZ', value: 'CET' }] } },
    'Invalid injector.extraEnv[1].name: "TZ" (expected each name once)'],
  ['value and valueFrom', { volumeManager: { extraEnv: [{ name: 'A', value: 'x', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }] } },
    'Invalid volumeManager.extraEnv[0].valueFrom: {"fieldRef":{"fieldPath":"metadata.name"}} (expected exactly one of value and valueFrom)'],
  ['a field the downward API does not have', { uploader: { extraEnv: [{ name: 'A', valueFrom: { fieldRef: { fieldPath: 'spec.containers' } } }] } },
    'Invalid uploader.extraEnv[0].valueFrom.fieldRef.fieldPath: "spec.containers" (expected a downward API field such as metadata.name, metadata.labels[\'x\'], spec.nodeName or status.podIP)'],
  ['a CA bundle without a source', { uploader: { caBundle: { configMapName: 's3-ca' } } },
    'Invalid uploader.caBundle.source: undefined (missing) (expected one of openshift-trusted, configmap; it is required)'],
  ['a CA bundle of your own without its ConfigMap', { uploader: { caBundle: { source: 'configmap' } } },
    'Invalid uploader.caBundle.configMapName: undefined (missing) (expected the ConfigMap (in the pipeline namespace) that holds the PEM bundle; it is required with source "configmap")'],
  ['the trusted CA bundle with another key', { uploader: { caBundle: { source: 'openshift-trusted', key: 'ca.crt' } } },
    'Invalid uploader.caBundle.key: "ca.crt" (expected "ca-bundle.crt" with source "openshift-trusted" (the key the Cluster Network Operator writes))'],
  ['the trusted CA bundle on Kubernetes', { platform: 'kubernetes', uploader: { caBundle: { source: 'openshift-trusted' } } },
    'Invalid uploader.caBundle.source: "openshift-trusted" (expected "configmap" on platform "kubernetes" (the trusted CA bundle injection is OpenShift\'s))'],
  ['a proxy URL with credentials', { uploader: { proxy: { httpsProxy: 'http://user:secret@proxy.example.com:3128' } } },
    'Invalid uploader.proxy.httpsProxy: "http://<redacted>@proxy.example.com:3128" (expected an http:// proxy URL such as http://proxy.example.com:3128, without a path or credentials)'],
  ['an https:// proxy URL', { uploader: { proxy: { httpProxy: 'https://proxy.example.com:3128' } } },
    'Invalid uploader.proxy.httpProxy: "https://proxy.example.com:3128" (expected an http:// proxy URL such as http://proxy.example.com:3128, without a path or credentials)'],
  ['noProxy without a proxy', { uploader: { proxy: { noProxy: ['.svc'] } } },
    'Invalid uploader.proxy.noProxy: [".svc"] (expected unset without httpsProxy or httpProxy (it would change nothing))'],
  ['a noProxy entry that is no host', { uploader: { proxy: { httpsProxy: 'http://proxy:3128', noProxy: ['http://minio:9000'] } } },
    'Invalid uploader.proxy.noProxy: ["http://minio:9000"] (expected a list of hosts that bypass the proxy, such as [".svc", ".cluster.local", "10.0.0.0/8", "s3.internal:9000"]: domains (a leading "." = subdomains only), IP addresses or CIDR ranges, optional ports, or "*")'],
  ['a misspelt proxy key', { uploader: { proxy: { httpsProxi: 'http://proxy:3128' } } },
    'Unknown key uploader.proxy.httpsProxi: did you mean uploader.proxy.httpsProxy? (expected a key of uploader.proxy: httpsProxy, httpProxy, noProxy)'],
];

describe('fails with one line naming the prop path, the value and what was expected', () => {
  test.each(FAILURES)('fails for %s', (_what, props, line) => {
    let error: unknown;
    try {
      synthPipeline({ agentImage: IMAGE, ...props } as HeapDumpPipelineProps);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PipelinePropsError);
    expect((error as Error).message).toBe(line);
    expect((error as Error).message).not.toMatch(/hunter2|secret@|hooks\.example/);
  });
});
