/**
 * Environment -> one resolved, typed config.
 *
 * Every variable the agent reads is described once, in VARIABLES (name, default, what is
 * expected, how the raw string is parsed). The per-command resolvers only pick from it, so
 * a default or a validation rule lives in exactly one place. A bad value throws a
 * ConfigError whose message is one line: the variable, the value and what was expected.
 */
import { COMMANDS, type Command, DEFAULT_DUMP_PATTERNS, ENV, type EnvName, HTTP, PATHS, POD_ENV, WAIT_READY_POD_ENV } from './contract';
import { LOG_LEVELS, type LogLevel } from './runtime/logger';
import { type InjectConfig, resolveInjectConfig } from './inject/config';

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
  readonly readTimeoutMs: number;
  readonly analysis: boolean;
  /** 0 = off. */
  readonly retentionMaxAgeMs: number;
  /** 0 = off. */
  readonly retentionMaxBytes: number;
}

export type Env = Readonly<Record<string, string | undefined>>;

/** A bad configuration value. `message` is the one line printed before exiting with EXIT.config. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

// ---------------------------------------------------------------------------------------------
// Value parsers. Each returns the typed value or throws `Invalid` with what was expected.

class Invalid extends Error {}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
export const STORAGE_CLASSES = [
  'STANDARD', 'REDUCED_REDUNDANCY', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER',
  'GLACIER_IR', 'DEEP_ARCHIVE', 'EXPRESS_ONEZONE', 'OUTPOSTS', 'SNOW',
] as const;
const CHECKSUM_MODES = ['WHEN_REQUIRED', 'WHEN_SUPPORTED'] as const;
export const AFTER_UPLOAD = ['archive', 'delete', 'keep'] as const;
export type AfterUpload = (typeof AFTER_UPLOAD)[number];
export const PAYLOAD_DIGESTS = ['md5', 'sha256'] as const;
export type PayloadDigest = (typeof PAYLOAD_DIGESTS)[number];
const SIZE_UNITS: Record<string, number> = { '': 1, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };

/** Seconds (integer or decimal) -> milliseconds. */
function seconds(opts: { positive: boolean }) {
  return (raw: string): number => {
    if (!/^\d+(\.\d+)?$/.test(raw)) throw new Invalid();
    const ms = Math.round(Number(raw) * 1000);
    if (opts.positive && ms <= 0) throw new Invalid();
    return ms;
  };
}

function integer(min: number, max: number) {
  return (raw: string): number => {
    if (!/^\d+$/.test(raw)) throw new Invalid();
    const n = Number(raw);
    if (n < min || n > max) throw new Invalid();
    return n;
  };
}

function boolean(raw: string): boolean {
  const v = raw.toLowerCase();
  if (['true', '1', 'yes'].includes(v)) return true;
  if (['false', '0', 'no'].includes(v)) return false;
  throw new Invalid();
}

function oneOf<T extends string>(values: readonly T[]) {
  return (raw: string): T => {
    if (!(values as readonly string[]).includes(raw)) throw new Invalid();
    return raw as T;
  };
}

function absolutePath(raw: string): string {
  if (!raw.startsWith('/') || raw.includes('\0')) throw new Invalid();
  return raw.length > 1 ? raw.replace(/\/+$/, '') : raw;
}

function fileName(raw: string): string {
  if (raw.includes('/') || raw === '.' || raw === '..' || raw.includes('\0')) throw new Invalid();
  return raw;
}

function nodeName(raw: string): string {
  if (raw.length > 253 || !DNS1123_SUBDOMAIN.test(raw)) throw new Invalid();
  return raw;
}

/** A namespace name: one folder name by construction (no '/', no '.', not empty). */
function dnsLabel(raw: string): string {
  if (raw.length > 63 || !DNS1123_LABEL.test(raw)) throw new Invalid();
  return raw;
}

function bucket(raw: string): string {
  if (!BUCKET.test(raw) || raw.includes('..') || /^\d+\.\d+\.\d+\.\d+$/.test(raw)) throw new Invalid();
  return raw;
}

