import { Chart, Testing } from 'cdk8s';
import { HeapDumpPipeline, HeapDumpPipelineProps } from '../../lib/pipeline';
import { synthPipeline } from '../../lib/synth';
import { CLUSTER_SCOPED_KINDS, find, ofKind, podSpec, workloads } from '../support/manifests';

const IMAGE = 'registry.example.com/platform/heapdump-agent:0.1.0';

const CUSTOMISED: HeapDumpPipelineProps = {
  agentImage: IMAGE,
  namespace: 'payments-dumps',
  imagePullPolicy: 'Always',
  waitTimeoutSeconds: 120,
  storage: { size: '50Gi', storageClassName: 'ocs-storagecluster-cephfs', accessMode: 'ReadWriteMany' },
  priorityClass: { value: 2000000 },
  volumeManager: { checkIntervalSeconds: 10 },
  uploader: {
    bucket: 'payments.heap-dumps',
    prefix: 'prod/',
    endpoint: 'https://minio.example.com:9000',
    forcePathStyle: true,
    storageClass: 'STANDARD_IA',
    afterUpload: 'delete',
    retentionMaxAgeSeconds: 604800,
    credentials: { source: 'workload-identity', roleArn: 'arn:aws:iam::123456789012:role/heap-dump-uploader' },
  },
  app: { image: 'registry.example.com/payments/api:1.4.2', maxHeap: '1g', replicas: 3, routeHost: 'api.apps.example.com' },
};

