/**
 * Environment -> one resolved, typed config.
 *
 * Every variable the agent reads is an entry of the settings table (agent/src/settings/table.ts: name,
 * type, default, range, documentation), shared with the constructs' validation and the generated docs.
 * The per-command resolvers only pick from it, so a default or a validation rule lives in exactly one
 * place. A bad value throws a ConfigError whose message is one line: the variable, the value (never
 * for a secret) and what was expected.
 */
import { COMMANDS, type Command, ENV } from './contract';
import { type AnalyzerConfig, resolveAnalyzerConfig } from './analyzer/config';
import type { LogFormat, LogLevel } from './runtime/logger';
import { type ApiConfig, resolveApiConfig } from './api/config';
import { type InjectConfig, resolveInjectConfig } from './inject/config';
import { type NotifyConfig, resolveNotifyConfig } from './report/config';
import { CaBundleError, readCaBundle } from './net/ca-bundle';
import type { ProxyConfig } from './net/proxy';
import type { ObjectEncryption } from './uploader/encryption';
import { collectConfigErrors, ConfigError, type Env, optional, rawValue, reportConfigError, required } from './config-read';
import { envSettings, SETTINGS } from './settings';
import { suggest } from './text/suggest';
import type { AFTER_UPLOAD_ACTIONS, LOG_FORMATS, PAYLOAD_CHECKSUMS } from './settings/table';

export { ConfigError, ConfigErrors, type Env, optional, required } from './config-read';
export { editDistance } from './text/suggest';

export type AfterUpload = (typeof AFTER_UPLOAD_ACTIONS)[number];
/** Payload digests: MD5 (Content-MD5) or SHA-256 (x-amz-checksum-sha256); `auto` is resolved at start. */
export type PayloadDigest = Exclude<(typeof PAYLOAD_CHECKSUMS)[number], 'auto'>;

/**
 * The digest `auto` stands for: AWS S3 checks x-amz-checksum-sha256, which costs one hash where MD5 costs
 * a second one over every byte; any other endpoint gets Content-MD5, the one digest every S3-compatible
 * server checks (Ceph RGW 16 stores an object whose sha256 header does not match; it rejects a bad MD5).
 * `endpoint` is a validated http(s) URL (the setting's kind) or undefined for AWS S3.
 */
export function payloadDigestFor(setting: (typeof PAYLOAD_CHECKSUMS)[number], endpoint: string | undefined): PayloadDigest {
  if (setting !== 'auto') return setting;
  if (endpoint === undefined) return 'sha256';
  const host = new URL(endpoint).hostname.toLowerCase();
  return host.endsWith('.amazonaws.com') || host.endsWith('.amazonaws.com.cn') ? 'sha256' : 'md5';
}

export interface CommonConfig {
  readonly nodeName: string;
  /** Address the HTTP server binds. */
  readonly httpHost: string;
  readonly httpPort: number;
  readonly logLevel: LogLevel;
  /** Hard deadline for the ordered shutdown, ms. */
  readonly shutdownTimeoutMs: number;
}

export interface MountGuardConfig extends CommonConfig {
  /** Where the PVC is mounted in the guard container. */
  readonly sourceRoot: string;
  /** The bind mount target (node's /mnt/dump as the guard sees it). */
  readonly target: string;
  readonly markerName: string;
  readonly checkIntervalMs: number;
}

export interface WaitReadyConfig extends CommonConfig {
  readonly dumpRoot: string;
  readonly markerName: string;
  /** 0 = wait forever. */
  readonly timeoutMs: number;
  /** The pod folder to create (or check) below dumpRoot once ready (WAIT_CREATE_POD_FOLDER=true), or undefined. */
  readonly podFolder?: PodFolderConfig;
}

/** `<dumpRoot>/<namespace>/<pod>`; rules in agent/src/wait-ready/pod-folder.ts. */
export interface PodFolderConfig {
  readonly namespace: string;
  readonly pod: string;
  /** Group of the folder (mode 02770) when set; otherwise the folder is 0700. */
  readonly group?: number;
}

