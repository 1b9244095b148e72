/**
 * The one definition of a collected pod: what it adds, what it respects, and that it is idempotent over
 * many pod shapes (seeded, reproducible: INJECT_PROPERTY_SEED / INJECT_PROPERTY_RUNS).
 */
import {
  CollectError, collectPod, type CollectOptions, type Container, definitionId, findJvmOption, namespaceDefaults, type PodLike,
} from '../../../agent/src/inject/collect-pod';
import { createPatch } from '../../../agent/src/inject/json-patch';
import { COLLECTED_LABEL, INJECT_ANNOTATIONS, POD_DUMP_SUBPATH_EXPR, WAIT_READY_CONTAINER_NAME } from '../../../agent/src/contract';
import { applyPatch } from '../../support/json-patch';
import { OPENSHIFT_UID, pod as fixture } from '../../support/pods';
import { schemaErrors } from '../../support/schemas';

const IMAGE = 'registry.example.com/platform/heapdump-agent:0.2.0';
const OPTIONS: CollectOptions = { agentImage: IMAGE };

/* eslint-disable @typescript-eslint/no-explicit-any */
const container = (p: PodLike, name: string): Container => p.spec.containers.find((c) => c.name === name)!;
const env = (c: Container, name: string) => c.env?.find((e) => e.name === name);

