import { Construct } from 'constructs';
import { SETTINGS } from '../agent/src/settings';
import { Application } from './app';
import type { ImagePullPolicy, PipelineSettings, Platform } from './generated/settings';
import { PipelineNamespace } from './namespace';
import { DumpPriorityClass } from './platform/priority-class';
import { SccPolicy } from './platform/scc-policy';
import { applicationConstraints, mountGuardConstraints, uploaderConstraints } from './platform/scc-profiles';
import { checkSettingKeys, prop } from './props';
import { DumpStorage } from './storage';
import { Uploader } from './uploader';
import { uploaderRemovesLocalDumps } from './uploader-config';
import { withPropScope } from './validation';
import { VolumeManager } from './volume-manager';

export type { PipelineSettings } from './generated/settings';

/** SCC names on OpenShift (cluster-scoped, so they are part of the public contract). */
export const SCC_NAMES = {
  mountGuard: 'dump-volume-privileged',
  uploader: 'heap-dump-uploader',
  app: 'heap-dump-app',
} as const;

/**
 * Props of HeapDumpPipeline: exactly the settings of `pipeline.config.json`. Each prop, its type, range,
 * default and documentation come from the settings table (agent/src/settings/table.ts), generated into
 * lib/generated/settings.ts (`npm run gen`).
 */
export interface HeapDumpPipelineProps extends PipelineSettings {
  // every prop comes from the settings table: see lib/generated/settings.ts
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
    this.namespace = new PipelineNamespace(this, 'Namespace', { name: r.namespace, platform: r.platform }).name;
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
  readonly namespace: string;
  readonly imagePullPolicy: ImagePullPolicy;
  /** Validated by each construct that uses it (props stay in seconds). */
  readonly waitTimeoutSeconds?: number;
  readonly appEnabled: boolean;
  /** Deletion after upload or a retention cap: the uploader needs write access and two more capabilities. */
  readonly removesLocalDumps: boolean;
}

function resolveTopLevel(props: HeapDumpPipelineProps): TopLevel {
  // Every key of every object, first: a misspelt key is reported before the values it would have set.
  checkSettingKeys('', props);
  // Validated here too, so an error names the top-level prop rather than the construct that uses it first.
  prop(SETTINGS.waitTimeout, props.waitTimeoutSeconds);
  return {
    agentImage: prop(SETTINGS.agentImage, props.agentImage),
    platform: prop(SETTINGS.platform, props.platform),
    namespace: prop(SETTINGS.namespace, props.namespace),
    imagePullPolicy: prop(SETTINGS.imagePullPolicy, props.imagePullPolicy),
    waitTimeoutSeconds: props.waitTimeoutSeconds,
    appEnabled: withPropScope('app', () => prop(SETTINGS.appEnabled, props.app?.enabled)),
    // Needed before the uploader is built: its SCC's capabilities depend on it.
    removesLocalDumps: withPropScope('uploader', () => uploaderRemovesLocalDumps(props.uploader)),
  };
}