export interface S3Config {
  readonly bucket: string;
  /** Normalised: '' or ends with '/'. */
  readonly prefix: string;
  readonly region: string;
  readonly endpoint?: string;
  readonly forcePathStyle: boolean;
  readonly storageClass: string;
  readonly checksumMode: 'WHEN_REQUIRED' | 'WHEN_SUPPORTED';
  /** Static keys when both are set; otherwise the SDK default chain (IRSA, web identity, ...). */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** Extra trusted CAs for the endpoint (S3_CA_BUNDLE_FILE, read at start). */
  readonly caBundle?: { readonly file: string; readonly pem: string };
  /** HTTPS_PROXY / HTTP_PROXY with NO_PROXY; absent: direct connections. */
  readonly proxy?: ProxyConfig;
}

export interface UploaderConfig extends CommonConfig {
  readonly dumpRoot: string;
  readonly markerName: string;
  readonly s3: S3Config;
  readonly watchIntervalMs: number;
  readonly fileStableTimeMs: number;
  readonly completeQuietTimeMs: number;
  readonly patterns: readonly string[];
  readonly partSizeBytes: number;
  readonly concurrency: number;
  /** Files up to this size are one streamed PutObject, larger ones multipart. */
  readonly multipartThresholdBytes: number;
  readonly gzip: boolean;
  readonly digest: PayloadDigest;
  readonly afterUpload: AfterUpload;
  readonly maxWatches: number;
  readonly maxFiles: number;
  readonly maxFilesPerNamespace: number;
  readonly maxEntriesPerPod: number;
  readonly uploadSlots: number;
  readonly readTimeoutMs: number;
  readonly analysis: boolean;
  /** CPU seconds of an analysis, plus as many per GiB of HPROF. */
  readonly analysisCpuSeconds: number;
  readonly inflateMaxRatio: number;
  readonly inflateMaxBytes: number;
  readonly analysisMaxMemoryBytes: number;
  readonly stateDir: string;
  /** Who is told about each verified dump (Kubernetes Event, webhook). */
  readonly notify: NotifyConfig;
  /** 0 = off. */
  readonly retentionMaxAgeMs: number;
  /** 0 = off. */
  readonly retentionMaxBytes: number;
  /** Server-side encryption requested for every object and checked on the verifying HEAD. */
  readonly encryption: ObjectEncryption;
  /** Tag objects with their pod's namespace and name. */
  readonly objectTags: boolean;
  /** Days dumps stay in S3 (the bucket's lifecycle rule expires them; checked at start). 0 = no check. */
  readonly retentionDays: number;
  /** Where to POST after each verified dump (the leak analyzer's /wake); undefined: no wake-ups. */
  readonly analyzerWakeUrl?: string;
}

// ---------------------------------------------------------------------------------------------
// Per-command resolvers.

export function common(env: Env): CommonConfig {
  return {
    nodeName: required(env, SETTINGS.nodeName),
    httpHost: required(env, SETTINGS.httpHost),
    httpPort: required(env, SETTINGS.httpPort),
    logLevel: required(env, SETTINGS.logLevel),
    shutdownTimeoutMs: required(env, SETTINGS.shutdownTimeout),
  };
}

export function resolveMountGuardConfig(env: Env): MountGuardConfig {
  return {
    ...common(env),
    sourceRoot: required(env, SETTINGS.mountSourceRoot),
    target: required(env, SETTINGS.mountTarget),
    markerName: required(env, SETTINGS.markerName),
    checkIntervalMs: required(env, SETTINGS.mountCheckInterval),
  };
}

function podFolder(env: Env): PodFolderConfig | undefined {
  if (!required(env, SETTINGS.waitCreatePodFolder)) return undefined;
  const group = optional(env, SETTINGS.waitFolderGroup);
  return {
    namespace: required(env, SETTINGS.podNamespace),
    pod: required(env, SETTINGS.podName),
    ...(group !== undefined ? { group } : {}),
  };
}

export function resolveWaitReadyConfig(env: Env): WaitReadyConfig {
  const folder = podFolder(env);
  return {
    ...common(env),
    dumpRoot: required(env, SETTINGS.dumpRoot),
    markerName: required(env, SETTINGS.markerName),
    timeoutMs: required(env, SETTINGS.waitTimeout),
    ...(folder !== undefined ? { podFolder: folder } : {}),
  };
}

