/**
 * THE definition of what a collected pod gets, as one pure function used by the webhook (at admission),
 * the cdk8s API (at synth) and the demo application:
 *
 * - the node's dump directory as a hostPath volume (`/mnt/dump`, type Directory);
 * - in each instrumented container: a mount at `mountPath` (default /dumps) with the per-pod subPathExpr
 *   `$(HEAPDUMP_POD_NAMESPACE)/$(HEAPDUMP_POD_NAME)` (HostToContainer), the two fieldRef env variables it
 *   expands, and the JVM options (heap dump on OOM into the mount, exit on OOM, optional gzip level)
 *   appended to the container's JAVA_TOOL_OPTIONS (or JDK_JAVA_OPTIONS when that is what it uses);
 * - the `heapdump-wait-ready` init container, FIRST among init containers, running as the
 *   instrumented container's uid so the pod folder it creates belongs to the JVM's user;
 * - a label and annotations that mark the pod and name the definition (version + hash of the options).
 *
 * Rules: idempotent (every piece is added only when missing, so applying it to its own output changes
 * nothing); respectful (an existing options value is extended, an existing -XX:HeapDumpPath is reported and
 * left alone, a value from valueFrom is reported and left alone, a container that already uses the mount
 * path or the pod-identity names otherwise is reported and skipped); init containers are never
 * instrumented; `heapdump-pipeline.io/inject: "false"` opts a pod out.
 *
 * Why the uid is copied and SELinux is not set (docs/injection.md): on OpenShift the SCC admission plugin
 * mutates the pod BEFORE mutating webhooks and again after them, so the webhook already sees the uid the
 * SCC assigned (MustRunAsRange: the first uid of the namespace's range) on the app container, and the
 * pod-level fsGroup and SELinux level; the init container copies the uid and inherits the pod-level SELinux
 * level (its own level would label the pod folder with other MCS categories than the app's).
 *
 * Plain JSON in, plain JSON out (an AdmissionReview's object or a synthesized pod template); no I/O.
 */
import { createHash } from 'node:crypto';
import {
  COLLECTED_LABEL, COMMANDS, ENV, INJECT_ANNOTATIONS, PATHS, POD_DUMP_SUBPATH_EXPR, POD_ENV,
  WAIT_READY_CONTAINER_NAME, WAIT_READY_POD_ENV,
} from '../contract';
import { LOG_LEVELS, type LogLevel } from '../runtime/logger';
import { jsonEqual } from './json-patch';

// ---------------------------------------------------------------------------------------------
// The subset of the Pod API read or written here. Unknown fields are carried through untouched.

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { apiVersion?: string; fieldPath: string }; [k: string]: unknown };
  [k: string]: unknown;
}
export interface VolumeMount {
  name: string;
  mountPath: string;
  subPath?: string;
  subPathExpr?: string;
  mountPropagation?: string;
  readOnly?: boolean;
  [k: string]: unknown;
}
export interface SecurityContext {
  runAsUser?: number;
  runAsNonRoot?: boolean;
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  capabilities?: { add?: string[]; drop?: string[] };
  seccompProfile?: { type: string; localhostProfile?: string };
  [k: string]: unknown;
}
export interface Container {
  name: string;
  image?: string;
  args?: string[];
  env?: EnvVar[];
  volumeMounts?: VolumeMount[];
  securityContext?: SecurityContext;
  [k: string]: unknown;
}
export interface Volume {
  name: string;
  hostPath?: { path: string; type?: string };
  [k: string]: unknown;
}
export interface PodSecurityContext {
  runAsUser?: number;
  fsGroup?: number;
  [k: string]: unknown;
}
export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  securityContext?: PodSecurityContext;
  [k: string]: unknown;
}
export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [k: string]: unknown;
}
/** A Pod, or a pod template (metadata + spec). */
export interface PodLike {
  metadata?: ObjectMeta;
  spec: PodSpec;
  [k: string]: unknown;
}

// ---------------------------------------------------------------------------------------------

export type ImagePullPolicy = 'Always' | 'IfNotPresent' | 'Never';
export const IMAGE_PULL_POLICIES: readonly ImagePullPolicy[] = ['Always', 'IfNotPresent', 'Never'];