describe('collectPod: what a collected pod gets', () => {
  test('an OpenShift Deployment pod: volume, mount, env pair, JVM options, wait-ready first as the app uid, marks', () => {
    const input = fixture({ workload: 'Deployment' }) as PodLike;
    const { pod, report } = collectPod(input, OPTIONS);
    expect(report).toEqual({ changed: true, warnings: [], instrumented: ['app'] });
    expect(pod.spec.volumes).toContainEqual({ name: 'heapdump-host', hostPath: { path: '/mnt/dump', type: 'Directory' } });
    const app = container(pod, 'app');
    expect(app.volumeMounts).toContainEqual({ name: 'heapdump-host', mountPath: '/dumps', subPathExpr: '$(HEAPDUMP_POD_NAMESPACE)/$(HEAPDUMP_POD_NAME)', mountPropagation: 'HostToContainer' });
    expect(app.env).toEqual([
      { name: 'SPRING_PROFILES_ACTIVE', value: 'prod' },
      { name: 'HEAPDUMP_POD_NAMESPACE', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } } },
      { name: 'HEAPDUMP_POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
      { name: 'JAVA_TOOL_OPTIONS', value: '-XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath=/dumps -XX:+ExitOnOutOfMemoryError' },
    ]);
    expect(pod.spec.initContainers).toEqual([{
      name: WAIT_READY_CONTAINER_NAME,
      image: IMAGE,
      imagePullPolicy: 'IfNotPresent',
      args: ['wait-ready'],
      env: [
        { name: 'NODE_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'spec.nodeName' } } },
        { name: 'HEAPDUMP_POD_NAMESPACE', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } } },
        { name: 'HEAPDUMP_POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
        { name: 'LOG_LEVEL', value: 'info' },
        { name: 'WAIT_TIMEOUT', value: '600' },
        { name: 'WAIT_CREATE_POD_FOLDER', value: 'true' },
        { name: 'WAIT_FOLDER_GROUP', value: String(OPENSHIFT_UID) }, // the pod's fsGroup (restricted-v2 sets it)
      ],
      volumeMounts: [{ name: 'heapdump-host', mountPath: '/mnt/dump', mountPropagation: 'HostToContainer' }],
      securityContext: {
        runAsNonRoot: true, runAsUser: OPENSHIFT_UID, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] },
        readOnlyRootFilesystem: true, seccompProfile: { type: 'RuntimeDefault' },
      },
      resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '100m', memory: '128Mi' } },
    }]);
    expect(pod.metadata!.labels![COLLECTED_LABEL]).toBe('true');
    expect(pod.metadata!.annotations![INJECT_ANNOTATIONS.injected]).toBe(definitionId(OPTIONS));
    expect(pod.metadata!.annotations![INJECT_ANNOTATIONS.instrumented]).toBe('app');
    expect(definitionId(OPTIONS)).toMatch(/^v1-[0-9a-f]{10}$/);
    expect(schemaErrors(pod as any)).toEqual([]);
    // the input is not touched
    expect(input.spec.initContainers).toBeUndefined();
    expect(input.spec.containers[0].env).toHaveLength(1);
  });

  test('the definition id changes with what the pod gets, not with per-namespace fallbacks', () => {
    expect(definitionId({ agentImage: IMAGE, mountPath: '/heap' })).not.toBe(definitionId(OPTIONS));
    expect(definitionId({ agentImage: `${IMAGE}-rc1` })).not.toBe(definitionId(OPTIONS));
    expect(definitionId({ agentImage: IMAGE, defaultRunAsUser: 5, folderGroup: 6 })).toBe(definitionId(OPTIONS));
  });

  test('an existing JAVA_TOOL_OPTIONS is extended, never replaced', () => {
    const { pod, report } = collectPod(fixture({ workload: 'StatefulSet', javaToolOptions: '-Xmx768m -Dlog4j2.formatMsgNoLookups=true  ' }) as PodLike, OPTIONS);
    expect(report.warnings).toEqual([]);
    expect(env(container(pod, 'app'), 'JAVA_TOOL_OPTIONS')).toEqual({
      name: 'JAVA_TOOL_OPTIONS',
      value: '-Xmx768m -Dlog4j2.formatMsgNoLookups=true -XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath=/dumps -XX:+ExitOnOutOfMemoryError',
    });
    expect(container(pod, 'app').env!.filter((e) => e.name === 'JAVA_TOOL_OPTIONS')).toHaveLength(1);
  });

  test('JDK_JAVA_OPTIONS is extended when that is what the container uses; the annotation picks it for a container without either', () => {
    const p = fixture({ workload: 'Deployment' }) as PodLike;
    container(p, 'app').env!.push({ name: 'JDK_JAVA_OPTIONS', value: '-Xss512k' });
    const { pod } = collectPod(p, OPTIONS);
    expect(env(container(pod, 'app'), 'JDK_JAVA_OPTIONS')?.value).toBe('-Xss512k -XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath=/dumps -XX:+ExitOnOutOfMemoryError');
    expect(env(container(pod, 'app'), 'JAVA_TOOL_OPTIONS')).toBeUndefined();

    const hinted = collectPod(fixture({ workload: 'Deployment', annotations: { [INJECT_ANNOTATIONS.javaOptionsEnv]: 'JDK_JAVA_OPTIONS' } }) as PodLike, OPTIONS).pod;
    expect(env(container(hinted, 'app'), 'JDK_JAVA_OPTIONS')?.value).toMatch(/^-XX:\+HeapDumpOnOutOfMemoryError/);
    expect(env(container(hinted, 'app'), 'JAVA_TOOL_OPTIONS')).toBeUndefined();

    const bad = collectPod(fixture({ workload: 'Deployment', annotations: { [INJECT_ANNOTATIONS.javaOptionsEnv]: '_JAVA_OPTIONS' } }) as PodLike, OPTIONS);
    expect(bad.report.warnings.join('\n')).toMatch(/_JAVA_OPTIONS.*JAVA_TOOL_OPTIONS used/);
    expect(env(container(bad.pod, 'app'), 'JAVA_TOOL_OPTIONS')).toBeDefined();
  });

  test('an existing -XX:HeapDumpPath is reported and left alone; the other options are still added', () => {
    const { pod, report } = collectPod(fixture({ workload: 'Job', javaToolOptions: '-XX:HeapDumpPath=/var/tmp/heap.hprof -Xmx1g' }) as PodLike, OPTIONS);
    expect(report.warnings).toEqual([
      'container "app": JAVA_TOOL_OPTIONS already has -XX:HeapDumpPath=/var/tmp/heap.hprof: left as is (dumps outside /dumps are not collected)',
    ]);
    expect(env(container(pod, 'app'), 'JAVA_TOOL_OPTIONS')?.value).toBe('-XX:HeapDumpPath=/var/tmp/heap.hprof -Xmx1g -XX:+HeapDumpOnOutOfMemoryError -XX:+ExitOnOutOfMemoryError');
  });

  test('an explicitly disabled option is respected; an identical one is not repeated', () => {
    const { pod, report } = collectPod(fixture({ workload: 'Deployment', javaToolOptions: '-XX:-HeapDumpOnOutOfMemoryError -XX:+ExitOnOutOfMemoryError' }) as PodLike, OPTIONS);
    expect(report.warnings).toEqual(['container "app": JAVA_TOOL_OPTIONS already has -XX:-HeapDumpOnOutOfMemoryError: left as is']);
    expect(env(container(pod, 'app'), 'JAVA_TOOL_OPTIONS')?.value).toBe('-XX:-HeapDumpOnOutOfMemoryError -XX:+ExitOnOutOfMemoryError -XX:HeapDumpPath=/dumps');
  });

  test('JAVA_TOOL_OPTIONS from valueFrom cannot be extended: reported, left as is; the folder is still mounted', () => {
    const p = fixture({ workload: 'Deployment' }) as PodLike;
    const ref = { name: 'JAVA_TOOL_OPTIONS', valueFrom: { configMapKeyRef: { name: 'jvm', key: 'options' } } };
    container(p, 'app').env!.push(ref);
    const { pod, report } = collectPod(p, OPTIONS);
    expect(report.warnings).toEqual([
      'container "app": JAVA_TOOL_OPTIONS comes from valueFrom and cannot be extended: add -XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath=/dumps -XX:+ExitOnOutOfMemoryError to it yourself',
    ]);
    expect(env(container(pod, 'app'), 'JAVA_TOOL_OPTIONS')).toEqual(ref);
    expect(report.instrumented).toEqual(['app']);
    expect(container(pod, 'app').volumeMounts!.map((m) => m.mountPath)).toContain('/dumps');
  });

  test('a gzip level and a custom dump path reach the JVM options and the mount', () => {
    const { pod } = collectPod(fixture({ workload: 'Deployment' }) as PodLike, { agentImage: IMAGE, gzipLevel: 1, mountPath: '/var/heapdumps/' });
    expect(env(container(pod, 'app'), 'JAVA_TOOL_OPTIONS')?.value).toBe('-XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath=/var/heapdumps -XX:+ExitOnOutOfMemoryError -XX:HeapDumpGzipLevel=1');
    expect(container(pod, 'app').volumeMounts!.find((m) => m.name === 'heapdump-host')?.mountPath).toBe('/var/heapdumps');
  });
});

