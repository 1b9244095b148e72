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
  /** Network, 5xx, throttling, timeouts: retry quietly, forever. */
  | 'transient'
  /** Credentials, permissions, missing bucket: one clear log line per cause, not ready, retry slowly. */
  | 'permanent'
  /** The local file cannot be read (permissions): S3 is fine, so readiness is unaffected; retry slowly. */
  | 'local'
  /** The local file vanished: nothing to retry. */
  | 'gone';

export interface ClassifiedFailure {
  readonly kind: FailureKind;
  /** Stable short cause for de-duplicating logs, e.g. `NoSuchBucket`, `AccessDenied`, `ECONNREFUSED`. */
  readonly cause: string;
  readonly message: string;
}

const PERMANENT = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'NoSuchBucket',
  'AllAccessDisabled',
  'InvalidBucketName',
  'AccountProblem',
  'InvalidStorageClass',
  'InvalidArgument',
]);

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
  if (code === 'EACCES' || code === 'EPERM') return { kind: 'local', cause: `local ${code}`, message };
  if (PERMANENT.has(code)) return { kind: 'permanent', cause: code, message };
  // HEAD requests have no body, so the SDK only knows the status.
  if (status === 403) return { kind: 'permanent', cause: 'AccessDenied', message: `403 Forbidden: ${message}` };
  if (status === 404 && (code === 'NotFound' || code === 'NoSuchBucket')) {
    return { kind: 'permanent', cause: 'NoSuchBucket', message: `404 on the bucket: ${message}` };
  }
  if (status === 400 || status === 405 || status === 411) return { kind: 'permanent', cause: `${status} ${code}`, message };
  return { kind: 'transient', cause: String(code), message };
}
