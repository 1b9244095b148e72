import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { COMMANDS, PATHS } from '../agent/src/contract';
import { SETTINGS } from '../agent/src/settings';
import { agentCommonEnv, agentPort, agentProbes, checkResources, imagePullSecrets } from './agent-container';
import { withExtraEnv } from './extra-env';
import type { ImagePullPolicy, VolumeManagerSettings } from './generated/settings';
import { componentLabels } from './labels';
import { prefixed } from './names';
import { envVar, prop } from './props';
import { type PodScheduling, resolveAgentScheduling } from './scheduling';
import { checkDnsSubdomain } from './validation';
import { WorkloadIdentity } from './workload-identity';

export type { VolumeManagerSettings } from './generated/settings';

export const VOLUME_MANAGER_NAME = 'dump-volume-manager';

const GRACE_SECONDS = 30;

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
  /**
   * Where the DaemonSet runs (shared with the uploader: see lib/scheduling.ts).
   * @default every node but control-plane nodes that are not also workers, every taint tolerated
   */
  readonly scheduling?: PodScheduling;
  /**
   * Secrets for pulling the agent image.
   * @default none
   */
  readonly imagePullSecrets?: readonly string[];
  /**
   * Prefix of every name (the settings table's `namePrefix`).
   * @default ''
   */
  readonly namePrefix?: string;
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
    const image = prop(SETTINGS.agentImage, props.image, 'image');
    const checkIntervalMs = prop(SETTINGS.mountCheckInterval, props.checkIntervalSeconds);
    const resources = checkResources('resources', prop(SETTINGS.volumeManagerResources, props.resources));
    const imagePullPolicy = prop(SETTINGS.imagePullPolicy, props.imagePullPolicy);
    const claimName = checkDnsSubdomain('claimName', props.claimName);
    const name = prefixed(props.namePrefix ?? '', VOLUME_MANAGER_NAME);
    const labels = componentLabels(name, 'mount-guard');
    const scheduling = props.scheduling ?? resolveAgentScheduling(undefined);

    const identity = new WorkloadIdentity(this, 'Identity', {
      name, namespace: props.namespace, labels, sccClusterRoleName: props.sccClusterRoleName,
    });
    this.serviceAccountName = identity.serviceAccountName;

    const container: k8s.Container = {
      name: COMMANDS.mountGuard,
      image,
      imagePullPolicy,
      args: [COMMANDS.mountGuard],
      env: withExtraEnv(props.extraEnv, {
        setting: SETTINGS.volumeManagerExtraEnv,
        command: COMMANDS.mountGuard,
        env: [
          ...agentCommonEnv(COMMANDS.mountGuard, prop(SETTINGS.logLevel, props.logLevel, 'logLevel')),
          envVar(SETTINGS.mountSourceRoot, PATHS.guardSourceRoot),
          envVar(SETTINGS.mountTarget, PATHS.guardTarget),
          envVar(SETTINGS.mountCheckInterval, checkIntervalMs),
          envVar(SETTINGS.markerName, PATHS.markerName),
          // Below terminationGracePeriodSeconds, so the ordered shutdown (marker, then unmount) finishes before SIGKILL.
          envVar(SETTINGS.shutdownTimeout, (GRACE_SECONDS - 5) * 1000),
        ],
      }),
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
      metadata: { name, namespace: props.namespace, labels },
      spec: {
        selector: { matchLabels: { app: name } },
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: k8s.IntOrString.fromNumber(1) } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: identity.serviceAccountName,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            priorityClassName: props.priorityClassName,
            // Every node that can run a JVM needs its mount, whatever its taints (lib/scheduling.ts).
            ...scheduling,
            ...imagePullSecrets(props.imagePullSecrets),
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
