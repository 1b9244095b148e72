import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import type { CollectOptions, PodLike } from '../agent/src/inject/collect-pod';
import { COMMANDS } from '../agent/src/contract';
import { type CollectedNamespaceValue, SETTINGS } from '../agent/src/settings';
import { DumpVolumeAdmissionPolicy } from './admission-policy';
import { Analyzer, analyzerWakeUrl } from './analyzer';
import { unchosenDefaultWarnings } from './default-warnings';
import { Application } from './app';
import { COLLECTED_NAMESPACE_BINDING_NAME, CollectedNamespaceAccess } from './collected-namespace';
import { CollectError, collectInto, collectPatch, type CollectedWorkload, type CollectTarget, type CollectWorkloadOptions, apiObjectOf } from './collect';
import { bindEventReporter, EVENT_REPORTER_ROLE_NAME, EventReporterRole } from './event-reporter-rbac';
import type { AgentLogLevel, ImagePullPolicy, InjectPolicy, MonitoringStack, PipelineSettings, Platform } from './generated/settings';
import { HeapDumpApi, API_NAME, resolveWebUrl } from './heapdump-api';
import { HeapDumpApiAccess } from './heapdump-api-access';
import { Injector, injectorNames } from './injector';
import { InjectorWebhook } from './injector-webhook';
import { INSTANCE_LABEL } from './labels';
import { collectLabelValue, namedProp, prefixed } from './names';
import { HeapDumpMonitoring, SCRAPED_COMPONENTS, SCRAPED_COMPONENTS_WITH_INJECTOR } from './monitoring';
import { PipelineNamespace } from './namespace';
import { DumpPriorityClass } from './platform/priority-class';
import { SccPolicy } from './platform/scc-policy';
import { applicationConstraints, mountGuardConstraints, uploaderConstraints } from './platform/scc-profiles';
import { checkSettingKeys, optionalProp, prop } from './props';
import { type PodScheduling, resolveAgentScheduling } from './scheduling';
import { DumpStorage } from './storage';
import { Uploader } from './uploader';
import { uploaderRemovesLocalDumps } from './uploader-config';
import { PipelinePropsError, withPropScope } from './validation';
import { VolumeManager } from './volume-manager';
import { addWarning } from './warnings';

export type { PipelineSettings } from './generated/settings';
export { CollectError } from './collect';
export type { CollectedWorkload, CollectTarget, CollectWorkloadOptions } from './collect';

/** SCC names on OpenShift (cluster-scoped, so they are part of the public contract), before `namePrefix`. */
export const SCC_NAMES = {
  mountGuard: 'dump-volume-privileged',
  uploader: 'heap-dump-uploader',
  app: 'heap-dump-app',
} as const;

