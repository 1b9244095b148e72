/**
 * Pieces shared by every container that runs the agent image: the agent's HTTP port and probes,
 * resource blocks, and the `wait-ready` init container. Every name comes from the contract.
 */
import { k8s } from 'cdk8s-plus-28';
import {
  Command, COMMANDS, ENV, HTTP, NODE_OPTIONS_BY_COMMAND, NODE_OPTIONS_ENV, PATHS, WAIT_READY_CONTAINER_NAME,
} from '../agent/src/contract';
import { type ContainerResourcesValue, resources as resourcesKind, SETTINGS } from '../agent/src/settings';
import type { ContainerResources, ImagePullPolicy } from './generated/settings';
import { envVar, prop } from './props';
import { checkKind } from './validation';

export { IMAGE_PULL_POLICIES } from '../agent/src/settings';
export type { ContainerResources, ImagePullPolicy } from './generated/settings';

const RESOURCES = resourcesKind();

/** Validated container resources (the table's `resources` kind), as Kubernetes quantities. */
export function checkResources(prop: string, value: ContainerResources | ContainerResourcesValue): k8s.ResourceRequirements {
  const r = checkKind(RESOURCES, prop, value);
  const q = (v: string) => k8s.Quantity.fromString(v);
  return {
    requests: { cpu: q(r.requests.cpu), memory: q(r.requests.memory) },
    limits: { cpu: q(r.limits.cpu), memory: q(r.limits.memory) },
  };
}

/** `NAME` from the downward API field `fieldPath` (e.g. spec.nodeName: never `hostname`, which is the pod name). */
export function fieldEnv(name: string, fieldPath: string): k8s.EnvVar {
  return { name, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } } };
}

export function nodeNameEnv(): k8s.EnvVar {
  return fieldEnv(ENV.nodeName, 'spec.nodeName');
}

export const AGENT_PORT_NAME = 'http';

/**
 * The security context of the agent containers that need nothing of the node (webhook, analyzer, API):
 * any non-root uid, no privilege escalation, a read-only root, no capabilities. A fresh object per call:
 * cdk8s must not share one between containers.
 */
export function unprivilegedSecurityContext(): k8s.SecurityContext {
  return { runAsNonRoot: true, allowPrivilegeEscalation: false, privileged: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } };
}

export function agentPort(): k8s.ContainerPort {
  return { name: AGENT_PORT_NAME, containerPort: HTTP.defaultPort, protocol: 'TCP' };
}

/** Readiness on /readyz, liveness on /healthz, both served by the agent itself (no shell in the image). */
export function agentProbes(): Pick<k8s.Container, 'readinessProbe' | 'livenessProbe'> {
  const port = k8s.IntOrString.fromString(AGENT_PORT_NAME);
  return {
    readinessProbe: {
      httpGet: { path: HTTP.ready, port },
      initialDelaySeconds: 2, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 3,
    },
    livenessProbe: {
      httpGet: { path: HTTP.health, port },
      initialDelaySeconds: 10, periodSeconds: 30, timeoutSeconds: 5, failureThreshold: 3,
    },
  };
}

/** Env every agent process gets (plus the Node options its command runs with, e.g. the guard's `--jitless`). */
export function agentCommonEnv(command: Command, logLevel: string): k8s.EnvVar[] {
  const nodeOptions = NODE_OPTIONS_BY_COMMAND[command];
  return [
    nodeNameEnv(),
    envVar(SETTINGS.httpPort, HTTP.defaultPort),
    envVar(SETTINGS.logLevel, SETTINGS.logLevel.kind.fromProp(logLevel)),
    ...(nodeOptions ? [{ name: NODE_OPTIONS_ENV, value: nodeOptions }] : []),
  ];
}

/** `imagePullSecrets` of an agent pod, validated (nothing when there are none: today's manifests). */
export function imagePullSecrets(value: readonly string[] | undefined): Pick<k8s.PodSpec, 'imagePullSecrets'> {
  const names = prop(SETTINGS.imagePullSecrets, value, 'imagePullSecrets');
  return names.length > 0 ? { imagePullSecrets: names.map((name) => ({ name })) } : {};
}

/** The wait-ready init container's resources when its pod gives none: the table's default (collectPod's values). */
export const WAIT_READY_RESOURCES = SETTINGS.uploaderWaitReadyResources.default!;

export interface WaitReadyOptions {
  readonly image: string;
  readonly imagePullPolicy: ImagePullPolicy;
  /** Pod volume holding the node's /mnt/dump (hostPath). */
  readonly volumeName: string;
  /** WAIT_TIMEOUT, milliseconds (0 = forever). */
  readonly timeoutMs: number;
  readonly logLevel: string;
  readonly securityContext: k8s.SecurityContext;
  /**
   * @default WAIT_READY_RESOURCES
   */
  readonly resources?: k8s.ResourceRequirements;
}

/**
 * The init container of the agents' own pods (the uploader): it blocks until the mount guard's marker
 * is present, root-owned, fresh and its content (node, source) matches this node — the hostPath is
 * always "a mount point" inside the container (the kubelet's own bind), so only the marker proves the
 * PVC is mounted — and makes nothing (read-only mount). A collected application's init container, which
 * also makes the pod's folder, is collectPod's (agent/src/inject/collect-pod.ts).
 */
export function waitReadyInitContainer(o: WaitReadyOptions): k8s.Container {
  return {
    name: WAIT_READY_CONTAINER_NAME,
    image: o.image,
    imagePullPolicy: o.imagePullPolicy,
    args: [COMMANDS.waitReady],
    env: [
      nodeNameEnv(),
      envVar(SETTINGS.logLevel, SETTINGS.logLevel.kind.fromProp(o.logLevel)),
      envVar(SETTINGS.waitTimeout, o.timeoutMs),
    ],
    volumeMounts: [{
      name: o.volumeName,
      mountPath: PATHS.consumerDumpRoot,
      mountPropagation: 'HostToContainer',
      readOnly: true,
    }],
    securityContext: o.securityContext,
    resources: o.resources ?? checkResources('resources', WAIT_READY_RESOURCES),
  };
}