describe('HeapDumpPipeline', () => {
  test('default pipeline matches the snapshot', () => {
    expect(synthPipeline({ agentImage: IMAGE }).objects).toMatchSnapshot();
  });

  test('customised pipeline matches the snapshot', () => {
    expect(synthPipeline(CUSTOMISED).objects).toMatchSnapshot();
  });

  test('kubernetes pipeline matches the snapshot', () => {
    expect(synthPipeline({ agentImage: IMAGE, platform: 'kubernetes', app: { ingress: { host: 'leak.example.com', className: 'nginx' } } }).objects)
      .toMatchSnapshot();
  });

  test('emits the prototype names and the objects of the issue on OpenShift', () => {
    const { objects } = synthPipeline({ agentImage: IMAGE });
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}${o.metadata.namespace ? ` (${o.metadata.namespace})` : ''}`)).toEqual([
      'Namespace/heapdump-system',
      'Namespace/memory-leak-demo',
      'PriorityClass/dump-volume-critical',
      'SecurityContextConstraints/dump-volume-privileged',
      'ClusterRole/dump-volume-scc-user',
      'SecurityContextConstraints/heap-dump-uploader',
      'ClusterRole/heap-dump-uploader-scc-user',
      'SecurityContextConstraints/heap-dump-app',
      'ClusterRole/heap-dump-app-scc-user',
      'ValidatingAdmissionPolicy/heapdump-dump-volume',
      'ValidatingAdmissionPolicyBinding/heapdump-dump-volume',
      'MutatingWebhookConfiguration/heapdump-pipeline-inject',
      'ValidatingWebhookConfiguration/heapdump-pipeline-exec-guard',
      'APIService/v1alpha1.heapdump-pipeline.io',
      'ClusterRole/heapdump-pipeline-heapdumps-edit',
      'ClusterRole/heapdump-pipeline-heapdumps-view',
      'ClusterRoleBinding/heapdump-api-auth-delegator',
      'RoleBinding/heapdump-app-scc (memory-leak-demo)',
      'PersistentVolumeClaim/dump-storage-pvc (heapdump-system)',
      'ServiceAccount/dump-volume-manager (heapdump-system)',
      'RoleBinding/dump-volume-manager-scc (heapdump-system)',
      'DaemonSet/dump-volume-manager (heapdump-system)',
      'ServiceAccount/heap-dump-s3-uploader (heapdump-system)',
      'RoleBinding/heap-dump-uploader-scc (heapdump-system)'.replace('heap-dump-uploader-scc', 'heap-dump-s3-uploader-scc'),
      'ConfigMap/s3-uploader-config (heapdump-system)',
      'DaemonSet/heap-dump-s3-uploader (heapdump-system)',
      'ServiceAccount/heapdump-analyzer (heapdump-system)',
      'ConfigMap/heapdump-analyzer-config (heapdump-system)',
      'Service/heapdump-analyzer (heapdump-system)',
      'Deployment/heapdump-analyzer (heapdump-system)',
      'ServiceAccount/heapdump-injector (heapdump-system)',
      'Service/heapdump-injector (heapdump-system)',
      'Deployment/heapdump-injector (heapdump-system)',
      'PodDisruptionBudget/heapdump-injector (heapdump-system)',
      'ServiceAccount/heapdump-api (heapdump-system)',
      // kube-system exists in every cluster: the aggregation layer's requestheader CA is readable there
      'RoleBinding/heapdump-api-auth-reader (kube-system)',
      'Service/heapdump-api (heapdump-system)',
      'Deployment/heapdump-api (heapdump-system)',
      'PodDisruptionBudget/heapdump-api (heapdump-system)',
      'Route/heapdump-api (heapdump-system)',
      'PodMonitor/heapdump-agents (heapdump-system)',
      'PrometheusRule/heapdump-pipeline-alerts (heapdump-system)',
      'ServiceAccount/memory-leak-app (memory-leak-demo)',
      'ConfigMap/memory-leak-app-source (memory-leak-demo)',
      'Deployment/memory-leak-app (memory-leak-demo)',
      'Service/memory-leak-service (memory-leak-demo)',
      'Route/memory-leak-app (memory-leak-demo)',
    ]);
  });

  test.each([
    ['default', { agentImage: IMAGE }],
    ['customised', CUSTOMISED],
    ['kubernetes', { agentImage: IMAGE, platform: 'kubernetes' as const }],
  ])('%s: apply order is safe on an empty cluster', (_name, props) => {
    const { objects } = synthPipeline(props);
    const index = (kind: string, name: string) => objects.findIndex((o) => o.kind === kind && o.metadata.name === name);
    // The namespaces first, then every cluster-scoped object, then the namespaced ones.
    expect(objects[0].kind).toBe('Namespace');
    const namespaces = ofKind(objects, 'Namespace').map((n) => n.metadata.name);
    expect(objects.slice(0, namespaces.length).every((o) => o.kind === 'Namespace')).toBe(true);
    // (kube-system is every cluster's own: the API server's reader binding lives there)
    for (const o of objects) if (o.metadata.namespace !== undefined && o.metadata.namespace !== 'kube-system') expect(namespaces).toContain(o.metadata.namespace);
    const firstNamespaced = objects.findIndex((o) => !CLUSTER_SCOPED_KINDS.includes(o.kind));
    expect(objects.slice(firstNamespaced).every((o) => !CLUSTER_SCOPED_KINDS.includes(o.kind))).toBe(true);
    // Whatever a workload references exists before it.
    for (const w of workloads(objects)) {
      const spec = podSpec(w);
      const at = index(w.kind, w.metadata.name);
      const refs: [string, string][] = [['ServiceAccount', spec.serviceAccountName]];
      if (spec.priorityClassName) refs.push(['PriorityClass', spec.priorityClassName]);
      for (const v of spec.volumes ?? []) {
        if (v.persistentVolumeClaim) refs.push(['PersistentVolumeClaim', v.persistentVolumeClaim.claimName]);
        if (v.configMap) refs.push(['ConfigMap', v.configMap.name]);
      }
      for (const c of spec.containers) for (const e of c.envFrom ?? []) refs.push(['ConfigMap', e.configMapRef.name]);
      for (const b of ofKind(objects, 'RoleBinding').filter((rb) => rb.subjects[0].name === spec.serviceAccountName)) {
        // (a Role it names is the cluster's own: extension-apiserver-authentication-reader in kube-system)
        refs.push(['RoleBinding', b.metadata.name], ...(b.roleRef.kind === 'ClusterRole' ? [['ClusterRole', b.roleRef.name] as [string, string]] : []));
      }
      for (const [kind, name] of refs) {
        const refAt = index(kind, name);
        expect({ workload: w.metadata.name, ref: `${kind}/${name}`, before: refAt >= 0 && refAt < at }).toEqual(
          { workload: w.metadata.name, ref: `${kind}/${name}`, before: true });
      }
    }
  });

  test('cluster-scoped objects carry no namespace; the agents are in the pipeline namespace, the demo in its own', () => {
    for (const props of [{ agentImage: IMAGE }, CUSTOMISED]) {
      const { objects } = synthPipeline(props);
      const ns = props.namespace ?? 'heapdump-system';
      const appNs = props.app?.namespace ?? 'memory-leak-demo';
      const appNames = [props.app?.name ?? 'memory-leak-app', `${props.app?.name ?? 'memory-leak-app'}-source`, 'memory-leak-service', 'heapdump-app-scc'];
      for (const o of objects) {
        if (CLUSTER_SCOPED_KINDS.includes(o.kind)) expect(o.metadata.namespace).toBeUndefined();
        else if (o.kind === 'RoleBinding' && o.metadata.name === 'heapdump-api-auth-reader') expect(o.metadata.namespace).toBe('kube-system');
        else {
          const want = appNames.includes(o.metadata.name) ? appNs : ns;
          expect(`${o.kind}/${o.metadata.name}:${o.metadata.namespace}`).toBe(`${o.kind}/${o.metadata.name}:${want}`);
        }
      }
    }
  });

  test('a chart with a default namespace does not leak it into cluster-scoped objects', () => {
    const app = Testing.app();
    const chart = new Chart(app, 'platform', { namespace: 'team-default' });
    new HeapDumpPipeline(chart, 'dumps', { agentImage: IMAGE });
    const objects = chart.toJson() as { kind: string; metadata: { namespace?: string } }[];
    const clusterScoped = objects.filter((o) => CLUSTER_SCOPED_KINDS.includes(o.kind));
    expect(clusterScoped).toHaveLength(17);
    expect(clusterScoped.map((o) => o.metadata.namespace).filter((n) => n !== undefined)).toEqual([]);
    expect(objects.filter((o) => !CLUSTER_SCOPED_KINDS.includes(o.kind)).every((o) => ['heapdump-system', 'memory-leak-demo', 'kube-system'].includes(o.metadata.namespace!))).toBe(true);
  });

  test('kubernetes platform: no SCC, no Route, no SCC RBAC (only the heapdumps API\'s); Pod Security labels; optional Ingress', () => {
    const plain = synthPipeline({ agentImage: IMAGE, platform: 'kubernetes' }).objects;
    const kinds = new Set(plain.map((o) => o.kind));
    for (const k of ['SecurityContextConstraints', 'Route', 'Ingress']) expect(kinds.has(k)).toBe(false);
    expect(ofKind(plain, 'ClusterRole').map((o) => o.metadata.name)).toEqual(['heapdump-pipeline-heapdumps-edit', 'heapdump-pipeline-heapdumps-view']);
    expect(ofKind(plain, 'RoleBinding').map((o) => `${o.metadata.namespace}/${o.metadata.name}`)).toEqual(['kube-system/heapdump-api-auth-reader']);
    const ns = find(plain, 'Namespace', 'heapdump-system');
    expect(ns.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('privileged');
    expect(ns.metadata.labels['pod-security.kubernetes.io/audit']).toBe('restricted');
    expect(ns.metadata.labels['openshift.io/cluster-monitoring']).toBeUndefined();

    const withIngress = synthPipeline({ agentImage: IMAGE, platform: 'kubernetes', app: { ingress: { host: 'leak.example.com', tlsSecretName: 'leak-tls' } } }).objects;
    const ing = find(withIngress, 'Ingress', 'memory-leak-app');
    expect(ing.spec.rules[0]).toEqual({
      host: 'leak.example.com',
      http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'memory-leak-service', port: { name: 'http' } } } }] },
    });
    expect(ing.spec.tls).toEqual([{ hosts: ['leak.example.com'], secretName: 'leak-tls' }]);
  });

  test('OpenShift namespaces: no platform-monitoring label (user-workload monitoring scrapes them), a description', () => {
    const ns = find(synthPipeline({ agentImage: IMAGE }).objects, 'Namespace', 'heapdump-system');
    expect(ns.metadata.labels['openshift.io/cluster-monitoring']).toBeUndefined();
    expect(ns.metadata.annotations['openshift.io/description']).toMatch(/heap dumps/);
    expect(ns.metadata.labels['pod-security.kubernetes.io/enforce']).toBeUndefined();
  });

  test('app.enabled false leaves out the demo and its namespace, and keeps what a team\'s service needs', () => {
    const { objects } = synthPipeline({ agentImage: IMAGE, app: { enabled: false }, collect: { namespaces: ['orders'] } });
    expect(objects.filter((o) => `${o.metadata.name} ${o.metadata.namespace}`.includes('memory-leak-')).length).toBe(0);
    expect(ofKind(objects, 'Namespace').map((n) => n.metadata.name)).toEqual(['heapdump-system']);
    expect(ofKind(objects, 'DaemonSet')).toHaveLength(2);
    for (const [kind, name] of [
      ['SecurityContextConstraints', 'heap-dump-app'], ['ClusterRole', 'heap-dump-app-scc-user'], ['ValidatingAdmissionPolicy', 'heapdump-dump-volume'],
      ['ValidatingAdmissionPolicyBinding', 'heapdump-dump-volume'], ['MutatingWebhookConfiguration', 'heapdump-pipeline-inject'],
      ['ValidatingWebhookConfiguration', 'heapdump-pipeline-exec-guard'], ['Deployment', 'heapdump-injector'],
    ]) expect(find(objects, kind, name)).toBeDefined();
    expect(find(objects, 'RoleBinding', 'heapdump-app-scc').metadata.namespace).toBe('orders');
  });

  test('the PriorityClass is used by both DaemonSets and only by them', () => {
    const { objects } = synthPipeline({ agentImage: IMAGE });
    const pc = find(objects, 'PriorityClass', 'dump-volume-critical');
    expect(pc.value).toBe(1000000);
    expect(pc.globalDefault).toBe(false);
    expect(ofKind(objects, 'DaemonSet').map((d) => podSpec(d).priorityClassName)).toEqual(['dump-volume-critical', 'dump-volume-critical']);
    expect(podSpec(find(objects, 'Deployment', 'heapdump-injector')).priorityClassName).toBeUndefined();
    expect(podSpec(find(objects, 'Deployment', 'memory-leak-app')).priorityClassName).toBeUndefined();
    expect(find(synthPipeline(CUSTOMISED).objects, 'PriorityClass', 'dump-volume-critical').value).toBe(2000000);
  });
});
