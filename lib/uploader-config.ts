/**
 * Uploader settings -> the ConfigMap data the agent reads. Defaults are resolved here, once, and
 * every value is validated here, so a bad config fails synth with one message.
 */
import { DEFAULT_DUMP_PATTERNS, ENV } from '../agent/src/contract';
import {
  checkBoolean, checkBucketName, checkDnsSubdomain, checkInteger, checkKnownKeys, checkOneOf,
  PipelinePropsError, withPropScope,
} from './validation';

/** Storage classes S3 defines; S3-compatible servers accept a subset (MinIO rejects STANDARD_IA). */
export const S3_STORAGE_CLASSES = [
  'STANDARD', 'REDUCED_REDUNDANCY', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER', 'GLACIER_IR',
  'DEEP_ARCHIVE', 'OUTPOSTS', 'SNOW', 'EXPRESS_ONEZONE',
] as const;
export type S3StorageClass = (typeof S3_STORAGE_CLASSES)[number];

export const CHECKSUM_MODES = ['WHEN_REQUIRED', 'WHEN_SUPPORTED'] as const;
export type ChecksumMode = (typeof CHECKSUM_MODES)[number];

export const AFTER_UPLOAD_ACTIONS = ['archive', 'delete', 'keep'] as const;
export type AfterUploadAction = (typeof AFTER_UPLOAD_ACTIONS)[number];

export const PAYLOAD_CHECKSUMS = ['md5', 'sha256'] as const;
export type PayloadChecksum = (typeof PAYLOAD_CHECKSUMS)[number];

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type AgentLogLevel = (typeof LOG_LEVELS)[number];

/** Static keys, for apps that compose the pipeline with values from a secure source. */
export interface StaticS3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** @default not set in the Secret (the ConfigMap's region applies) */
  readonly region?: string;
  /** @default not set in the Secret (the ConfigMap's endpoint applies) */
  readonly endpointUrl?: string;
}

/** Where the uploader's S3 credentials come from. */
export interface UploaderCredentials {
  /**
   * `secret`: static keys from a Secret the user creates (`oc create secret generic s3-credentials ...`).
   * `workload-identity`: no keys; the SDK's default chain uses the ServiceAccount's identity (IRSA,
   * OpenShift STS, ...), configured through ServiceAccount annotations.
   * @default 'secret'
   */
  readonly source?: 'secret' | 'workload-identity';
  /**
   * Secret holding AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (optionally AWS_DEFAULT_REGION, S3_ENDPOINT_URL).
   * @default 's3-credentials'
   */
  readonly secretName?: string;
  /**
   * Values for a Secret object emitted by the construct. Never put real keys in a committed file:
   * the repo's config leaves this unset, the Secret is created out of band, and `dist/` has none.
   * @default no Secret object is emitted
   */
  readonly secretValues?: StaticS3Credentials;
  /**
   * IAM role for IRSA (`eks.amazonaws.com/role-arn` on the ServiceAccount); workload-identity only.
   * @default none
   */
  readonly roleArn?: string;
  /**
   * Further ServiceAccount annotations for other workload identity systems; workload-identity only.
   * @default none
   */
  readonly serviceAccountAnnotations?: Record<string, string>;
}

