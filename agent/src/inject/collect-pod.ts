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
 * instrumented; `heapdump-pipeline.io/inject: "false"` opts a pod out. The one exception to "respectful":
 * the name `heapdump-wait-ready` is reserved. That container sees the node's whole dump tree, so a pod's own
 * container of that name is replaced by the pipeline's (kept only when it already is the pipeline's,
 * wait-ready.ts `adoptable`), and a pod whose containers could reach it while it runs (a shared or the
 * node's process namespace) is not collected.
 *
 * Why the uid is copied and SELinux is not set (docs/injection.md): on OpenShift the SCC admission plugin
 * mutates the pod BEFORE mutating webhooks and again after them, so the webhook already sees the uid the
 * SCC assigned (MustRunAsRange: the first uid of the namespace's range) on the app container, and the
 * pod-level fsGroup and SELinux level; the init container copies the uid and inherits the pod-level SELinux
 * level (its own level would label the pod folder with other MCS categories than the app's).
 *
 * Plain JSON in, plain JSON out (an AdmissionReview's object or a synthesized pod template); no I/O.
 */
import { COLLECTED_LABEL, INJECT_ANNOTATIONS, PATHS, WAIT_READY_CONTAINER_NAME } from '../contract';
import { type CollectOptions, CollectError, definitionId, DUMP_VOLUME_NAME, isId, resolveOptions } from './collect-options';
import { applyPlan, type ContainerPlan, JAVA_OPTIONS_ENVS, planContainer } from './container-plan';
import { jsonEqual } from './json-patch';
import type { Container, ObjectMeta, PodLike, PodSpec } from './pod-types';
import { adoptable, waitReadyContainer } from './wait-ready';

export {
  CollectError, type CollectOptions, DEFINITION_VERSION, definitionId, DUMP_VOLUME_NAME, IMAGE_PULL_POLICIES, namespaceDefaults,
} from './collect-options';
export { findJvmOption, JAVA_OPTIONS_ENVS, type JavaOptionsEnv, jvmOptions } from './container-plan';
export type { Container, EnvVar, ObjectMeta, PodLike, PodSecurityContext, PodSpec, SecurityContext, Volume, VolumeMount } from './pod-types';
export { type ImagePullPolicy, podIdentityEnv, waitReadyContainer } from './wait-ready';

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

function splitNames(raw: string): string[] {
  return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function normalizeHostPath(p: string): string {
  return p.length > 1 ? p.replace(/\/+$/, '') : p;
}

/**
 * Why the pod cannot be collected as it is, if it cannot: a regular container holding the init container's name
 * (a pod's names are unique across all its containers), or a process namespace shared among the pod's containers
 * or with the node: then another container could reach the whole dump tree through the wait-ready process
 * (`/proc/<pid>/root`) while it runs.
 */
function conflictOf(spec: PodSpec): string | undefined {
  if (spec.containers.some((c) => c.name === WAIT_READY_CONTAINER_NAME)) {
    return `a container of the pod is named ${WAIT_READY_CONTAINER_NAME}, the name of the pipeline's init container`;
  }
  if (spec.shareProcessNamespace === true) return 'the pod shares one process namespace among its containers (shareProcessNamespace), so any of them could reach the init container\'s view of every pod\'s dump folder';
  if (spec.hostPID === true) return 'the pod uses the node\'s process namespace (hostPID), so processes outside it could reach the init container\'s view of every pod\'s dump folder';
  return undefined;
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

  // Pods the definition cannot be applied to safely: left as they are (and so without the dump folder).
  const conflict = conflictOf(spec);
  if (conflict !== undefined) {
    warnings.push(`${conflict}: not collected`);
    return report({ changed: false, skipped: 'conflict' });
  }

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

  // The init container: first, as the instrumented containers' uid. A pod's own container of that name is
  // replaced unless it is the pipeline's already (plus what admission adds): it is the one container that sees
  // every pod's folder on the node, so the pod must not choose what it runs or mounts.
  const inits = spec.initContainers ?? [];
  const uidWarnings: string[] = [];
  const uids = [...new Set(plans.map((p) => uidOf(p.container, spec)).filter((u): u is number => u !== undefined))];
  let runAsUser: number | undefined = uids[0] ?? r.defaultRunAsUser;
  if (uids.length > 1) {
    uidWarnings.push(`instrumented containers run as different uids (${uids.join(', ')}): the pod folder belongs to ${uids[0]}; give the pod an fsGroup so every container can write it`);
  }
  if (runAsUser === 0) {
    uidWarnings.push('the instrumented container runs as root: the init container runs as the agent image\'s user instead');
    runAsUser = undefined;
  } else if (runAsUser === undefined) {
    uidWarnings.push('no uid is known for the instrumented containers: the pod folder belongs to the agent image\'s user; set runAsUser or an fsGroup');
  }
  const folderGroup = isId(spec.securityContext?.fsGroup) ? spec.securityContext!.fsGroup : r.folderGroup;
  const exact = waitReadyContainer({
    agentImage: r.agentImage, imagePullPolicy: r.imagePullPolicy, volumeName: volume.name, logLevel: r.logLevel,
    waitTimeoutSeconds: r.waitTimeoutSeconds, runAsUser, folderGroup,
  });
  const own = inits.filter((c) => c.name === WAIT_READY_CONTAINER_NAME);
  const projected = new Set((spec.volumes ?? []).filter((v) => v.projected !== undefined).map((v) => v.name));
  if (!(own.length === 1 && adoptable(own[0], exact, projected))) {
    if (own.length > 0) {
      warnings.push(`the pod's own init container ${WAIT_READY_CONTAINER_NAME} was replaced by the pipeline's (that name is reserved: the container sees every pod's dump folder on the node)`);
    }
    warnings.push(...uidWarnings);
    spec.initContainers = [exact, ...inits.filter((c) => c.name !== WAIT_READY_CONTAINER_NAME)];
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