function credentials(env: Env): S3Config['credentials'] {
  const id = optional(env, SETTINGS.awsAccessKeyId);
  const secret = optional(env, SETTINGS.awsSecretAccessKey);
  // A value that is set but invalid was reported already (while collecting every problem).
  if (rawValue(env, ENV.awsAccessKeyId) !== undefined && id === undefined) return undefined;
  if (rawValue(env, ENV.awsSecretAccessKey) !== undefined && secret === undefined) return undefined;
  if (id === undefined && secret === undefined) return undefined;
  // Never echo the secret: name only which half is missing.
  if (id === undefined) {
    return reportConfigError(new ConfigError(ENV.awsAccessKeyId, `${ENV.awsAccessKeyId} is missing: expected it to be set because ${ENV.awsSecretAccessKey} is set (set both, or neither to use the SDK default credential chain)`));
  }
  if (secret === undefined) {
    return reportConfigError(new ConfigError(ENV.awsSecretAccessKey, `${ENV.awsSecretAccessKey} is missing: expected it to be set because ${ENV.awsAccessKeyId} is set (set both, or neither to use the SDK default credential chain)`));
  }
  return { accessKeyId: id, secretAccessKey: secret };
}

/** The S3 settings (bucket, prefix, endpoint, credentials, CA bundle, proxy): the uploader's, and the API server's. */
export function resolveS3Config(env: Env): S3Config {
  const endpoint = optional(env, SETTINGS.s3EndpointUrl);
  const creds = credentials(env);
  return {
    bucket: required(env, SETTINGS.s3Bucket),
    prefix: required(env, SETTINGS.s3Prefix),
    // AWS_DEFAULT_REGION (prototype name) wins over AWS_REGION (the SDK's name).
    region: optional(env, SETTINGS.awsDefaultRegion) ?? required(env, SETTINGS.awsRegion),
    ...(endpoint !== undefined ? { endpoint } : {}),
    // S3-compatible servers on a custom endpoint rarely have virtual-host DNS: path style by default there.
    forcePathStyle: optional(env, SETTINGS.s3ForcePathStyle) ?? endpoint !== undefined,
    storageClass: required(env, SETTINGS.s3StorageClass),
    checksumMode: required(env, SETTINGS.s3ChecksumMode),
    ...(creds ? { credentials: creds } : {}),
    ...s3Transport(env),
  };
}

/** How the client reaches the endpoint: the CA bundle (read now: a bad file is a config error) and the proxy. */
function s3Transport(env: Env): Pick<S3Config, 'caBundle' | 'proxy'> {
  const file = optional(env, SETTINGS.s3CaBundleFile);
  let caBundle: S3Config['caBundle'];
  if (file !== undefined) {
    try {
      caBundle = { file, pem: readCaBundle(file) };
    } catch (e) {
      if (!(e instanceof CaBundleError)) throw e;
      const name = ENV.s3CaBundleFile;
      reportConfigError(new ConfigError(name, `${name}="${file}" ${e.message}: expected a readable PEM file with at least one certificate`));
    }
  }
  const httpsProxy = optional(env, SETTINGS.httpsProxy);
  const httpProxy = optional(env, SETTINGS.httpProxy);
  // Checked also without a proxy: a bad value is a mistake either way.
  const noProxy = required(env, SETTINGS.noProxy);
  const proxy = httpsProxy === undefined && httpProxy === undefined ? undefined : {
    ...(httpsProxy !== undefined ? { httpsProxy } : {}),
    ...(httpProxy !== undefined ? { httpProxy } : {}),
    noProxy,
  };
  return { ...(caBundle !== undefined ? { caBundle } : {}), ...(proxy !== undefined ? { proxy } : {}) };
}

/** S3_SERVER_SIDE_ENCRYPTION with S3_SSE_KMS_KEY_ID (a key only with SSE-KMS): the uploader's, and the analyzer's. */
export function encryption(env: Env): ObjectEncryption {
  const mode = required(env, SETTINGS.s3Encryption);
  const key = optional(env, SETTINGS.s3KmsKeyId);
  if (mode === 'SSE-KMS') return { mode, ...(key !== undefined ? { kmsKeyId: key } : {}) };
  if (key !== undefined && mode !== undefined) {
    const name = ENV.s3KmsKeyId;
    reportConfigError(new ConfigError(name, `${name}="${key}" is invalid: expected it unset unless ${ENV.s3Encryption}=SSE-KMS (it is "${mode}")`));
  }
  return { mode };
}