/** Uploader settings a user can set (the JSON config's `uploader` object). */
export interface UploaderSettings {
  /** @default 'heap-dumps' */
  readonly bucket?: string;
  /** Key prefix; object keys are `<prefix><node>/<namespace>/<pod>/<file>`. @default 'memory-leak-demo/' */
  readonly prefix?: string;
  /** Seconds between full scans (events wake the uploader earlier). @default 60 */
  readonly watchIntervalSeconds?: number;
  /** Seconds a file must stay unchanged before upload when it is not a structurally complete HPROF. @default 120 */
  readonly fileStableTimeSeconds?: number;
  /** Seconds a structurally complete HPROF must stay unchanged before upload. @default 2 */
  readonly completeQuietTimeSeconds?: number;
  /** File name patterns of dumps. @default ['*.hprof', '*.hprof.gz', '*.phd'] */
  readonly patterns?: readonly string[];
  /** S3 endpoint for S3-compatible servers (http or https URL). @default AWS S3 for the region */
  readonly endpoint?: string;
  /** Path-style addressing (most S3-compatible servers need it). @default true when `endpoint` is set, else false */
  readonly forcePathStyle?: boolean;
  /** @default 'us-east-1' */
  readonly region?: string;
  /** @default 'STANDARD' */
  readonly storageClass?: S3StorageClass;
  /** SDK checksum mode; WHEN_REQUIRED works with S3-compatible servers that reject aws-chunked CRCs. @default 'WHEN_REQUIRED' */
  readonly checksumMode?: ChecksumMode;
  /** Multipart part size in MiB (S3 minimum 5). @default 8 */
  readonly partSizeMb?: number;
  /** Parts uploaded in parallel per file. @default 4 */
  readonly concurrency?: number;
  /** Gzip dumps on the fly. @default false */
  readonly gzip?: boolean;
  /**
   * What happens to a local dump once it is verified in S3. `archive`: moved out of the application's
   * folder into the node's root-owned archive (so the next OOM of a restarted container writes its dump
   * again), bounded by the retention settings; `delete`: removed; `keep`: left in place (the uploader
   * then mounts the dump folder read-only, and a second OOM of the same container writes no dump).
   * @default 'archive'
   */
  readonly afterUpload?: AfterUploadAction;
  /**
   * Digest sent with every PUT and part, checked by the server against the bytes it receives:
   * `md5` (Content-MD5, understood by every S3-compatible server) or `sha256` (x-amz-checksum-sha256:
   * AWS S3 and newer servers; cheaper for one-PUT uploads).
   * @default 'md5'
   */
  readonly payloadChecksum?: PayloadChecksum;
  /** Analyse each HPROF while it is read and write a summary next to the dump. @default true */
  readonly analysis?: boolean;
  /** Remove archived (verified) dumps older than this many seconds (0 = off). @default 604800 (7 days) */
  readonly retentionMaxAgeSeconds?: number;
  /** Keep at most this many bytes of dumps per node; the oldest archived ones go first (0 = off). @default 2147483648 (2 GiB) */
  readonly retentionMaxBytes?: number;
  /** @default 'info' */
  readonly logLevel?: AgentLogLevel;
  /** @default static keys from the Secret `s3-credentials` */
  readonly credentials?: UploaderCredentials;
}

export const UPLOADER_SETTINGS: readonly (keyof UploaderSettings)[] = [
  'bucket', 'prefix', 'watchIntervalSeconds', 'fileStableTimeSeconds', 'completeQuietTimeSeconds', 'patterns',
  'endpoint', 'forcePathStyle', 'region', 'storageClass', 'checksumMode', 'partSizeMb', 'concurrency', 'gzip',
  'afterUpload', 'payloadChecksum', 'analysis', 'retentionMaxAgeSeconds', 'retentionMaxBytes', 'logLevel', 'credentials',
];

/** Credentials after defaults and validation. */
export type ResolvedCredentials =
  | { readonly source: 'secret'; readonly secretName: string; readonly secretValues?: StaticS3Credentials }
  | { readonly source: 'workload-identity'; readonly serviceAccountAnnotations: Record<string, string> };

/** Settings after defaults and validation. */
export interface ResolvedUploaderSettings {
  readonly bucket: string;
  readonly prefix: string;
  readonly watchIntervalSeconds: number;
  readonly fileStableTimeSeconds: number;
  readonly completeQuietTimeSeconds: number;
  readonly patterns: readonly string[];
  /** @default undefined: AWS S3 for the region */
  readonly endpoint?: string;
  readonly forcePathStyle: boolean;
  readonly region: string;
  readonly storageClass: S3StorageClass;
  readonly checksumMode: ChecksumMode;
  readonly partSizeMb: number;
  readonly concurrency: number;
  readonly gzip: boolean;
  readonly afterUpload: AfterUploadAction;
  readonly payloadChecksum: PayloadChecksum;
  readonly analysis: boolean;
  readonly retentionMaxAgeSeconds: number;
  readonly retentionMaxBytes: number;
  readonly logLevel: AgentLogLevel;
  readonly credentials: ResolvedCredentials;
}