/** '' or 'a/b/' (no leading slash, exactly one trailing slash). */
function prefix(raw: string): string {
  if (/[\u0000-\u001f\u007f]/.test(raw)) throw new Invalid();
  const trimmed = raw.replace(/^\/+/, '');
  if (trimmed === '') return '';
  return trimmed.endsWith('/') ? trimmed : trimmed + '/';
}

function httpUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Invalid();
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Invalid();
  return raw.replace(/\/+$/, '');
}

function region(raw: string): string {
  if (!/^[a-z0-9][a-z0-9-]*$/i.test(raw)) throw new Invalid();
  return raw;
}

function patterns(raw: string): string[] {
  const list = raw.split(',').map((p) => p.trim());
  if (list.some((p) => p === '' || p.includes('/'))) throw new Invalid();
  return list;
}

function byteSize(raw: string): number {
  const m = /^(\d+)(Ki|Mi|Gi|Ti)?$/.exec(raw);
  if (!m) throw new Invalid();
  return Number(m[1]) * SIZE_UNITS[m[2] ?? ''];
}

function host(raw: string): string {
  if (!/^[0-9a-zA-Z.:-]+$/.test(raw)) throw new Invalid();
  return raw;
}

// ---------------------------------------------------------------------------------------------
// THE defaults table: every variable, its default (raw string, parsed like a user value; absent =
// no default), what is expected (used verbatim in error messages), and its parser.

interface Variable<T> {
  readonly default?: string;
  readonly expected: string;
  readonly parse: (raw: string) => T;
  /** Never echo the value (errors say "is invalid" without it). */
  readonly secret?: boolean;
}

function v<T>(spec: Variable<T>): Variable<T> {
  return spec;
}

