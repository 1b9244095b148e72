/** Retry policy (pure): exponential backoff with full jitter, and which failures are worth a loud log. */

export interface BackoffPolicy {
  readonly baseMs: number;
  readonly capMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 500, capMs: 60_000 };

/** Full jitter: uniform in [0, min(cap, base * 2^attempt)]. `attempt` counts from 0. */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

export type FailureKind =
  /** Network, 5xx, throttling, timeouts: retry quietly, with backoff, forever. */
  | 'transient'
  /** Credentials, permissions, missing bucket: one clear log line per cause, retry slowly. */
  | 'permanent'
  /**
   * This file's request was refused for a reason of its own (key too long, metadata too large,
   * object too large ...): S3 is fine and other dumps keep flowing; the file backs off on its own.
   */
  | 'file'
  /** The file changed between the two reads (the server saw another digest): observe it again. */
  | 'changed'
  /** The local file cannot be read (permissions, not a regular file, a read that hangs): retry slowly. */
  | 'local'
  /** The local file vanished: nothing to retry. */
  | 'gone';

export interface ClassifiedFailure {
  readonly kind: FailureKind;
  /** Stable short cause for de-duplicating logs and labelling metrics, e.g. `NoSuchBucket`, `KeyTooLongError`, `ECONNREFUSED`. */
  readonly cause: string;
  readonly message: string;
}

/** Bucket-level refusals: they say something about the credentials, the policy or the bucket. */
const PERMANENT = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'NoSuchBucket',
  'AllAccessDisabled',
  'InvalidBucketName',
  'AccountProblem',
  'InvalidStorageClass',
  // The server stored an object without the requested server-side encryption (upload-job.ts): its configuration, not this dump.
  'ENOTENCRYPTED',
]);

/** Refusals of one request for what it carries (S3 error codes). */
const PER_FILE = new Set([
  'KeyTooLongError',
  'MetadataTooLarge',
  'EntityTooLarge',
  'EntityTooSmall',
  'InvalidArgument',
  'InvalidRequest',
  'InvalidPart',
  'InvalidPartOrder',
  'MalformedXML',
  'InvalidDigest',
  'UserKeyMustBeSpecified',
]);

/** The bytes the server received are not the bytes whose digest was sent. */
const CHANGED = new Set(['BadDigest', 'XAmzContentSHA256Mismatch', 'ECHANGED', 'ESWAPPED', 'EVERIFY']);

/** Local conditions: the file is there but cannot (or must not) be read. */
const LOCAL = new Set(['EACCES', 'EPERM', 'ENOTREG', 'ELOOP', 'ENOTDIR', 'EREADTIMEOUT', 'EIO', 'EUNSAFENAME']);

interface ErrorLike {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number };
}

export function classifyFailure(error: unknown): ClassifiedFailure {
  const e = (error ?? {}) as ErrorLike;
  const message = e.message ?? String(error);
  const code = e.Code ?? e.code ?? e.name ?? 'Error';
  const status = e.$metadata?.httpStatusCode ?? e.$response?.statusCode;
  if (code === 'ENOENT' || code === 'ESHRUNK' || code === 'EVANISHED') return { kind: 'gone', cause: code, message };
  if (CHANGED.has(code) || (code === 'InvalidRequest' && /checksum/i.test(message))) return { kind: 'changed', cause: code, message };
  if (LOCAL.has(code)) return { kind: 'local', cause: `local ${code}`, message };
  if (PERMANENT.has(code)) return { kind: 'permanent', cause: code, message };
  if (PER_FILE.has(code)) return { kind: 'file', cause: code, message };
  // HEAD requests have no body, so the SDK only knows the status.
  if (status === 403) return { kind: 'permanent', cause: 'AccessDenied', message: `403 Forbidden: ${message}` };
  if (status === 404 && (code === 'NotFound' || code === 'NoSuchBucket')) {
    return { kind: 'permanent', cause: 'NoSuchBucket', message: `404 on the bucket: ${message}` };
  }
  if (status === 400 || status === 405 || status === 411 || status === 413) return { kind: 'file', cause: `${status} ${code}`, message };
  return { kind: 'transient', cause: String(code), message };
}