function checkPrefix(value: unknown): string {
  // Keys are `<prefix><node>/...`: a leading '/' would make an empty first path segment.
  if (typeof value !== 'string' || value.startsWith('/') || /[\u0000-\u001f\\]/.test(value) || value.length > 512) {
    throw new PipelinePropsError('prefix', value, 'an S3 key prefix such as "memory-leak-demo/" (no leading "/", no control characters or backslashes)');
  }
  return value;
}

function checkPatterns(value: unknown): readonly string[] {
  const ok = Array.isArray(value) && value.length > 0
    && value.every((p) => typeof p === 'string' && p.trim() !== '' && !p.includes(',') && !p.includes('/'));
  if (!ok) throw new PipelinePropsError('patterns', value, 'a non-empty list of file name globs such as ["*.hprof"] (no "," or "/")');
  return value as string[];
}

function checkEndpoint(value: unknown): string {
  let ok = false;
  if (typeof value === 'string') {
    try {
      const url = new URL(value);
      ok = (url.protocol === 'http:' || url.protocol === 'https:') && url.username === '' && url.password === '';
    } catch {
      ok = false;
    }
  }
  if (!ok) throw new PipelinePropsError('endpoint', value, 'an http:// or https:// URL without credentials, e.g. https://s3.example.com:9000');
  return value as string;
}

function checkRegion(value: unknown): string {
  if (typeof value !== 'string' || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(value)) {
    throw new PipelinePropsError('region', value, 'a region name such as us-east-1');
  }
  return value;
}

const REDACTED = '<redacted>';

function resolveCredentials(c: UploaderCredentials | undefined): ResolvedCredentials {
  checkKnownKeys('credentials', c, ['source', 'secretName', 'secretValues', 'roleArn', 'serviceAccountAnnotations']);
  const source = checkOneOf('credentials.source', c?.source ?? 'secret', ['secret', 'workload-identity'] as const);
  if (source === 'secret') {
    if (c?.roleArn !== undefined || c?.serviceAccountAnnotations !== undefined) {
      throw new PipelinePropsError('credentials.source', source, '"workload-identity" when roleArn or serviceAccountAnnotations is set');
    }
    const secretName = checkDnsSubdomain('credentials.secretName', c?.secretName ?? 's3-credentials');
    const v = c?.secretValues;
    if (v === undefined) return { source, secretName };
    withPropScope('credentials.secretValues', () => {
      // Values here are secrets: errors name the key but never echo the value.
      const known = ['accessKeyId', 'secretAccessKey', 'region', 'endpointUrl'];
      const unknown = typeof v === 'object' && v !== null ? Object.keys(v).find((k) => !known.includes(k)) : '';
      if (unknown !== undefined) throw new PipelinePropsError(unknown, REDACTED, `no such setting; known: ${known.join(', ')}`);
      for (const key of ['accessKeyId', 'secretAccessKey'] as const) {
        if (typeof v[key] !== 'string' || v[key].trim() === '') throw new PipelinePropsError(key, REDACTED, 'a non-empty string');
      }
      if (v.region !== undefined) checkRegion(v.region);
      if (v.endpointUrl !== undefined) checkEndpoint(v.endpointUrl);
    });
    return { source, secretName, secretValues: v };
  }
  if (c?.secretName !== undefined || c?.secretValues !== undefined) {
    throw new PipelinePropsError('credentials.source', source, '"secret" when secretName or secretValues is set');
  }
  const annotations: Record<string, string> = { ...(c?.serviceAccountAnnotations ?? {}) };
  if (c?.roleArn !== undefined) {
    if (typeof c.roleArn !== 'string' || !/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/.test(c.roleArn)) {
      throw new PipelinePropsError('credentials.roleArn', c.roleArn, 'an IAM role ARN such as arn:aws:iam::123456789012:role/heap-dump-uploader');
    }
    annotations['eks.amazonaws.com/role-arn'] = c.roleArn;
  }
  if (Object.keys(annotations).length === 0) {
    throw new PipelinePropsError('credentials.roleArn', c?.roleArn, 'a role ARN or serviceAccountAnnotations when source is "workload-identity"');
  }
  return { source, serviceAccountAnnotations: annotations };
}