export function resolveUploaderConfig(env: Env): UploaderConfig {
  return {
    ...common(env),
    dumpRoot: required(env, SETTINGS.dumpRoot),
    markerName: required(env, SETTINGS.markerName),
    s3: resolveS3Config(env),
    watchIntervalMs: required(env, SETTINGS.watchInterval),
    fileStableTimeMs: required(env, SETTINGS.fileStableTime),
    completeQuietTimeMs: required(env, SETTINGS.completeQuietTime),
    patterns: required(env, SETTINGS.dumpPatterns),
    partSizeBytes: required(env, SETTINGS.uploadPartSizeMb) * 2 ** 20,
    concurrency: required(env, SETTINGS.uploadConcurrency),
    multipartThresholdBytes: required(env, SETTINGS.uploadMultipartThresholdMb) * 2 ** 20,
    gzip: required(env, SETTINGS.uploadGzip),
    digest: payloadDigestFor(required(env, SETTINGS.uploadChecksum), optional(env, SETTINGS.s3EndpointUrl)),
    afterUpload: required(env, SETTINGS.afterUpload),
    maxWatches: required(env, SETTINGS.watchMaxDirectories),
    maxFiles: required(env, SETTINGS.dumpMaxFiles),
    maxFilesPerNamespace: required(env, SETTINGS.dumpMaxFilesPerNamespace),
    maxEntriesPerPod: required(env, SETTINGS.dumpMaxEntriesPerPod),
    uploadSlots: required(env, SETTINGS.uploadSlots),
    readTimeoutMs: required(env, SETTINGS.fileReadTimeout),
    analysis: required(env, SETTINGS.dumpAnalysis),
    analysisCpuSeconds: required(env, SETTINGS.dumpAnalysisCpuSeconds),
    inflateMaxRatio: required(env, SETTINGS.dumpInflateMaxRatio),
    inflateMaxBytes: required(env, SETTINGS.dumpInflateMaxBytes),
    analysisMaxMemoryBytes: required(env, SETTINGS.dumpAnalysisMaxMemory),
    stateDir: required(env, SETTINGS.uploaderStateDir),
    notify: resolveNotifyConfig(env),
    retentionMaxAgeMs: required(env, SETTINGS.retentionMaxAge),
    retentionMaxBytes: required(env, SETTINGS.retentionMaxBytes),
    encryption: encryption(env),
    objectTags: required(env, SETTINGS.s3ObjectTags),
    retentionDays: required(env, SETTINGS.s3RetentionDays),
    ...optionalEntry('analyzerWakeUrl', optional(env, SETTINGS.analyzerWakeUrl)),
  };
}

/** `{ [name]: value }`, or nothing when the value is undefined (exactOptionalPropertyTypes-friendly spread). */
function optionalEntry<K extends string, V>(name: K, value: V | undefined): { [P in K]?: V } {
  return value === undefined ? {} : ({ [name]: value } as { [P in K]?: V });
}

export type ResolvedConfig =
  | { readonly command: typeof COMMANDS.mountGuard; readonly config: MountGuardConfig }
  | { readonly command: typeof COMMANDS.waitReady; readonly config: WaitReadyConfig }
  | { readonly command: typeof COMMANDS.uploader; readonly config: UploaderConfig }
  | { readonly command: typeof COMMANDS.inject; readonly config: InjectConfig }
  | { readonly command: typeof COMMANDS.api; readonly config: ApiConfig }
  | { readonly command: typeof COMMANDS.analyzer; readonly config: AnalyzerConfig };

/**
 * The command's settings, every variable checked: a ConfigErrors lists each missing or invalid one (not
 * only the first), in table order.
 */