/** JVM options variables collectPod may extend, in the order they are looked for. */
export const JAVA_OPTIONS_ENVS = ['JAVA_TOOL_OPTIONS', 'JDK_JAVA_OPTIONS'] as const;
export type JavaOptionsEnv = (typeof JAVA_OPTIONS_ENVS)[number];

/** Bumped whenever the shape collectPod produces changes (part of the `injected` annotation). */
export const DEFINITION_VERSION = 'v1';

/** Volume name used when the pod has no hostPath volume of /mnt/dump yet. */
export const DUMP_VOLUME_NAME = 'heapdump-host';

export interface CollectOptions {
  /** Image of the wait-ready init container (the agent image). */
  readonly agentImage: string;
  /** @default 'IfNotPresent' */
  readonly imagePullPolicy?: ImagePullPolicy;
  /** Where instrumented containers see their own dump folder. @default '/dumps' */
  readonly mountPath?: string;
  /** LOG_LEVEL of the init container. @default 'info' */
  readonly logLevel?: LogLevel;
  /** WAIT_TIMEOUT of the init container, seconds (0 = forever). @default 600 */
  readonly waitTimeoutSeconds?: number;
  /** -XX:HeapDumpGzipLevel=N (1-9; HotSpot 17+ only: older JVMs refuse to start). @default not set */
  readonly gzipLevel?: number;
  /**
   * Containers to instrument when the pod has no containers annotation (the cdk8s API's argument).
   * @default every container
   */
  readonly containers?: readonly string[];
  /**
   * uid for the init container when no instrumented container and not the pod set one. The webhook
   * passes the first uid of the namespace's `openshift.io/sa.scc.uid-range` when it knows it (what
   * MustRunAsRange would assign); on OpenShift the SCC has normally set the app's uid already.
   * @default none (the init container runs as the agent image's USER, with a warning)
   */
  readonly defaultRunAsUser?: number;
  /**
   * WAIT_FOLDER_GROUP when the pod has no fsGroup (the pod's fsGroup wins: every container of the pod
   * has it as a supplementary group, whatever its uid). E.g. the first gid of the namespace's
   * `openshift.io/sa.scc.supplemental-groups`.
   * @default none
   */
  readonly folderGroup?: number;
  /** Unknown container names (annotation or `containers`): a warning (webhook) or an error (cdk8s API). @default 'warn' */
  readonly strictness?: 'warn' | 'error';
  /** Annotation names (the webhook's are configurable). @default INJECT_ANNOTATIONS */
  readonly annotations?: { readonly inject?: string; readonly containers?: string };
}

export interface CollectReport {
  /** The pod differs from the input. */
  readonly changed: boolean;
  /** One line each, for the user (admission warnings, synth errors). */
  readonly warnings: readonly string[];
  /** Containers that have the dump folder (added now or already there). */
  readonly instrumented: readonly string[];
  /** Why nothing was done, when nothing was. */
  readonly skipped?: 'opted-out' | 'no-container' | 'conflict';
}

export interface CollectResult {
  readonly pod: PodLike;
  readonly report: CollectReport;
}

/** A wrong option, or (strictness 'error') a pod the definition cannot be applied to as asked. */
export class CollectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CollectError';
  }
}

interface Resolved {
  readonly agentImage: string;
  readonly imagePullPolicy: ImagePullPolicy;
  readonly mountPath: string;
  readonly logLevel: LogLevel;
  readonly waitTimeoutSeconds: number;
  readonly gzipLevel: number | undefined;
  readonly containers: readonly string[] | undefined;
  readonly defaultRunAsUser: number | undefined;
  readonly folderGroup: number | undefined;
  readonly strictness: 'warn' | 'error';
  readonly injectAnnotation: string;
  readonly containersAnnotation: string;
}

function isId(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 2_147_483_647;
}