/** Applies the defaults (the prototype's where it was right) and validates every value. */
export function resolveUploaderSettings(s: UploaderSettings = {}): ResolvedUploaderSettings {
  checkKnownKeys('', s, UPLOADER_SETTINGS);
  const endpoint = s.endpoint === undefined ? undefined : checkEndpoint(s.endpoint);
  return {
    bucket: checkBucketName('bucket', s.bucket ?? 'heap-dumps'),
    prefix: checkPrefix(s.prefix ?? 'memory-leak-demo/'),
    watchIntervalSeconds: checkInteger('watchIntervalSeconds', s.watchIntervalSeconds ?? 60, 1, 86_400),
    fileStableTimeSeconds: checkInteger('fileStableTimeSeconds', s.fileStableTimeSeconds ?? 120, 1, 86_400),
    completeQuietTimeSeconds: checkInteger('completeQuietTimeSeconds', s.completeQuietTimeSeconds ?? 2, 0, 86_400),
    patterns: checkPatterns(s.patterns ?? [...DEFAULT_DUMP_PATTERNS]),
    endpoint,
    forcePathStyle: checkBoolean('forcePathStyle', s.forcePathStyle ?? endpoint !== undefined),
    region: checkRegion(s.region ?? 'us-east-1'),
    storageClass: checkOneOf('storageClass', s.storageClass ?? 'STANDARD', S3_STORAGE_CLASSES),
    checksumMode: checkOneOf('checksumMode', s.checksumMode ?? 'WHEN_REQUIRED', CHECKSUM_MODES),
    partSizeMb: checkInteger('partSizeMb', s.partSizeMb ?? 8, 5, 5120),
    concurrency: checkInteger('concurrency', s.concurrency ?? 4, 1, 64),
    gzip: checkBoolean('gzip', s.gzip ?? false),
    afterUpload: checkOneOf('afterUpload', s.afterUpload ?? 'archive', AFTER_UPLOAD_ACTIONS),
    payloadChecksum: checkOneOf('payloadChecksum', s.payloadChecksum ?? 'md5', PAYLOAD_CHECKSUMS),
    analysis: checkBoolean('analysis', s.analysis ?? true),
    retentionMaxAgeSeconds: checkInteger('retentionMaxAgeSeconds', s.retentionMaxAgeSeconds ?? 604_800, 0),
    retentionMaxBytes: checkInteger('retentionMaxBytes', s.retentionMaxBytes ?? 2 * 1024 ** 3, 0),
    logLevel: checkOneOf('logLevel', s.logLevel ?? 'info', LOG_LEVELS),
    credentials: resolveCredentials(s.credentials),
  };
}

/**
 * The uploader ConfigMap's data: the prototype's keys plus the new ones, all named by the contract.
 * Durations are whole seconds, sizes bytes (part size MiB), booleans "true"/"false", patterns comma-separated.
 */
export function uploaderConfigData(r: ResolvedUploaderSettings): Record<string, string> {
  const data: Record<string, string> = {
    [ENV.s3Bucket]: r.bucket,
    [ENV.s3Prefix]: r.prefix,
    [ENV.watchInterval]: String(r.watchIntervalSeconds),
    [ENV.fileStableTime]: String(r.fileStableTimeSeconds),
    [ENV.completeQuietTime]: String(r.completeQuietTimeSeconds),
    [ENV.dumpPatterns]: r.patterns.join(','),
    [ENV.awsDefaultRegion]: r.region,
    [ENV.s3ForcePathStyle]: String(r.forcePathStyle),
    [ENV.s3StorageClass]: r.storageClass,
    [ENV.s3ChecksumMode]: r.checksumMode,
    [ENV.uploadPartSizeMb]: String(r.partSizeMb),
    [ENV.uploadConcurrency]: String(r.concurrency),
    [ENV.uploadGzip]: String(r.gzip),
    [ENV.afterUpload]: r.afterUpload,
    [ENV.uploadChecksum]: r.payloadChecksum,
    [ENV.dumpAnalysis]: String(r.analysis),
    [ENV.retentionMaxAge]: String(r.retentionMaxAgeSeconds),
    [ENV.retentionMaxBytes]: String(r.retentionMaxBytes),
    [ENV.logLevel]: r.logLevel,
  };
  if (r.endpoint !== undefined) data[ENV.s3EndpointUrl] = r.endpoint;
  return data;
}
