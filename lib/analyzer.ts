import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { ANALYZER_WAKE_PATH, COMMANDS, HTTP } from '../agent/src/contract';
import { type Setting, SETTINGS } from '../agent/src/settings';
import { agentCommonEnv, agentPort, agentProbes, checkResources, imagePullSecrets, unprivilegedSecurityContext } from './agent-container';
import { serviceAccountTokenVolume } from './event-reporter-rbac';
import type { AnalyzerSettings, ImagePullPolicy } from './generated/settings';
import { componentLabels } from './labels';
import { prefixed } from './names';
import { checkSettingKeys, envVar, prop } from './props';
import type { AgentS3Access } from './uploader';
import { configHash, CONFIG_HASH_ANNOTATION } from './uploader';
import { checkDnsLabel } from './validation';
import { WorkloadIdentity } from './workload-identity';

export const ANALYZER_NAME = 'heapdump-analyzer';
export const ANALYZER_CONFIGMAP_NAME = 'heapdump-analyzer-config';
/** Where the emptyDir for downloaded dumps is mounted (ANALYZER_WORK_DIR). */
export const ANALYZER_WORK_DIR = '/var/heapdump-analyzer';

/** Time for a running analysis to be stopped and its attempt given back. */
const GRACE_SECONDS = 30;

const QUANTITY_UNITS: Readonly<Record<string, number>> = {
  '': 1, m: 1e-3, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
};

/** Bytes (whole) of a quantity the settings' `quantity` kind accepted: `8Gi` -> 8589934592. */
export function quantityBytes(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(m|[KMGTPE]i|[kMGTPE])?$/.exec(q);
  if (!m) throw new Error(`quantityBytes: ${q} is not a byte quantity`);
  return Math.floor(Number(m[1]) * QUANTITY_UNITS[m[2] ?? '']);
}

export interface AnalyzerProps extends AnalyzerSettings {
  /** The pipeline namespace. */
  readonly namespace: string;
  /** The agent image (runs `analyzer`). */
  readonly image: string;
  /** The uploader's bucket and channels (Uploader.s3Access): the analyzer reads what the uploader writes. */
  readonly access: AgentS3Access;
  /** @default 'IfNotPresent' */
  readonly imagePullPolicy?: ImagePullPolicy;
  /** Secrets for pulling the agent image. @default none */
  readonly imagePullSecrets?: readonly string[];
  /** @default 'info' */
  readonly logLevel?: string;
  /** Prefix of every name (the settings table's `namePrefix`). @default '' */
  readonly namePrefix?: string;
}

/** The analyzer's Service URL the uploader POSTs to after each dump. */
export function analyzerWakeUrl(namespace: string, prefix = ''): string {
  return `http://${prefixed(prefix, ANALYZER_NAME)}.${namespace}.svc:${HTTP.defaultPort}${ANALYZER_WAKE_PATH}`;
}

/**
 * The leak analyzer: ServiceAccount (workload identity as the uploader's), ConfigMap (its own settings),
 * Service (the uploader's wake-ups and metrics on 9090), and a one-replica Deployment (Recreate: never
 * two analyzers on one bucket). Its container reads the uploader's ConfigMap for the bucket and the
 * channels, gets its memory limit through the downward API (every analysis budget derives from it), runs
 * as the image's non-root user with a read-only root filesystem and no capabilities, and downloads dumps
 * into an emptyDir of `workDirSize`. Kubernetes Events: a projected token (the event-reporter RoleBindings
 * are the pipeline's, as for the uploader).
 */
export class Analyzer extends Construct {
  public readonly serviceAccountName: string;
  public readonly serviceName: string;

