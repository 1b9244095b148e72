import { HeapDumpPipelineProps } from '../../../lib/pipeline';
import { synthPipeline } from '../../../lib/synth';
import { admissionErrors, PodSpec, RESTRICTED_V2_SCC, Scc, usableSccs } from '../../support/scc-admission';
import { find, ofKind, podSpec, workloads } from '../../support/manifests';

const IMAGE = 'registry.example.com/platform/heapdump-agent:0.1.0';
const PIPELINE_NS = 'heapdump-system';
const VARIANTS: [string, HeapDumpPipelineProps][] = [
  ['default', { agentImage: IMAGE }],
  ['deletion after upload', { agentImage: IMAGE, uploader: { afterUpload: 'delete' } }],
  ['read-only uploader (keep, no retention)', { agentImage: IMAGE, uploader: { afterUpload: 'keep', retentionMaxAgeSeconds: 0, retentionMaxBytes: 0 } }],
  ['keep with a retention cap only', { agentImage: IMAGE, uploader: { afterUpload: 'keep', retentionMaxAgeSeconds: 0, retentionMaxBytes: 1024 ** 3 } }],
  ['custom namespaces and app image', { agentImage: IMAGE, namespace: 'dumps', app: { namespace: 'api-demo', image: 'registry.example.com/team/api:1.0.0' } }],
  ['events on, collected namespaces', { agentImage: IMAGE, uploader: { notifications: { kubernetesEvents: true } }, collect: { namespaces: ['orders', { name: 'payments', serviceAccounts: ['ledger'] }] } }],
];

/** Application ServiceAccounts of a synth: the demo's, every ServiceAccount of a namespace collected whole, the named ones. */
const TEAM_ACCOUNTS: [string, string][] = [['orders', 'default'], ['orders', 'orders-api'], ['payments', 'ledger'], ['payments', 'default'], ['memory-leak-demo', 'memory-leak-app']];