export const VARIABLES = {
  [ENV.nodeName]: v({ expected: 'the node name from the downward API spec.nodeName (a DNS-1123 subdomain)', parse: nodeName }),
  [ENV.httpHost]: v({ default: '0.0.0.0', expected: 'an IP address or host name to bind', parse: host }),
  [ENV.httpPort]: v({ default: String(HTTP.defaultPort), expected: 'a TCP port 0..65535 (0 = any free port)', parse: integer(0, 65535) }),
  [ENV.logLevel]: v({ default: 'info', expected: `one of ${LOG_LEVELS.join(', ')}`, parse: oneOf(LOG_LEVELS) }),
  [ENV.shutdownTimeout]: v({ default: '25', expected: 'a number of seconds > 0', parse: seconds({ positive: true }) }),
  [ENV.dumpRoot]: v({ default: PATHS.consumerDumpRoot, expected: 'an absolute path', parse: absolutePath }),
  [ENV.markerName]: v({ default: PATHS.markerName, expected: 'a file name (no slashes, not . or ..)', parse: fileName }),

  [ENV.mountSourceRoot]: v({ default: PATHS.guardSourceRoot, expected: 'an absolute path', parse: absolutePath }),
  [ENV.mountTarget]: v({ default: PATHS.guardTarget, expected: 'an absolute path', parse: absolutePath }),
  [ENV.mountCheckInterval]: v({ default: '30', expected: 'a number of seconds > 0', parse: seconds({ positive: true }) }),

  [ENV.waitTimeout]: v({ default: '600', expected: 'a number of seconds >= 0 (0 = wait forever)', parse: seconds({ positive: false }) }),

  [ENV.s3Bucket]: v({ expected: 'an S3 bucket name (3-63 chars: lowercase letters, digits, dots, hyphens)', parse: bucket }),
  [ENV.s3Prefix]: v({ default: '', expected: 'a key prefix without control characters', parse: prefix }),
  [ENV.watchInterval]: v({ default: '60', expected: 'a number of seconds > 0', parse: seconds({ positive: true }) }),
  [ENV.fileStableTime]: v({ default: '120', expected: 'a number of seconds >= 0', parse: seconds({ positive: false }) }),
  [ENV.awsAccessKeyId]: v({ expected: 'an access key id', parse: (s) => s }),
  [ENV.awsSecretAccessKey]: v({ expected: 'a secret access key', parse: (s) => s, secret: true }),
  [ENV.awsDefaultRegion]: v({ expected: 'an AWS region name (e.g. us-east-1)', parse: region }),
  [ENV.awsRegion]: v({ default: 'us-east-1', expected: 'an AWS region name (e.g. us-east-1)', parse: region }),
  [ENV.s3EndpointUrl]: v({ expected: 'an http:// or https:// URL, or empty for AWS', parse: httpUrl }),

  [ENV.completeQuietTime]: v({ default: '2', expected: 'a number of seconds >= 0', parse: seconds({ positive: false }) }),
  [ENV.dumpPatterns]: v({ default: DEFAULT_DUMP_PATTERNS.join(','), expected: 'comma-separated file name globs (e.g. *.hprof,*.phd)', parse: patterns }),
  [ENV.s3ForcePathStyle]: v({ expected: 'true or false (default: true when S3_ENDPOINT_URL is set)', parse: boolean }),
  [ENV.s3StorageClass]: v({ default: 'STANDARD', expected: `one of ${STORAGE_CLASSES.join(', ')}`, parse: oneOf(STORAGE_CLASSES) }),
  [ENV.s3ChecksumMode]: v({ default: 'WHEN_REQUIRED', expected: `one of ${CHECKSUM_MODES.join(', ')}`, parse: oneOf(CHECKSUM_MODES) }),
  [ENV.uploadPartSizeMb]: v({ default: '8', expected: 'an integer number of MiB 5..5120 (S3 part size limits)', parse: integer(5, 5120) }),
  [ENV.uploadConcurrency]: v({ default: '4', expected: 'an integer 1..64', parse: integer(1, 64) }),
  [ENV.uploadMultipartThresholdMb]: v({ default: '1024', expected: 'an integer number of MiB 5..5120 (single PUT limit 5 GiB)', parse: integer(5, 5120) }),
  [ENV.uploadGzip]: v({ default: 'false', expected: 'true or false', parse: boolean }),
  [ENV.uploadChecksum]: v({ default: 'md5', expected: `one of ${PAYLOAD_DIGESTS.join(', ')}`, parse: oneOf(PAYLOAD_DIGESTS) }),
  [ENV.afterUpload]: v({ default: 'archive', expected: `one of ${AFTER_UPLOAD.join(', ')}`, parse: oneOf(AFTER_UPLOAD) }),
  [ENV.watchMaxDirectories]: v({ default: '1024', expected: 'an integer 0..100000', parse: integer(0, 100_000) }),
  [ENV.dumpMaxFiles]: v({ default: '10000', expected: 'an integer 1..1000000', parse: integer(1, 1_000_000) }),
  [ENV.fileReadTimeout]: v({ default: '60', expected: 'a number of seconds > 0', parse: seconds({ positive: true }) }),
  [ENV.dumpAnalysis]: v({ default: 'true', expected: 'true or false', parse: boolean }),
  [ENV.retentionMaxAge]: v({ default: '604800', expected: 'a number of seconds >= 0 (0 = off)', parse: seconds({ positive: false }) }),
  [ENV.retentionMaxBytes]: v({ default: '2Gi', expected: 'a byte count with optional Ki/Mi/Gi/Ti suffix (0 = off)', parse: byteSize }),
} satisfies Record<EnvName, Variable<unknown>>;

/**
 * wait-ready's pod-folder rows: their names live apart from ENV in the contract (POD_ENV,
 * WAIT_READY_POD_ENV) until the settings table absorbs them; same rules as VARIABLES.
 */
export const POD_FOLDER_VARIABLES = {
  [WAIT_READY_POD_ENV.createPodFolder]: v({ default: 'false', expected: 'true or false', parse: boolean }),
  [WAIT_READY_POD_ENV.folderGroup]: v({ expected: 'a group id 0..2147483647', parse: integer(0, 2_147_483_647) }),
  [POD_ENV.namespace]: v({ expected: 'the pod namespace from the downward API metadata.namespace (a DNS-1123 label)', parse: dnsLabel }),
  [POD_ENV.name]: v({ expected: 'the pod name from the downward API metadata.name (a DNS-1123 subdomain)', parse: nodeName }),
};

