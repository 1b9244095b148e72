import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { COMMANDS, ENV, PATHS } from '../agent/src/contract';
import {
  agentCommonEnv, agentPort, agentProbes, checkResources, ContainerResources, IMAGE_PULL_POLICIES, ImagePullPolicy,
} from './agent-container';
import { componentLabels } from './labels';
import { checkDnsSubdomain, checkImage, checkInteger, checkOneOf } from './validation';
import { WorkloadIdentity } from './workload-identity';

/** Volume-manager settings a user can set (the JSON config's `volumeManager` object). */
export interface VolumeManagerSettings {
  /**
   * Seconds between two verifications of the bind mount.
   * @default 30
   */
  readonly checkIntervalSeconds?: number;
  /**
   * Container resources.
   * @default requests cpu 50m / memory 64Mi, limits cpu 100m / memory 128Mi (the prototype's)
   */
  readonly resources?: ContainerResources;
}

export const VOLUME_MANAGER_SETTINGS: readonly (keyof VolumeManagerSettings)[] = ['checkIntervalSeconds', 'resources'];

export const VOLUME_MANAGER_NAME = 'dump-volume-manager';

const GRACE_SECONDS = 30;

const DEFAULT_RESOURCES: ContainerResources = {
  requests: { cpu: '50m', memory: '64Mi' },
  limits: { cpu: '100m', memory: '128Mi' },
};

export interface VolumeManagerProps extends VolumeManagerSettings {
  readonly namespace: string;
  /** The agent image (runs `mount-guard`). */
  readonly image: string;
  /** The dump PVC. */
  readonly claimName: string;
  /** PriorityClass shared with the uploader. */
  readonly priorityClassName: string;
  /**
   * ClusterRole granting `use` of the privileged SCC.
   * @default none (plain Kubernetes)
   */
  readonly sccClusterRoleName?: string;
  /**
   * @default 'IfNotPresent'
   */
  readonly imagePullPolicy?: ImagePullPolicy;
  /**
   * Agent log level.
   * @default 'info'
   */
  readonly logLevel?: string;
}

/**
 * The mount guard DaemonSet: on every node it bind-mounts the PVC's `<nodeName>` subdirectory onto
 * the node's /mnt/dump (through the node's /mnt, Bidirectional, so the mount is visible on the host
 * and to other pods; see PATHS.hostDumpParent for why the parent),
 * keeps it verified, and writes the ready marker through the mount.
 */
export class VolumeManager extends Construct {
  public readonly serviceAccountName: string;

  public constructor(scope: Construct, id: string, props: VolumeManagerProps) {
    super(scope, id);
    const image = checkImage('image', props.image);
    const checkInterval = checkInteger('checkIntervalSeconds', props.checkIntervalSeconds ?? 30, 1, 3600);
    const resources = checkResources('resources', props.resources ?? DEFAULT_RESOURCES);
    const imagePullPolicy = checkOneOf('imagePullPolicy', props.imagePullPolicy ?? 'IfNotPresent', IMAGE_PULL_POLICIES);
    const claimName = checkDnsSubdomain('claimName', props.claimName);
    const labels = componentLabels(VOLUME_MANAGER_NAME, 'mount-guard');

    const identity = new WorkloadIdentity(this, 'Identity', {
      name: VOLUME_MANAGER_NAME, namespace: props.namespace, labels, sccClusterRoleName: props.sccClusterRoleName,
    });
    this.serviceAccountName = identity.serviceAccountName;

    const container: k8s.Container = {
      name: COMMANDS.mountGuard,
      image,
      imagePullPolicy,
      args: [COMMANDS.mountGuard],
      env: [
        ...agentCommonEnv(COMMANDS.mountGuard, props.logLevel ?? 'info'),
        { name: ENV.mountSourceRoot, value: PATHS.guardSourceRoot },
        { name: ENV.mountTarget, value: PATHS.guardTarget },
        { name: ENV.mountCheckInterval, value: String(checkInterval) },
        { name: ENV.markerName, value: PATHS.markerName },
        // Below terminationGracePeriodSeconds, so the ordered shutdown (marker, then unmount) finishes before SIGKILL.
        { name: ENV.shutdownTimeout, value: String(GRACE_SECONDS - 5) },
      ],
      ports: [agentPort()],
      ...agentProbes(),
      resources,
      securityContext: {
        // Bidirectional mount propagation is only allowed in privileged containers; SYS_ADMIN is the
        // capability mount(2) needs (listed so the intent is explicit should privileged ever go).
        privileged: true,
        allowPrivilegeEscalation: true,
        capabilities: { add: ['SYS_ADMIN'], drop: ['ALL'] },
        runAsUser: 0,
        runAsNonRoot: false,
        readOnlyRootFilesystem: true,
      },
      volumeMounts: [
        { name: 'pv-storage', mountPath: PATHS.guardSourceRoot },
        { name: 'host-mnt', mountPath: PATHS.guardHostParent, mountPropagation: 'Bidirectional' },
      ],
    };

    new k8s.KubeDaemonSet(this, 'Resource', {
      metadata: { name: VOLUME_MANAGER_NAME, namespace: props.namespace, labels },
      spec: {
        selector: { matchLabels: { app: VOLUME_MANAGER_NAME } },
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: k8s.IntOrString.fromNumber(1) } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: identity.serviceAccountName,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            priorityClassName: props.priorityClassName,
            // Every node that can run a JVM needs its mount, whatever its taints.
            tolerations: [{ operator: 'Exists' }],
            // On SIGTERM the guard removes the marker, then unmounts: give it time to finish.
            terminationGracePeriodSeconds: GRACE_SECONDS,
            securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
            containers: [container],
            volumes: [
              { name: 'pv-storage', persistentVolumeClaim: { claimName } },
              { name: 'host-mnt', hostPath: { path: PATHS.hostDumpParent, type: 'DirectoryOrCreate' } },
            ],
          },
        },
      },
    });
  }
}