describe('collectPod: which containers', () => {
  test('default: every container; the annotation narrows it; init containers are never instrumented', () => {
    const p = fixture({ workload: 'Deployment', sidecar: true }) as PodLike;
    p.spec.initContainers = [{ name: 'migrate', image: 'registry.example.com/team-a/flyway:10', env: [{ name: 'JAVA_TOOL_OPTIONS', value: '-Xmx128m' }] }];
    const all = collectPod(p, OPTIONS);
    expect(all.report.instrumented).toEqual(['app', 'log-shipper']);
    expect(all.pod.spec.initContainers!.map((c) => c.name)).toEqual([WAIT_READY_CONTAINER_NAME, 'migrate']);
    expect(all.pod.spec.initContainers![1]).toEqual(p.spec.initContainers[0]); // untouched

    p.metadata!.annotations![INJECT_ANNOTATIONS.containers] = ' app ';
    const one = collectPod(p, OPTIONS);
    expect(one.report.instrumented).toEqual(['app']);
    expect(container(one.pod, 'log-shipper')).toEqual(container(p, 'log-shipper'));
    expect(one.pod.metadata!.annotations![INJECT_ANNOTATIONS.instrumented]).toBe('app');
  });

  test('unknown names and init container names: a warning for the webhook, an error for the cdk8s API', () => {
    const p = fixture({ workload: 'Deployment', annotations: { [INJECT_ANNOTATIONS.containers]: 'app,migrate,api' } }) as PodLike;
    p.spec.initContainers = [{ name: 'migrate', image: 'flyway' }];
    const { report } = collectPod(p, OPTIONS);
    expect(report.warnings).toEqual([
      'container "migrate" is an init container: init containers are never instrumented',
      'container "api" is not in the pod (containers: app)',
    ]);
    expect(report.instrumented).toEqual(['app']);
    expect(() => collectPod(p, { ...OPTIONS, strictness: 'error' })).toThrow(new CollectError('container "migrate" is an init container: init containers are never instrumented'));
    const q = fixture({ workload: 'Deployment' }) as PodLike;
    expect(() => collectPod(q, { ...OPTIONS, containers: ['api'], strictness: 'error' })).toThrow(/container "api" is not in the pod \(containers: app\)/);
    const none = collectPod(q, { ...OPTIONS, containers: ['api'] });
    expect(none.report).toMatchObject({ changed: false, skipped: 'no-container' });
  });

  test('the options\' containers apply when the pod has no annotation; a differing annotation conflicts', () => {
    const p = fixture({ workload: 'Deployment', sidecar: true }) as PodLike;
    expect(collectPod(p, { ...OPTIONS, containers: ['log-shipper'] }).report.instrumented).toEqual(['log-shipper']);
    p.metadata!.annotations![INJECT_ANNOTATIONS.containers] = 'app';
    expect(() => collectPod(p, { ...OPTIONS, containers: ['log-shipper'], strictness: 'error' })).toThrow(/conflict with the pod's annotation/);
    expect(collectPod(p, { ...OPTIONS, containers: ['app'], strictness: 'error' }).report.instrumented).toEqual(['app']);
  });

  test('opted out: nothing changes', () => {
    const p = fixture({ workload: 'Deployment', annotations: { [INJECT_ANNOTATIONS.inject]: 'false' } }) as PodLike;
    expect(collectPod(p, OPTIONS)).toEqual({ pod: p, report: { changed: false, warnings: [], instrumented: [], skipped: 'opted-out' } });
    // with a custom annotation name
    const q = fixture({ workload: 'Deployment', annotations: { 'example.com/dumps': 'false' } }) as PodLike;
    expect(collectPod(q, { ...OPTIONS, annotations: { inject: 'example.com/dumps' } }).report.skipped).toBe('opted-out');
  });

  test('a container that already uses the dump path, or the pod-identity names otherwise, is skipped with a warning', () => {
    const p = fixture({ workload: 'Deployment', sidecar: true }) as PodLike;
    container(p, 'app').volumeMounts!.push({ name: 'scratch', mountPath: '/dumps/' });
    container(p, 'log-shipper').env = [{ name: 'HEAPDUMP_POD_NAME', value: 'fixed' }];
    p.spec.volumes!.push({ name: 'scratch', emptyDir: {} });
    const { report } = collectPod(p, OPTIONS);
    expect(report).toMatchObject({ changed: false, skipped: 'conflict', instrumented: [] });
    expect(report.warnings).toEqual([
      'container "app" already has a volume at /dumps: not instrumented (choose another dump path)',
      'container "log-shipper" sets HEAPDUMP_POD_NAME to something other than the fieldRef metadata.name: not instrumented',
    ]);
  });

  test('a hand-wired pod (hostPath /mnt/dump under another name, mount, env) is recognised and only completed', () => {
    const p = fixture({ workload: 'Deployment', javaToolOptions: '-XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath=/dumps -XX:+ExitOnOutOfMemoryError' }) as PodLike;
    p.spec.volumes!.push({ name: 'host-dump', hostPath: { path: '/mnt/dump/', type: 'Directory' } });
    container(p, 'app').volumeMounts!.push({ name: 'host-dump', mountPath: '/dumps', subPathExpr: POD_DUMP_SUBPATH_EXPR, mountPropagation: 'HostToContainer' });
    const { pod, report } = collectPod(p, OPTIONS);
    expect(report.warnings).toEqual([]);
    expect(pod.spec.volumes!.filter((v: any) => v.hostPath)).toHaveLength(1);
    expect(pod.spec.initContainers![0].volumeMounts![0].name).toBe('host-dump');
    expect(container(pod, 'app').volumeMounts!.filter((m) => m.name === 'host-dump')).toHaveLength(1);
    expect(env(container(pod, 'app'), 'JAVA_TOOL_OPTIONS')?.value).toBe('-XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath=/dumps -XX:+ExitOnOutOfMemoryError');
  });
});

describe('collectPod: the name heapdump-wait-ready is reserved', () => {
  const REPLACED = 'the pod\'s own init container heapdump-wait-ready was replaced by the pipeline\'s (that name is reserved: the container sees every pod\'s dump folder on the node)';
  const ours = () => collectPod(fixture({ workload: 'Deployment' }) as PodLike, OPTIONS).pod.spec.initContainers![0];

  test('a pod\'s own heapdump-wait-ready (after a team init container, with a configMap at /opt/heapdump) is replaced by the pipeline\'s, first', () => {
    const p = fixture({ workload: 'Deployment' }) as PodLike;
    p.spec.volumes!.push({ name: 'evil', configMap: { name: 'my-agent' } } as any);
    const own = { ...structuredClone(ours()), volumeMounts: [...ours().volumeMounts!, { name: 'evil', mountPath: '/opt/heapdump' }] };
    p.spec.initContainers = [{ name: 'migrate', image: 'flyway' }, own, { ...own, workingDir: '/mnt/dump' }];
    const { pod, report } = collectPod(p, OPTIONS);
    expect(report.warnings).toEqual([REPLACED]);
    expect(pod.spec.initContainers).toEqual([ours(), { name: 'migrate', image: 'flyway' }]);
    expect(pod.spec.volumes!.map((v) => v.name)).toContain('evil'); // the pod's own volumes stay; only the container changed
  });

  test('a pod\'s heapdump-wait-ready that is the pipeline\'s plus what admission adds is kept where it is (a re-review changes nothing)', () => {
    const p = collectPod(fixture({ workload: 'Deployment' }) as PodLike, OPTIONS).pod;
    const w = p.spec.initContainers![0];
    w.terminationMessagePath = '/dev/termination-log';
    w.terminationMessagePolicy = 'File';
    w.volumeMounts!.push({ name: 'kube-api-access-x7k2p', readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' });
    w.securityContext!.seLinuxOptions = { level: 's0:c26,c5' };
    p.spec.initContainers!.unshift({ name: 'istio-validation', image: 'istio/proxyv2' });
    const again = collectPod(p, OPTIONS);
    expect({ changed: again.report.changed, warnings: again.report.warnings }).toEqual({ changed: false, warnings: [] });
    // the token mount is admission's only if it is of a projected volume, read-only, at its path: else replaced
    const q = structuredClone(p);
    q.spec.initContainers![1].volumeMounts![1].readOnly = false;
    expect(collectPod(q, OPTIONS).report.warnings).toEqual([REPLACED]);
  });

  test('pods it cannot collect safely are left as they are, with one warning: a container of that name, a shared or the node\'s process namespace', () => {
    const named = fixture({ workload: 'Deployment' }) as PodLike;
    named.spec.containers.push({ name: 'heapdump-wait-ready', image: 'busybox' });
    const shared = fixture({ workload: 'Deployment' }) as PodLike;
    shared.spec.shareProcessNamespace = true;
    const hostPid = fixture({ workload: 'Deployment' }) as PodLike;
    hostPid.spec.hostPID = true;
    const outcomes = [named, shared, hostPid].map((p) => {
      const { pod, report } = collectPod(p, OPTIONS);
      expect(pod).toEqual(p);
      return { changed: report.changed, skipped: report.skipped, warnings: report.warnings };
    });
    expect(outcomes).toEqual([
      { changed: false, skipped: 'conflict', warnings: ['a container of the pod is named heapdump-wait-ready, the name of the pipeline\'s init container: not collected'] },
      { changed: false, skipped: 'conflict', warnings: ['the pod shares one process namespace among its containers (shareProcessNamespace), so any of them could reach the init container\'s view of every pod\'s dump folder: not collected'] },
      { changed: false, skipped: 'conflict', warnings: ['the pod uses the node\'s process namespace (hostPID), so processes outside it could reach the init container\'s view of every pod\'s dump folder: not collected'] },
    ]);
  });
});

describe('collectPod: the init container\'s uid and folder group', () => {
  const initSc = (p: PodLike) => p.spec.initContainers![0].securityContext!;
  const initEnv = (p: PodLike, name: string) => p.spec.initContainers![0].env!.find((e) => e.name === name)?.value;

  test('container uid wins over the pod uid; the pod uid is used when the container has none', () => {
    const k = fixture({ workload: 'Deployment', platform: 'kubernetes' }) as PodLike;
    expect(initSc(collectPod(k, OPTIONS).pod).runAsUser).toBe(1000);
    container(k, 'app').securityContext!.runAsUser = 4242;
    expect(initSc(collectPod(k, OPTIONS).pod).runAsUser).toBe(4242);
  });

  test('nothing known: the namespace fallback, else a warning and the image user', () => {
    const p = fixture({ workload: 'Deployment', platform: 'kubernetes' }) as PodLike;
    delete p.spec.securityContext!.runAsUser;
    delete p.spec.securityContext!.fsGroup;
    const fallback = collectPod(p, { ...OPTIONS, defaultRunAsUser: 1000700000, folderGroup: 1000700000 }).pod;
    expect(initSc(fallback).runAsUser).toBe(1000700000);
    expect(initEnv(fallback, 'WAIT_FOLDER_GROUP')).toBe('1000700000');
    const { pod, report } = collectPod(p, OPTIONS);
    expect(initSc(pod).runAsUser).toBeUndefined();
    expect(initSc(pod).runAsNonRoot).toBe(true);
    expect(initEnv(pod, 'WAIT_FOLDER_GROUP')).toBeUndefined();
    expect(report.warnings).toEqual(['no uid is known for the instrumented containers: the pod folder belongs to the agent image\'s user; set runAsUser or an fsGroup']);
  });

  test('the pod\'s fsGroup wins over the namespace fallback for the folder group', () => {
    const p = fixture({ workload: 'Deployment' }) as PodLike;
    expect(initEnv(collectPod(p, { ...OPTIONS, folderGroup: 7 }).pod, 'WAIT_FOLDER_GROUP')).toBe(String(OPENSHIFT_UID));
  });

  test('different uids and root are reported', () => {
    const p = fixture({ workload: 'Deployment', sidecar: true, platform: 'kubernetes' }) as PodLike;
    container(p, 'log-shipper').securityContext!.runAsUser = 2000;
    const mixed = collectPod(p, OPTIONS);
    expect(initSc(mixed.pod).runAsUser).toBe(1000);
    expect(mixed.report.warnings).toEqual(['instrumented containers run as different uids (1000, 2000): the pod folder belongs to 1000; give the pod an fsGroup so every container can write it']);
    const root = fixture({ workload: 'Deployment', platform: 'kubernetes' }) as PodLike;
    root.spec.securityContext!.runAsUser = 0;
    const r = collectPod(root, OPTIONS);
    expect(initSc(r.pod).runAsUser).toBeUndefined();
    expect(r.report.warnings).toEqual(['the instrumented container runs as root: the init container runs as the agent image\'s user instead']);
  });

  test('namespaceDefaults: first uid of openshift.io/sa.scc.uid-range, first gid of supplemental-groups', () => {
    expect(namespaceDefaults({ 'openshift.io/sa.scc.uid-range': '1000650000/10000', 'openshift.io/sa.scc.supplemental-groups': '1000650000/10000,5000/10' }))
      .toEqual({ defaultRunAsUser: 1000650000, folderGroup: 1000650000 });
    expect(namespaceDefaults({ 'openshift.io/sa.scc.uid-range': '1000-1999' })).toEqual({ defaultRunAsUser: 1000, folderGroup: 1000 });
    expect(namespaceDefaults({ 'openshift.io/sa.scc.uid-range': 'garbage' })).toEqual({});
    expect(namespaceDefaults({ 'openshift.io/sa.scc.uid-range': '100/0' })).toEqual({});
    expect(namespaceDefaults(undefined)).toEqual({});
  });

  test('invalid options are one-line errors', () => {
    const p = fixture({ workload: 'Deployment' }) as PodLike;
    expect(() => collectPod(p, { agentImage: '' })).toThrow('agentImage "" is invalid: expected an image reference');
    expect(() => collectPod(p, { agentImage: IMAGE, mountPath: 'dumps' })).toThrow(/mountPath "dumps" is invalid/);
    expect(() => collectPod(p, { agentImage: IMAGE, mountPath: '/a b' })).toThrow(/mountPath/);
    expect(() => collectPod(p, { agentImage: IMAGE, gzipLevel: 10 })).toThrow(/gzipLevel 10 is invalid/);
    expect(() => collectPod({ spec: {} } as PodLike, OPTIONS)).toThrow('the pod has no spec.containers');
  });
});

test('findJvmOption finds whole options only', () => {
  expect(findJvmOption('-XX:HeapDumpPathX=/a -XX:HeapDumpPath=/b', 'HeapDumpPath')).toBe('-XX:HeapDumpPath=/b');
  expect(findJvmOption('-XX:+ExitOnOutOfMemoryErrorX', 'ExitOnOutOfMemoryError')).toBeUndefined();
  expect(findJvmOption('-Dx=-XX:+ExitOnOutOfMemoryError', 'ExitOnOutOfMemoryError')).toBeUndefined();
});

// ---------------------------------------------------------------------------------------------
// Property: over many pod shapes, collectPod is idempotent, its patch reproduces it, and what it
// promises holds for every instrumented container.

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomPod(r: () => number): { pod: PodLike; options: CollectOptions } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const maybe = (p: number) => r() < p;
  const base = fixture({
    workload: pick(['Deployment', 'StatefulSet', 'Job'] as const),
    platform: pick(['openshift', 'kubernetes'] as const),
    sidecar: maybe(0.4),
    javaToolOptions: maybe(0.5) ? pick(['', '-Xmx256m', '-XX:HeapDumpPath=/tmp', '-XX:+HeapDumpOnOutOfMemoryError -Dx=$(HOME)', '  -Xss1m  ', '-XX:-ExitOnOutOfMemoryError']) : undefined,
  }) as PodLike;
  const names = base.spec.containers.map((c) => c.name);
  const ann = base.metadata!.annotations!;
  if (maybe(0.3)) ann[INJECT_ANNOTATIONS.containers] = [pick(names), ...(maybe(0.3) ? ['ghost'] : [])].join(',');
  if (maybe(0.1)) ann[INJECT_ANNOTATIONS.inject] = pick(['true', 'false']);
  if (maybe(0.15)) ann[INJECT_ANNOTATIONS.javaOptionsEnv] = pick(['JDK_JAVA_OPTIONS', 'JAVA_TOOL_OPTIONS', 'nonsense']);
  if (maybe(0.2)) delete base.metadata!.labels;
  if (maybe(0.2)) delete base.metadata!.annotations;
  for (const c of base.spec.containers) {
    if (maybe(0.2)) (c.env ??= []).push({ name: 'JDK_JAVA_OPTIONS', value: pick(['-Xmx1g', '-XX:HeapDumpPath=/x']) });
    if (maybe(0.08)) (c.env ??= []).push({ name: 'JAVA_TOOL_OPTIONS', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } });
    if (maybe(0.1)) (c.env ??= []).push({ name: 'HEAPDUMP_POD_NAME', value: 'mine' });
    if (maybe(0.1)) delete c.env;
    if (maybe(0.2)) c.securityContext = { ...c.securityContext, runAsUser: pick([0, 1000, 1001, OPENSHIFT_UID]) };
    if (maybe(0.1)) c.volumeMounts!.push({ name: 'tmp', mountPath: '/dumps' });
  }
  if (maybe(0.3)) base.spec.initContainers = [{ name: pick(['migrate', 'setup']), image: 'busybox', env: [{ name: 'JAVA_TOOL_OPTIONS', value: '-Xmx64m' }] }];
  // a pod's own heapdump-wait-ready (a tenant's, or a copy of an old definition's): replaced by the pipeline's
  if (maybe(0.1)) (base.spec.initContainers ??= []).push({ name: WAIT_READY_CONTAINER_NAME, image: pick([IMAGE, 'busybox']), args: ['wait-ready'], workingDir: '/mnt/dump' });
  if (maybe(0.15)) base.spec.volumes!.push({ name: pick(['host-dump', 'heapdump-host']), hostPath: { path: '/mnt/dump', type: pick(['Directory', 'DirectoryOrCreate']) } });
  if (base.spec.containers.some((c) => c.volumeMounts?.some((m) => m.name === 'tmp'))) base.spec.volumes!.push({ name: 'tmp', emptyDir: {} });
  if (maybe(0.2)) delete base.spec.securityContext;
  const options: CollectOptions = {
    agentImage: IMAGE,
    ...(maybe(0.3) ? { mountPath: pick(['/dumps', '/heap', '/var/dumps']) } : {}),
    ...(maybe(0.2) ? { gzipLevel: pick([0, 1, 6]) } : {}),
    ...(maybe(0.2) ? { defaultRunAsUser: 1000700000 } : {}),
    ...(maybe(0.2) ? { folderGroup: 1000700000 } : {}),
    ...(maybe(0.15) ? { containers: [pick(names)] } : {}),
  };
  return { pod: base, options };
}

test('property: idempotent, patch-reproducible, schema-valid, and every instrumented container has its parts', () => {
  const seed = Number(process.env.INJECT_PROPERTY_SEED ?? 20261130);
  const runs = Number(process.env.INJECT_PROPERTY_RUNS ?? 400);
  const r = rng(seed);
  let changed = 0;
  for (let i = 0; i < runs; i++) {
    const { pod, options } = randomPod(r);
    const where = `seed ${seed}, case ${i}`;
    const once = collectPod(pod, options);
    const twice = collectPod(once.pod, options);
    expect({ where, changed: twice.report.changed, pod: twice.pod }).toEqual({ where, changed: false, pod: once.pod });
    expect({ where, patched: applyPatch(pod, createPatch(pod, once.pod)) }).toEqual({ where, patched: once.pod });
    if (!once.report.changed) {
      expect({ where, pod: once.pod }).toEqual({ where, pod });
      continue;
    }
    changed++;
    expect({ where, errors: schemaErrors(once.pod as any) }).toEqual({ where, errors: [] });
    const mountPath = (options.mountPath ?? '/dumps').replace(/\/+$/, '');
    const inits = once.pod.spec.initContainers!;
    const wait = inits.find((c) => c.name === WAIT_READY_CONTAINER_NAME)!;
    expect({ where, first: inits[0].name }).toEqual({ where, first: WAIT_READY_CONTAINER_NAME });
    const volume = wait.volumeMounts![0].name;
    for (const name of once.report.instrumented) {
      const c = container(once.pod, name);
      const mount = c.volumeMounts!.find((m) => m.name === volume)!;
      expect({ where, name, mount: mount.subPathExpr }).toEqual({ where, name, mount: POD_DUMP_SUBPATH_EXPR });
      expect({ where, name, mountPath: mount.mountPath }).toEqual({ where, name, mountPath });
      expect(env(c, 'HEAPDUMP_POD_NAME')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
      expect(env(c, 'HEAPDUMP_POD_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.namespace');
    }
    // init containers of the input are unchanged, in order, after ours; a pod's own container of that name is gone
    expect({ where, rest: inits.slice(1) }).toEqual({ where, rest: (pod.spec.initContainers ?? []).filter((c) => c.name !== WAIT_READY_CONTAINER_NAME) });
  }
  expect(changed).toBeGreaterThan(runs / 3); // the generator exercises the mutating path, not only skips
});