  public constructor(scope: Construct, id: string, props: AnalyzerProps) {
    super(scope, id);
    const { namespace: rawNamespace, image: rawImage, access, imagePullPolicy: rawPull, imagePullSecrets: pullSecrets, logLevel: rawLogLevel, namePrefix = '', ...settings } = props;
    checkSettingKeys('analyzer', settings, '');
    const namespace = checkDnsLabel('namespace', rawNamespace);
    const image = prop(SETTINGS.agentImage, rawImage, 'image');
    const imagePullPolicy = prop(SETTINGS.imagePullPolicy, rawPull);
    const logLevel = prop(SETTINGS.logLevel, rawLogLevel, 'logLevel');
    const resources = checkResources('resources', prop(SETTINGS.analyzerResources, settings.resources, 'resources'));
    const workDirSize = prop(SETTINGS.analyzerWorkDirSize, settings.workDirSize, 'workDirSize');
    const smallDumpMb = prop(SETTINGS.analyzerSmallDumpMb, settings.smallDumpMb, 'smallDumpMb');
    const name = prefixed(namePrefix, ANALYZER_NAME);
    const configMapName = prefixed(namePrefix, ANALYZER_CONFIGMAP_NAME);
    const labels = componentLabels(name, COMMANDS.analyzer);
    this.serviceName = name;

    const identity = new WorkloadIdentity(this, 'Identity', { name, namespace, labels, annotations: access.serviceAccountAnnotations });
    this.serviceAccountName = identity.serviceAccountName;

    const data: Record<string, string> = {};
    const put = <T>(s: Setting<T, unknown>, key: keyof AnalyzerSettings) => {
      const e = envVar(s, prop(s, settings[key], key));
      data[e.name] = e.value as string;
    };
    put(SETTINGS.analyzerThreshold, 'thresholdPercent');
    put(SETTINGS.analyzerInterval, 'intervalSeconds');
    put(SETTINGS.analyzerTimeBudget, 'timeBudgetSeconds');
    put(SETTINGS.analyzerCpuBudget, 'cpuBudgetSeconds');
    put(SETTINGS.analyzerSmallDumpMb, 'smallDumpMb');
    put(SETTINGS.analyzerMaxAttempts, 'maxAttempts');
    new k8s.KubeConfigMap(this, 'Config', { metadata: { name: configMapName, namespace, labels }, data });

    new k8s.KubeService(this, 'Service', {
      metadata: { name, namespace, labels },
      spec: { selector: { app: name }, ports: [{ name: 'http', port: HTTP.defaultPort, targetPort: k8s.IntOrString.fromString('http'), protocol: 'TCP' }] },
    });

    // The small lane's download fits beside the large one's.
    const workBytes = Math.max(0, quantityBytes(workDirSize) - 2 * smallDumpMb * 2 ** 20);
    const token = access.kubernetesEvents ? serviceAccountTokenVolume() : undefined;
    const container: k8s.Container = {
      name: COMMANDS.analyzer,
      image,
      imagePullPolicy,
      args: [COMMANDS.analyzer],
      // the uploader's ConfigMap (bucket, endpoint, channels), then the analyzer's own settings
      envFrom: [{ configMapRef: { name: access.configMapName } }, { configMapRef: { name: configMapName } }],
      env: [
        ...agentCommonEnv(COMMANDS.analyzer, logLevel),
        // The AWS SDK looks for ~/.aws: without a HOME, a uid with no passwd entry (the image's 1001, OpenShift's
        // random uids) makes os.homedir() throw and every S3 call fail. /tmp is the container's writable emptyDir.
        { name: 'HOME', value: '/tmp' },
        envVar(SETTINGS.shutdownTimeout, (GRACE_SECONDS - 5) * 1000),
        { name: SETTINGS.analyzerMemoryLimit.env!, valueFrom: { resourceFieldRef: { containerName: COMMANDS.analyzer, resource: 'limits.memory' } } },
        envVar(SETTINGS.analyzerWorkDir, ANALYZER_WORK_DIR),
        envVar(SETTINGS.analyzerWorkDirBytes, workBytes),
        ...access.env,
      ],
      ports: [agentPort()],
      ...agentProbes(),
      resources,
      securityContext: unprivilegedSecurityContext(),
      volumeMounts: [
        { name: 'work', mountPath: ANALYZER_WORK_DIR },
        { name: 'tmp', mountPath: '/tmp' },
        ...access.volumeMounts,
        ...(token ? [token.volumeMount] : []),
      ],
    };

    new k8s.KubeDeployment(this, 'Resource', {
      metadata: { name, namespace, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: name } },
        // Recreate: two analyzers would take the same dumps (the attempts marker counts, it does not lock)
        strategy: { type: 'Recreate' },
        template: {
          metadata: { labels, annotations: { [CONFIG_HASH_ANNOTATION]: configHash(data) } },
          spec: {
            serviceAccountName: identity.serviceAccountName,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            terminationGracePeriodSeconds: GRACE_SECONDS,
            securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
            ...imagePullSecrets(pullSecrets),
            containers: [container],
            volumes: [
              { name: 'work', emptyDir: { sizeLimit: k8s.Quantity.fromString(workDirSize) } },
              { name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('16Mi') } },
              ...access.volumes,
              ...(token ? [token.volume] : []),
            ],
          },
        },
      },
    });
  }
}
