import { Construct } from 'constructs';
import { Application, APPLICATION_SETTINGS, ApplicationSettings } from './app';
import { ImagePullPolicy, IMAGE_PULL_POLICIES } from './agent-container';
import { PipelineNamespace } from './namespace';
import { Platform, PLATFORMS } from './platform/platform';
import { DumpPriorityClass } from './platform/priority-class';
import { SccPolicy } from './platform/scc-policy';
import { applicationConstraints, mountGuardConstraints, uploaderConstraints } from './platform/scc-profiles';
import { DUMP_STORAGE_SETTINGS, DumpStorage, DumpStorageSettings } from './storage';
import { Uploader } from './uploader';
import { resolveUploaderSettings, UPLOADER_SETTINGS, UploaderSettings } from './uploader-config';
import {
  checkBoolean, checkImage, checkInteger, checkKnownKeys, checkOneOf, PipelinePropsError, withPropScope,
} from './validation';
import { VOLUME_MANAGER_SETTINGS, VolumeManager, VolumeManagerSettings } from './volume-manager';

/** PriorityClass settings (the JSON config's `priorityClass` object). */
export interface PriorityClassSettings {
  /** @default 'dump-volume-critical' */
  readonly name?: string;
  /** @default 1000000 */
  readonly value?: number;
}

/** SCC names on OpenShift (cluster-scoped, so they are part of the public contract). */
export const SCC_NAMES = {
  mountGuard: 'dump-volume-privileged',
  uploader: 'heap-dump-uploader',
  app: 'heap-dump-app',
} as const;

export const PIPELINE_SETTINGS: readonly (keyof HeapDumpPipelineProps)[] = [
  'agentImage', 'platform', 'namespace', 'imagePullPolicy', 'waitTimeoutSeconds', 'storage', 'priorityClass',
  'volumeManager', 'uploader', 'app',
];

export interface HeapDumpPipelineProps {
  /** The agent image (mount guard, uploader, wait-ready), e.g. `registry.example.com/team/heapdump-agent:0.1.0`. */
  readonly agentImage: string;
  /**
   * `openshift`: SCCs with RBAC, Route. `kubernetes`: no SCC, no Route; Pod Security labels on the
   * namespace; optional Ingress.
   * @default 'openshift'
   */
  readonly platform?: Platform;
  /** @default 'memory-leak-demo' */
  readonly namespace?: string;
  /** Pull policy of the agent image. @default 'IfNotPresent' */
  readonly imagePullPolicy?: ImagePullPolicy;
  /** Seconds the init containers wait for the mount guard's marker (0 = forever). @default 600 */
  readonly waitTimeoutSeconds?: number;
  /** @default 10Gi ReadWriteMany `dump-storage-pvc` on the default StorageClass */
  readonly storage?: DumpStorageSettings;
  /** @default `dump-volume-critical`, value 1000000 */
  readonly priorityClass?: PriorityClassSettings;
  /** @default check the mount every 30 s, the prototype's resources */
  readonly volumeManager?: VolumeManagerSettings;
  /** @default the prototype's bucket, prefix and timings; see UploaderSettings */
  readonly uploader?: UploaderSettings;
  /** @default the demo leak application */
  readonly app?: ApplicationSettings;
}

/**
 * Everything the heap dump pipeline needs, in an order `oc apply -f` can create on an empty
 * cluster: the namespace and cluster-scoped objects first, then ServiceAccounts and bindings,
 * storage and configuration, then the workloads that use them.
 *
 * ```ts
 * new HeapDumpPipeline(chart, 'dumps', { agentImage: 'registry.example.com/heapdump-agent:0.1.0' });
 * ```
 */
export class HeapDumpPipeline extends Construct {
  public readonly namespace: string;
  public readonly platform: Platform;