function resolveOptions(o: CollectOptions): Resolved {
  const fail = (what: string, value: unknown, expected: string): never => {
    throw new CollectError(`${what} ${JSON.stringify(value)} is invalid: expected ${expected}`);
  };
  if (typeof o.agentImage !== 'string' || o.agentImage.trim() === '' || /\s/.test(o.agentImage)) fail('agentImage', o.agentImage, 'an image reference');
  const imagePullPolicy = o.imagePullPolicy ?? 'IfNotPresent';
  if (!IMAGE_PULL_POLICIES.includes(imagePullPolicy)) fail('imagePullPolicy', imagePullPolicy, IMAGE_PULL_POLICIES.join(', '));
  const mountPath = o.mountPath ?? PATHS.appDumpDir;
  if (typeof mountPath !== 'string' || !/^\/[^\s:]+$/.test(mountPath) || mountPath === '/' || mountPath.split('/').includes('..')) {
    fail('mountPath', mountPath, 'an absolute path other than / without spaces, colons or ..');
  }
  const logLevel = o.logLevel ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) fail('logLevel', logLevel, LOG_LEVELS.join(', '));
  const waitTimeoutSeconds = o.waitTimeoutSeconds ?? 600;
  if (!Number.isInteger(waitTimeoutSeconds) || waitTimeoutSeconds < 0) fail('waitTimeoutSeconds', waitTimeoutSeconds, 'an integer >= 0');
  const gzip = o.gzipLevel === 0 ? undefined : o.gzipLevel;
  if (gzip !== undefined && !(Number.isInteger(gzip) && gzip >= 1 && gzip <= 9)) fail('gzipLevel', gzip, 'an integer 1..9 (or 0 = off)');
  if (o.defaultRunAsUser !== undefined && !isId(o.defaultRunAsUser)) fail('defaultRunAsUser', o.defaultRunAsUser, 'a uid');
  if (o.folderGroup !== undefined && !isId(o.folderGroup)) fail('folderGroup', o.folderGroup, 'a gid');
  if (o.containers !== undefined && (!Array.isArray(o.containers) || o.containers.some((c) => typeof c !== 'string' || c === ''))) {
    fail('containers', o.containers, 'a list of container names');
  }
  return {
    agentImage: o.agentImage.trim(),
    imagePullPolicy,
    mountPath: mountPath.replace(/\/+$/, ''),
    logLevel,
    waitTimeoutSeconds,
    gzipLevel: gzip,
    containers: o.containers,
    defaultRunAsUser: o.defaultRunAsUser,
    folderGroup: o.folderGroup,
    strictness: o.strictness ?? 'warn',
    injectAnnotation: o.annotations?.inject ?? INJECT_ANNOTATIONS.inject,
    containersAnnotation: o.annotations?.containers ?? INJECT_ANNOTATIONS.containers,
  };
}

/** `<version>-<10 hex>`: changes whenever the options change what a pod gets. */
export function definitionId(options: CollectOptions): string {
  const r = resolveOptions(options);
  const shaped = [DEFINITION_VERSION, r.agentImage, r.imagePullPolicy, r.mountPath, r.logLevel, r.waitTimeoutSeconds, r.gzipLevel ?? 0];
  return `${DEFINITION_VERSION}-${createHash('sha256').update(JSON.stringify(shaped)).digest('hex').slice(0, 10)}`;
}

/** The JVM options every instrumented container gets (before respecting what it already has). */
export function jvmOptions(mountPath: string, gzipLevel?: number): string[] {
  return [
    '-XX:+HeapDumpOnOutOfMemoryError',
    `-XX:HeapDumpPath=${mountPath}`,
    '-XX:+ExitOnOutOfMemoryError',
    ...(gzipLevel ? [`-XX:HeapDumpGzipLevel=${gzipLevel}`] : []),
  ];
}

/** The value of `-XX:[+-]Name` / `-XX:Name=value` in an options string, or undefined when absent. */
export function findJvmOption(options: string, name: string): string | undefined {
  const re = new RegExp(`(?:^|\\s)(-XX:(?:[+-]${name}|${name}=\\S*))(?=\\s|$)`);
  return re.exec(options)?.[1];
}

function fieldRefEnv(name: string, fieldPath: string): EnvVar {
  return { name, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } } };
}

/** The env pair the subPathExpr expands, in order. */
export function podIdentityEnv(): EnvVar[] {
  return [fieldRefEnv(POD_ENV.namespace, 'metadata.namespace'), fieldRefEnv(POD_ENV.name, 'metadata.name')];
}

function isFieldRef(e: EnvVar, fieldPath: string): boolean {
  const ref = e.valueFrom?.fieldRef;
  return e.value === undefined && ref !== undefined && ref.fieldPath === fieldPath && (ref.apiVersion ?? 'v1') === 'v1'
    && Object.keys(e.valueFrom ?? {}).length === 1;
}

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
    { name: WAIT_READY_POD_ENV.createPodFolder, value: 'true' },
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