export function resolveConfig(command: Command, env: Env): ResolvedConfig {
  return collectConfigErrors((): ResolvedConfig => {
    switch (command) {
      case COMMANDS.mountGuard:
        checkInPod(env);
        return { command, config: resolveMountGuardConfig(env) };
      case COMMANDS.waitReady:
        return { command, config: resolveWaitReadyConfig(env) };
      case COMMANDS.uploader:
        return { command, config: resolveUploaderConfig(env) };
      case COMMANDS.inject:
        return { command, config: resolveInjectConfig(env, common(env)) };
      case COMMANDS.api:
        return { command, config: resolveApiConfig(env, common(env)) };
      case COMMANDS.analyzer:
        return { command, config: resolveAnalyzerConfig(env, common(env), resolveS3Config(env), resolveNotifyConfig(env)) };
    }
  });
}

/** Set by the kubelet in every container (also with enableServiceLinks false): "this runs in a pod". */
export const IN_POD_ENV = 'KUBERNETES_SERVICE_HOST';

/**
 * The mount guard bind-mounts `<MOUNT_SOURCE_ROOT>/<node>` onto MOUNT_TARGET of the machine it runs on:
 * started by hand as root outside a pod (its defaults are /pv-storage and /host/mnt/dump) it would do
 * exactly that to the host. Outside a pod it runs only when MOUNT_ALLOW_OUTSIDE_POD says so.
 */
function checkInPod(env: Env): void {
  const allowed = required(env, SETTINGS.mountAllowOutsidePod); // checked in a pod too: a bad value is a mistake anyway
  if (rawValue(env, IN_POD_ENV) !== undefined || allowed !== false) return;
  const name = ENV.mountAllowOutsidePod;
  reportConfigError(new ConfigError(name, `mount-guard refuses to run outside a pod (${IN_POD_ENV} is unset): it bind-mounts `
    + `${ENV.mountSourceRoot}/<${ENV.nodeName}> onto ${ENV.mountTarget} of this machine; expected the dump-volume-manager DaemonSet's pod, `
    + `or ${name}=true to do that here on purpose`));
}

/**
 * How logs are written (LOG_FORMAT): `auto` is `text` when stderr is a terminal (a person started the agent
 * by hand), `json` otherwise (a pod: its output goes to a log collector). A bad value falls back to `auto`
 * and is returned as `error`, to be reported with the other problems.
 */
export function resolveLogFormat(env: Env, stderrIsTty: boolean): { readonly format: LogFormat; readonly error?: ConfigError } {
  let setting: (typeof LOG_FORMATS)[number] = 'auto';
  let error: ConfigError | undefined;
  try {
    setting = required(env, SETTINGS.logFormat);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    error = e;
  }
  const format = setting === 'auto' ? (stderrIsTty ? 'text' : 'json') : setting;
  return error === undefined ? { format } : { format, error };
}

/** argv[0] -> a known command, or a ConfigError naming the value and the choices. */
export function parseCommand(arg: string | undefined): Command {
  const commands = Object.values(COMMANDS) as string[];
  if (arg !== undefined && commands.includes(arg)) return arg as Command;
  const shown = arg === undefined ? 'command is missing' : `command "${arg}" is invalid`;
  throw new ConfigError('command', `${shown}: expected one of ${commands.join(', ')}`);
}

// ---------------------------------------------------------------------------------------------
// Typo detection: unknown variables of our families that look like a known name.

/** Prefixes owned by others: the AWS SDK reads many AWS_* variables, Node and the kubelet NODE_*. */
const FOREIGN_FAMILIES = ['AWS', 'NODE'];

/** The first word of every variable the agent reads (S3_, WATCH_, MOUNT_, ...), except FOREIGN_FAMILIES. */
function families(): RegExp {
  const words = new Set(envSettings().map(([, s]) => s.env.split('_')[0]).filter((w) => !FOREIGN_FAMILIES.includes(w)));
  return new RegExp(`^(${[...words].join('|')})_`);
}

export interface TypoWarning {
  readonly variable: string;
  readonly suggestion: string;
}

/** One warning per unknown variable of our families that looks like a known name (text/suggest.ts). */
export function findTypos(env: Env): TypoWarning[] {
  const known = envSettings().map(([, s]) => s.env);
  const ours = families();
  const warnings: TypoWarning[] = [];
  for (const name of Object.keys(env).sort()) {
    if (known.includes(name) || !ours.test(name)) continue;
    const suggestion = suggest(name, known);
    if (suggestion !== undefined) warnings.push({ variable: name, suggestion });
  }
  return warnings;
}