describe('SCC admission of every pod template (OpenShift)', () => {
  test.each(VARIANTS)('%s: each pod is admitted by an SCC its ServiceAccount may use', (_name, props) => {
    const { objects } = synthPipeline(props);
    for (const w of workloads(objects)) {
      const pod = podSpec(w) as PodSpec;
      const usable = usableSccs(objects, pod.serviceAccountName!, w.metadata.namespace!);
      const verdicts = usable.map((scc) => ({ scc: scc.metadata.name, errors: admissionErrors(scc, pod) }));
      const admitting = verdicts.filter((v) => v.errors.length === 0).map((v) => v.scc);
      expect({ workload: w.metadata.name, admitted: admitting.length > 0, verdicts })
        .toMatchObject({ workload: w.metadata.name, admitted: true });
    }
  });

  test('each workload needs exactly its own SCC; the injector, the heapdumps API and the analyzer need none (restricted-v2)', () => {
    const { objects } = synthPipeline({ agentImage: IMAGE });
    const expected: Record<string, string[]> = {
      'dump-volume-manager': ['dump-volume-privileged'],
      'heap-dump-s3-uploader': ['heap-dump-uploader'],
      'heapdump-injector': ['restricted-v2'],
      'heapdump-api': ['restricted-v2'],
      'heapdump-analyzer': ['restricted-v2'],
      'memory-leak-app': ['heap-dump-app'],
    };
    for (const w of workloads(objects)) {
      const pod = podSpec(w) as PodSpec;
      if (expected[w.metadata.name]?.[0] !== 'restricted-v2') expect(admissionErrors(RESTRICTED_V2_SCC, pod)).not.toEqual([]);
      const admitting = usableSccs(objects, pod.serviceAccountName!, w.metadata.namespace!)
        .filter((scc) => admissionErrors(scc, pod).length === 0).map((s) => s.metadata.name);
      expect({ [w.metadata.name]: admitting }).toEqual({ [w.metadata.name]: expected[w.metadata.name] });
    }
  });

  test('no application ServiceAccount, in any collected namespace, can use the guard\'s or the uploader\'s SCC', () => {
    const { objects } = synthPipeline(VARIANTS[5][1]);
    for (const [ns, sa] of TEAM_ACCOUNTS) {
      const usable = usableSccs(objects, sa, ns).map((s) => s.metadata.name);
      expect({ ns, sa, usable: usable.filter((n) => n === 'dump-volume-privileged' || n === 'heap-dump-uploader') }).toEqual({ ns, sa, usable: [] });
    }
    // ... and the application SCC only where the namespace (or the named account) is collected.
    const appScc = (ns: string, sa: string) => usableSccs(objects, sa, ns).map((s) => s.metadata.name).includes('heap-dump-app');
    expect(TEAM_ACCOUNTS.map(([ns, sa]) => [ns, sa, appScc(ns, sa)])).toEqual([
      ['orders', 'default', true], ['orders', 'orders-api', true], ['payments', 'ledger', true], ['payments', 'default', false], ['memory-leak-demo', 'memory-leak-app', true],
    ]);
    expect(appScc('elsewhere', 'default')).toBe(false);
    // The agents' accounts: each its own SCC, nothing else; the injector none of them.
    expect(usableSccs(objects, 'dump-volume-manager', PIPELINE_NS).map((s) => s.metadata.name)).toEqual(['restricted-v2', 'dump-volume-privileged']);
    expect(usableSccs(objects, 'heap-dump-s3-uploader', PIPELINE_NS).map((s) => s.metadata.name)).toEqual(['restricted-v2', 'heap-dump-uploader']);
    expect(usableSccs(objects, 'heapdump-injector', PIPELINE_NS).map((s) => s.metadata.name)).toEqual(['restricted-v2']);
    // Another ServiceAccount in the pipeline namespace (someone with edit rights there) gets nothing either.
    expect(usableSccs(objects, 'default', PIPELINE_NS).map((s) => s.metadata.name)).toEqual(['restricted-v2']);
  });

  test('RoleBindings: one per agent ServiceAccount in the pipeline namespace, one per collected namespace; the only ClusterRoleBinding is the API\'s auth-delegator', () => {
    const { objects } = synthPipeline(VARIANTS[5][1]);
    expect(ofKind(objects, 'ClusterRoleBinding').map((b) => [b.metadata.name, b.roleRef.name, b.subjects])).toEqual([
      ['heapdump-api-auth-delegator', 'system:auth-delegator', [{ kind: 'ServiceAccount', name: 'heapdump-api', namespace: PIPELINE_NS }]],
    ]);
    const bindings = ofKind(objects, 'RoleBinding');
    expect(bindings.map((b) => [b.metadata.namespace, b.metadata.name, b.roleRef.name, b.subjects])).toEqual([
      ['memory-leak-demo', 'heapdump-app-scc', 'heap-dump-app-scc-user', [{ kind: 'ServiceAccount', name: 'memory-leak-app', namespace: 'memory-leak-demo' }]],
      ['orders', 'heapdump-app-scc', 'heap-dump-app-scc-user', [{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'system:serviceaccounts:orders' }]],
      ['payments', 'heapdump-app-scc', 'heap-dump-app-scc-user', [{ kind: 'ServiceAccount', name: 'ledger', namespace: 'payments' }]],
      [PIPELINE_NS, 'dump-volume-manager-scc', 'dump-volume-scc-user', [{ kind: 'ServiceAccount', name: 'dump-volume-manager', namespace: PIPELINE_NS }]],
      [PIPELINE_NS, 'heap-dump-s3-uploader-scc', 'heap-dump-uploader-scc-user', [{ kind: 'ServiceAccount', name: 'heap-dump-s3-uploader', namespace: PIPELINE_NS }]],
      ...['memory-leak-demo', 'orders', 'payments'].map((ns) => [ns, 'heap-dump-s3-uploader-events', 'heapdump-event-reporter', [{ kind: 'ServiceAccount', name: 'heap-dump-s3-uploader', namespace: PIPELINE_NS }]]),
      // the analyzer's follow-up Events: the same role, its own ServiceAccount
      ...['memory-leak-demo', 'orders', 'payments'].map((ns) => [ns, 'heapdump-analyzer-events', 'heapdump-event-reporter', [{ kind: 'ServiceAccount', name: 'heapdump-analyzer', namespace: PIPELINE_NS }]]),
      ['kube-system', 'heapdump-api-auth-reader', 'extension-apiserver-authentication-reader', [{ kind: 'ServiceAccount', name: 'heapdump-api', namespace: PIPELINE_NS }]],
    ]);
    const apiRoles = ['heapdump-pipeline-heapdumps-edit', 'heapdump-pipeline-heapdumps-view'];
    for (const role of ofKind(objects, 'ClusterRole').filter((r) => r.metadata.name !== 'heapdump-event-reporter' && !apiRoles.includes(r.metadata.name))) {
      expect(role.rules).toHaveLength(1);
      expect(role.rules[0].verbs).toEqual(['use']);
      expect(role.rules[0].resources).toEqual(['securitycontextconstraints']);
      expect(role.rules[0].resourceNames).toHaveLength(1);
    }
    for (const scc of ofKind(objects, 'SecurityContextConstraints')) {
      expect([scc.users, scc.groups]).toEqual([[], []]);
    }
  });

  test('only the mount guard SCC is privileged; the others are restricted-v2 plus what the role needs', () => {
    const { objects } = synthPipeline({ agentImage: IMAGE });
    const guard = find(objects, 'SecurityContextConstraints', 'dump-volume-privileged');
    expect(guard).toMatchObject({ allowPrivilegedContainer: true, allowedCapabilities: ['SYS_ADMIN'], volumes: ['hostPath', 'persistentVolumeClaim'] });
    const restrictedKeys = ['allowHostIPC', 'allowHostNetwork', 'allowHostPID', 'allowHostPorts', 'allowPrivilegedContainer', 'allowPrivilegeEscalation'];
    for (const name of ['heap-dump-uploader', 'heap-dump-app']) {
      const scc = find(objects, 'SecurityContextConstraints', name);
      for (const k of restrictedKeys) expect(`${name}.${k}=${scc[k]}`).toBe(`${name}.${k}=false`);
      expect(scc.requiredDropCapabilities).toEqual(['ALL']);
      expect(scc.seccompProfiles).toEqual(['runtime/default']);
      expect(scc.allowHostDirVolumePlugin).toBe(true);
      // Volumes: restricted-v2's plus hostPath, nothing else.
      expect([...scc.volumes].sort()).toEqual([...RESTRICTED_V2_SCC.volumes, 'hostPath'].sort());
    }
    const up = find(objects, 'SecurityContextConstraints', 'heap-dump-uploader');
    // read any application's dumps, and move verified ones out of its folder (AFTER_UPLOAD=archive)
    expect(up.allowedCapabilities).toEqual(['DAC_READ_SEARCH', 'DAC_OVERRIDE']);
    expect(up.runAsUser).toEqual({ type: 'MustRunAs', uid: 0 });
    expect(up.readOnlyRootFilesystem).toBe(true);
    const app = find(objects, 'SecurityContextConstraints', 'heap-dump-app');
    expect(app.runAsUser).toEqual({ type: 'MustRunAsRange' });
    expect(app.allowedCapabilities).toEqual(RESTRICTED_V2_SCC.allowedCapabilities);
  });
});

