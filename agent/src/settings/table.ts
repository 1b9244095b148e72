/**
 * THE settings table: every agent environment variable and every construct prop / `pipeline.config.json`
 * key, defined once. Everything else is derived from it:
 *
 * - the agent parses its environment with it (agent/src/config.ts), and `--help` lists it;
 * - the constructs validate props with it and render the env / ConfigMap strings the agent parses
 *   (lib/props.ts), so both sides share one rule, one default and one wording per setting;
 * - `npm run gen` (scripts/gen-settings.ts) writes from it: the props interfaces users see
 *   (lib/generated/settings.ts, JSDoc with @default), the JSON Schema of the config file
 *   (pipeline.config.schema.json), the configuration reference (docs/configuration.md) and the agent's
 *   variable names (agent/src/generated/env.ts, re-exported as ENV by contract.ts).
 *   test/settings-generated.test.ts fails when a generated file is stale.
 *
 * Adding a setting = one entry here (pick a kind from kinds.ts, or add a kind), then `npm run gen`;
 * then read it where it is used: `required(env, SETTINGS.x)` in the agent, `prop(SETTINGS.x, value)` /
 * `envVar(SETTINGS.x, value)` in a construct. The generic tests (test/agent/settings.test.ts) then check
 * its kind's samples, its round trip through the environment and its JSON Schema with no further code.
 *
 * Order matters: it is the order of the props in the generated interfaces, the schema and the docs (a
 * group's position is that of its first member). Entry keys of env settings are the ENV keys.
 */
import { COMMANDS, DEFAULT_DUMP_PATTERNS, HTTP, PATHS } from '../contract';
import { NOTIFICATION_EVENTS } from '../report/report';
import { LOG_LEVELS } from '../runtime/logger';
import {
  absolutePath, annotations, boolean, bucket, byteSize, collectedNamespaces, dnsLabel, dnsSubdomain, fileName, globList, heapSize, host,
  httpUrl, image, integer, kmsKeyId, labels, oneOf, oneOfList, prefix, quantity, region, resources, roleArn, secretKey, seconds,
  shortText, text, url, urlPath,
} from './kinds';
import { affinity, envVars, namePrefix, noProxyList, proxyUrl, secretNames, tolerations } from './pod-kinds';
import { IMAGE_PULL_POLICIES, INJECT_POLICIES, INJECT_SETTINGS } from './inject-table';
import { type Group, setting } from './setting';

export { IMAGE_PULL_POLICIES, INJECT_POLICIES } from './inject-table';

const ALL = [COMMANDS.mountGuard, COMMANDS.waitReady, COMMANDS.uploader] as const;
/** Read by every command (agent/src/config.ts `common`), whichever commands there are. */
const EVERY_COMMAND = Object.values(COMMANDS);
/** How the agent writes its log lines (agent/src/runtime/logger.ts). */
export const LOG_FORMATS = ['auto', 'json', 'text'] as const;
/** S3 and notification settings: the uploader's, shared with the analyzer (same bucket, same channels). */
const S3_READERS = [COMMANDS.uploader, COMMANDS.analyzer] as const;

export const PLATFORMS = ['openshift', 'kubernetes'] as const;
export const DUMP_ACCESS_MODES = ['ReadWriteMany', 'ReadWriteOnce', 'ReadWriteOncePod'] as const;
/**
 * Storage classes an upload may request: the S3 API's classes for PutObject (all members of the SDK's
 * StorageClass, tested), cheapest-access first. S3-compatible servers accept a subset (MinIO and Ceph RGW
 * reject STANDARD_IA by default).
 */
export const S3_STORAGE_CLASSES = [
  'STANDARD', 'REDUCED_REDUNDANCY', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER', 'GLACIER_IR',
  'DEEP_ARCHIVE', 'OUTPOSTS', 'SNOW', 'EXPRESS_ONEZONE',
] as const;
export const CHECKSUM_MODES = ['WHEN_REQUIRED', 'WHEN_SUPPORTED'] as const;
export const CREDENTIAL_SOURCES = ['secret', 'workload-identity'] as const;
export const AFTER_UPLOAD_ACTIONS = ['archive', 'delete', 'keep'] as const;
export const PAYLOAD_CHECKSUMS = ['auto', 'md5', 'sha256'] as const;
/** Server-side encryption the uploader requests for every object and checks on the verifying HEAD (agent/src/uploader/encryption.ts). */
export const ENCRYPTION_MODES = ['none', 'SSE-S3', 'SSE-KMS'] as const;
/** Message formats of the notification webhook (agent/src/report/webhook.ts). */
export const WEBHOOK_FORMATS = ['json', 'slack'] as const;
/** Where the kubelet mounts a ServiceAccount token, its CA bundle and the namespace (and where the agent looks). */
export const DEFAULT_KUBE_CREDENTIALS_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** The command the Event and the notifications name for getting a dump (agent/src/report/retrieval-hint.ts); `off` without the API. */
export const RETRIEVAL_HINTS = ['off', 'oc', 'kubectl'] as const;
/** How the `api` command serves its web page (agent/src/api/web). */
export const WEB_MODES = ['off', 'oauth-proxy', 'token-login'] as const;
/** Where the uploader's extra trusted CAs for the S3 endpoint come from (lib/uploader.ts). */
export const CA_BUNDLE_SOURCES = ['openshift-trusted', 'configmap'] as const;
/** The key OpenShift's Cluster Network Operator writes the trusted CA bundle into (and the default key). */
export const TRUSTED_CA_BUNDLE_KEY = 'ca-bundle.crt';
/** Monitoring stacks lib/monitoring.ts can target. */
export const MONITORING_STACKS = ['openshift-user-workload', 'prometheus-operator'] as const;
export const SCRAPE_KINDS = ['PodMonitor', 'ServiceMonitor'] as const;

/** Objects of the config file, by path ('' = the top level). */
export const GROUPS: Readonly<Record<string, Group>> = {
  '': {
    typeName: 'PipelineSettings',
    doc: 'Every setting of the heap dump pipeline: the props of `HeapDumpPipeline` and the content of `pipeline.config.json`.',
    defaultText: 'agentImage only',
  },
  storage: {
    typeName: 'DumpStorageSettings',
    doc: 'The PersistentVolumeClaim holding every node\'s dump folder (the JSON config\'s `storage` object).',
    defaultText: '10Gi ReadWriteMany `dump-storage-pvc` on the default StorageClass',
  },
  priorityClass: {
    typeName: 'PriorityClassSettings',
    doc: 'The PriorityClass of both DaemonSets (the JSON config\'s `priorityClass` object).',
    defaultText: '`dump-volume-critical`, value 1000000',
  },
  scheduling: {
    typeName: 'SchedulingSettings',
    doc: 'Where the mount guard and the uploader DaemonSets run (the JSON config\'s `scheduling` object). One setting for both: the '
      + 'uploader waits for the guard\'s mount on its node, and a node with the guard but no uploader never ships its dumps, so they '
      + 'always share their nodes. Wherever an application that writes dumps may run, the guard must run too (its pods otherwise '
      + 'wait in `heapdump-wait-ready`): by default every node, whatever its taints, except control-plane nodes.',
    defaultText: 'every node except control-plane nodes that are not also workers, every taint tolerated',
  },
  volumeManager: {
    typeName: 'VolumeManagerSettings',
    doc: 'The mount guard DaemonSet `dump-volume-manager` (the JSON config\'s `volumeManager` object).',
    defaultText: 'check the mount every 30 s, the prototype\'s resources',
  },
  uploader: {
    typeName: 'UploaderSettings',
    doc: 'The uploader DaemonSet, its ConfigMap `s3-uploader-config` and its credentials (the JSON config\'s `uploader` object).',
    defaultText: 'the prototype\'s bucket, prefix and timings',
  },
  'uploader.credentials': {
    typeName: 'UploaderCredentials',
    doc: 'Where the uploader\'s S3 credentials come from.',
    defaultText: 'static keys from the Secret `s3-credentials`',
  },
  'uploader.encryption': {
    typeName: 'S3EncryptionSettings',
    doc: 'Server-side encryption of every object the uploader writes (the dump and its summaries): requested on every PUT and '
      + 'CreateMultipartUpload and checked on the HEAD that verifies the dump. A dump the server stored without it (or with '
      + 'another KMS key) is not verified: it stays on the node and is uploaded again over that object. '
      + 'Synth warns while this is not set (`{"mode": "none"}` says so on purpose). Details: docs/access-control.md.',
    defaultText: '`none`: objects are stored as the bucket\'s default encryption decides, unchecked',
  },
  'uploader.notifications': {
    typeName: 'UploaderNotifications',
    doc: 'Telling the owning team about each uploaded dump: a Kubernetes Event on the pod that wrote it, and an optional webhook.',
    defaultText: 'no Events, no webhook',
  },
  'uploader.notifications.webhook': {
    typeName: 'NotificationWebhookSettings',
    doc: 'A webhook (generic JSON or Slack-compatible) told about each uploaded dump. The URL is read from a Secret you create '
      + '(`oc create secret generic <secretName> --from-literal=url=https://...`): it never appears in the config file or in dist/.',
    defaultText: 'no webhook',
  },
  'uploader.caBundle': {
    typeName: 'S3CaBundleSettings',
    doc: 'Extra certificate authorities the uploader trusts for the S3 endpoint (an on-premises S3 behind a private CA) and for '
      + 'the notification webhook, appended to Node\'s built-in public roots. `openshift-trusted`: the cluster\'s trusted CA bundle (the proxy\'s `trustedCA` '
      + 'and the system roots), which the Cluster Network Operator injects into a ConfigMap the pipeline emits with the label '
      + '`config.openshift.io/inject-trusted-cabundle: "true"`. `configmap`: a ConfigMap you create in the pipeline namespace '
      + '(`oc create configmap s3-ca --from-file=ca-bundle.crt=ca.pem`). Mounted read-only into the uploader; the agent reads it at '
      + 'start (S3_CA_BUNDLE_FILE) and refuses to start without a certificate in it. A changed bundle applies when the uploader restarts.',
    defaultText: 'Node\'s built-in public roots only',
  },
  'uploader.proxy': {
    typeName: 'S3ProxySettings',
    doc: 'An HTTP proxy between the uploader and the S3 endpoint (the JSON config\'s `uploader.proxy` object, named as OpenShift\'s '
      + 'cluster-wide Proxy names them). The agent tunnels its S3 connections through it with CONNECT (the AWS SDK ignores these '
      + 'variables by itself), and so does the notification webhook (a Slack webhook is outside the cluster; NO_PROXY applies); '
      + 'Kubernetes Events connect directly.',
    defaultText: 'direct connections',
  },
  'uploader.credentials.secretValues': {
    typeName: 'StaticS3Credentials',
    doc: 'Values for a Secret object emitted by the construct, for apps that compose the pipeline with values from a secure source. '
      + 'Never put real keys in a committed file: `pipeline.config.json` refuses them, and `dist/` has none.',
    defaultText: 'no Secret object is emitted (the Secret is created out of band)',
    codeOnly: true,
    secret: true,
  },
  analyzer: {
    typeName: 'AnalyzerSettings',
    doc: 'The leak analyzer, Deployment `heapdump-analyzer` (the JSON config\'s `analyzer` object): it finds every dump in the '
      + 'bucket without a leak report (woken by the uploader, and by a scan that catches up after restarts), analyses it in a '
      + 'child process within a memory and time budget, writes `<key>.leaks.json` and `<key>.leaks.txt`, and tells the team '
      + '(an Event on the pod, reason HeapDumpAnalyzed, and the webhook). It reads the uploader\'s bucket, credentials and '
      + 'notification settings. docs/leak-report.md.',
    defaultText: 'on: one replica, 8 GiB memory limit, suspects from 10 % of the heap',
  },
  app: {
    typeName: 'ApplicationSettings',
    doc: 'The application Deployment, the demo leak by default (the JSON config\'s `app` object).',
    defaultText: 'the demo leak application',
  },
  'app.ingress': {
    typeName: 'AppIngressSettings',
    doc: 'Kubernetes Ingress for the application (plain Kubernetes only; OpenShift gets a Route).',
    defaultText: 'no Ingress',
  },
  collect: {
    typeName: 'CollectSettings',
    doc: 'Which namespaces\' services may be collected, and what a collected pod gets (the JSON config\'s `collect` object).',
    defaultText: 'only the demo application\'s namespace; dumps at /dumps; pods opt in by annotation',
  },
  injector: {
    typeName: 'InjectorSettings',
    doc: 'The `inject` admission webhook that collects annotated pods of the collected namespaces (the JSON config\'s `injector` object).',
    defaultText: 'on: 2 replicas, 5 s timeout',
  },
  api: {
    typeName: 'HeapDumpApiSettings',
    doc: 'The heapdumps API (the JSON config\'s `api` object): the Deployment `heapdump-api` serving `oc get heapdumps`, the '
      + '`kubectl-heapdump` plugin\'s downloads and the web page, as an aggregated API (`APIService v1alpha1.heapdump-pipeline.io`). '
      + 'Who may see a namespace\'s dumps is Kubernetes RBAC on the resource `heapdumps` (docs/access-control.md).',
    defaultText: 'on (off with a `namePrefix`: the API group is cluster-wide), 2 replicas, the web page on',
  },
  'api.credentials': {
    typeName: 'HeapDumpApiCredentials',
    doc: 'The API server\'s own S3 credential, for reading dumps (the read-only policy: docs/access-control.md).',
    defaultText: 'static keys from the Secret `heapdump-api-s3-credentials`',
  },
  'api.web': {
    typeName: 'HeapDumpWebSettings',
    doc: 'The web page of the API server: each namespace\'s dumps, their summary and leak suspects, a download button. On OpenShift '
      + 'behind an `oauth-proxy` sidecar and a Route (reencrypt); on Kubernetes a token login on the Service\'s `web` port.',
    defaultText: 'on; no public URL known (the Event then names only the command)',
  },
  monitoring: {
    typeName: 'MonitoringSettings',
    doc: 'The PodMonitor (or ServiceMonitor) and PrometheusRule of the agents (the JSON config\'s `monitoring` object).',
    defaultText: 'on: OpenShift user-workload monitoring, or the Prometheus Operator on Kubernetes',
  },
};

