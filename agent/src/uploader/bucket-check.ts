/**
 * Readiness: "can this uploader reach its bucket?", checked every `intervalMs` (and at once when an
 * upload's failure or success suggests the answer changed), and the clean-up of multipart uploads an
 * earlier run (or a failed attempt whose own abort failed) left open under this node's prefix. Jobs
 * run beside the check, so it aborts only uploads initiated well before the oldest running job began
 * (ORPHAN_MARGIN_MS covers a server clock behind ours); younger orphans go at a later check.
 */
import type { Clock } from '../runtime/clock';
import type { Logger } from '../runtime/logger';
import type { FailureReporter } from './failures';
import type { LifecycleCheck } from './lifecycle';
import { classifyFailure } from './retry';
import type { S3Store } from './s3-store';

const ORPHAN_MARGIN_MS = 5 * 60_000;

export class BucketCheck {
  private nextAt = 0;
  private orphansCleaned = false;

  constructor(
    private readonly store: S3Store,
    private readonly prefix: string,
    private readonly intervalMs: number,
    private readonly deps: {
      readonly failures: FailureReporter; readonly log: Logger; readonly clock: Clock; readonly signal: AbortSignal;
      /** The bucket's lifecycle rule, checked after a successful bucket check (it paces itself). */
      readonly lifecycle?: Pick<LifecycleCheck, 'check'>;
    },
  ) {}

  /** When the next check is due. */
  get dueAt(): number {
    return this.nextAt;
  }

  /** Check at the next pass. */
  soon(): void {
    this.nextAt = Math.min(this.nextAt, this.deps.clock.now());
  }

  /** An attempt failed: its abort of a multipart upload may have failed too (S3 down): clean up again once S3 answers. */
  uploadFailed(): void {
    this.orphansCleaned = false;
  }

  /** `oldestJobStart`: when the oldest running job began (undefined: none runs). */
  async runIfDue(oldestJobStart: number | undefined): Promise<void> {
    if (this.deps.clock.now() < this.nextAt) return;
    this.nextAt = this.deps.clock.now() + this.intervalMs;
    try {
      await this.store.checkBucket(this.deps.signal);
      this.deps.failures.bucketOk();
      if (!this.orphansCleaned) await this.cleanOrphans(oldestJobStart).catch((error) => this.orphanCleanupFailed(error));
      await this.deps.lifecycle?.check(this.deps.signal);
    } catch (error) {
      if (this.deps.signal.aborted) return;
      this.deps.failures.bucketFailed(error);
    }
  }

  private async cleanOrphans(oldestJobStart: number | undefined): Promise<void> {
    const aborted = await this.store.abortOrphans(this.prefix, oldestJobStart === undefined ? undefined : new Date(oldestJobStart - ORPHAN_MARGIN_MS));
    // with jobs running, younger orphans were left: look again at the next check
    this.orphansCleaned = oldestJobStart === undefined || aborted === undefined;
    if (aborted === undefined) this.deps.log.debug('server cannot list multipart uploads: orphan clean-up skipped', { prefix: this.prefix });
    else if (aborted > 0) this.deps.log.info('aborted orphaned multipart uploads', { prefix: this.prefix, count: aborted });
  }

  /**
   * Listing or aborting multipart uploads may be denied by a bucket policy that allows uploads: that
   * is not a reason to be unready (or to flap every check). Say so once and do not retry.
   */
  private orphanCleanupFailed(error: unknown): void {
    if (this.deps.signal.aborted) return;
    this.orphansCleaned = true;
    const f = classifyFailure(error);
    this.deps.log.warn('orphaned multipart upload clean-up failed; open uploads under this node may remain', {
      cause: f.cause, error: f.message, hint: 'allow s3:ListBucketMultipartUploads and s3:AbortMultipartUpload on the bucket',
    });
  }
}