  public constructor(scope: Construct, id: string, props: HeapDumpPipelineProps) {
    super(scope, id);
    const r = resolveTopLevel(props);
    this.platform = r.platform;

    // 1. The namespace and the cluster-scoped objects.
    this.namespace = new PipelineNamespace(this, 'Namespace', { name: props.namespace ?? 'memory-leak-demo', platform: r.platform }).name;
    const priority = withPropScope('priorityClass', () => new DumpPriorityClass(this, 'PriorityClass', props.priorityClass));
    const scc = r.platform === 'openshift' ? this.addSccs(r) : {};

    // 2. Namespaced objects, each before what uses it.
    const storage = withPropScope('storage', () => new DumpStorage(this, 'Storage', { ...props.storage, namespace: this.namespace }));
    const common = { namespace: this.namespace, imagePullPolicy: r.imagePullPolicy, priorityClassName: priority.name };
    withPropScope('volumeManager', () => new VolumeManager(this, 'VolumeManager', {
      ...props.volumeManager, ...common, image: r.agentImage, claimName: storage.claimName, sccClusterRoleName: scc.mountGuard,
    }));
    withPropScope('uploader', () => new Uploader(this, 'Uploader', {
      ...props.uploader, ...common, image: r.agentImage, sccClusterRoleName: scc.uploader, waitTimeoutSeconds: r.waitTimeoutSeconds,
    }));
    if (r.appEnabled) {
      const { enabled: _enabled, ...app } = props.app ?? {};
      withPropScope('app', () => new Application(this, 'App', {
        ...app,
        namespace: this.namespace,
        imagePullPolicy: r.imagePullPolicy,
        agentImage: r.agentImage,
        platform: r.platform,
        sccClusterRoleName: scc.app,
        waitTimeoutSeconds: r.waitTimeoutSeconds,
        logLevel: props.uploader?.logLevel,
      }));
    }
  }

  /** One SCC + `use` ClusterRole per role; returns the ClusterRole names to bind. */
  private addSccs(r: TopLevel): { mountGuard?: string; uploader?: string; app?: string } {
    const mountGuard = new SccPolicy(this, 'MountGuardScc', {
      name: SCC_NAMES.mountGuard,
      clusterRoleName: 'dump-volume-scc-user',
      constraints: mountGuardConstraints(),
      description: 'Heap dump mount guard: privileged + SYS_ADMIN to bind-mount the dump PVC onto the node with Bidirectional propagation.',
    });
    const uploader = new SccPolicy(this, 'UploaderScc', {
      name: SCC_NAMES.uploader,
      constraints: uploaderConstraints(r.removesLocalDumps),
      description: 'Heap dump uploader: restricted-v2 plus hostPath, uid 0 and DAC_READ_SEARCH to read dumps of any application UID.',
    });
    const app = r.appEnabled ? new SccPolicy(this, 'AppScc', {
      name: SCC_NAMES.app,
      constraints: applicationConstraints(),
      description: 'Applications writing heap dumps: restricted-v2 plus the hostPath volume of the node dump folder.',
    }) : undefined;
    return { mountGuard: mountGuard.clusterRoleName, uploader: uploader.clusterRoleName, app: app?.clusterRoleName };
  }
}

/** Top-level settings after defaults and validation (nested objects are validated by their constructs). */
interface TopLevel {
  readonly agentImage: string;
  readonly platform: Platform;
  readonly imagePullPolicy: ImagePullPolicy;
  readonly waitTimeoutSeconds: number;
  readonly appEnabled: boolean;
  /** Deletion after upload or a retention cap: the uploader needs write access and two more capabilities. */
  readonly removesLocalDumps: boolean;
}

function resolveTopLevel(props: HeapDumpPipelineProps): TopLevel {
  checkKnownKeys('', props, PIPELINE_SETTINGS);
  checkKnownKeys('storage', props.storage, DUMP_STORAGE_SETTINGS);
  checkKnownKeys('priorityClass', props.priorityClass, ['name', 'value']);
  checkKnownKeys('volumeManager', props.volumeManager, VOLUME_MANAGER_SETTINGS);
  checkKnownKeys('uploader', props.uploader, UPLOADER_SETTINGS);
  checkKnownKeys('app', props.app, APPLICATION_SETTINGS);
  if (props.agentImage === undefined) {
    throw new PipelinePropsError('agentImage', undefined, 'the agent image, e.g. registry.example.com/team/heapdump-agent:0.1.0 (required)');
  }
  return {
    agentImage: checkImage('agentImage', props.agentImage),
    platform: checkOneOf('platform', props.platform ?? 'openshift', PLATFORMS),
    imagePullPolicy: checkOneOf('imagePullPolicy', props.imagePullPolicy ?? 'IfNotPresent', IMAGE_PULL_POLICIES),
    waitTimeoutSeconds: checkInteger('waitTimeoutSeconds', props.waitTimeoutSeconds ?? 600, 0, 86_400),
    appEnabled: checkBoolean('app.enabled', props.app?.enabled ?? true),
    // Needed before the uploader is built: its SCC's capabilities depend on it.
    removesLocalDumps: withPropScope('uploader', () => {
      const u = resolveUploaderSettings(props.uploader);
      return u.afterUpload !== 'keep' || u.retentionMaxAgeSeconds > 0 || u.retentionMaxBytes > 0;
    }),
  };
}