/** Names of the other cluster-scoped objects, before `namePrefix`. */
export const CLUSTER_OBJECT_NAMES = {
  mountGuardSccClusterRole: 'dump-volume-scc-user',
  admissionPolicy: 'heapdump-dump-volume',
  injectorWebhook: 'heapdump-pipeline-inject',
  execGuard: 'heapdump-pipeline-exec-guard',
  eventReporter: EVENT_REPORTER_ROLE_NAME,
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
 * Everything the heap dump pipeline needs, in an order `oc apply -f` can create on an empty cluster: the
 * namespaces (the pipeline's own, the demo application's), the cluster-scoped objects (PriorityClass, SCCs and
 * their ClusterRoles, the event-reporter ClusterRole, the dump-volume admission policy, the injector's
 * MutatingWebhookConfiguration), then per collected namespace its RoleBindings, then storage, the agents (mount
 * guard, uploader, injector), monitoring, and the demo application, collected with `collect()`.
 *
 * ```ts
 * const pipeline = new HeapDumpPipeline(chart, 'dumps', {
 *   agentImage: 'registry.example.com/heapdump-agent:0.1.0',
 *   collect: { namespaces: ['orders'] },
 * });
 * pipeline.collect(ordersDeployment); // a cdk8s-plus Deployment/StatefulSet, an ApiObject or a pod template
 * ```
 */
export class HeapDumpPipeline extends Construct {
  /** The pipeline's own namespace (the agents). */
  public readonly namespace: string;
  public readonly platform: Platform;
  /** Namespaces whose pods may be collected (listed, plus the demo's when it is enabled). */
  public readonly collectedNamespaces: readonly string[];
  /** What a collected pod gets: the options of collectPod, shared by collect(), the injector and the patch file. */
  public readonly collectOptions: CollectOptions;
  /** The demo application, when enabled. */
  public readonly app?: Application;
  /** `namePrefix`: in front of every name the pipeline chooses. */
  public readonly namePrefix: string;

  public constructor(scope: Construct, id: string, props: HeapDumpPipelineProps) {
    super(scope, id);
    const r = resolveTopLevel(props);
    const name = (n: string) => prefixed(r.namePrefix, n);
    this.namePrefix = r.namePrefix;
    this.platform = r.platform;
    this.collectOptions = r.collectOptions;
    this.collectedNamespaces = r.collected.map((c) => c.name);

    // 1. The namespaces, then the cluster-scoped objects.
    this.namespace = new PipelineNamespace(this, 'Namespace', { name: r.namespace, platform: r.platform }).name;
    if (r.app !== undefined) {
      new PipelineNamespace(this, 'AppNamespace', {
        name: r.app.namespace, platform: r.platform, role: 'collected', collectLabelValue: collectLabelValue(r.namePrefix),
      });
    }
    const priority = withPropScope('priorityClass', () => new DumpPriorityClass(this, 'PriorityClass', { ...props.priorityClass, namePrefix: r.namePrefix }));
    const scc = r.platform === 'openshift' ? this.addSccs(r) : {};
    const events = r.kubernetesEvents ? new EventReporterRole(this, 'EventReporter', { name: name(CLUSTER_OBJECT_NAMES.eventReporter) }) : undefined;
    new DumpVolumeAdmissionPolicy(this, 'AdmissionPolicy', {
      name: name(CLUSTER_OBJECT_NAMES.admissionPolicy),
      agentImage: r.agentImage, platform: r.platform, sccName: name(SCC_NAMES.app), namespaces: this.collectedNamespaces,
    });
    const injector = injectorNames(r.namePrefix);
    const webhook = r.injector.enabled ? withPropScope('injector', () => new InjectorWebhook(this, 'InjectorWebhook', {
      name: name(CLUSTER_OBJECT_NAMES.injectorWebhook),
      execGuardName: name(CLUSTER_OBJECT_NAMES.execGuard),
      serviceName: injector.name,
      pipelineNamespace: r.namespace,
      namespaces: this.collectedNamespaces,
      platform: r.platform,
      certificateName: injector.certificate,
      timeoutSeconds: r.injector.timeoutSeconds,
      collectLabelValue: collectLabelValue(r.namePrefix),
    })) : undefined;

    const apiAccess = r.api !== undefined ? withPropScope('api', () => new HeapDumpApiAccess(this, 'ApiAccess', {
      namespace: r.namespace,
      serviceName: name(API_NAME),
      platform: r.platform,
      certificateName: `${name(API_NAME)}-serving`,
      aggregateToEdit: prop(SETTINGS.apiAggregateToEdit, props.api?.aggregateToEdit),
      aggregateToView: prop(SETTINGS.apiAggregateToView, props.api?.aggregateToView),
      namePrefix: r.namePrefix,
    })) : undefined;

    // 2. What each collected namespace needs (RoleBindings live there; the namespaces exist or come first).
    for (const c of r.collected) {
      new CollectedNamespaceAccess(this, `Collected-${c.name}`, {
        namespace: c.name, sccClusterRoleName: scc.app, serviceAccounts: c.serviceAccounts, name: name(COLLECTED_NAMESPACE_BINDING_NAME),
      });
    }

    // 3. The pipeline namespace's objects, each before what uses it.
    const storage = withPropScope('storage', () => new DumpStorage(this, 'Storage', { ...props.storage, namespace: this.namespace, namePrefix: r.namePrefix }));
    const common = {
      namespace: this.namespace, imagePullPolicy: r.imagePullPolicy, priorityClassName: priority.name,
      scheduling: r.scheduling, imagePullSecrets: r.imagePullSecrets, namePrefix: r.namePrefix,
    };
    // With the heapdumps API, the Event and the notifications name the command (and the web page) that gets the dump.
    const retrieval = r.api !== undefined
      ? { cli: r.platform === 'openshift' ? 'oc' as const : 'kubectl' as const, ...(r.api.webUrl !== undefined ? { webUrl: r.api.webUrl } : {}) }
      : undefined;
    withPropScope('volumeManager', () => new VolumeManager(this, 'VolumeManager', {
      ...props.volumeManager, ...common, image: r.agentImage, claimName: storage.claimName, sccClusterRoleName: scc.mountGuard,
    }));
    const uploader = withPropScope('uploader', () => new Uploader(this, 'Uploader', {
      ...props.uploader, ...common, image: r.agentImage, sccClusterRoleName: scc.uploader, waitTimeoutSeconds: r.waitTimeoutSeconds,
      platform: r.platform,
      ...(r.analyzer ? { analyzerWakeUrl: analyzerWakeUrl(this.namespace, r.namePrefix) } : {}),
      ...(retrieval !== undefined ? { retrieval } : {}),
    }));
    if (events !== undefined) {
      bindEventReporter(this, 'EventReporterBindings', {
        clusterRoleName: events.clusterRoleName,
        serviceAccountName: uploader.serviceAccountName,
        serviceAccountNamespace: this.namespace,
        namespaces: this.collectedNamespaces,
      });
    }
    if (r.analyzer) {
      const { enabled: _enabled, ...analyzerSettings } = props.analyzer ?? {};
      const analyzer = withPropScope('analyzer', () => new Analyzer(this, 'Analyzer', {
        ...analyzerSettings, namespace: this.namespace, image: r.agentImage, access: uploader.s3Access,
        imagePullPolicy: r.imagePullPolicy, imagePullSecrets: r.imagePullSecrets, logLevel: r.logLevel, namePrefix: r.namePrefix,
      }));
      if (events !== undefined) {
        // the analyzer's follow-up Events (HeapDumpAnalyzed) on the same pods: the same role, bound to its ServiceAccount
        bindEventReporter(this, 'AnalyzerEventReporterBindings', {
          clusterRoleName: events.clusterRoleName,
          serviceAccountName: analyzer.serviceAccountName,
          serviceAccountNamespace: this.namespace,
          namespaces: this.collectedNamespaces,
        });
      }
    }
    if (webhook !== undefined) {
      withPropScope('injector', () => new Injector(this, 'Injector', {
        namespace: this.namespace,
        image: r.agentImage,
        imagePullPolicy: r.imagePullPolicy,
        imagePullSecrets: r.imagePullSecrets,
        platform: r.platform,
        collect: r.collectOptions,
        policy: r.policy,
        replicas: props.injector?.replicas,
        resources: props.injector?.resources,
        nodeSelector: props.injector?.nodeSelector,
        tolerations: props.injector?.tolerations,
        affinity: props.injector?.affinity,
        extraEnv: props.injector?.extraEnv,
        logLevel: r.logLevel,
        namePrefix: r.namePrefix,
      }));
    }
    if (r.api !== undefined && apiAccess !== undefined) {
      const { enabled: _enabled, aggregateToEdit: _edit, aggregateToView: _view, ...api } = props.api ?? {};
      withPropScope('api', () => new HeapDumpApi(this, 'Api', {
        ...api,
        namespace: this.namespace,
        image: r.agentImage,
        s3Env: uploader.s3Env,
        ...(uploader.s3CaBundle !== undefined ? { s3CaBundle: uploader.s3CaBundle } : {}),
        tokenScopeRole: apiAccess.editRoleName,
        platform: r.platform,
        imagePullPolicy: r.imagePullPolicy,
        imagePullSecrets: r.imagePullSecrets,
        logLevel: r.logLevel,
        namePrefix: r.namePrefix,
      }));
    }
    if (r.monitoring !== undefined) {
      const m = r.monitoring;
      withPropScope('monitoring', () => new HeapDumpMonitoring(this, 'Monitoring', {
        namespace: this.namespace,
        stack: m.stack,
        scrapeKind: props.monitoring?.scrapeKind,
        selectorLabels: props.monitoring?.selectorLabels,
        alertLabels: props.monitoring?.alertLabels,
        runbookUrl: m.runbookUrl,
        components: [
          ...(webhook !== undefined ? SCRAPED_COMPONENTS_WITH_INJECTOR : SCRAPED_COMPONENTS),
          ...(r.api !== undefined ? [COMMANDS.api] : []),
          ...(r.analyzer ? [COMMANDS.analyzer] : []),
        ],
        namePrefix: r.namePrefix,
      }));
    }

    // 4. The demo application, in its own namespace, collected exactly as a team's service would be.
    let monitor: string | undefined;
    if (r.monitoring !== undefined) monitor = props.monitoring?.scrapeKind ?? 'PodMonitor';
    if (r.app !== undefined) {
      const { enabled: _enabled, ...app } = props.app ?? {};
      this.app = withPropScope('app', () => new Application(this, 'App', { ...app, namespace: r.app!.namespace, platform: r.platform }));
      this.collect(this.app.deployment);
    }
    const exposed = r.platform === 'openshift' ? 'Route' : props.app?.ingress !== undefined ? 'Ingress' : undefined;
    for (const w of unchosenDefaultWarnings(props, {
      platform: r.platform,
      app: this.app === undefined ? undefined : { namespace: this.app.namespace, deployment: this.app.name, exposed },
      monitoring: monitor === undefined ? undefined : { scrapeKind: monitor },
    })) addWarning(this, w);

    // Which pipeline each object belongs to: what upgrade pruning and uninstall select (with PART_OF).
    for (const c of this.node.findAll()) if (c instanceof ApiObject) c.metadata.addLabel(INSTANCE_LABEL, this.namespace);
  }

  /**
   * Makes a workload's JVMs collected: applies exactly what the injector applies at admission (collectPod, the one
   * definition: the hostPath volume, the per-pod mount at `collect.mountPath`, the dump flags appended to
   * JAVA_TOOL_OPTIONS, the `heapdump-wait-ready` init container, the marks). `workload`: a cdk8s-plus
   * Deployment/StatefulSet (or any object with `apiObject`), an ApiObject with a pod template (`k8s.KubeDeployment`,
   * StatefulSet, DaemonSet, Job, CronJob ...), or a plain pod template (returned collected; the argument is not changed).
   * Call it after the workload's containers are added. Errors (synth fails, one line): a container name that is not a
   * container of the pod, a workload in a namespace that is not collected.
   */
  public collect(workload: CollectTarget, options: CollectWorkloadOptions = {}): CollectedWorkload {
    const api = apiObjectOf(workload);
    if (api !== undefined) {
      const ns = api.metadata.namespace;
      if (ns !== undefined && !this.collectedNamespaces.includes(ns)) {
        throw new CollectError(`collect(${api.kind}/${api.name}): namespace "${ns}" is not collected (collected: ${this.collectedNamespaces.join(', ') || 'none'}); add it to collect.namespaces`);
      }
    }
    const openshift = this.platform === 'openshift';
    return collectInto(workload, this.collectOptions, {
      ...options,
      warningScope: this,
      // On OpenShift the SCC gives the app and the init container the same uid (the namespace range's first) when
      // the manifest sets none: "no uid is known" is true at synth and harmless at admission.
      keepWarning: (w) => !(openshift && w.startsWith('no uid is known')),
    });
  }

  /** The strategic merge patch for YAML users (patches/collect-patch.json, written by main.ts): see lib/collect.ts and docs/collect-your-service.md. */
  public collectPatch(): Record<string, unknown> {
    return collectPatch(this.collectOptions);
  }

  /** One SCC + `use` ClusterRole per role; returns the ClusterRole names to bind. */
  private addSccs(r: TopLevel): { mountGuard?: string; uploader?: string; app?: string } {
    const name = (n: string) => prefixed(r.namePrefix, n);
    const mountGuard = new SccPolicy(this, 'MountGuardScc', {
      name: name(SCC_NAMES.mountGuard),
      clusterRoleName: name(CLUSTER_OBJECT_NAMES.mountGuardSccClusterRole),
      constraints: mountGuardConstraints(),
      description: 'Heap dump mount guard: privileged + SYS_ADMIN to bind-mount the dump PVC onto the node with Bidirectional propagation.',
    });
    const uploader = new SccPolicy(this, 'UploaderScc', {
      name: name(SCC_NAMES.uploader),
      constraints: uploaderConstraints(r.removesLocalDumps),
      description: 'Heap dump uploader: restricted-v2 plus hostPath, uid 0 and DAC_READ_SEARCH to read dumps of any application UID.',
    });
    // Always: a team's service needs it also without the demo (app.enabled false).
    const app = new SccPolicy(this, 'AppScc', {
      name: name(SCC_NAMES.app),
      constraints: applicationConstraints(),
      description: 'Applications writing heap dumps: restricted-v2 plus the hostPath volume of the node dump folder (narrowed to the per-pod folder by the heapdump-dump-volume admission policy).',
    });
    return { mountGuard: mountGuard.clusterRoleName, uploader: uploader.clusterRoleName, app: app.clusterRoleName };
  }
}

/** Top-level settings after defaults and validation (nested objects are validated by their constructs). */
interface TopLevel {
  readonly namePrefix: string;
  readonly agentImage: string;
  readonly imagePullSecrets: readonly string[];
  /** Both DaemonSets' (lib/scheduling.ts). */
  readonly scheduling: PodScheduling;
  readonly platform: Platform;
  readonly namespace: string;
  readonly imagePullPolicy: ImagePullPolicy;
  /** Validated by each construct that uses it (props stay in seconds). */
  readonly waitTimeoutSeconds?: number;
  readonly logLevel: AgentLogLevel;
  /** The demo application's namespace and ServiceAccount, when it is enabled. */
  readonly app?: { readonly namespace: string; readonly serviceAccount: string };
  /** Collected namespaces: the listed ones and the demo's. */
  readonly collected: readonly CollectedNamespaceValue[];
  readonly collectOptions: CollectOptions;
  readonly policy: InjectPolicy;
  readonly injector: { readonly enabled: boolean; readonly timeoutSeconds: number };
  readonly monitoring?: { readonly stack: MonitoringStack; readonly runbookUrl: string };
  readonly kubernetesEvents: boolean;
  /** The heapdumps API, when emitted (`api.enabled`; by default on unless `namePrefix` is set). */
  readonly api?: { readonly webUrl?: string };
  /** `afterUpload` other than `keep`, or a retention limit: the uploader needs write access and DAC_OVERRIDE. */
  readonly removesLocalDumps: boolean;
  /** The leak analyzer is emitted (`analyzer.enabled`). */
  readonly analyzer: boolean;
}

/** Namespaces the webhook and the policy must never touch. */
const PLATFORM_NAMESPACE = /^(kube-|openshift-)|^(kube-system|kube-public|kube-node-lease|openshift|default)$/;

function resolveCollected(props: HeapDumpPipelineProps, namespace: string, app: TopLevel['app']): CollectedNamespaceValue[] {
  const listed = withPropScope('collect', () => prop(SETTINGS.collectNamespaces, props.collect?.namespaces, 'namespaces'));
  listed.forEach((c, i) => {
    const at = `collect.namespaces[${i}]`;
    if (c.name === namespace) throw new PipelinePropsError(at, c.name, `a namespace other than the pipeline's own ("${namespace}"): the agents' namespace is never collected`);
    if (PLATFORM_NAMESPACE.test(c.name)) throw new PipelinePropsError(at, c.name, 'an application namespace (not default, kube-* or openshift-*)');
  });
  if (app === undefined) return [...listed];
  const own = listed.find((c) => c.name === app.namespace);
  if (own === undefined) return [{ name: app.namespace, serviceAccounts: [app.serviceAccount] }, ...listed];
  // Listed too: the listed grant, plus the demo's own ServiceAccount when the grant names accounts.
  const merged = own.serviceAccounts === undefined ? own : { name: own.name, serviceAccounts: [...new Set([app.serviceAccount, ...own.serviceAccounts])] };
  return [merged, ...listed.filter((c) => c !== own)];
}

/** `collect.mountPath` as collectPod accepts it (the same rule, said for the config file). */
function checkMountPath(p: string): string {
  if (p === '/' || /[\s:]/.test(p) || p.split('/').includes('..')) {
    throw new PipelinePropsError('collect.mountPath', p, 'an absolute path other than / without spaces, colons or ..');
  }
  return p;
}

function resolveTopLevel(props: HeapDumpPipelineProps): TopLevel {
  // Every key of every object, first: a misspelt key is reported before the values it would have set.
  checkSettingKeys('', props);
  const waitTimeoutMs = prop(SETTINGS.waitTimeout, props.waitTimeoutSeconds);
  if (waitTimeoutMs % 1000 !== 0) {
    throw new PipelinePropsError('waitTimeoutSeconds', props.waitTimeoutSeconds, 'a whole number of seconds (the init containers of collected pods take whole seconds)');
  }
  const platform = prop(SETTINGS.platform, props.platform);
  const namePrefix = optionalProp(SETTINGS.namePrefix, props.namePrefix) ?? '';
  const namespace = namedProp(SETTINGS.namespace, props.namespace, namePrefix);
  const agentImage = prop(SETTINGS.agentImage, props.agentImage);
  const imagePullPolicy = prop(SETTINGS.imagePullPolicy, props.imagePullPolicy);
  const imagePullSecrets = prop(SETTINGS.imagePullSecrets, props.imagePullSecrets);
  const logLevel = withPropScope('uploader', () => prop(SETTINGS.logLevel, props.uploader?.logLevel));
  const appEnabled = withPropScope('app', () => prop(SETTINGS.appEnabled, props.app?.enabled));
  let app: TopLevel['app'];
  if (appEnabled) {
    const appNamespace = withPropScope('app', () => namedProp(SETTINGS.appNamespace, props.app?.namespace, namePrefix, 'namespace'));
    if (appNamespace === namespace) {
      throw new PipelinePropsError('app.namespace', appNamespace, `a namespace other than the pipeline's ("${namespace}"): the demo runs apart from the agents`);
    }
    app = { namespace: appNamespace, serviceAccount: withPropScope('app', () => prop(SETTINGS.appName, props.app?.name, 'name')) };
  }
  const collect = props.collect;
  const collectOptions: CollectOptions = {
    agentImage,
    imagePullPolicy,
    mountPath: checkMountPath(withPropScope('collect', () => prop(SETTINGS.collectMountPath, collect?.mountPath, 'mountPath'))),
    logLevel,
    waitTimeoutSeconds: waitTimeoutMs / 1000,
    gzipLevel: withPropScope('collect', () => prop(SETTINGS.collectGzipLevel, collect?.gzipLevel, 'gzipLevel')),
  };
  const monitoringEnabled = withPropScope('monitoring', () => prop(SETTINGS.monitoringEnabled, props.monitoring?.enabled, 'enabled'));
  const stack = withPropScope('monitoring', () => optionalProp(SETTINGS.monitoringStack, props.monitoring?.stack, 'stack'))
    ?? (platform === 'openshift' ? 'openshift-user-workload' : 'prometheus-operator');
  return {
    namePrefix,
    agentImage,
    imagePullSecrets,
    scheduling: resolveAgentScheduling(props.scheduling),
    platform,
    namespace,
    imagePullPolicy,
    waitTimeoutSeconds: props.waitTimeoutSeconds,
    logLevel,
    app,
    collected: resolveCollected(props, namespace, app),
    collectOptions,
    policy: withPropScope('collect', () => prop(SETTINGS.collectPolicy, collect?.policy, 'policy')),
    injector: {
      enabled: withPropScope('injector', () => prop(SETTINGS.injectorEnabled, props.injector?.enabled, 'enabled')),
      timeoutSeconds: withPropScope('injector', () => prop(SETTINGS.injectorTimeout, props.injector?.timeoutSeconds, 'timeoutSeconds')),
    },
    monitoring: monitoringEnabled
      ? { stack, runbookUrl: withPropScope('monitoring', () => prop(SETTINGS.monitoringRunbookUrl, props.monitoring?.runbookUrl, 'runbookUrl')) }
      : undefined,
    api: resolveApi(props, namePrefix, platform),
    kubernetesEvents: withPropScope('uploader.notifications', () => prop(SETTINGS.notifyKubeEvents, props.uploader?.notifications?.kubernetesEvents, 'kubernetesEvents')),
    // Needed before the uploader is built: its SCC's capabilities depend on it.
    removesLocalDumps: withPropScope('uploader', () => uploaderRemovesLocalDumps(props.uploader)),
    analyzer: withPropScope('analyzer', () => prop(SETTINGS.analyzerEnabled, props.analyzer?.enabled, 'enabled')),
  };
}

/** `api.enabled` (default: on, unless a `namePrefix` is set: the APIService exists once per cluster) and the web page's URL. */
function resolveApi(props: HeapDumpPipelineProps, namePrefix: string, platform: Platform): TopLevel['api'] {
  const enabled = withPropScope('api', () => optionalProp(SETTINGS.apiEnabled, props.api?.enabled, 'enabled')) ?? namePrefix === '';
  if (!enabled) return undefined;
  const webUrl = withPropScope('api', () => resolveWebUrl(props.api?.web, platform));
  return webUrl !== undefined ? { webUrl } : {};
}

/** For tests and docs: the type of a plain pod template collect() accepts. */
export type CollectablePodTemplate = PodLike;