type Vars = typeof VARIABLES & typeof POD_FOLDER_VARIABLES;
const ALL_VARIABLES: Vars = { ...VARIABLES, ...POD_FOLDER_VARIABLES };
type ValueOf<K extends keyof Vars> = Vars[K] extends Variable<infer T> ? T : never;

/** Empty strings count as unset: a ConfigMap key with "" means "use the default". */
function rawValue(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw === '' ? undefined : raw;
}

function invalid(name: string, raw: string, spec: Variable<unknown>): ConfigError {
  const shown = spec.secret ? '' : `="${raw}"`;
  return new ConfigError(name, `${name}${shown} is invalid: expected ${spec.expected}`);
}

/** The parsed value, or the parsed default, or undefined when neither is given. */
function optional<K extends keyof Vars>(env: Env, name: K): ValueOf<K> | undefined {
  const spec = ALL_VARIABLES[name] as Variable<ValueOf<K>>;
  const raw = rawValue(env, name) ?? spec.default;
  if (raw === undefined) return undefined;
  try {
    return spec.parse(raw);
  } catch (e) {
    if (e instanceof Invalid) throw invalid(name, raw, spec);
    throw e;
  }
}

function required<K extends keyof Vars>(env: Env, name: K): ValueOf<K> {
  const value = optional(env, name);
  if (value === undefined) {
    throw new ConfigError(name, `${name} is missing: expected ${ALL_VARIABLES[name].expected}`);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Per-command resolvers.

function common(env: Env): CommonConfig {
  return {
    nodeName: required(env, ENV.nodeName),
    httpHost: required(env, ENV.httpHost),
    httpPort: required(env, ENV.httpPort),
    logLevel: required(env, ENV.logLevel),
    shutdownTimeoutMs: required(env, ENV.shutdownTimeout),
  };
}

export function resolveMountGuardConfig(env: Env): MountGuardConfig {
  return {
    ...common(env),
    sourceRoot: required(env, ENV.mountSourceRoot),
    target: required(env, ENV.mountTarget),
    markerName: required(env, ENV.markerName),
    checkIntervalMs: required(env, ENV.mountCheckInterval),
  };
}

function podFolder(env: Env): PodFolderConfig | undefined {
  if (!required(env, WAIT_READY_POD_ENV.createPodFolder)) return undefined;
  const group = optional(env, WAIT_READY_POD_ENV.folderGroup);
  return {
    namespace: required(env, POD_ENV.namespace),
    pod: required(env, POD_ENV.name),
    ...(group !== undefined ? { group } : {}),
  };
}

export function resolveWaitReadyConfig(env: Env): WaitReadyConfig {
  const folder = podFolder(env);
  return {
    ...common(env),
    dumpRoot: required(env, ENV.dumpRoot),
    markerName: required(env, ENV.markerName),
    timeoutMs: required(env, ENV.waitTimeout),
    ...(folder !== undefined ? { podFolder: folder } : {}),
  };
}

function credentials(env: Env): S3Config['credentials'] {
  const id = optional(env, ENV.awsAccessKeyId);
  const secret = optional(env, ENV.awsSecretAccessKey);
  if (id === undefined && secret === undefined) return undefined;
  // Never echo the secret: name only which half is missing.
  if (id === undefined) {
    throw new ConfigError(ENV.awsAccessKeyId, `${ENV.awsAccessKeyId} is missing: expected it to be set because ${ENV.awsSecretAccessKey} is set (set both, or neither to use the SDK default credential chain)`);
  }
  if (secret === undefined) {
    throw new ConfigError(ENV.awsSecretAccessKey, `${ENV.awsSecretAccessKey} is missing: expected it to be set because ${ENV.awsAccessKeyId} is set (set both, or neither to use the SDK default credential chain)`);
  }
  return { accessKeyId: id, secretAccessKey: secret };
}

function s3(env: Env): S3Config {
  const endpoint = optional(env, ENV.s3EndpointUrl);
  const creds = credentials(env);
  return {
    bucket: required(env, ENV.s3Bucket),
    prefix: required(env, ENV.s3Prefix),
    // AWS_DEFAULT_REGION (prototype name) wins over AWS_REGION (the SDK's name).
    region: optional(env, ENV.awsDefaultRegion) ?? required(env, ENV.awsRegion),
    ...(endpoint !== undefined ? { endpoint } : {}),
    // S3-compatible servers on a custom endpoint rarely have virtual-host DNS: path style by default there.
    forcePathStyle: optional(env, ENV.s3ForcePathStyle) ?? endpoint !== undefined,
    storageClass: required(env, ENV.s3StorageClass),
    checksumMode: required(env, ENV.s3ChecksumMode),
    ...(creds ? { credentials: creds } : {}),
  };
}

export function resolveUploaderConfig(env: Env): UploaderConfig {
  return {
    ...common(env),
    dumpRoot: required(env, ENV.dumpRoot),
    markerName: required(env, ENV.markerName),
    s3: s3(env),
    watchIntervalMs: required(env, ENV.watchInterval),
    fileStableTimeMs: required(env, ENV.fileStableTime),
    completeQuietTimeMs: required(env, ENV.completeQuietTime),
    patterns: required(env, ENV.dumpPatterns),
    partSizeBytes: required(env, ENV.uploadPartSizeMb) * 2 ** 20,
    concurrency: required(env, ENV.uploadConcurrency),
    multipartThresholdBytes: required(env, ENV.uploadMultipartThresholdMb) * 2 ** 20,
    gzip: required(env, ENV.uploadGzip),
    digest: required(env, ENV.uploadChecksum),
    afterUpload: required(env, ENV.afterUpload),
    maxWatches: required(env, ENV.watchMaxDirectories),
    maxFiles: required(env, ENV.dumpMaxFiles),
    readTimeoutMs: required(env, ENV.fileReadTimeout),
    analysis: required(env, ENV.dumpAnalysis),
    retentionMaxAgeMs: required(env, ENV.retentionMaxAge),
    retentionMaxBytes: required(env, ENV.retentionMaxBytes),
  };
}

export type ResolvedConfig =
  | { readonly command: typeof COMMANDS.mountGuard; readonly config: MountGuardConfig }
  | { readonly command: typeof COMMANDS.waitReady; readonly config: WaitReadyConfig }
  | { readonly command: typeof COMMANDS.uploader; readonly config: UploaderConfig }
  | { readonly command: typeof COMMANDS.inject; readonly config: InjectConfig };

export function resolveConfig(command: Command, env: Env): ResolvedConfig {
  switch (command) {
    case COMMANDS.mountGuard:
      return { command, config: resolveMountGuardConfig(env) };
    case COMMANDS.waitReady:
      return { command, config: resolveWaitReadyConfig(env) };
    case COMMANDS.uploader:
      return { command, config: resolveUploaderConfig(env) };
    case COMMANDS.inject:
      // Its own small resolver (agent/src/inject/config.ts) until it joins the settings table.
      return { command, config: resolveInjectConfig(env, common(env)) };
  }
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

const FAMILIES = /^(S3|WATCH|FILE|MOUNT|UPLOAD|RETENTION|DUMP|WAIT|AGENT|MARKER|COMPLETE|DELETE|AFTER)_/;

export interface TypoWarning {
  readonly variable: string;
  readonly suggestion: string;
}

export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** One warning per unknown variable that is within edit distance 2 of, or extends, a known name. */
export function findTypos(env: Env): TypoWarning[] {
  const known = Object.keys(ALL_VARIABLES);
  const warnings: TypoWarning[] = [];
  for (const name of Object.keys(env).sort()) {
    if (known.includes(name) || !FAMILIES.test(name)) continue;
    const match = known
      .map((k) => ({ k, d: editDistance(name, k) }))
      .filter(({ k, d }) => d <= 2 || name.startsWith(k))
      .sort((x, y) => x.d - y.d)[0];
    if (match) warnings.push({ variable: name, suggestion: match.k });
  }
  return warnings;
}