export const SETTINGS = {
  // -------------------------------------------------------------------------------------------
  // Top level
  agentImage: setting({
    prop: 'agentImage',
    kind: image(),
    required: true,
    doc: 'The agent image (mount guard, uploader, every wait-ready), e.g. `registry.example.com/team/heapdump-agent:0.1.0`.',
  }),
  platform: setting({
    prop: 'platform',
    kind: oneOf(PLATFORMS, 'Platform'),
    default: 'openshift',
    doc: '`openshift`: SCCs with RBAC, a Route. `kubernetes`: no SCCs, no Route; Pod Security labels on the namespace; optional Ingress.',
  }),
  namespace: setting({
    prop: 'namespace',
    kind: dnsLabel(),
    default: 'heapdump-system',
    doc: 'The pipeline\'s own namespace: the mount guard, the uploader and the injector, apart from every application namespace '
      + '(only their ServiceAccounts may use their SCCs). Never collected.',
  }),
  namePrefix: setting({
    prop: 'namePrefix',
    kind: namePrefix(),
    defaultText: '`""`: today\'s names',
    doc: 'Put in front of the name of every object the pipeline names itself, so that two pipelines live in one cluster: the '
      + 'cluster-scoped SCCs, ClusterRoles, PriorityClass, ValidatingAdmissionPolicy (and binding) and MutatingWebhookConfiguration, '
      + 'the agents\' objects, the RoleBindings in collected namespaces, and the defaults of `namespace`, `app.namespace`, '
      + '`priorityClass.name` and `storage.claimName` (a name you set is used as written). Each pipeline needs its own namespace. '
      + 'Label and annotation keys stay the same; a namespace is collected by the pipeline whose name is the value of its '
      + '`heapdump-pipeline.io/collect` label: `true` without a prefix, the prefix without its last `-` otherwise (`team-x`).',
  }),
  imagePullPolicy: setting({
    prop: 'imagePullPolicy',
    kind: oneOf(IMAGE_PULL_POLICIES, 'ImagePullPolicy'),
    default: 'IfNotPresent',
    doc: 'Pull policy of the agent image (mount guard, uploader, every wait-ready).',
  }),
  imagePullSecrets: setting({
    prop: 'imagePullSecrets',
    kind: secretNames(),
    default: [],
    doc: 'Secrets (in the pipeline namespace) for pulling the agent image, set on the mount guard, uploader and injector pods. '
      + 'A collected pod pulls the agent image for its `heapdump-wait-ready` init container with its own ServiceAccount\'s pull '
      + 'Secrets: link a pull Secret there too (`oc secrets link default <secret> --for=pull -n <namespace>`).',
  }),
  waitTimeout: setting({
    env: 'WAIT_TIMEOUT',
    prop: 'waitTimeoutSeconds',
    kind: seconds({ min: 0, max: 86_400, zero: 'wait forever' }),
    default: 600,
    readBy: [COMMANDS.waitReady],
    doc: 'How long a wait-ready init container waits for the mount guard\'s marker; then it exits 1 and the kubelet retries the pod.',
  }),

  // -------------------------------------------------------------------------------------------
  // storage
  storageSize: setting({
    prop: 'storage.size',
    kind: quantity(),
    default: '10Gi',
    doc: 'Requested size of the shared dump volume.',
  }),
  storageClassName: setting({
    prop: 'storage.storageClassName',
    kind: dnsSubdomain(),
    defaultText: 'the cluster\'s default StorageClass',
    doc: 'StorageClass of the PVC; it must support the access mode.',
  }),
  storageAccessMode: setting({
    prop: 'storage.accessMode',
    kind: oneOf(DUMP_ACCESS_MODES, 'DumpAccessMode'),
    default: 'ReadWriteMany',
    doc: 'ReadWriteMany because the mount guard DaemonSet mounts the claim on every node; a single-node access mode '
      + 'works only on a one-node cluster (multi-attach errors elsewhere) and gives a synth warning.',
  }),
  storageClaimName: setting({
    prop: 'storage.claimName',
    kind: dnsSubdomain(),
    default: 'dump-storage-pvc',
    doc: 'Name of the PersistentVolumeClaim.',
  }),

  // -------------------------------------------------------------------------------------------
  // priorityClass
  priorityClassName: setting({
    prop: 'priorityClass.name',
    kind: dnsSubdomain(),
    default: 'dump-volume-critical',
    doc: 'PriorityClass name (cluster-scoped).',
  }),
  priorityClassValue: setting({
    prop: 'priorityClass.value',
    kind: integer({ min: 1, max: 1_000_000_000 }),
    default: 1_000_000,
    doc: 'Priority value (user-defined classes go up to 1000000000). The class preempts lower priorities and is never the global default.',
  }),

  // -------------------------------------------------------------------------------------------
  // scheduling (both DaemonSets)
  schedulingNodeSelector: setting({
    prop: 'scheduling.nodeSelector',
    kind: labels(),
    defaultText: 'none',
    doc: 'Node labels both DaemonSets require (e.g. `{"node-role.kubernetes.io/worker": ""}`). Every node where a collected '
      + 'application may run must match, or its pods wait in `heapdump-wait-ready`.',
  }),
  schedulingTolerations: setting({
    prop: 'scheduling.tolerations',
    kind: tolerations(),
    default: [{ operator: 'Exists' }],
    doc: 'Tolerations of both DaemonSets. The default tolerates every taint, so dedicated (tainted) worker pools get their mount '
      + 'guard too; control-plane nodes are kept out by affinity instead (`includeControlPlane`). A list replaces the default.',
  }),
  schedulingAffinity: setting({
    prop: 'scheduling.affinity',
    kind: affinity(),
    defaultText: 'none besides the control-plane exclusion',
    doc: 'Affinity of both DaemonSets. Unless `includeControlPlane` is true, each required node selector term also gets the '
      + 'control-plane exclusion (see `includeControlPlane`).',
  }),
  schedulingIncludeControlPlane: setting({
    prop: 'scheduling.includeControlPlane',
    kind: boolean(),
    default: false,
    doc: 'Also run on control-plane nodes. false: a required node affinity keeps both DaemonSets off nodes labelled '
      + '`node-role.kubernetes.io/control-plane` or `node-role.kubernetes.io/master`, unless they are also labelled '
      + '`node-role.kubernetes.io/worker` (OpenShift\'s compact and single-node clusters, whose masters run applications). '
      + 'Set true where applications run on control-plane nodes without that label (e.g. a single-node kubeadm or kind cluster).',
  }),

  // -------------------------------------------------------------------------------------------
  // volumeManager (mount guard)
  mountCheckInterval: setting({
    env: 'MOUNT_CHECK_INTERVAL',
    prop: 'volumeManager.checkIntervalSeconds',
    kind: seconds({ min: 0.001, max: 3600 }),
    default: 30,
    readBy: [COMMANDS.mountGuard],
    doc: 'Time between two verifications (and repairs) of the bind mount.',
  }),
  volumeManagerResources: setting({
    prop: 'volumeManager.resources',
    kind: resources(),
    default: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '100m', memory: '128Mi' } },
    doc: 'Resources of the mount guard container (the prototype\'s).',
  }),
  volumeManagerExtraEnv: setting({
    prop: 'volumeManager.extraEnv',
    kind: envVars(),
    default: [],
    doc: 'Extra environment of the mount guard container. Names the pipeline sets on it are refused, and so are literal values '
      + 'for names that look secret (`*PASSWORD*`, `*SECRET*`, `*TOKEN*`, `*CREDENTIAL*`, `*API_KEY*`, `*ACCESS_KEY*`, '
      + '`*PRIVATE_KEY*`; not `*_FILE`, `*_PATH`, `*_DIR`): use `valueFrom.secretKeyRef`, so no secret lands in dist/. A literal value of an agent variable is '
      + 'checked as the agent checks it.',
  }),

  // -------------------------------------------------------------------------------------------
  // uploader
  s3Bucket: setting({
    env: 'S3_BUCKET',
    prop: 'uploader.bucket',
    kind: bucket(),
    required: true,
    propDefault: 'heap-dumps',
    readBy: [COMMANDS.uploader, COMMANDS.api, COMMANDS.analyzer],
    prototype: true,
    doc: 'Target bucket.',
  }),
  s3Prefix: setting({
    env: 'S3_PREFIX',
    prop: 'uploader.prefix',
    kind: prefix(),
    default: '',
    propDefault: 'memory-leak-demo/',
    readBy: [COMMANDS.uploader, COMMANDS.api, COMMANDS.analyzer],
    prototype: true,
    doc: 'Key prefix: object keys are `<prefix><node>/<namespace>/<pod>/<file stem>.<the dump file\'s modification time, UTC><extension>`.',
  }),
  watchInterval: setting({
    env: 'WATCH_INTERVAL',
    prop: 'uploader.watchIntervalSeconds',
    kind: seconds({ min: 1, max: 86_400 }),
    default: 60,
    readBy: [COMMANDS.uploader],
    prototype: true,
    doc: 'Time between two full scans of the dump folder; file system events wake the uploader earlier.',
  }),
  fileStableTime: setting({
    env: 'FILE_STABLE_TIME',
    prop: 'uploader.fileStableTimeSeconds',
    kind: seconds({ min: 1, max: 86_400 }),
    default: 120,
    readBy: [COMMANDS.uploader],
    prototype: true,
    doc: 'Quiet time before uploading a file that is not a structurally complete HPROF (a truncated HPROF, `.hprof.gz`, `.phd`).',
  }),
  completeQuietTime: setting({
    env: 'COMPLETE_QUIET_TIME',
    prop: 'uploader.completeQuietTimeSeconds',
    kind: seconds({ min: 0, max: 86_400 }),
    default: 1,
    readBy: [COMMANDS.uploader],
    doc: 'Quiet time before uploading a dump proven complete (an HPROF whose records end on HEAP DUMP END, a '
      + '`.hprof.gz` whose members all decode to one): HotSpot writes that record last, so the quiet time is only a '
      + 'margin; the file is also seen unchanged twice, at least this long apart.',
  }),
  dumpPatterns: setting({
    env: 'DUMP_PATTERNS',
    prop: 'uploader.patterns',
    kind: globList(),
    default: [...DEFAULT_DUMP_PATTERNS],
    readBy: [COMMANDS.uploader],
    doc: 'File names that are dumps (globs with `*` and `?`). Hidden names (leading `.`) and symlinks are never uploaded.',
  }),
  s3EndpointUrl: setting({
    env: 'S3_ENDPOINT_URL',
    prop: 'uploader.endpoint',
    kind: httpUrl(),
    defaultText: 'AWS S3 for the region',
    readBy: [COMMANDS.uploader, COMMANDS.api, COMMANDS.analyzer],
    prototype: true,
    doc: 'Endpoint of an S3-compatible server (MinIO, Ceph RGW, ...). With `credentials.source: secret`, an '
      + '`S3_ENDPOINT_URL` key in the Secret overrides the ConfigMap\'s value.',
  }),
  s3ForcePathStyle: setting({
    env: 'S3_FORCE_PATH_STYLE',
    prop: 'uploader.forcePathStyle',
    kind: boolean(),
    defaultText: 'true when S3_ENDPOINT_URL is set, else false',
    propDefaultText: 'true when `endpoint` is set, else false',
    readBy: [COMMANDS.uploader, COMMANDS.api, COMMANDS.analyzer],
    doc: 'Path-style addressing: most S3-compatible servers have no virtual-host DNS.',
  }),
  awsDefaultRegion: setting({
    env: 'AWS_DEFAULT_REGION',
    prop: 'uploader.region',
    kind: region(),
    defaultText: 'unset: AWS_REGION applies',
    propDefault: 'us-east-1',
    readBy: [COMMANDS.uploader, COMMANDS.api, COMMANDS.analyzer],
    prototype: true,
    doc: 'Region; wins over AWS_REGION. With `credentials.source: secret`, an `AWS_DEFAULT_REGION` key in the Secret overrides the ConfigMap\'s value.',
  }),
  s3StorageClass: setting({
    env: 'S3_STORAGE_CLASS',
    prop: 'uploader.storageClass',
    kind: oneOf(S3_STORAGE_CLASSES, 'S3StorageClass'),
    default: 'STANDARD',
    readBy: S3_READERS,
    doc: 'Storage class of new objects (MinIO and Ceph RGW reject STANDARD_IA by default).',
  }),
  s3ChecksumMode: setting({
    env: 'S3_CHECKSUM_MODE',
    prop: 'uploader.checksumMode',
    kind: oneOf(CHECKSUM_MODES, 'ChecksumMode'),
    default: 'WHEN_REQUIRED',
    readBy: [COMMANDS.uploader, COMMANDS.api, COMMANDS.analyzer],
    doc: 'The SDK\'s request/response checksum mode. WHEN_SUPPORTED sends aws-chunked CRCs that several S3-compatible servers reject.',
  }),
  uploadPartSizeMb: setting({
    env: 'UPLOAD_PART_SIZE_MB',
    prop: 'uploader.partSizeMb',
    kind: integer({ min: 5, max: 5120, unit: 'MiB' }),
    default: 8,
    readBy: [COMMANDS.uploader],
    doc: 'Multipart part size (S3 limits: 5 MiB to 5 GiB).',
  }),
  uploadConcurrency: setting({
    env: 'UPLOAD_CONCURRENCY',
    prop: 'uploader.concurrency',
    kind: integer({ min: 1, max: 64 }),
    default: 4,
    readBy: [COMMANDS.uploader],
    doc: 'Parts in flight per file (gzip uploads: at most 2). One file is uploaded at a time.',
  }),
  uploadGzip: setting({
    env: 'UPLOAD_GZIP',
    prop: 'uploader.gzip',
    kind: boolean(),
    default: false,
    readBy: [COMMANDS.uploader],
    doc: 'Gzip dumps on the fly (not `*.gz` files); the key gets `.gz` and the metadata `content-encoding-applied: gzip`.',
  }),
  afterUpload: setting({
    env: 'AFTER_UPLOAD',
    prop: 'uploader.afterUpload',
    kind: oneOf(AFTER_UPLOAD_ACTIONS, 'AfterUploadAction'),
    default: 'archive',
    readBy: [COMMANDS.uploader],
    doc: 'What happens to a local dump once a HEAD verified it in S3. `archive`: moved out of the application\'s folder '
      + 'into the node\'s root-owned archive (`.heapdump-archive/<namespace>/<pod>/`), so the next OOM of a restarted '
      + 'container writes its dump again; bounded by the retention limits. `delete`: removed. `keep`: left in place '
      + '(a second OOM of the same container then writes no dump). Anything but `keep` (or a retention limit) makes '
      + 'the constructs mount `/mnt/dump` writable and add DAC_OVERRIDE to the uploader\'s capabilities and SCC.',
  }),
  uploadChecksum: setting({
    env: 'UPLOAD_CHECKSUM',
    prop: 'uploader.payloadChecksum',
    kind: oneOf(PAYLOAD_CHECKSUMS, 'PayloadChecksum'),
    default: 'auto',
    readBy: [COMMANDS.uploader],
    doc: 'Digest sent with every PUT and every part, so the server rejects bytes that changed after they were read: '
      + 'a one-PUT upload\'s is computed in the same read as the sha256; a multipart upload digests each part just '
      + 'before sending it, and those bytes must hash to that sha256 before the upload is committed. '
      + '`md5`: Content-MD5, checked by AWS S3, Ceph RGW and MinIO. '
      + '`sha256`: x-amz-checksum-sha256, checked by AWS S3 and servers with S3\'s additional checksums (Ceph RGW '
      + '16 ignores it); it needs no second hash, so a one-PUT upload costs about half the CPU (docs/performance.md). '
      + '`auto`: `sha256` on AWS S3 (no `S3_ENDPOINT_URL`, or an `amazonaws.com` endpoint), `md5` on any other endpoint.',
  }),
  dumpAnalysis: setting({
    env: 'DUMP_ANALYSIS',
    prop: 'uploader.analysis',
    kind: boolean(),
    default: true,
    readBy: [COMMANDS.uploader],
    doc: 'Analyse each HPROF (also a `.hprof.gz`) in the same read as the hashing and write `<key>.summary.json` and '
      + '`<key>.summary.txt` next to the dump: class histogram, largest objects, threads\' stacks.',
  }),
  retentionMaxAge: setting({
    env: 'RETENTION_MAX_AGE',
    prop: 'uploader.retentionMaxAgeSeconds',
    kind: seconds({ min: 0, zero: 'off' }),
    default: 604_800,
    readBy: [COMMANDS.uploader],
    doc: 'Remove archived (verified) dumps older than this (by mtime); 604800 = 7 days.',
  }),
  retentionMaxBytes: setting({
    env: 'RETENTION_MAX_BYTES',
    prop: 'uploader.retentionMaxBytes',
    kind: byteSize({ zero: 'off' }),
    default: 2 * 1024 ** 3,
    readBy: [COMMANDS.uploader],
    doc: 'While all local dumps of a node (pending and archived) exceed this, remove the oldest archived ones, each '
      + 'checked in S3 once more first (never one not yet in S3).',
  }),
  s3RetentionDays: setting({
    env: 'S3_RETENTION_DAYS',
    prop: 'uploader.retentionDays',
    kind: integer({ min: 0, max: 36_500, unit: 'days', zero: 'no expiry, no check' }),
    default: 30,
    readBy: [COMMANDS.uploader],
    doc: 'How long dumps (and their summary and leak report objects) stay in S3. The bucket\'s lifecycle rule does the '
      + 'expiring (`npm run bucket-lifecycle -- --print` or `--apply` writes it for `prefix`); the uploader checks at start and '
      + 'every 10 minutes that a rule covering its keys expires them within this many days, and logs a warning and sets '
      + '`heapdump_uploader_bucket_lifecycle_ok` to 0 when none does.',
  }),
  s3ObjectTags: setting({
    env: 'S3_OBJECT_TAGS',
    prop: 'uploader.objectTags',
    kind: boolean(),
    default: true,
    readBy: [COMMANDS.uploader, COMMANDS.analyzer],
    doc: 'Tag every object with its pod\'s namespace and name (`heapdump-pipeline.io/namespace`, `heapdump-pipeline.io/pod`), '
      + 'so bucket policies and lifecycle rules can target a team; needs s3:PutObjectTagging (and s3:GetObjectTagging, to '
      + 'check a multipart upload\'s tags). `false` for a server that refuses x-amz-tagging.',
  }),
  s3Encryption: setting({
    env: 'S3_SERVER_SIDE_ENCRYPTION',
    prop: 'uploader.encryption.mode',
    kind: oneOf(ENCRYPTION_MODES, 'S3EncryptionMode'),
    default: 'none',
    readBy: [COMMANDS.uploader, COMMANDS.analyzer],
    doc: '`SSE-S3`: x-amz-server-side-encryption: AES256 (keys managed by the S3 service; AWS S3, Ceph RGW 18 and later). '
      + '`SSE-KMS`: aws:kms with `kmsKeyId` (AWS KMS; Ceph RGW with a KMS backend). `none`: no header, no check.',
  }),
  s3KmsKeyId: setting({
    env: 'S3_SSE_KMS_KEY_ID',
    prop: 'uploader.encryption.kmsKeyId',
    kind: kmsKeyId(),
    defaultText: 'unset: the S3 service\'s default KMS key (AWS: `aws/s3`; Ceph RGW requires a key)',
    readBy: [COMMANDS.uploader, COMMANDS.analyzer],
    doc: '`SSE-KMS` only: the key, sent as x-amz-server-side-encryption-aws-kms-key-id; the HEAD must name the same key (a key '
      + 'id matches its key ARN; with an alias only the mode is checked, since S3 answers with the key\'s ARN).',
  }),
  logLevel: setting({
    env: 'LOG_LEVEL',
    prop: 'uploader.logLevel',
    kind: oneOf(LOG_LEVELS, 'AgentLogLevel'),
    default: 'info',
    readBy: EVERY_COMMAND,
    doc: 'Lowest level logged (debug, info, warn, error). The prop sets the uploader, its wait-ready and the app\'s '
      + 'wait-ready; the mount guard always logs at info.',
  }),
  logFormat: setting({
    env: 'LOG_FORMAT',
    kind: oneOf(LOG_FORMATS),
    default: 'auto',
    readBy: EVERY_COMMAND,
    doc: 'Log lines as JSON on stdout (`json`), as text for people on stderr (`text`), or `text` only when stderr is a '
      + 'terminal (`auto`). `json`: one event per line, for log collectors (what pods get: their stderr is no terminal). '
      + '`text`: time, level, component, message, key=value fields, escaped.',
    setBy: 'not set (`auto`: `json` in a pod)',
  }),
  uploaderResources: setting({
    prop: 'uploader.resources',
    kind: resources(),
    default: { requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '1', memory: '256Mi' } },
    doc: 'Resources of the uploader container, chosen from `npm run bench` (docs/performance.md): idle it uses 0.3 % of a core '
      + 'and ~77 MiB RSS (10,000 unrelated files under the root), the agent\'s peak RSS stayed at 88-93 MiB; a dump costs 2.4-7.5 CPU s '
      + 'per GiB, mostly on one thread, so a 1-core limit bounds a runaway without slowing an upload much, while 200m would need '
      + '1-2 minutes of CPU time for a 4 GiB dump.',
  }),
  uploaderWaitReadyResources: setting({
    prop: 'uploader.waitReadyResources',
    kind: resources(),
    default: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '100m', memory: '128Mi' } },
    doc: 'Resources of the uploader pod\'s `heapdump-wait-ready` init container (a collected pod\'s init container has the same '
      + 'fixed values, part of what the injector and `collect()` add).',
  }),
  uploaderExtraEnv: setting({
    prop: 'uploader.extraEnv',
    kind: envVars(),
    default: [],
    doc: 'Extra environment of the uploader container, e.g. agent variables that have no prop (`WATCH_MAX_DIRECTORIES`, '
      + '`DUMP_MAX_FILES` ...), or `HTTPS_PROXY` with credentials from a Secret. Refused: names the pipeline sets on the container '
      + '(its env and the keys of its ConfigMap), a literal value of a variable that has a prop (set the prop), and literal values '
      + 'for secret settings and names that look secret (see `volumeManager.extraEnv`). A literal value of an agent variable is '
      + 'checked as the agent checks it.',
  }),
  credentialsSource: setting({
    prop: 'uploader.credentials.source',
    kind: oneOf(CREDENTIAL_SOURCES, 'CredentialSource'),
    default: 'secret',
    doc: '`secret`: static keys from a Secret you create (`oc create secret generic s3-credentials ...`). '
      + '`workload-identity`: no keys; the SDK\'s default chain uses the ServiceAccount\'s identity (IRSA, OpenShift STS, ...), '
      + 'configured through ServiceAccount annotations.',
  }),
  credentialsSecretName: setting({
    prop: 'uploader.credentials.secretName',
    kind: dnsSubdomain(),
    default: 's3-credentials',
    doc: '`secret` only. The Secret holding AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (optionally AWS_DEFAULT_REGION, S3_ENDPOINT_URL).',
  }),
  secretAccessKeyId: setting({
    prop: 'uploader.credentials.secretValues.accessKeyId',
    kind: text(),
    required: true,
    secret: true,
    doc: 'Written to the Secret as AWS_ACCESS_KEY_ID.',
  }),
  secretSecretAccessKey: setting({
    prop: 'uploader.credentials.secretValues.secretAccessKey',
    kind: text(),
    required: true,
    secret: true,
    doc: 'Written to the Secret as AWS_SECRET_ACCESS_KEY.',
  }),
  secretRegion: setting({
    prop: 'uploader.credentials.secretValues.region',
    kind: region(),
    secret: true,
    defaultText: 'not in the Secret (the ConfigMap\'s region applies)',
    doc: 'Written to the Secret as AWS_DEFAULT_REGION.',
  }),
  secretEndpointUrl: setting({
    prop: 'uploader.credentials.secretValues.endpointUrl',
    kind: httpUrl(),
    secret: true,
    defaultText: 'not in the Secret (the ConfigMap\'s endpoint applies)',
    doc: 'Written to the Secret as S3_ENDPOINT_URL.',
  }),
  credentialsRoleArn: setting({
    prop: 'uploader.credentials.roleArn',
    kind: roleArn(),
    defaultText: 'none',
    doc: '`workload-identity` only: IAM role for IRSA, set as `eks.amazonaws.com/role-arn` on the uploader\'s ServiceAccount.',
  }),
  credentialsServiceAccountAnnotations: setting({
    prop: 'uploader.credentials.serviceAccountAnnotations',
    kind: annotations(),
    defaultText: 'none',
    doc: '`workload-identity` only: further ServiceAccount annotations for other workload identity systems. '
      + '`workload-identity` needs roleArn or at least one annotation.',
  }),

  // -------------------------------------------------------------------------------------------
  // uploader.caBundle, uploader.proxy: how the uploader reaches S3
  caBundleSource: setting({
    prop: 'uploader.caBundle.source',
    kind: oneOf(CA_BUNDLE_SOURCES, 'CaBundleSource'),
    required: true,
    doc: '`openshift-trusted` (OpenShift only): the pipeline emits the ConfigMap `configMapName` labelled for the trusted CA '
      + 'bundle injection. `configmap`: the ConfigMap `configMapName` you create in the pipeline namespace.',
  }),
  caBundleConfigMapName: setting({
    prop: 'uploader.caBundle.configMapName',
    kind: dnsSubdomain(),
    defaultText: '`heapdump-trusted-ca-bundle` (with namePrefix) for `openshift-trusted`; required for `configmap`',
    doc: 'The ConfigMap holding the PEM bundle.',
  }),
  caBundleKey: setting({
    prop: 'uploader.caBundle.key',
    kind: secretKey(),
    default: TRUSTED_CA_BUNDLE_KEY,
    doc: 'The ConfigMap key holding the PEM certificates (`ca-bundle.crt` only, with `openshift-trusted`).',
  }),
  httpsProxy: setting({
    env: 'HTTPS_PROXY',
    prop: 'uploader.proxy.httpsProxy',
    kind: proxyUrl(),
    defaultText: 'unset: direct connections',
    readBy: [COMMANDS.uploader, COMMANDS.api, COMMANDS.analyzer],
    doc: 'Proxy for an https:// S3 endpoint (AWS S3 by default). The TLS session to S3 runs through the tunnel, so the endpoint\'s '
      + 'certificate is verified as without a proxy. Credentials (`http://user:password@host:port`) only in the agent\'s '
      + 'environment: with `uploader.extraEnv` from a Secret, not here.',
  }),
  httpProxy: setting({
    env: 'HTTP_PROXY',
    prop: 'uploader.proxy.httpProxy',
    kind: proxyUrl(),
    defaultText: 'unset: direct connections',
    readBy: [COMMANDS.uploader, COMMANDS.api, COMMANDS.analyzer],
    doc: 'Proxy for an http:// S3 endpoint, also tunnelled with CONNECT (the proxy must allow CONNECT to the endpoint\'s port).',
  }),
  noProxy: setting({
    env: 'NO_PROXY',
    prop: 'uploader.proxy.noProxy',
    kind: noProxyList(),
    default: [],
    propDefault: ['localhost', '127.0.0.1', '.svc', '.cluster.local'],
    readBy: [COMMANDS.uploader, COMMANDS.api, COMMANDS.analyzer],
    doc: 'Hosts the uploader reaches directly, as Go and OpenShift read NO_PROXY: `*`, a domain with its subdomains '
      + '(`example.com`), subdomains only (`.example.com`), an IP address or a CIDR range, each with an optional port. The '
      + 'constructs\' default keeps in-cluster S3 (a Service) direct; on OpenShift `oc get proxy cluster -o '
      + 'jsonpath=\'{.status.noProxy}\'` is the cluster\'s list. Only with `httpsProxy` or `httpProxy`.',
  }),

  // -------------------------------------------------------------------------------------------
  // uploader.notifications
  notifyKubeEvents: setting({
    env: 'NOTIFY_KUBE_EVENTS',
    prop: 'uploader.notifications.kubernetesEvents',
    kind: boolean(),
    default: false,
    readBy: S3_READERS,
    doc: 'Create a Kubernetes Event (reason HeapDumpUploaded, type Warning) on the pod that wrote each uploaded dump. The constructs '
      + 'then give the uploader a projected ServiceAccount token and bind the event-reporter ClusterRole (create events.k8s.io events, '
      + 'get pods) in each collected namespace.',
  }),
  notifyClusterName: setting({
    env: 'NOTIFY_CLUSTER_NAME',
    prop: 'uploader.notifications.clusterName',
    kind: shortText(63),
    defaultText: 'none',
    readBy: S3_READERS,
    doc: 'Cluster name shown in webhook messages (several clusters may post to one channel).',
  }),
  notifyTimeout: setting({
    env: 'NOTIFY_TIMEOUT',
    prop: 'uploader.notifications.timeoutSeconds',
    kind: seconds({ min: 0.001 }),
    default: 10,
    readBy: S3_READERS,
    doc: 'Timeout of one delivery attempt: the webhook POST, or for an Event the pod GET and the Event POST together.',
  }),
  notifyMaxAttempts: setting({
    env: 'NOTIFY_MAX_ATTEMPTS',
    prop: 'uploader.notifications.maxAttempts',
    kind: integer({ min: 1, max: 20 }),
    default: 5,
    readBy: S3_READERS,
    doc: 'Attempts per notification and channel (backoff 1 s doubling to 60 s, full jitter) before it counts as failed. 4xx answers '
      + 'other than 408/429 are not retried.',
  }),
  notifyWebhookFormat: setting({
    env: 'NOTIFY_WEBHOOK_FORMAT',
    prop: 'uploader.notifications.webhook.format',
    kind: oneOf(WEBHOOK_FORMATS, 'WebhookFormat'),
    default: 'json',
    readBy: S3_READERS,
    doc: '`json`: the generic JSON document (schema heapdump-pipeline.io/notification/v1); `slack`: a Slack incoming-webhook message (text + blocks).',
  }),
  notifyWebhookEvents: setting({
    env: 'NOTIFY_WEBHOOK_EVENTS',
    prop: 'uploader.notifications.webhook.events',
    kind: oneOfList(NOTIFICATION_EVENTS, 'NotificationEvent'),
    default: [...NOTIFICATION_EVENTS],
    readBy: S3_READERS,
    doc: 'What is posted to the webhook: complete dumps uploaded, truncated ones, leak reports written (`dump-analyzed`, by the analyzer).',
  }),
  notifyWebhookSecretName: setting({
    prop: 'uploader.notifications.webhook.secretName',
    kind: dnsSubdomain(),
    required: true,
    doc: 'The Secret (in the pipeline namespace) holding the webhook URL; mounted into the uploader, which re-reads it for every delivery (a rotated Secret applies without a restart).',
  }),
  notifyWebhookSecretKey: setting({
    prop: 'uploader.notifications.webhook.secretKey',
    kind: secretKey(),
    default: 'url',
    doc: 'The key of the Secret that holds the URL.',
  }),

  // -------------------------------------------------------------------------------------------
  // analyzer (the leak reports)
  analyzerEnabled: setting({
    prop: 'analyzer.enabled',
    kind: boolean(),
    default: true,
    doc: 'Emit the leak analyzer: its Deployment, ServiceAccount, Service and ConfigMap in the pipeline namespace (and, with '
      + 'Kubernetes Events on, its RoleBindings in the collected namespaces). `false`: dumps get the uploader\'s summary only.',
  }),
  analyzerResources: setting({
    prop: 'analyzer.resources',
    kind: resources(),
    default: { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '2', memory: '8Gi' } },
    doc: 'Resources of the analyzer container. The memory limit bounds the dumps it can analyse (the request is what it '
      + 'keeps while idle: the limit is used only while a big dump is analysed). Each analysis runs in a child process within '
      + 'a budget derived from the limit (minus 192 MiB for the analyzer and 256 MiB per analysis process, and 6 % for memory '
      + 'given back but not yet collected; the small-dump lane twice `smallDumpMb`, the other lane the rest: 6,581 MiB with '
      + '8Gi) and needs at most 36-40 bytes per object and 8 per reference of the dump (docs/performance.md: a 4.6 GiB dump of '
      + '135 million small objects took 5.2 GiB; a 4.3 GiB dump of 38 million 122-byte objects 1.5 GiB). A dump that needs more '
      + 'gets a report saying so. Two analyses can run at once (the two lanes): `cpu: 2` lets both run on a core each.',
  }),
  analyzerThreshold: setting({
    env: 'ANALYZER_THRESHOLD_PERCENT',
    prop: 'analyzer.thresholdPercent',
    kind: integer({ min: 1, max: 100, unit: 'percent' }),
    default: 10,
    readBy: [COMMANDS.analyzer],
    doc: 'Share of the reachable heap from which a single object, or a class\'s top-level instances together, is a leak suspect (as Eclipse MAT\'s default).',
  }),
  analyzerInterval: setting({
    env: 'ANALYZER_INTERVAL',
    prop: 'analyzer.intervalSeconds',
    kind: seconds({ min: 1, max: 86_400 }),
    default: 60,
    readBy: [COMMANDS.analyzer],
    doc: 'Time between two scans of the bucket for dumps without a leak report (the safety net: the uploader wakes the analyzer after each upload).',
  }),
  analyzerTimeBudget: setting({
    env: 'ANALYZER_TIME_BUDGET',
    prop: 'analyzer.timeBudgetSeconds',
    kind: seconds({ min: 1, max: 86_400 }),
    default: 600,
    readBy: [COMMANDS.analyzer],
    doc: 'Wall-clock time one analysis may take (download excluded); past it the child process is killed and the dump gets a '
      + '"not analyzed" report. A 4 GiB dump takes about 1-2 minutes on one core (docs/performance.md).',
  }),
  analyzerCpuBudget: setting({
    env: 'ANALYZER_CPU_BUDGET',
    prop: 'analyzer.cpuBudgetSeconds',
    kind: seconds({ min: 1, max: 86_400 }),
    default: 300,
    readBy: [COMMANDS.analyzer],
    doc: 'CPU time one analysis may use (its child process, all threads); past it the analysis is stopped as for the time budget.',
  }),
  analyzerSmallDumpMb: setting({
    env: 'ANALYZER_SMALL_DUMP_MB',
    prop: 'analyzer.smallDumpMb',
    kind: integer({ min: 1, max: 1_048_576, unit: 'MiB' }),
    default: 256,
    readBy: [COMMANDS.analyzer],
    doc: 'Dumps up to this size (as stored) go through their own lane, beside the one for bigger dumps: a tenant\'s multi-GiB '
      + 'dump never holds up another team\'s small one. Each lane takes dumps oldest first, one namespace after the other.',
  }),
  analyzerMaxAttempts: setting({
    env: 'ANALYZER_MAX_ATTEMPTS',
    prop: 'analyzer.maxAttempts',
    kind: integer({ min: 1, max: 10 }),
    default: 2,
    readBy: [COMMANDS.analyzer],
    doc: 'Analyses started for one dump (recorded in S3 as `<key>.leaks.attempts` before each start) before it gets a "not '
      + 'analyzed" report: a dump that crashes the analysis, or the container (OOM kill), is not tried forever.',
  }),
  analyzerWorkDirSize: setting({
    prop: 'analyzer.workDirSize',
    kind: quantity(),
    default: '8Gi',
    doc: 'Size of the analyzer\'s emptyDir, where a dump is downloaded before it is analysed (compressed dumps stay compressed): '
      + 'dumps larger than this get a "not analyzed" report without being downloaded.',
  }),
  analyzerMemoryLimit: setting({
    env: 'ANALYZER_MEMORY_LIMIT',
    kind: byteSize(),
    defaultText: 'unset: the container\'s cgroup memory limit, else the machine\'s memory',
    readBy: [COMMANDS.analyzer],
    doc: 'The analyzer container\'s memory limit, bytes: every analysis budget is derived from it.',
    setBy: '`analyzer`: resourceFieldRef limits.memory',
  }),
  analyzerWorkDir: setting({
    env: 'ANALYZER_WORK_DIR',
    kind: absolutePath(),
    default: '/tmp',
    readBy: [COMMANDS.analyzer],
    doc: 'Where dumps are downloaded for their analysis (and removed after it).',
    setBy: '`analyzer`: its emptyDir at /var/heapdump-analyzer',
  }),
  analyzerWorkDirBytes: setting({
    env: 'ANALYZER_WORK_DIR_BYTES',
    kind: byteSize(),
    defaultText: 'unset: the free space of ANALYZER_WORK_DIR',
    readBy: [COMMANDS.analyzer],
    doc: 'Largest dump (as stored) downloaded for analysis.',
    setBy: '`analyzer`: the emptyDir\'s size (`analyzer.workDirSize`)',
  }),
  analyzerWakeUrl: setting({
    env: 'ANALYZER_WAKE_URL',
    kind: url(['http:', 'https:']),
    defaultText: 'unset: the analyzer finds new dumps by its periodic scan',
    readBy: [COMMANDS.uploader],
    doc: 'The uploader POSTs to this URL after each verified dump, so the analyzer starts at once (best effort, 2 s timeout).',
    setBy: '`uploader` when the analyzer is enabled: `http://heapdump-analyzer.<namespace>.svc:9090/wake`',
  }),

  // -------------------------------------------------------------------------------------------
  // app
  appEnabled: setting({
    prop: 'app.enabled',
    kind: boolean(),
    default: true,
    doc: 'Deploy the application at all (a platform team may only want the dump pipeline). `false`: no Deployment, '
      + 'Service, Route, app ServiceAccount and no demo namespace. What a team\'s own service needs stays: the `heap-dump-app` SCC and '
      + 'its ClusterRole, the collected namespaces\' RoleBindings, the admission policy and the injector.',
  }),
  appNamespace: setting({
    prop: 'app.namespace',
    kind: dnsLabel(),
    default: 'memory-leak-demo',
    doc: 'The demo application\'s own namespace (emitted by the pipeline, collected like any listed namespace); never the pipeline\'s.',
  }),
  appName: setting({
    prop: 'app.name',
    kind: dnsLabel(),
    default: 'memory-leak-app',
    doc: 'Name of the application\'s Deployment, ServiceAccount and Route, its `app` label, and the prefix of its source ConfigMap (`<name>-source`).',
  }),
  appServiceName: setting({
    prop: 'app.serviceName',
    kind: dnsLabel(),
    default: 'memory-leak-service',
    doc: 'Name of the application\'s Service.',
  }),
  appImage: setting({
    prop: 'app.image',
    kind: image(),
    defaultText: 'eclipse-temurin:21.0.5_11-jdk running the demo Leak.java from the ConfigMap `memory-leak-app-source`',
    doc: 'The application\'s image; it runs with its own command. Setting it drops the demo source ConfigMap.',
  }),
  appMaxHeap: setting({
    prop: 'app.maxHeap',
    kind: heapSize(),
    default: '256m',
    doc: 'Maximum heap (`-Xmx` in JAVA_TOOL_OPTIONS), e.g. 512m or 1g.',
  }),
  appReplicas: setting({
    prop: 'app.replicas',
    kind: integer({ min: 0, max: 1000 }),
    default: 1,
    doc: 'Replicas of the Deployment.',
  }),
  appPort: setting({
    prop: 'app.port',
    kind: integer({ min: 1, max: 65_535 }),
    default: 8080,
    doc: 'HTTP port the application listens on (container port `http` and Service port).',
  }),
  appHealthPath: setting({
    prop: 'app.healthPath',
    kind: urlPath(),
    default: '/health',
    doc: 'Path of the HTTP health endpoint used by both probes.',
  }),
  appRouteHost: setting({
    prop: 'app.routeHost',
    kind: dnsSubdomain(),
    defaultText: 'the router generates one',
    doc: 'Route host (OpenShift only; edge TLS, HTTP redirected).',
  }),
  appIngressHost: setting({
    prop: 'app.ingress.host',
    kind: dnsSubdomain(),
    required: true,
    doc: 'Host of the Ingress rule.',
  }),
  appIngressClassName: setting({
    prop: 'app.ingress.className',
    kind: dnsSubdomain(),
    defaultText: 'the cluster\'s default IngressClass',
    doc: 'IngressClass of the Ingress.',
  }),
  appIngressTlsSecretName: setting({
    prop: 'app.ingress.tlsSecretName',
    kind: dnsSubdomain(),
    defaultText: 'no TLS section',
    doc: 'TLS Secret for the host.',
  }),
  appRunAsUser: setting({
    prop: 'app.runAsUser',
    kind: integer({ min: 1, max: 2_147_483_647 }),
    defaultText: 'unset on OpenShift (the SCC assigns one from the namespace\'s range); 1000 on Kubernetes',
    doc: 'UID of the application and its init container.',
  }),
  appResources: setting({
    prop: 'app.resources',
    kind: resources(),
    default: { requests: { cpu: '100m', memory: '384Mi' }, limits: { cpu: '1', memory: '512Mi' } },
    doc: 'Resources of the application container.',
  }),

  // -------------------------------------------------------------------------------------------
  // collect
  collectNamespaces: setting({
    prop: 'collect.namespaces',
    kind: collectedNamespaces(),
    default: [],
    doc: 'Namespaces whose services may be collected (the demo application\'s is added when it is enabled). For each, the constructs '
      + 'emit on OpenShift a RoleBinding of the application SCC\'s ClusterRole to the namespace\'s ServiceAccounts (group '
      + '`system:serviceaccounts:<ns>`, or only `serviceAccounts`), and, with Kubernetes Events on, a RoleBinding of the event-reporter '
      + 'ClusterRole to the uploader; the injector and the admission policy select exactly these namespaces. Label each one '
      + '`heapdump-pipeline.io/collect=true` (docs/collect-your-service.md; with a `namePrefix`, the value is the pipeline\'s name, e.g. `team-x`). Not the pipeline\'s namespace, no `kube-*` or `openshift-*`.',
  }),
  collectMountPath: setting({
    prop: 'collect.mountPath',
    kind: absolutePath(),
    default: PATHS.appDumpDir,
    doc: 'Where an instrumented container sees its own dump folder (`-XX:HeapDumpPath`): the same for the injector, `collect()` and the demo.',
  }),
  collectPolicy: setting({
    prop: 'collect.policy',
    kind: oneOf(INJECT_POLICIES, 'InjectPolicy'),
    default: 'opt-in',
    doc: '`opt-in`: the injector collects pods annotated `heapdump-pipeline.io/inject: "true"`; `opt-out`: every pod of a collected '
      + 'namespace unless annotated `"false"`.',
  }),
  collectGzipLevel: setting({
    prop: 'collect.gzipLevel',
    kind: integer({ min: 0, max: 9, zero: 'off' }),
    default: 0,
    doc: '`-XX:HeapDumpGzipLevel` for collected JVMs (HotSpot 17+ only: older JVMs refuse to start with it).',
  }),

  // -------------------------------------------------------------------------------------------
  // injector
  injectorEnabled: setting({
    prop: 'injector.enabled',
    kind: boolean(),
    default: true,
    doc: 'Emit the injector: its Deployment, PodDisruptionBudget and Service in the pipeline namespace, its serving certificate '
      + '(OpenShift service CA, or cert-manager on Kubernetes) and the MutatingWebhookConfiguration.',
  }),
  injectorReplicas: setting({
    prop: 'injector.replicas',
    kind: integer({ min: 1, max: 10 }),
    default: 2,
    doc: 'Replicas of the injector (a PodDisruptionBudget keeps one available).',
  }),
  injectorTimeout: setting({
    prop: 'injector.timeoutSeconds',
    kind: integer({ min: 1, max: 30 }),
    default: 5,
    doc: 'The webhook\'s timeout; past it (or when the injector is down) the pod is created without collection (failurePolicy Ignore).',
  }),
  injectorResources: setting({
    prop: 'injector.resources',
    kind: resources(),
    default: { requests: { cpu: '20m', memory: '64Mi' }, limits: { cpu: '200m', memory: '128Mi' } },
    doc: 'Resources of the injector container.',
  }),
  injectorNodeSelector: setting({
    prop: 'injector.nodeSelector',
    kind: labels(),
    defaultText: 'none',
    doc: 'Node labels the injector\'s pods require (e.g. infrastructure nodes: `{"node-role.kubernetes.io/infra": ""}`).',
  }),
  injectorTolerations: setting({
    prop: 'injector.tolerations',
    kind: tolerations(),
    default: [],
    doc: 'Tolerations of the injector\'s pods (e.g. of the infrastructure nodes\' taint). It is an ordinary Deployment: it needs '
      + 'no node of its own and by default avoids tainted nodes.',
  }),
  injectorAffinity: setting({
    prop: 'injector.affinity',
    kind: affinity(),
    defaultText: 'replicas preferably on different nodes (a preferred pod anti-affinity on `kubernetes.io/hostname`)',
    doc: 'Affinity of the injector\'s pods. Its `podAntiAffinity` replaces the default spreading; without one the default is kept.',
  }),
  injectorExtraEnv: setting({
    prop: 'injector.extraEnv',
    kind: envVars(),
    default: [],
    doc: 'Extra environment of the injector container; the same refusals as `volumeManager.extraEnv`.',
  }),


  // -------------------------------------------------------------------------------------------
  // api (the heapdumps API server: agent/src/api)
  apiEnabled: setting({
    prop: 'api.enabled',
    kind: boolean(),
    defaultText: 'true, or false when `namePrefix` is set (the APIService `v1alpha1.heapdump-pipeline.io` exists once per cluster)',
    doc: 'Emit the heapdumps API: the Deployment, Service and APIService, its RBAC (the ClusterRoles aggregated to `admin` and `edit`, '
      + 'the opt-in view role, the server\'s `system:auth-delegator` binding) and the web page. Teams then get their dumps with '
      + '`oc get heapdumps` and `oc heapdump get` (docs/getting-your-dump.md).',
  }),
  apiReplicas: setting({
    prop: 'api.replicas',
    kind: integer({ min: 1, max: 10 }),
    default: 2,
    doc: 'Replicas of the API server (a PodDisruptionBudget keeps one available). Each keeps its own index of the bucket.',
  }),
  apiResources: setting({
    prop: 'api.resources',
    kind: resources(),
    default: { requests: { cpu: '50m', memory: '96Mi' }, limits: { cpu: '1', memory: '160Mi' } },
    doc: 'Resources of the API server container. A download streams (its RSS stayed at most 96 MiB while sending 1 GiB, '
      + 'docs/performance.md); the index of 10,000 dumps takes a few MiB.',
  }),
  apiAggregateToEdit: setting({
    prop: 'api.aggregateToEdit',
    kind: boolean(),
    default: true,
    doc: 'Give the `admin` and `edit` roles access to their namespace\'s dumps (the ClusterRole `heapdump-pipeline-heapdumps-edit` '
      + 'carries the labels `rbac.authorization.k8s.io/aggregate-to-admin` and `aggregate-to-edit`). `false`: nobody has access until you '
      + 'bind that role (or the view role) yourself, per namespace or per group.',
  }),
  apiAggregateToView: setting({
    prop: 'api.aggregateToView',
    kind: boolean(),
    default: false,
    doc: 'Also give the `view` role read access to dumps (the ClusterRole `heapdump-pipeline-heapdumps-view` gets the label '
      + '`rbac.authorization.k8s.io/aggregate-to-view`). Off by default: a heap dump holds every secret its JVM had, and `view` '
      + 'is meant to exclude Secrets. Without it the role exists and can be bound per namespace.',
  }),
  apiDecisionCache: setting({
    env: 'API_DECISION_CACHE',
    prop: 'api.decisionCacheSeconds',
    kind: seconds({ min: 0, max: 10, zero: 'no cache' }),
    default: 3,
    readBy: [COMMANDS.api],
    doc: 'How long an authorization decision (SubjectAccessReview, allowed or denied) and a token\'s identity (TokenReview) are '
      + 'reused: a revoked permission is effective on the first request after this time.',
  }),
  apiIndexInterval: setting({
    env: 'API_INDEX_INTERVAL',
    prop: 'api.indexIntervalSeconds',
    kind: seconds({ min: 1, max: 3600 }),
    default: 30,
    readBy: [COMMANDS.api],
    doc: 'Time between two listings of the bucket (the index lists and tables are answered from). A request for a name the index '
      + 'does not know lists the bucket again (at most every 2 s), so a dump is reachable as soon as it is uploaded.',
  }),
  apiCredentialsSource: setting({
    prop: 'api.credentials.source',
    kind: oneOf(CREDENTIAL_SOURCES, 'CredentialSource'),
    default: 'secret',
    doc: '`secret`: static keys from a Secret you create (a read-only credential: docs/access-control.md). `workload-identity`: the '
      + 'SDK\'s default chain with the ServiceAccount\'s identity.',
  }),
  apiCredentialsSecretName: setting({
    prop: 'api.credentials.secretName',
    kind: dnsSubdomain(),
    default: 'heapdump-api-s3-credentials',
    doc: '`secret` only. The Secret holding AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY of the API\'s read-only credential.',
  }),
  apiCredentialsRoleArn: setting({
    prop: 'api.credentials.roleArn',
    kind: roleArn(),
    defaultText: 'none',
    doc: '`workload-identity` only: IAM role for IRSA, set as `eks.amazonaws.com/role-arn` on the API server\'s ServiceAccount.',
  }),
  apiCredentialsServiceAccountAnnotations: setting({
    prop: 'api.credentials.serviceAccountAnnotations',
    kind: annotations(),
    defaultText: 'none',
    doc: '`workload-identity` only: further ServiceAccount annotations for other workload identity systems.',
  }),
  apiWebEnabled: setting({
    prop: 'api.web.enabled',
    kind: boolean(),
    default: true,
    doc: 'Serve the web page (OpenShift: the oauth-proxy sidecar and a Route; Kubernetes: the token login on the Service\'s `web` port).',
  }),
  apiWebUrl: setting({
    env: 'API_WEB_URL',
    prop: 'api.web.url',
    kind: url(['https:']),
    defaultText: 'unset: no link to the web page (the constructs set `https://<routeHost>` on OpenShift when `routeHost` is set)',
    readBy: [COMMANDS.api, COMMANDS.uploader, COMMANDS.analyzer],
    doc: 'The web page\'s public URL: each HeapDump object\'s `status.webUrl`, `kubectl heapdump open`, and the link in the Event and '
      + 'the notifications.',
  }),
  apiWebRouteHost: setting({
    prop: 'api.web.routeHost',
    kind: dnsSubdomain(),
    defaultText: 'the router generates one',
    doc: 'Host of the web page\'s Route (OpenShift only; reencrypt TLS).',
  }),
  apiWebOauthProxyImage: setting({
    prop: 'api.web.oauthProxyImage',
    kind: image(),
    default: 'quay.io/openshift/origin-oauth-proxy:4.16',
    doc: 'The OpenShift oauth-proxy image of the web page\'s sidecar (OpenShift only; `registry.redhat.io/openshift4/ose-oauth-proxy-rhel9` with a subscription).',
  }),
  apiWebSessionSecretName: setting({
    prop: 'api.web.sessionSecretName',
    kind: dnsSubdomain(),
    default: 'heapdump-api-session',
    doc: 'Kubernetes only: a Secret you create with a random `key` (`kubectl create secret generic heapdump-api-session '
      + '--from-literal=key=$(openssl rand -base64 32)`) that signs the token login\'s session cookies, shared by the replicas. Mounted '
      + 'optional: without it each replica signs with a key of its own (the Service\'s ClientIP affinity keeps a browser on one). '
      + 'On OpenShift the oauth-proxy keeps the session (its cookie secret is made per pod).',
  }),

  // -------------------------------------------------------------------------------------------
  // monitoring
  monitoringEnabled: setting({
    prop: 'monitoring.enabled',
    kind: boolean(),
    default: true,
    doc: 'Emit the monitor and the alert rule (needs the monitoring.coreos.com CRDs: OpenShift has them; on Kubernetes the Prometheus Operator).',
  }),
  monitoringStack: setting({
    prop: 'monitoring.stack',
    kind: oneOf(MONITORING_STACKS, 'MonitoringStack'),
    defaultText: '`openshift-user-workload` on OpenShift, `prometheus-operator` on Kubernetes',
    doc: '`openshift-user-workload`: OpenShift\'s monitoring for user projects (the pipeline namespace has no '
      + '`openshift.io/cluster-monitoring` label). `prometheus-operator`: a plain Prometheus Operator, selecting by `selectorLabels`.',
  }),
  monitoringScrapeKind: setting({
    prop: 'monitoring.scrapeKind',
    kind: oneOf(SCRAPE_KINDS, 'ScrapeKind'),
    default: 'PodMonitor',
    doc: 'How Prometheus finds the agents: a PodMonitor, or a ServiceMonitor with headless Services.',
  }),
  monitoringSelectorLabels: setting({
    prop: 'monitoring.selectorLabels',
    kind: labels(),
    defaultText: 'none',
    doc: 'Labels on the monitor and the rule, for a Prometheus that selects them by label (e.g. `{"release": "kube-prometheus-stack"}`).',
  }),
  monitoringAlertLabels: setting({
    prop: 'monitoring.alertLabels',
    kind: labels(),
    defaultText: 'none',
    doc: 'Labels added to every alert, for routing in Alertmanager (e.g. `{"team": "platform"}`); not `severity`.',
  }),
  monitoringRunbookUrl: setting({
    prop: 'monitoring.runbookUrl',
    kind: text(),
    default: 'docs/runbook.md',
    doc: 'Where the team reads docs/runbook.md (e.g. its rendered URL); each alert\'s `runbook_url` is this plus `#<alert name in lower case>`.',
  }),

  // -------------------------------------------------------------------------------------------
  // Agent only: the constructs set these themselves (no prop)
  nodeName: setting({
    env: 'NODE_NAME',
    kind: dnsSubdomain(),
    required: true,
    readBy: EVERY_COMMAND,
    doc: 'Node name: object keys and the marker use it. Never the host name (that is the pod name).',
    setBy: 'every agent container and the app, from the downward API `spec.nodeName`',
  }),
  httpHost: setting({
    env: 'AGENT_HTTP_HOST',
    kind: host(),
    default: '0.0.0.0',
    readBy: EVERY_COMMAND,
    doc: 'Bind address of /healthz, /readyz and /metrics (kubelet probes hit the pod IP; tests use 127.0.0.1).',
    setBy: 'not set',
  }),
  httpPort: setting({
    env: 'AGENT_HTTP_PORT',
    kind: integer({ min: 0, max: 65_535, zero: 'any free port' }),
    default: HTTP.defaultPort,
    readBy: EVERY_COMMAND,
    doc: 'Port of /healthz, /readyz and /metrics.',
    setBy: '`mount-guard` and `uploader` (9090, port name `http`); wait-ready uses the default',
  }),
  shutdownTimeout: setting({
    env: 'SHUTDOWN_TIMEOUT',
    kind: seconds({ min: 0.001 }),
    default: 25,
    readBy: EVERY_COMMAND,
    doc: 'Deadline of the ordered shutdown after SIGTERM; past it the agent logs and exits 1.',
    setBy: '`mount-guard` 25 (grace period 30 s), `uploader` 55 (grace period 60 s)',
  }),
  dumpRoot: setting({
    env: 'DUMP_ROOT',
    kind: absolutePath(),
    default: PATHS.consumerDumpRoot,
    readBy: [COMMANDS.waitReady, COMMANDS.uploader],
    doc: 'Where the node\'s dump directory is seen by the container.',
    setBy: '`uploader` and every `wait-ready` (/mnt/dump)',
  }),
  markerName: setting({
    env: 'MARKER_NAME',
    kind: fileName(),
    default: PATHS.markerName,
    readBy: ALL,
    doc: 'Name of the ready marker the mount guard writes through the mount.',
    setBy: 'every agent container (.ready)',
  }),
  mountSourceRoot: setting({
    env: 'MOUNT_SOURCE_ROOT',
    kind: absolutePath(),
    default: PATHS.guardSourceRoot,
    readBy: [COMMANDS.mountGuard],
    doc: 'Where the guard container sees the PVC; the bind source is `<root>/<NODE_NAME>`.',
    setBy: '`mount-guard` (/pv-storage)',
  }),
  mountTarget: setting({
    env: 'MOUNT_TARGET',
    kind: absolutePath(),
    default: PATHS.guardTarget,
    readBy: [COMMANDS.mountGuard],
    doc: 'Where the guard sees the node\'s /mnt/dump (through the node\'s /mnt, Bidirectional).',
    setBy: '`mount-guard` (/host/mnt/dump)',
  }),
  mountAllowOutsidePod: setting({
    env: 'MOUNT_ALLOW_OUTSIDE_POD',
    kind: boolean(),
    default: false,
    readBy: [COMMANDS.mountGuard],
    doc: 'Let the mount guard run where KUBERNETES_SERVICE_HOST is unset (not in a pod): it then bind-mounts '
      + '`<MOUNT_SOURCE_ROOT>/<NODE_NAME>` onto MOUNT_TARGET of that machine. Without it, it refuses with exit code 2.',
    setBy: 'not set (pods have KUBERNETES_SERVICE_HOST); tests and benches that run the guard in a private mount namespace',
  }),
  waitCreatePodFolder: setting({
    env: 'WAIT_CREATE_POD_FOLDER',
    kind: boolean(),
    default: false,
    readBy: [COMMANDS.waitReady],
    doc: 'Once the mount is verified, create (or check) the pod\'s dump folder `<DUMP_ROOT>/<HEAPDUMP_POD_NAMESPACE>/<HEAPDUMP_POD_NAME>`: '
      + 'owned by this uid, 0700 (02770 with WAIT_FOLDER_GROUP); an existing folder that is not exactly that is refused '
      + '(docs/security.md, "Dump folders").',
    setBy: 'the `heapdump-wait-ready` init container of every collected pod: "true"',
  }),
  waitFolderGroup: setting({
    env: 'WAIT_FOLDER_GROUP',
    kind: integer({ min: 0, max: 2_147_483_647 }),
    defaultText: 'unset: the pod folder is 0700, its owner only',
    readBy: [COMMANDS.waitReady],
    doc: 'Group of the pod folder (mode 02770), so every container of the pod with that supplemental group can write its dump.',
    setBy: 'the pod\'s fsGroup, when it has one',
  }),
  podNamespace: setting({
    env: 'HEAPDUMP_POD_NAMESPACE',
    kind: dnsLabel(),
    defaultText: 'unset',
    readBy: [COMMANDS.waitReady],
    doc: 'The pod\'s namespace: the first folder level. The pipeline\'s own name, so an application\'s POD_NAMESPACE never collides; '
      + 'the application containers\' subPathExpr expands it too.',
    setBy: 'downward API fieldRef metadata.namespace',
  }),
  podName: setting({
    env: 'HEAPDUMP_POD_NAME',
    kind: dnsSubdomain(),
    defaultText: 'unset',
    readBy: [COMMANDS.waitReady],
    doc: 'The pod\'s name: the second folder level.',
    setBy: 'downward API fieldRef metadata.name',
  }),
  awsAccessKeyId: setting({
    env: 'AWS_ACCESS_KEY_ID',
    kind: text(),
    defaultText: 'unset: the AWS SDK default credential chain',
    readBy: [COMMANDS.uploader, COMMANDS.api, COMMANDS.analyzer],
    prototype: true,
    doc: 'Static access key. Set both keys or neither; neither = the AWS SDK default chain (IRSA, web identity, ...).',
    setBy: 'the Secret (`credentials.source: secret`), key required',
  }),
  awsSecretAccessKey: setting({
    env: 'AWS_SECRET_ACCESS_KEY',
    kind: text(),
    defaultText: 'unset',
    readBy: [COMMANDS.uploader, COMMANDS.api, COMMANDS.analyzer],
    secret: true,
    prototype: true,
    doc: 'Static secret key (never logged).',
    setBy: 'the Secret (`credentials.source: secret`), key required',
  }),
  awsRegion: setting({
    env: 'AWS_REGION',
    kind: region(),
    default: 'us-east-1',
    readBy: [COMMANDS.uploader, COMMANDS.api, COMMANDS.analyzer],
    doc: 'The SDK\'s name for the region, used only when AWS_DEFAULT_REGION is unset.',
    setBy: 'not set',
  }),
  uploadMultipartThresholdMb: setting({
    env: 'UPLOAD_MULTIPART_THRESHOLD_MB',
    prop: 'uploader.multipartThresholdMb',
    kind: integer({ min: 5, max: 5120, unit: 'MiB' }),
    default: 1024,
    readBy: [COMMANDS.uploader],
    doc: 'Files up to this size go as one streamed PUT, larger ones as multipart (single PUT limit 5 GiB).',
  }),
  watchMaxDirectories: setting({
    env: 'WATCH_MAX_DIRECTORIES',
    kind: integer({ min: 0, max: 100_000 }),
    default: 1024,
    readBy: [COMMANDS.uploader],
    doc: 'Directories watched for file system events at most (inotify watches are a per-user kernel resource); '
      + 'beyond, breadth first, the periodic scan finds new dumps. Namespace and pod folders come first.',
    setBy: 'not set',
  }),
  dumpMaxFiles: setting({
    env: 'DUMP_MAX_FILES',
    kind: integer({ min: 1, max: 1_000_000 }),
    default: 10_000,
    readBy: [COMMANDS.uploader],
    doc: 'Dump files tracked at most on the node (memory bound), shared max-min fairly between namespaces; beyond, files wait '
      + 'until others are gone, with a warning and a gauge.',
    setBy: 'not set',
  }),
  dumpMaxFilesPerNamespace: setting({
    env: 'DUMP_MAX_FILES_PER_NAMESPACE',
    kind: integer({ min: 1, max: 100_000 }),
    default: 100,
    readBy: [COMMANDS.uploader],
    doc: 'Dump files tracked at most per namespace folder (the first found, breadth first); beyond, they wait until others are '
      + 'gone. With DUMP_MAX_FILES shared fairly between namespaces, one namespace\'s files never keep another\'s from being seen.',
    setBy: 'not set',
  }),
  dumpMaxEntriesPerPod: setting({
    env: 'DUMP_MAX_ENTRIES_PER_POD',
    kind: integer({ min: 100, max: 10_000_000 }),
    default: 10_000,
    readBy: [COMMANDS.uploader],
    doc: 'Directory entries one scan reads per pod folder (its subfolders included), in batches; beyond, the rest of that pod '
      + 'folder is not looked at (a warning naming it, and a gauge). Bounds what a tenant\'s own folder can cost every scan.',
    setBy: 'not set',
  }),
  uploadSlots: setting({
    env: 'UPLOAD_SLOTS',
    kind: integer({ min: 1, max: 8 }),
    default: 2,
    readBy: [COMMANDS.uploader],
    doc: 'Dumps uploaded at once, never two of the same namespace; free slots go to the namespace served least recently. '
      + 'With 2, one tenant\'s multi-GiB upload never holds another tenant\'s dump for its whole transfer (docs/performance.md: memory).',
    setBy: 'not set',
  }),
  dumpAnalysisCpuSeconds: setting({
    env: 'DUMP_ANALYSIS_CPU_SECONDS',
    kind: integer({ min: 1, max: 3600, unit: 'CPU seconds' }),
    default: 10,
    readBy: [COMMANDS.uploader],
    doc: 'CPU budget of one dump\'s analysis: this many CPU seconds, plus as many again per GiB of HPROF read. Past it the analysis '
      + 'stops and the summary says so (the dump is uploaded either way). HotSpot dumps need under a second per GiB.',
    setBy: 'not set',
  }),
  dumpInflateMaxRatio: setting({
    env: 'DUMP_INFLATE_MAX_RATIO',
    kind: integer({ min: 2, max: 1100 }),
    default: 100,
    readBy: [COMMANDS.uploader],
    doc: 'A `.hprof.gz` is decompressed (to check that it is whole, and for its analysis) to at most this many times its size '
      + '(64 MiB at least). Beyond, it is uploaded after FILE_STABLE_TIME marked complete=unknown, with a partial summary.',
    setBy: 'not set',
  }),
  dumpInflateMaxBytes: setting({
    env: 'DUMP_INFLATE_MAX_BYTES',
    kind: byteSize(),
    default: 64 * 1024 ** 3,
    readBy: [COMMANDS.uploader],
    doc: 'A `.hprof.gz` is decompressed to at most this many bytes (see DUMP_INFLATE_MAX_RATIO).',
    setBy: 'not set',
  }),
  dumpAnalysisMaxMemory: setting({
    env: 'DUMP_ANALYSIS_MAX_MEMORY',
    kind: byteSize(),
    default: 128 * 1024 ** 2,
    readBy: [COMMANDS.uploader],
    doc: 'Resident memory of the analysis process (one at a time, beside the uploader in its container): past it the analysis is '
      + 'stopped and the summary says so. Keep it below the container\'s memory limit minus the uploader\'s own peak (~100 MiB).',
    setBy: 'not set',
  }),
  uploaderStateDir: setting({
    env: 'UPLOADER_STATE_DIR',
    kind: absolutePath(),
    default: '/tmp/heapdump-uploader',
    readBy: [COMMANDS.uploader],
    doc: 'Where the uploader remembers, across a container restart, which dumps\' analyses had not finished (no crash loop on one '
      + 'file) and which summaries are still owed: a folder on the pod\'s own emptyDir, which survives container restarts.',
    setBy: 'not set (the `tmp` emptyDir is mounted at /tmp)',
  }),
  fileReadTimeout: setting({
    env: 'FILE_READ_TIMEOUT',
    kind: seconds({ min: 0.001, max: 3600 }),
    default: 60,
    readBy: [COMMANDS.uploader],
    doc: 'A single read of a dump that takes longer fails that file\'s attempt (retried later): a hung disk or NFS '
      + 'server under one dump never stops the others.',
    setBy: 'not set',
  }),
  notifyKubeApiUrl: setting({
    env: 'NOTIFY_KUBE_API_URL',
    kind: url(['https:']),
    defaultText: 'https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (set by the kubelet in every pod)',
    readBy: S3_READERS,
    doc: 'API server URL for Kubernetes Events.',
    setBy: 'not set',
  }),
  notifyKubeCredentialsDir: setting({
    env: 'NOTIFY_KUBE_CREDENTIALS_DIR',
    kind: absolutePath(),
    default: DEFAULT_KUBE_CREDENTIALS_DIR,
    readBy: S3_READERS,
    doc: 'Directory with the ServiceAccount `token` (re-read for every request: projected tokens rotate) and `ca.crt`.',
    setBy: 'not set: the projected token volume is mounted at the default',
  }),
  notifyWebhookUrl: setting({
    env: 'NOTIFY_WEBHOOK_URL',
    kind: url(['https:', 'http:']),
    defaultText: 'unset: no webhook (unless NOTIFY_WEBHOOK_URL_FILE)',
    readBy: S3_READERS,
    secret: true,
    doc: 'Webhook URL. Never logged: logs show scheme://host only. Mutually exclusive with NOTIFY_WEBHOOK_URL_FILE.',
    setBy: 'not set (the constructs use NOTIFY_WEBHOOK_URL_FILE)',
  }),
  notifyWebhookUrlFile: setting({
    env: 'NOTIFY_WEBHOOK_URL_FILE',
    kind: absolutePath(),
    defaultText: 'unset: no webhook (unless NOTIFY_WEBHOOK_URL)',
    readBy: S3_READERS,
    doc: 'File holding the webhook URL (a mounted Secret key); re-read for every delivery, so a rotated Secret applies without a restart.',
    setBy: '`uploader` when `notifications.webhook` is set: the Secret\'s key mounted read-only',
  }),
  notifyQueueSize: setting({
    env: 'NOTIFY_QUEUE_SIZE',
    kind: integer({ min: 1, max: 10_000 }),
    default: 100,
    readBy: S3_READERS,
    doc: 'Pending notifications per channel; when full the oldest is dropped and counted.',
    setBy: 'not set',
  }),
  notifyShutdownGrace: setting({
    env: 'NOTIFY_SHUTDOWN_GRACE',
    kind: seconds({ min: 0 }),
    default: 5,
    readBy: S3_READERS,
    doc: 'At shutdown, pending notifications get this long to go out; then they are dropped with a log line.',
    setBy: 'not set',
  }),
  s3CaBundleFile: setting({
    env: 'S3_CA_BUNDLE_FILE',
    kind: absolutePath(),
    defaultText: 'unset: Node\'s built-in public roots only',
    readBy: [COMMANDS.uploader, COMMANDS.api, COMMANDS.analyzer],
    doc: 'PEM file of extra certificate authorities for the S3 endpoint (the AWS SDK does not read AWS_CA_BUNDLE) and the '
      + 'notification webhook, appended '
      + 'to Node\'s built-in roots. Read once at start: a missing or unreadable file, or one without a certificate, stops the '
      + 'agent with exit code 2.',
    setBy: '`uploader` when `caBundle` is set: the ConfigMap key mounted read-only at /etc/heapdump/s3-ca/ca-bundle.crt',
  }),
  notifyRetrievalCli: setting({
    env: 'NOTIFY_RETRIEVAL_CLI',
    kind: oneOf(RETRIEVAL_HINTS, 'RetrievalHint'),
    default: 'off',
    readBy: [COMMANDS.uploader, COMMANDS.analyzer],
    doc: 'The command the Event and the notifications give for getting the dump instead of only its S3 URI: '
      + '`oc heapdump get -n <namespace> <name>` (`oc`), the same with `kubectl`, or none (`off`); with API_WEB_URL also the dump\'s web page.',
    setBy: '`uploader`: `oc` on OpenShift, `kubectl` on Kubernetes, when `api.enabled`',
  }),
  apiHttpsPort: setting({
    env: 'API_HTTPS_PORT',
    kind: integer({ min: 0, max: 65_535, zero: 'any free port' }),
    default: 8443,
    readBy: [COMMANDS.api],
    doc: 'Port of the API (HTTPS): the aggregation layer\'s and bearer-token requests.',
    setBy: '`api` (8443, port name `https`)',
  }),
  apiTlsCertFile: setting({
    env: 'API_TLS_CERT_FILE',
    kind: absolutePath(),
    default: '/etc/heapdump-api/tls/tls.crt',
    readBy: [COMMANDS.api],
    doc: 'Serving certificate (PEM chain), re-read every 30 s: a rotated Secret is served without a restart.',
    setBy: '`api`: the serving certificate Secret (OpenShift service CA or cert-manager)',
  }),
  apiTlsKeyFile: setting({
    env: 'API_TLS_KEY_FILE',
    kind: absolutePath(),
    default: '/etc/heapdump-api/tls/tls.key',
    readBy: [COMMANDS.api],
    doc: 'Private key of the serving certificate.',
    setBy: '`api`: the serving certificate Secret',
  }),
  apiWebMode: setting({
    env: 'API_WEB_MODE',
    kind: oneOf(WEB_MODES, 'WebMode'),
    default: 'off',
    readBy: [COMMANDS.api],
    doc: '`oauth-proxy`: the web page on plain HTTP on 127.0.0.1, for the oauth-proxy sidecar of the same pod, which forwards the '
      + 'user\'s access token (X-Forwarded-Access-Token); `token-login`: the web page on HTTPS with a token login form; `off`: none.',
    setBy: '`api`: `oauth-proxy` on OpenShift, `token-login` on Kubernetes, unless `api.web.enabled` is false',
  }),
  apiWebPort: setting({
    env: 'API_WEB_PORT',
    kind: integer({ min: 0, max: 65_535, zero: 'any free port' }),
    default: 8080,
    readBy: [COMMANDS.api],
    doc: 'Port of the web page (plain HTTP on 127.0.0.1 with `oauth-proxy`, HTTPS on AGENT_HTTP_HOST with `token-login`).',
    setBy: '`api` (8080; with `token-login` named `web`)',
  }),
  apiSessionKeyFile: setting({
    env: 'API_SESSION_KEY_FILE',
    kind: absolutePath(),
    defaultText: 'unset: a random key per process',
    readBy: [COMMANDS.api],
    doc: 'File holding the key that signs `token-login` session cookies (at least 32 bytes); read at start.',
    setBy: '`api`: the `key` of `api.web.sessionSecretName`, mounted optional',
  }),
  apiSessionTtl: setting({
    env: 'API_SESSION_TTL',
    kind: seconds({ min: 60, max: 86_400 }),
    default: 900,
    readBy: [COMMANDS.api],
    doc: 'Lifetime of a `token-login` session cookie; then the user logs in again. Permissions are checked on every request regardless.',
    setBy: 'not set',
  }),
  apiKubeUrl: setting({
    env: 'API_KUBE_URL',
    kind: url(['https:']),
    defaultText: 'https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (set by the kubelet in every pod)',
    readBy: [COMMANDS.api],
    doc: 'Kubernetes API server URL for TokenReviews, SubjectAccessReviews and the requestheader ConfigMap.',
    setBy: 'not set',
  }),
  apiKubeCredentialsDir: setting({
    env: 'API_KUBE_CREDENTIALS_DIR',
    kind: absolutePath(),
    default: DEFAULT_KUBE_CREDENTIALS_DIR,
    readBy: [COMMANDS.api],
    doc: 'Directory with the ServiceAccount `token` (re-read for every request) and `ca.crt`.',
    setBy: 'not set: the projected token volume is mounted at the default',
  }),
  // The `inject` command's variables (agent/src/settings/inject-table.ts).
  ...INJECT_SETTINGS,
};

export type SettingId = keyof typeof SETTINGS;
