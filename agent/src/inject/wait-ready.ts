/**
 * The `heapdump-wait-ready` init container of a collected pod: THE container (`waitReadyContainer`), and
 * the list of what it may look like once admitted (`WAIT_READY_FIELDS`), which the admission policy turns
 * into CEL (lib/admission-policy-rules.ts) and the tests hold against the Kubernetes schema.
 *
 * Why a whitelist of every field: this is the only container of a collected pod that sees the node's whole
 * dump tree (every tenant's folder). Anything that changes what runs in it or what it can reach gives the
 * pod's owner that tree: another volume over the agent's code (/opt/heapdump) or the node binary, a working
 * directory, a device, a terminationMessagePath into the tree (the runtime creates that file, as root),
 * stdin or a tty, more privileges. So every field of core/v1 Container is named here with its rule
 * (test/lib/admission-policy.test.ts compares the list with the vendored Kubernetes schema: a field it learns
 * fails the test until it has a rule; CEL can only test the fields it names).
 *
 * `adoptable` is the webhook's side of the same rule: a pod that brings its own container of that name
 * gets the pipeline's instead, unless it already IS the pipeline's (a re-review of an admitted pod).
 */
import { COMMANDS, ENV, PATHS, POD_ENV, WAIT_READY_CONTAINER_NAME, WAIT_READY_POD_ENV } from '../contract';
import type { LogLevel } from '../runtime/logger';
import { jsonEqual } from './json-patch';
import type { Container, EnvVar, VolumeMount } from './pod-types';

export type ImagePullPolicy = 'Always' | 'IfNotPresent' | 'Never';

/** Where the ServiceAccount admission plugin mounts the token volume into every container, init containers too. */
export const SERVICE_ACCOUNT_MOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';

/** What the API server defaults an unset terminationMessagePath / terminationMessagePolicy to. */
export const TERMINATION_MESSAGE_DEFAULTS = { path: '/dev/termination-log', policy: 'File' } as const;

/**
 * `exact`: the webhook's value, compared as written (or by the rule in the comment); `admission`: not
 * written by the webhook, but the API server or an admission plugin may set it, to the values named;
 * `any`: any value (it cannot change what runs or what is reachable); `forbidden`: never present.
 */
export type FieldRule = 'exact' | 'admission' | 'any' | 'forbidden';

/** Every field of core/v1 Container (Kubernetes 1.30 - 1.33). */
export const WAIT_READY_FIELDS: Readonly<Record<string, FieldRule>> = {
  name: 'exact',
  image: 'exact', // the agent image, as the pipeline names it (pin it by digest: docs/security.md)
  args: 'exact', // [wait-ready]
  env: 'exact', // only the names waitReadyContainer writes; the pod identity and NODE_NAME as their fieldRefs, the rest literal
  volumeMounts: 'exact', // the dump volume whole at /mnt/dump, HostToContainer; plus the ServiceAccount token (admission)
  securityContext: 'exact', // WAIT_READY_SECURITY_FIELDS
  imagePullPolicy: 'any',
  resources: 'any', // requests and limits (a LimitRange or a VPA may change them); never `claims` (devices)
  terminationMessagePath: 'admission', // the default only: another path is a file the runtime creates as root
  terminationMessagePolicy: 'admission', // the default only
  command: 'forbidden',
  workingDir: 'forbidden',
  ports: 'forbidden',
  envFrom: 'forbidden',
  volumeDevices: 'forbidden',
  lifecycle: 'forbidden',
  livenessProbe: 'forbidden',
  readinessProbe: 'forbidden',
  startupProbe: 'forbidden',
  restartPolicy: 'forbidden', // a restartable (sidecar) init container would keep the tree mounted while the app runs
  resizePolicy: 'forbidden',
  stdin: 'forbidden',
  stdinOnce: 'forbidden',
  tty: 'forbidden',
};

/** Every field of core/v1 SecurityContext (Kubernetes 1.30 - 1.33). */
export const WAIT_READY_SECURITY_FIELDS: Readonly<Record<string, FieldRule>> = {
  runAsNonRoot: 'exact', // true
  runAsUser: 'any', // the app's uid (OpenShift's SCC assigns it when the webhook could not); runAsNonRoot refuses 0
  allowPrivilegeEscalation: 'exact', // false
  capabilities: 'exact', // drop ALL (more drops are fine), add nothing
  readOnlyRootFilesystem: 'exact', // true
  seccompProfile: 'exact', // RuntimeDefault
  seLinuxOptions: 'admission', // OpenShift's SCC may set the namespace's level; never user, role or type
  privileged: 'admission', // false only
  procMount: 'admission', // Default only
  appArmorProfile: 'admission', // RuntimeDefault only
  runAsGroup: 'forbidden',
  windowsOptions: 'forbidden',
};

function fieldRefEnv(name: string, fieldPath: string): EnvVar {
  return { name, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } } };
}

/** The env pair the subPathExpr expands, in order. */
export function podIdentityEnv(): EnvVar[] {
  return [fieldRefEnv(POD_ENV.namespace, 'metadata.namespace'), fieldRefEnv(POD_ENV.name, 'metadata.name')];
}

