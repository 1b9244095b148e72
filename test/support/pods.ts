/**
 * Pods as a mutating webhook receives them (inside an AdmissionReview v1), for the injection tests and
 * the bench: created by a Deployment's ReplicaSet (generateName, no name yet), a StatefulSet (named), a
 * Job (generateName, restartPolicy Never). On OpenShift the SCC admission plugin has already mutated them
 * (it runs before mutating webhooks; docs/injection.md): uid from the namespace range on each container,
 * fsGroup and SELinux level at pod level, drop ALL, and the `openshift.io/scc` annotation.
 */
import { randomUUID } from 'crypto';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Json = Record<string, any>;

export type Workload = 'Deployment' | 'StatefulSet' | 'Job';
export const WORKLOADS: readonly Workload[] = ['Deployment', 'StatefulSet', 'Job'];

/** restricted-v2 in a namespace annotated uid-range 1000650000/10000, mcs s0:c26,c5 (the SCC test's default range). */
export const OPENSHIFT_UID = 1000650000;
export const OPENSHIFT_MCS = 's0:c26,c5';

export interface PodFixture {
  readonly workload: Workload;
  readonly namespace?: string;
  readonly platform?: 'openshift' | 'kubernetes';
  /** Value of JAVA_TOOL_OPTIONS in the app container (absent when undefined). */
  readonly javaToolOptions?: string;
  readonly annotations?: Record<string, string>;
  /** A second container (a log shipper) next to the JVM. */
  readonly sidecar?: boolean;
}

function meta(f: PodFixture, namespace: string): Json {
  const annotations = { ...(f.platform !== 'kubernetes' ? { 'openshift.io/scc': 'restricted-v2' } : {}), ...f.annotations };
  const base = { namespace, annotations };
  switch (f.workload) {
    case 'Deployment':
      return {
        ...base, generateName: 'orders-api-7d9f8b6c5d-',
        labels: { app: 'orders-api', 'pod-template-hash': '7d9f8b6c5d' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'orders-api-7d9f8b6c5d', uid: randomUUID(), controller: true, blockOwnerDeletion: true }],
      };
    case 'StatefulSet':
      return {
        ...base, name: 'ledger-0',
        labels: { app: 'ledger', 'controller-revision-hash': 'ledger-5c8d7f9b6', 'statefulset.kubernetes.io/pod-name': 'ledger-0' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'ledger', uid: randomUUID(), controller: true, blockOwnerDeletion: true }],
      };
    case 'Job':
      return {
        ...base, generateName: 'nightly-report-28391520-',
        labels: { 'batch.kubernetes.io/job-name': 'nightly-report-28391520', 'batch.kubernetes.io/controller-uid': randomUUID(), 'job-name': 'nightly-report-28391520' },
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'nightly-report-28391520', uid: randomUUID(), controller: true, blockOwnerDeletion: true }],
      };
  }
}

export function pod(f: PodFixture): Json {
  const namespace = f.namespace ?? 'team-a';
  const openshift = f.platform !== 'kubernetes';
  const containerSc = openshift
    ? { runAsUser: OPENSHIFT_UID, runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } }
    : { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, readOnlyRootFilesystem: true };
  const podSc = openshift
    ? { fsGroup: OPENSHIFT_UID, seLinuxOptions: { level: OPENSHIFT_MCS }, seccompProfile: { type: 'RuntimeDefault' } }
    : { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } };
  const token = 'kube-api-access-x7k2p';
  const app: Json = {
    name: 'app',
    image: 'registry.example.com/team-a/orders-api:1.4.2',
    imagePullPolicy: 'IfNotPresent',
    env: [
      { name: 'SPRING_PROFILES_ACTIVE', value: 'prod' },
      ...(f.javaToolOptions !== undefined ? [{ name: 'JAVA_TOOL_OPTIONS', value: f.javaToolOptions }] : []),
    ],
    ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
    resources: { requests: { cpu: '250m', memory: '512Mi' }, limits: { memory: '1Gi' } },
    securityContext: structuredClone(containerSc),
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
    volumeMounts: [{ name: token, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }],
  };
  const containers = [app];
  if (f.sidecar) {
    containers.push({
      name: 'log-shipper', image: 'registry.example.com/platform/fluent-bit:3.1', imagePullPolicy: 'IfNotPresent',
      resources: { requests: { cpu: '10m', memory: '32Mi' } }, securityContext: structuredClone(containerSc),
      terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File',
      volumeMounts: [{ name: token, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }],
    });
  }
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: meta(f, namespace),
    spec: {
      serviceAccountName: 'orders-api',
      serviceAccount: 'orders-api',
      restartPolicy: f.workload === 'Job' ? 'Never' : 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      schedulerName: 'default-scheduler',
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
      priority: 0,
      securityContext: podSc,
      containers,
      volumes: [{
        name: token,
        projected: {
          defaultMode: 420,
          sources: [
            { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
            { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
          ],
        },
      }],
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
    },
  };
}

/** The AdmissionReview v1 the API server POSTs for `object` (CREATE of a pod unless told otherwise). */
export function admissionReview(object: Json, opts: { namespace?: string; operation?: string; kind?: Json; resource?: Json; subResource?: string } = {}): Json {
  const kind = opts.kind ?? { group: '', version: 'v1', kind: 'Pod' };
  const resource = opts.resource ?? { group: '', version: 'v1', resource: 'pods' };
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: randomUUID(),
      kind, resource, requestKind: kind, requestResource: resource,
      ...(opts.subResource ? { subResource: opts.subResource } : {}),
      ...(object.metadata?.name ? { name: object.metadata.name } : {}),
      namespace: opts.namespace ?? object.metadata?.namespace,
      operation: opts.operation ?? 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', uid: randomUUID(), groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'] },
      object,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
}