function splitNames(raw: string): string[] {
  return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function normalizeHostPath(p: string): string {
  return p.length > 1 ? p.replace(/\/+$/, '') : p;
}

/** What one container needs, decided before anything is changed (a conflict skips the container whole). */
interface ContainerPlan {
  readonly container: Container;
  readonly addMount: boolean;
  readonly addEnv: readonly EnvVar[];
  readonly options?: { readonly name: string; readonly value: string; readonly existing: boolean };
}

function planContainer(c: Container, volumeName: string, r: Resolved, javaEnvHint: string | undefined, warnings: string[]): ContainerPlan | undefined {
  const who = `container "${c.name}"`;
  const mounts = c.volumeMounts ?? [];
  const ours = mounts.find((m) => m.name === volumeName);
  let addMount = false;
  if (ours !== undefined) {
    if (ours.subPathExpr !== POD_DUMP_SUBPATH_EXPR || ours.subPath !== undefined) {
      warnings.push(`${who} already mounts the dump volume without the per-pod subPathExpr ${POD_DUMP_SUBPATH_EXPR}: left as is (the admission policy rejects such a pod)`);
    }
  } else if (mounts.some((m) => m.mountPath.replace(/\/+$/, '') === r.mountPath)) {
    warnings.push(`${who} already has a volume at ${r.mountPath}: not instrumented (choose another dump path)`);
    return undefined;
  } else {
    addMount = true;
  }

  const env = c.env ?? [];
  const addEnv: EnvVar[] = [];
  for (const want of podIdentityEnv()) {
    const have = env.find((e) => e.name === want.name);
    if (have === undefined) addEnv.push(want);
    else if (!isFieldRef(have, want.valueFrom!.fieldRef!.fieldPath)) {
      warnings.push(`${who} sets ${want.name} to something other than the fieldRef ${want.valueFrom!.fieldRef!.fieldPath}: not instrumented`);
      return undefined;
    }
  }

  // Which variable carries the JVM options: the one the container already uses, else the pod's hint, else JAVA_TOOL_OPTIONS.
  const existing = JAVA_OPTIONS_ENVS.map((n) => env.find((e) => e.name === n)).find((e) => e !== undefined);
  const name = existing?.name ?? (javaEnvHint as JavaOptionsEnv | undefined) ?? 'JAVA_TOOL_OPTIONS';
  let options: ContainerPlan['options'];
  if (existing?.valueFrom !== undefined) {
    warnings.push(`${who}: ${name} comes from valueFrom and cannot be extended: add ${jvmOptions(r.mountPath, r.gzipLevel).join(' ')} to it yourself`);
  } else {
    const current = existing?.value ?? '';
    const add: string[] = [];
    for (const opt of jvmOptions(r.mountPath, r.gzipLevel)) {
      const optName = /^-XX:[+-]?([A-Za-z]+)/.exec(opt)![1];
      const present = findJvmOption(current, optName);
      if (present === undefined) add.push(opt);
      else if (present !== opt) {
        warnings.push(`${who}: ${name} already has ${present}: left as is${optName === 'HeapDumpPath' ? ` (dumps outside ${r.mountPath} are not collected)` : ''}`);
      }
    }
    if (add.length > 0) {
      const value = current.trim() === '' ? add.join(' ') : `${current.replace(/\s+$/, '')} ${add.join(' ')}`;
      options = { name, value, existing: existing !== undefined };
    }
  }
  return { container: c, addMount, addEnv, options };
}

function applyPlan(p: ContainerPlan, volumeName: string, r: Resolved): void {
  const c = p.container;
  if (p.addMount) {
    c.volumeMounts = [...(c.volumeMounts ?? []), { name: volumeName, mountPath: r.mountPath, subPathExpr: POD_DUMP_SUBPATH_EXPR, mountPropagation: 'HostToContainer' }];
  }
  if (p.addEnv.length > 0 || p.options !== undefined) {
    let env = [...(c.env ?? []), ...p.addEnv];
    if (p.options !== undefined) {
      const { name, value, existing } = p.options;
      env = existing ? env.map((e) => (e.name === name ? { ...e, value } : e)) : [...env, { name, value }];
    }
    c.env = env;
  }
}

/** The effective uid of a container (its own, else the pod's), if known. */
function uidOf(c: Container, spec: PodSpec): number | undefined {
  const uid = c.securityContext?.runAsUser ?? spec.securityContext?.runAsUser;
  return isId(uid) ? uid : undefined;
}

/**
 * Applies the definition to a copy of `pod`. Throws CollectError for invalid options, and with
 * strictness 'error' for unknown container names or a selection that conflicts with the pod's annotation.
 */
export function collectPod(pod: PodLike, options: CollectOptions): CollectResult {
  const r = resolveOptions(options);
  const out = structuredClone(pod) as PodLike;
  const warnings: string[] = [];
  const report = (extra: Partial<CollectReport> & { instrumented?: string[] } = {}): CollectResult => ({
    pod: out,
    report: { changed: extra.changed ?? !jsonEqual(pod, out), warnings, instrumented: extra.instrumented ?? [], ...(extra.skipped ? { skipped: extra.skipped } : {}) },
  });
  const strict = (message: string) => {
    if (r.strictness === 'error') throw new CollectError(message);
    warnings.push(message);
  };

  if (out.spec === null || typeof out.spec !== 'object' || !Array.isArray(out.spec.containers)) {
    throw new CollectError('the pod has no spec.containers');
  }
  const annotations = out.metadata?.annotations ?? {};
  const optIn = annotations[r.injectAnnotation];
  if (optIn === 'false') return report({ changed: false, skipped: 'opted-out' });
  const spec = out.spec;

  // Which containers.
  const names = spec.containers.map((c) => c.name);
  const fromAnnotation = annotations[r.containersAnnotation] !== undefined ? splitNames(annotations[r.containersAnnotation]) : undefined;
  if (fromAnnotation !== undefined && r.containers !== undefined
    && [...new Set(fromAnnotation)].sort().join(',') !== [...new Set(r.containers)].sort().join(',')) {
    strict(`containers [${r.containers.join(', ')}] conflict with the pod's annotation ${r.containersAnnotation}="${annotations[r.containersAnnotation]}": the annotation wins`);
  }
  const wanted = fromAnnotation ?? r.containers ?? names;
  const initNames = new Set((spec.initContainers ?? []).map((c) => c.name));
  for (const n of wanted.filter((w) => !names.includes(w))) {
    strict(initNames.has(n)
      ? `container "${n}" is an init container: init containers are never instrumented`
      : `container "${n}" is not in the pod (containers: ${names.join(', ')})`);
  }
  const selected = spec.containers.filter((c) => wanted.includes(c.name));
  if (selected.length === 0) return report({ changed: false, skipped: 'no-container' });

  // The hostPath volume: an existing one of /mnt/dump is reused (hand-wired pods), whatever its name.
  const volumes = spec.volumes ?? [];
  let volume = volumes.find((v) => v.hostPath !== undefined && normalizeHostPath(v.hostPath.path) === PATHS.hostDumpDir);
  let addVolume = false;
  if (volume === undefined) {
    if (volumes.some((v) => v.name === DUMP_VOLUME_NAME)) {
      warnings.push(`the pod already has a volume named ${DUMP_VOLUME_NAME} that is not the hostPath ${PATHS.hostDumpDir}: not collected`);
      return report({ changed: false, skipped: 'conflict' });
    }
    volume = { name: DUMP_VOLUME_NAME, hostPath: { path: PATHS.hostDumpDir, type: 'Directory' } };
    addVolume = true;
  } else if (volume.hostPath!.type !== 'Directory') {
    warnings.push(`volume "${volume.name}" (hostPath ${PATHS.hostDumpDir}) has type ${volume.hostPath!.type ?? '""'}, not Directory: left as is`);
  }

  const javaEnvHint = annotations[INJECT_ANNOTATIONS.javaOptionsEnv];
  if (javaEnvHint !== undefined && !(JAVA_OPTIONS_ENVS as readonly string[]).includes(javaEnvHint)) {
    warnings.push(`annotation ${INJECT_ANNOTATIONS.javaOptionsEnv}="${javaEnvHint}" is not one of ${JAVA_OPTIONS_ENVS.join(', ')}: JAVA_TOOL_OPTIONS used`);
  }
  const hint = javaEnvHint !== undefined && (JAVA_OPTIONS_ENVS as readonly string[]).includes(javaEnvHint) ? javaEnvHint : undefined;
  const plans = selected.map((c) => planContainer(c, volume!.name, r, hint, warnings)).filter((p): p is ContainerPlan => p !== undefined);
  if (plans.length === 0) return report({ changed: false, skipped: 'conflict' });
  const instrumented = plans.map((p) => p.container.name);

  if (addVolume) spec.volumes = [...volumes, volume];
  for (const p of plans) applyPlan(p, volume.name, r);

  // The init container: first, as the instrumented containers' uid.
  const inits = spec.initContainers ?? [];
  if (!inits.some((c) => c.name === WAIT_READY_CONTAINER_NAME)) {
    const uids = [...new Set(plans.map((p) => uidOf(p.container, spec)).filter((u): u is number => u !== undefined))];
    let runAsUser: number | undefined = uids[0] ?? r.defaultRunAsUser;
    if (uids.length > 1) {
      warnings.push(`instrumented containers run as different uids (${uids.join(', ')}): the pod folder belongs to ${uids[0]}; give the pod an fsGroup so every container can write it`);
    }
    if (runAsUser === 0) {
      warnings.push('the instrumented container runs as root: the init container runs as the agent image\'s user instead');
      runAsUser = undefined;
    } else if (runAsUser === undefined) {
      warnings.push('no uid is known for the instrumented containers: the pod folder belongs to the agent image\'s user; set runAsUser or an fsGroup');
    }
    const folderGroup = isId(spec.securityContext?.fsGroup) ? spec.securityContext!.fsGroup : r.folderGroup;
    spec.initContainers = [
      waitReadyContainer({
        agentImage: r.agentImage, imagePullPolicy: r.imagePullPolicy, volumeName: volume.name, logLevel: r.logLevel,
        waitTimeoutSeconds: r.waitTimeoutSeconds, runAsUser, folderGroup,
      }),
      ...inits,
    ];
  }

  // Marks: added when missing, never rewritten (idempotency; a pod injected by an older definition keeps its mark).
  const id = definitionId(options);
  const meta: ObjectMeta = (out.metadata ??= {});
  const labels = (meta.labels ??= {});
  if (labels[COLLECTED_LABEL] === undefined) labels[COLLECTED_LABEL] = 'true';
  const ann = (meta.annotations ??= {});
  if (ann[INJECT_ANNOTATIONS.injected] === undefined) ann[INJECT_ANNOTATIONS.injected] = id;
  else if (ann[INJECT_ANNOTATIONS.injected] !== id) {
    warnings.push(`the pod was collected by definition ${ann[INJECT_ANNOTATIONS.injected]}, current is ${id}: the parts it has are kept`);
  }
  if (ann[INJECT_ANNOTATIONS.instrumented] === undefined) ann[INJECT_ANNOTATIONS.instrumented] = instrumented.join(',');
  return report({ instrumented });
}

/**
 * The webhook's per-namespace fallbacks from an OpenShift namespace's annotations: the first uid of
 * `openshift.io/sa.scc.uid-range` (what MustRunAsRange assigns) and the first gid of
 * `openshift.io/sa.scc.supplemental-groups` (what the MustRunAs fsGroup strategy assigns; the uid range
 * when that annotation is absent). Blocks are `<start>/<size>` or `<start>-<end>`.
 */
export function namespaceDefaults(annotations: Readonly<Record<string, string>> | undefined): { defaultRunAsUser?: number; folderGroup?: number } {
  const first = (raw: string | undefined): number | undefined => {
    const m = raw === undefined ? null : /^\s*(\d+)\s*[/-]\s*(\d+)\s*(,|$)/.exec(raw);
    if (m === null) return undefined;
    const start = Number(m[1]);
    return isId(start) && (raw!.includes('/') ? Number(m[2]) > 0 : Number(m[2]) >= start) ? start : undefined;
  };
  const uid = first(annotations?.['openshift.io/sa.scc.uid-range']);
  const gid = first(annotations?.['openshift.io/sa.scc.supplemental-groups'] ?? annotations?.['openshift.io/sa.scc.uid-range']);
  return { ...(uid !== undefined ? { defaultRunAsUser: uid } : {}), ...(gid !== undefined ? { folderGroup: gid } : {}) };
}
