/**
 * collectPod's options: their defaults and checks (a wrong option is a CollectError naming the option, the
 * value and what was expected), the definition id they give, and the webhook's per-namespace fallbacks.
 */
import { createHash } from 'node:crypto';
import { INJECT_ANNOTATIONS, PATHS } from '../contract';
import { LOG_LEVELS, type LogLevel } from '../runtime/logger';
import type { ImagePullPolicy } from './wait-ready';

export const IMAGE_PULL_POLICIES: readonly ImagePullPolicy[] = ['Always', 'IfNotPresent', 'Never'];

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

/** A wrong option, or (strictness 'error') a pod the definition cannot be applied to as asked. */
export class CollectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CollectError';
  }
}

export interface Resolved {
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

export function isId(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 2_147_483_647;
}

export function resolveOptions(o: CollectOptions): Resolved {
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
