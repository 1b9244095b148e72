import { createHash } from 'crypto';
import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { COMMANDS, ENV, PATHS } from '../agent/src/contract';
import { SETTINGS } from '../agent/src/settings';
import { agentCommonEnv, agentPort, agentProbes, checkResources, imagePullSecrets, waitReadyInitContainer } from './agent-container';
import { withExtraEnv } from './extra-env';
import type { ImagePullPolicy, Platform, UploaderSettings } from './generated/settings';
import { componentLabels } from './labels';
import { prefixed } from './names';
import { uploaderCapabilities } from './platform/scc-profiles';
import { envVar, prop } from './props';
import { type PodScheduling, resolveAgentScheduling } from './scheduling';
import { serviceAccountTokenVolume } from './event-reporter-rbac';
import { type ResolvedCaBundle, resolveUploaderSettings, ResolvedCredentials } from './uploader-config';
import { PipelinePropsError } from './validation';
import { WorkloadIdentity } from './workload-identity';

export const UPLOADER_NAME = 'heap-dump-s3-uploader';
export const UPLOADER_CONFIGMAP_NAME = 's3-uploader-config';
/** The prototype's pod label (`oc logs -l app=s3-uploader`). */
export const UPLOADER_APP_LABEL = 's3-uploader';
/** Pod-template annotation carrying the hash of the ConfigMap data: a config change rolls the pods. */
export const CONFIG_HASH_ANNOTATION = 'checksum/config';

/** Where the notification webhook's Secret key is mounted (a file the agent re-reads per delivery). */
export const NOTIFY_WEBHOOK_DIR = '/etc/heapdump/notify-webhook';

/** Where the S3 endpoint's extra CA bundle is mounted; S3_CA_BUNDLE_FILE names the file in it. */
export const S3_CA_BUNDLE_DIR = '/etc/heapdump/s3-ca';
/** The file the bundle's key is mounted as (whatever the key is called). */
export const S3_CA_BUNDLE_FILE_NAME = 'ca-bundle.crt';
/** The ConfigMap `uploader.caBundle.source: openshift-trusted` emits (before namePrefix). */
export const TRUSTED_CA_BUNDLE_CONFIGMAP_NAME = 'heapdump-trusted-ca-bundle';
/** OpenShift's Cluster Network Operator fills a ConfigMap with this label ("true") with the cluster's trusted CA bundle. */
export const OPENSHIFT_INJECT_TRUSTED_CA_LABEL = 'config.openshift.io/inject-trusted-cabundle';

/** The uploader's S3 variables that the heapdumps API server reads too (it serves the same bucket). */
const SETTINGS_READ_BY_API = [
  ENV.s3Bucket, ENV.s3Prefix, ENV.s3EndpointUrl, ENV.awsDefaultRegion, ENV.s3ForcePathStyle, ENV.s3ChecksumMode, ENV.httpsProxy, ENV.httpProxy, ENV.noProxy,
] as const;

/** Time to abort an in-flight multipart upload cleanly on shutdown. */
const GRACE_SECONDS = 60;

