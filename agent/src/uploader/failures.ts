/**
 * Failure reporting: what a failure means for readiness, for the file, and for the log.
 *
 * Readiness answers one question, "can this uploader reach its bucket?": only the bucket check
 * (HeadBucket with the configured credentials) changes it. A failed upload of one file never makes
 * the pod unready (it is that file's problem, retried on its own backoff while other dumps keep
 * flowing); when a file's failure looks like a bucket-level refusal (credentials, policy) the loop
 * runs the bucket check early, and that check decides. A dump verified while the pod is unready is
 * evidence the bucket is back: that too runs the check at once rather than at its next interval. Each
 * distinct cause is logged once (per file for local and per-file causes) until things recover; the
 * sets that remember this are bounded.
 */
import type { Logger } from '../runtime/logger';
import { backoffDelay, type BackoffPolicy, classifyFailure, type ClassifiedFailure } from './retry';
import type { UploaderMetrics } from './metrics';

/** Remembered "already said" entries; beyond this the memory is cleared (a line may repeat). */
const MAX_REMEMBERED = 10_000;

export interface FileFailure {
  readonly failure: ClassifiedFailure;
  /** Wait this long before the next attempt. */
  readonly delayMs: number;
  /** The bucket itself may be the problem: check it now. */
  readonly checkBucket: boolean;
}

export class FailureReporter {
  private readonly said = new Set<string>();
  private ready?: boolean;

  constructor(
    private readonly log: Logger,
    private readonly metrics: UploaderMetrics,
    private readonly backoff: BackoffPolicy,
    private readonly setReady: (ready: boolean, reason?: string) => void,
    private readonly bucket: string,
  ) {}

  /** The last bucket check's verdict (undefined before the first). */
  get bucketReady(): boolean | undefined {
    return this.ready;
  }

  bucketOk(): void {
    if (this.ready !== true) this.said.clear();
    this.ready = true;
    this.setReady(true);
  }

  /** The bucket check failed: not ready, one line per cause. */
  bucketFailed(error: unknown): ClassifiedFailure {
    const f = classifyFailure(error);
    this.ready = false;
    this.setReady(false, `${f.cause}: ${f.message}`);
    const hint = f.kind === 'transient' ? 'retrying with backoff' : 'check the bucket name, endpoint, credentials and permissions';
    this.once(`bucket ${f.cause}`, () => (f.kind === 'transient' ? this.log.warn : this.log.error)('S3 check failed', {
      cause: f.cause, error: f.message, bucket: this.bucket, hint,
    }));
    return f;
  }

  /** One file's attempt failed: classify, count, log (once per cause and file), and say when to retry. */
  fileFailed(path: string, attempt: number, error: unknown): FileFailure {
    const f = classifyFailure(error);
    if (f.kind === 'gone' || f.kind === 'changed') return { failure: f, delayMs: 0, checkBucket: false };
    this.metrics.failed.inc();
    this.metrics.fileErrors.inc({ reason: f.kind === 'transient' ? 'transient' : f.cause });
    const slow = f.kind !== 'transient';
    const delayMs = slow ? this.backoff.capMs : backoffDelay(attempt, this.backoff);
    const fields = { path, cause: f.cause, error: f.message, attempt: attempt + 1, retryInMs: delayMs };
    switch (f.kind) {
      case 'local':
        this.once(`local ${f.cause} ${path}`, () => this.log.error('cannot read a dump (local file kept, retrying slowly)', {
          ...fields, hint: 'the uploader reads with CAP_DAC_READ_SEARCH from a regular file; a read that hangs points at the storage',
        }));
        break;
      case 'file':
        this.once(`file ${f.cause} ${path}`, () => this.log.error('S3 refused this dump (local file kept, retrying slowly; other dumps are not affected)', {
          ...fields, hint: 'a request-specific refusal, e.g. a key or metadata too long for the server',
        }));
        break;
      case 'permanent':
        this.once(`permanent ${f.cause}`, () => this.log.error('S3 refused an upload (local file kept)', {
          ...fields, bucket: this.bucket,
          hint: f.cause === 'ENOTENCRYPTED'
            ? 'the server does not store objects with the requested encryption (uploader.encryption): check its KMS setup, or a proxy that drops headers; the object is written again at the next attempt'
            : 'check the credentials and the bucket policy; the bucket is checked again now',
        }));
        break;
      case 'transient':
        if (this.said.has(`transient ${f.cause}`)) this.log.warn('upload failed again (local file kept)', fields);
        else this.once(`transient ${f.cause}`, () => this.log.warn('upload failed (local file kept), retrying with backoff', fields));
        break;
    }
    return { failure: f, delayMs, checkBucket: f.kind === 'permanent' || f.kind === 'transient' };
  }

  /**
   * A verified dump could not be archived or deleted (read-only or full volume, a folder the tenant
   * changed under us, ...). The dump is safe in S3 and stays where it is: this is not an upload
   * failure (no upload metric, no bucket check), it is retried slowly and said once per cause.
   */
  settleFailed(path: string, key: string, error: unknown): number {
    const e = error as NodeJS.ErrnoException;
    const code = e?.code ?? e?.name ?? 'Error';
    this.metrics.settleErrors.inc({ reason: code });
    this.once(`settle ${code} ${path}`, () => this.log.error('a verified dump could not be moved out of its folder (it stays there; retrying slowly)', {
      path, key, cause: code, error: e?.message ?? String(error), retryInMs: this.backoff.capMs,
      hint: 'the dump is safe in S3; check that the dump volume is writable and has room (the uploader needs it writable unless AFTER_UPLOAD=keep)',
    }));
    return this.backoff.capMs;
  }

  /** Says something once until the next recovery (bounded memory). */
  once(key: string, say: () => void): void {
    if (this.said.has(key)) return;
    if (this.said.size >= MAX_REMEMBERED) this.said.clear();
    this.said.add(key);
    say();
  }
}