describe('the SCC evaluator itself rejects what OpenShift rejects', () => {
  const base: PodSpec = {
    securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
    containers: [{ name: 'c', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
    volumes: [{ name: 'cfg', configMap: { name: 'x' } }],
  };
  const withContainer = (sc: object): PodSpec => ({ ...base, containers: [{ name: 'c', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, ...sc } }] });

  test('admits a plain restricted pod', () => {
    expect(admissionErrors(RESTRICTED_V2_SCC, base)).toEqual([]);
  });
  test.each([
    ['privileged', withContainer({ privileged: true }), /privileged is not allowed/],
    ['an added capability', withContainer({ capabilities: { add: ['SYS_ADMIN'], drop: ['ALL'] } }), /capability SYS_ADMIN is not allowed/],
    ['a missing required drop', withContainer({ capabilities: {} }), /required drop of ALL is missing/],
    ['a hostPath volume', { ...base, volumes: [{ name: 'h', hostPath: { path: '/mnt' } }] }, /type hostPath is not allowed/],
    ['uid 0', withContainer({ runAsUser: 0 }), /runAsUser 0 is outside/],
    ['privilege escalation', withContainer({ allowPrivilegeEscalation: true }), /privilege escalation/],
    ['an unconfined seccomp profile', withContainer({ seccompProfile: { type: 'Unconfined' } }), /seccomp profile unconfined/],
    ['host networking', { ...base, hostNetwork: true }, /hostNetwork/],
  ])('rejects %s', (_name, pod, message) => {
    expect(admissionErrors(RESTRICTED_V2_SCC, pod as PodSpec).join('\n')).toMatch(message);
  });
  test('MustRunAs uid 0 rejects another uid and runAsNonRoot', () => {
    const scc: Scc = { ...RESTRICTED_V2_SCC, runAsUser: { type: 'MustRunAs', uid: 0 } };
    expect(admissionErrors(scc, withContainer({ runAsUser: 1000 })).join()).toMatch(/not the required 0/);
    expect(admissionErrors(scc, withContainer({ runAsNonRoot: true })).join()).toMatch(/runAsNonRoot conflicts/);
  });
  test('a read-only root filesystem SCC rejects a writable one', () => {
    expect(admissionErrors({ ...RESTRICTED_V2_SCC, readOnlyRootFilesystem: true }, base).join()).toMatch(/read-only/);
  });
});