/** Stable hash of ConfigMap data (sorted keys, so the order props were written in does not matter). */
export function configHash(data: Record<string, string>): string {
  const canonical = JSON.stringify(Object.keys(data).sort().map((k) => [k, data[k]]));
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

/** Secret-backed env: required keys fail the pod if missing; region and endpoint override the ConfigMap only when present. */
function credentialEnv(c: ResolvedCredentials): k8s.EnvVar[] {
  if (c.source !== 'secret') return [];
  const ref = (name: string, optional: boolean): k8s.EnvVar =>
    ({ name, valueFrom: { secretKeyRef: { name: c.secretName, key: name, optional } } });
  return [
    ref(ENV.awsAccessKeyId, false),
    ref(ENV.awsSecretAccessKey, false),
    ref(ENV.awsDefaultRegion, true),
    ref(ENV.s3EndpointUrl, true),
  ];
}

/**
 * What another agent container needs to use the uploader's bucket and notification channels the same way
 * (the analyzer): its ConfigMap, the credential env, the CA bundle and webhook mounts, the ServiceAccount
 * annotations for workload identity. One definition: the analyzer cannot drift from the uploader.
 */
export interface AgentS3Access {
  readonly configMapName: string;
  readonly env: readonly k8s.EnvVar[];
  readonly volumes: readonly k8s.Volume[];
  readonly volumeMounts: readonly k8s.VolumeMount[];
  /** Workload identity: the ServiceAccount annotations; undefined with static keys. */
  readonly serviceAccountAnnotations?: Record<string, string>;
  /** Kubernetes Events are on: the container needs the projected token (added by the analyzer itself). */
  readonly kubernetesEvents: boolean;
}

/** What the Event and the notifications tell a team to run to get its dump (agent/src/report/retrieval-hint.ts). */
export interface DumpRetrieval {
  /** `oc` on OpenShift, `kubectl` elsewhere. */
  readonly cli: 'oc' | 'kubectl';
  /** The web page's base URL. @default none: the command only */
  readonly webUrl?: string;
}

export interface UploaderProps extends UploaderSettings {
  readonly namespace: string;
  /** The agent image (runs `uploader` and `wait-ready`). */
  readonly image: string;
  /** PriorityClass shared with the mount guard. */
  readonly priorityClassName: string;
  /**
   * ClusterRole granting `use` of the uploader's SCC.
   * @default none (plain Kubernetes)
   */
  readonly sccClusterRoleName?: string;
  /** @default 'IfNotPresent' */
  readonly imagePullPolicy?: ImagePullPolicy;
  /**
   * Seconds the init container waits for the mount guard's marker (0 = forever).
   * @default 600
   */
  readonly waitTimeoutSeconds?: number;
  /**
   * `openshift-trusted` CA bundles exist on OpenShift only.
   * @default 'openshift'
   */
  readonly platform?: Platform;
  /**
   * Where the DaemonSet runs (shared with the mount guard: see lib/scheduling.ts).
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
  /**
   * The leak analyzer's wake-up URL (ANALYZER_WAKE_URL), POSTed after each verified dump.
   * @default none: the analyzer finds new dumps by its periodic scan
   */
  readonly analyzerWakeUrl?: string;
  /**
   * What the Event and the notifications tell the team to run (`oc heapdump get ...`), and the web page's URL:
   * set when the heapdumps API is deployed.
   * @default none: they give the S3 URI only
   */
  readonly retrieval?: DumpRetrieval;
}

/** The CA bundle's ConfigMap, volume, mount and variable; the ConfigMap object only for `openshift-trusted`. */
function caBundleParts(c: ResolvedCaBundle, prefix: string, platform: Platform): { configMapName: string; emit: boolean; volume: k8s.Volume; mount: k8s.VolumeMount; env: k8s.EnvVar } {
  if (c.source === 'openshift-trusted' && platform !== 'openshift') {
    throw new PipelinePropsError('caBundle.source', c.source, `"configmap" on platform "${platform}" (the trusted CA bundle injection is OpenShift's)`);
  }
  const configMapName = c.configMapName ?? prefixed(prefix, TRUSTED_CA_BUNDLE_CONFIGMAP_NAME);
  return {
    configMapName,
    emit: c.source === 'openshift-trusted',
    // Not optional: a missing ConfigMap keeps the pod in ContainerCreating with an event naming it.
    volume: { name: 's3-ca', configMap: { name: configMapName, items: [{ key: c.key, path: S3_CA_BUNDLE_FILE_NAME }], defaultMode: 0o444 } },
    mount: { name: 's3-ca', mountPath: S3_CA_BUNDLE_DIR, readOnly: true },
    env: envVar(SETTINGS.s3CaBundleFile, `${S3_CA_BUNDLE_DIR}/${S3_CA_BUNDLE_FILE_NAME}`),
  };
}

/**
 * The uploader: its ConfigMap, its Secret only when explicit values are given, and the DaemonSet
 * that ships every node's finished dumps to S3.
 */
export class Uploader extends Construct {
  public readonly serviceAccountName: string;
  public readonly configMapName: string;
  /** Whether the uploader creates Kubernetes Events (it then needs the event-reporter RoleBindings). */
  public readonly kubernetesEvents: boolean;
  /** The bucket and channels as the uploader uses them, for the analyzer. */
  public readonly s3Access: AgentS3Access;
  /** The S3 settings as agent variables (bucket, prefix, endpoint, region, proxy ...), for the heapdumps API, which reads the same bucket. */
  public readonly s3Env: Readonly<Record<string, string>>;
  /** The extra CAs for the S3 endpoint, when configured (the heapdumps API mounts them too). */
  public readonly s3CaBundle?: { readonly configMapName: string; readonly key: string };

  public constructor(scope: Construct, id: string, props: UploaderProps) {
    super(scope, id);
    const { namespace, image: rawImage, priorityClassName, sccClusterRoleName, imagePullPolicy: rawPull,
      waitTimeoutSeconds, platform = 'openshift', scheduling: rawScheduling, imagePullSecrets: pullSecrets, namePrefix = '', analyzerWakeUrl, retrieval, ...settings } = props;
    const s = resolveUploaderSettings(settings);
    this.kubernetesEvents = s.notifications.kubernetesEvents;
    const image = prop(SETTINGS.agentImage, rawImage, 'image');
    const imagePullPolicy = prop(SETTINGS.imagePullPolicy, rawPull);
    const waitTimeoutMs = prop(SETTINGS.waitTimeout, waitTimeoutSeconds);
    const resources = checkResources('resources', prop(SETTINGS.uploaderResources, settings.resources));
    const waitReadyResources = checkResources('waitReadyResources', prop(SETTINGS.uploaderWaitReadyResources, settings.waitReadyResources));
    const name = prefixed(namePrefix, UPLOADER_NAME);
    const configMapName = prefixed(namePrefix, UPLOADER_CONFIGMAP_NAME);
    const labels = componentLabels(prefixed(namePrefix, UPLOADER_APP_LABEL), 'uploader');
    const scheduling = rawScheduling ?? resolveAgentScheduling(undefined);
    const ca = s.caBundle === undefined ? undefined : caBundleParts(s.caBundle, namePrefix, platform);
    this.configMapName = configMapName;
    this.s3Env = Object.fromEntries(Object.entries(s.configData).filter(([k]) => (SETTINGS_READ_BY_API as readonly string[]).includes(k)));
    if (ca !== undefined) this.s3CaBundle = { configMapName: ca.configMapName, key: s.caBundle!.key };

    const identity = new WorkloadIdentity(this, 'Identity', {
      name,
      namespace,
      labels,
      sccClusterRoleName,
      annotations: s.credentials.source === 'workload-identity' ? s.credentials.serviceAccountAnnotations : undefined,
    });
    this.serviceAccountName = identity.serviceAccountName;

    const data = { ...s.configData };
    new k8s.KubeConfigMap(this, 'Config', {
      metadata: { name: configMapName, namespace, labels },
      data,
    });
    if (ca?.emit === true) {
      // No data: the Cluster Network Operator writes `ca-bundle.crt` and keeps it current; `oc apply` leaves it alone.
      new k8s.KubeConfigMap(this, 'TrustedCaBundle', {
        metadata: { name: ca.configMapName, namespace, labels: { ...labels, [OPENSHIFT_INJECT_TRUSTED_CA_LABEL]: 'true' } },
      });
    }

    if (s.credentials.source === 'secret' && s.credentials.secretValues !== undefined) {
      const v = s.credentials.secretValues;
      const stringData: Record<string, string> = {
        [ENV.awsAccessKeyId]: v.accessKeyId,
        [ENV.awsSecretAccessKey]: v.secretAccessKey,
      };
      if (v.region !== undefined) stringData[ENV.awsDefaultRegion] = v.region;
      if (v.endpointUrl !== undefined) stringData[ENV.s3EndpointUrl] = v.endpointUrl;
      new k8s.KubeSecret(this, 'Credentials', {
        metadata: { name: s.credentials.secretName, namespace, labels },
        type: 'Opaque',
        stringData,
      });
    }

    // Dumps are written by other UIDs with HotSpot's mode 0600. Reading them needs DAC_READ_SEARCH
    // (archiving or deleting them also DAC_OVERRIDE: uploaderCapabilities). Kubernetes puts added capabilities of a non-root
    // container only into its bounding set, not its effective set, so a non-root uploader could
    // not use them: the uploader runs as uid 0, but unprivileged, with every other capability
    // dropped, no privilege escalation and a read-only root filesystem.
    // Archiving or deleting after upload and the retention limits all move or remove (verified) local dumps.
    const removesLocalDumps = s.removesLocalDumps;
    const securityContext: k8s.SecurityContext = {
      runAsUser: 0,
      runAsNonRoot: false,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'], add: uploaderCapabilities(removesLocalDumps) },
    };

    // Notifications: the webhook URL only ever as a mounted Secret key; Events through a projected token for this
    // container alone (the ServiceAccount keeps automountServiceAccountToken: false).
    const notifyVolumes: k8s.Volume[] = [];
    const notifyMounts: k8s.VolumeMount[] = [];
    const notifyEnv: k8s.EnvVar[] = [];
    if (s.notifications.webhook !== undefined) {
      notifyVolumes.push({ name: 'notify-webhook', secret: { secretName: s.notifications.webhook.secretName, items: [{ key: s.notifications.webhook.secretKey, path: 'url' }], defaultMode: 0o400 } });
      notifyMounts.push({ name: 'notify-webhook', mountPath: NOTIFY_WEBHOOK_DIR, readOnly: true });
      notifyEnv.push(envVar(SETTINGS.notifyWebhookUrlFile, `${NOTIFY_WEBHOOK_DIR}/url`));
    }
    if (s.notifications.kubernetesEvents) {
      const token = serviceAccountTokenVolume();
      notifyVolumes.push(token.volume);
      notifyMounts.push(token.volumeMount);
    }

    const retrievalEnv = retrieval !== undefined
      ? [envVar(SETTINGS.notifyRetrievalCli, retrieval.cli), ...(retrieval.webUrl !== undefined ? [envVar(SETTINGS.apiWebUrl, retrieval.webUrl)] : [])]
      : [];
    this.s3Access = {
      configMapName,
      // the analyzer's notifications name the same command as the uploader's
      env: [...credentialEnv(s.credentials), ...notifyEnv, ...retrievalEnv, ...(ca !== undefined ? [ca.env] : [])],
      volumes: [...notifyVolumes.filter((v) => v.name === 'notify-webhook'), ...(ca !== undefined ? [ca.volume] : [])],
      volumeMounts: [...notifyMounts.filter((m) => m.name === 'notify-webhook'), ...(ca !== undefined ? [ca.mount] : [])],
      ...(s.credentials.source === 'workload-identity' ? { serviceAccountAnnotations: s.credentials.serviceAccountAnnotations } : {}),
      kubernetesEvents: s.notifications.kubernetesEvents,
    };

    const container: k8s.Container = {
      name: COMMANDS.uploader,
      image,
      imagePullPolicy,
      args: [COMMANDS.uploader],
      envFrom: [{ configMapRef: { name: configMapName } }],
      env: withExtraEnv(settings.extraEnv, {
        setting: SETTINGS.uploaderExtraEnv,
        command: COMMANDS.uploader,
        configMapKeys: Object.keys(data),
        env: [
          ...agentCommonEnv(COMMANDS.uploader, s.logLevel).filter((e) => e.name !== ENV.logLevel), // LOG_LEVEL comes from the ConfigMap
          envVar(SETTINGS.dumpRoot, PATHS.consumerDumpRoot),
          envVar(SETTINGS.markerName, PATHS.markerName),
          // Below terminationGracePeriodSeconds: an in-flight multipart upload is aborted cleanly before SIGKILL.
          envVar(SETTINGS.shutdownTimeout, (GRACE_SECONDS - 5) * 1000),
          ...credentialEnv(s.credentials),
          ...notifyEnv,
          ...retrievalEnv,
          ...(ca !== undefined ? [ca.env] : []),
          ...(analyzerWakeUrl !== undefined ? [envVar(SETTINGS.analyzerWakeUrl, analyzerWakeUrl)] : []),
        ],
      }),
      ports: [agentPort()],
      ...agentProbes(),
      resources,
      securityContext,
      volumeMounts: [
        {
          name: 'host-dump',
          mountPath: PATHS.consumerDumpRoot,
          // HostToContainer: a remount by the guard reaches this container.
          mountPropagation: 'HostToContainer',
          // Write access only when the uploader deletes what it uploaded.
          readOnly: !removesLocalDumps,
        },
        { name: 'tmp', mountPath: '/tmp' },
        ...notifyMounts,
        ...(ca !== undefined ? [ca.mount] : []),
      ],
    };

    new k8s.KubeDaemonSet(this, 'Resource', {
      metadata: { name, namespace, labels },
      spec: {
        selector: { matchLabels: { app: labels.app } },
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: k8s.IntOrString.fromNumber(1) } },
        template: {
          metadata: { labels, annotations: { [CONFIG_HASH_ANNOTATION]: configHash(data) } },
          spec: {
            serviceAccountName: identity.serviceAccountName,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            priorityClassName,
            // Runs wherever the mount guard runs (one scheduling for both: lib/scheduling.ts).
            ...scheduling,
            ...imagePullSecrets(pullSecrets),
            terminationGracePeriodSeconds: GRACE_SECONDS,
            securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
            initContainers: [waitReadyInitContainer({
              image, imagePullPolicy, volumeName: 'host-dump', timeoutMs: waitTimeoutMs, logLevel: s.logLevel,
              securityContext: { ...securityContext, capabilities: { drop: ['ALL'] } },
              resources: waitReadyResources,
            })],
            containers: [container],
            volumes: [
              { name: 'host-dump', hostPath: { path: PATHS.hostDumpDir, type: 'Directory' } },
              { name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('64Mi') } },
              ...notifyVolumes,
              ...(ca !== undefined ? [ca.volume] : []),
            ],
          },
        },
      },
    });
  }
}