/** `e` is exactly the fieldRef `fieldPath` (no value, no other source). */
export function isFieldRef(e: EnvVar, fieldPath: string): boolean {
  const ref = e.valueFrom?.fieldRef;
  return e.value === undefined && ref !== undefined && ref.fieldPath === fieldPath && (ref.apiVersion ?? 'v1') === 'v1'
    && Object.keys(e.valueFrom ?? {}).length === 1;
}

/** The env names the wait-ready container may have: what waitReadyContainer writes. */
export const WAIT_READY_ENV = {
  /** Each only as this fieldRef. */
  fieldRefs: { [ENV.nodeName]: 'spec.nodeName', [POD_ENV.namespace]: 'metadata.namespace', [POD_ENV.name]: 'metadata.name' },
  /** Each only as a literal value (no valueFrom). */
  literals: [ENV.logLevel, ENV.waitTimeout, WAIT_READY_POD_ENV.createPodFolder, WAIT_READY_POD_ENV.folderGroup],
  /** Literals whose value is fixed. */
  fixed: { [WAIT_READY_POD_ENV.createPodFolder]: 'true' },
} as const;

/**
 * The wait-ready init container, identical wherever it is added: no `command`, no envFrom, env
 * exactly NODE_NAME, the pod-identity pair, LOG_LEVEL, WAIT_TIMEOUT, WAIT_CREATE_POD_FOLDER and, when a
 * group is given, WAIT_FOLDER_GROUP; the hostPath mounted whole at /mnt/dump.
 */
export function waitReadyContainer(opts: {
  agentImage: string; imagePullPolicy: ImagePullPolicy; volumeName: string; logLevel: LogLevel; waitTimeoutSeconds: number;
  runAsUser?: number; folderGroup?: number;
}): Container {
  const env: EnvVar[] = [
    fieldRefEnv(ENV.nodeName, 'spec.nodeName'),
    ...podIdentityEnv(),
    { name: ENV.logLevel, value: opts.logLevel },
    { name: ENV.waitTimeout, value: String(opts.waitTimeoutSeconds) },
    { name: WAIT_READY_POD_ENV.createPodFolder, value: WAIT_READY_ENV.fixed[WAIT_READY_POD_ENV.createPodFolder] },
    ...(opts.folderGroup !== undefined ? [{ name: WAIT_READY_POD_ENV.folderGroup, value: String(opts.folderGroup) }] : []),
  ];
  return {
    name: WAIT_READY_CONTAINER_NAME,
    image: opts.agentImage,
    imagePullPolicy: opts.imagePullPolicy,
    args: [COMMANDS.waitReady],
    env,
    volumeMounts: [{ name: opts.volumeName, mountPath: PATHS.consumerDumpRoot, mountPropagation: 'HostToContainer' }],
    securityContext: {
      runAsNonRoot: true,
      ...(opts.runAsUser !== undefined ? { runAsUser: opts.runAsUser } : {}),
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      readOnlyRootFilesystem: true,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '100m', memory: '128Mi' } },
  };
}

/** The ServiceAccount admission plugin's mount: read-only, of a projected volume, at its fixed path. */
export function isServiceAccountMount(m: VolumeMount, projectedVolumes: ReadonlySet<string>): boolean {
  const keys = Object.keys(m).filter((k) => m[k] !== undefined).sort().join(',');
  return keys === 'mountPath,name,readOnly' && m.mountPath === SERVICE_ACCOUNT_MOUNT_PATH && m.readOnly === true && projectedVolumes.has(m.name);
}

/**
 * A pod's existing wait-ready container is the pipeline's (`exact`, as collectPod would write it now) plus at
 * most what admission adds to it: the defaulted termination message fields, the ServiceAccount token mount,
 * OpenShift's SELinux level, a uid when the webhook wrote none. Then it is kept (a re-review changes
 * nothing); anything else is replaced.
 */
export function adoptable(existing: Container, exact: Container, projectedVolumes: ReadonlySet<string>): boolean {
  const c: Container = structuredClone(existing);
  if (c.terminationMessagePath === TERMINATION_MESSAGE_DEFAULTS.path) delete c.terminationMessagePath;
  if (c.terminationMessagePolicy === TERMINATION_MESSAGE_DEFAULTS.policy) delete c.terminationMessagePolicy;
  if (c.volumeMounts !== undefined) c.volumeMounts = c.volumeMounts.filter((m) => !isServiceAccountMount(m, projectedVolumes));
  const sc = c.securityContext;
  if (sc !== undefined) {
    const se = sc.seLinuxOptions as Record<string, unknown> | undefined;
    if (se !== undefined && Object.keys(se).every((k) => k === 'level')) delete sc.seLinuxOptions;
    if (sc.procMount === 'Default') delete sc.procMount;
    if (sc.privileged === false) delete sc.privileged;
    if (exact.securityContext?.runAsUser === undefined && typeof sc.runAsUser === 'number' && sc.runAsUser > 0) delete sc.runAsUser;
  }
  return jsonEqual(c, exact);
}
