/**
 * One turn of one tracked dump, and what its outcome means: upload it as far as it is ready (upload-job.ts)
 * or settle it once verified (after-upload.ts: archive, delete, keep), then record the result in the
 * tracker, the metrics and the log. Failures back off per file; nothing here can hold another file.
 * Runs with a root handle of its own (the loop's pass may end while a long upload goes on).
 */
import type { PinnedDir } from '../fs/pinned-dir';
import type { Clock } from '../runtime/clock';
import type { Logger } from '../runtime/logger';
import type { HeapSummary } from '../triage/summary';
import type { Retainer } from './after-upload';
import type { Analyses } from './analyses';
import { versionKey } from './analysis-journal';
import type { BucketCheck } from './bucket-check';
import type { FailureReporter } from './failures';
import type { UploaderMetrics } from './metrics';
import { shownId } from './scan-rules';
import { readiness, type StabilityWindows } from './stability';
import type { Summaries } from './summaries';
import type { Tracked, Tracker } from './tracker';
import type { UploadJob, VerifiedDump } from './upload-job';

export interface DumpJobsDeps {
  readonly job: UploadJob;
  readonly tracker: Tracker;
  readonly retainer: Retainer;
  readonly metrics: UploaderMetrics;
  readonly failures: FailureReporter;
  readonly bucket: BucketCheck;
  readonly log: Logger;
  readonly clock: Clock;
  readonly signal: AbortSignal;
  readonly windows: StabilityWindows;
  readonly keepAfterUpload: boolean;
  readonly summaries: Summaries;
  readonly analyses?: Analyses;
}

export class DumpJobs {
  /** Keys written last time whose bytes did not verify: the next attempt overwrites them. */
  private readonly overwrite = new Map<string, string>();

  constructor(private readonly deps: DumpJobsDeps) {}

  /** Works on `t` once: settles a verified dump, or uploads a pending one as far as it is ready. */
  async turn(root: PinnedDir, t: Tracked): Promise<void> {
    if (t.phase === 'done') await this.settle(root, t);
    else await this.upload(root, t);
  }

  /** The file is no longer tracked: what was kept for it goes too. */
  forget(id: string): void {
    this.overwrite.delete(id);
  }

  private async upload(root: PinnedDir, t: Tracked): Promise<void> {
    const { job, tracker, clock } = this.deps;
    const state = readiness(t.obs, clock.now(), this.deps.windows);
    if (state === 'wait') return;
    try {
      const out = await job.run(root, t, state, this.overwrite.get(t.id));
      if (out.kind === 'checked') {
        if (out.check) tracker.setCheck(t, out.state, out.check);
        if (out.pass) tracker.setPass(t, out.pass);
        return;
      }
      if (out.kind !== 'verified') return;
      this.overwrite.delete(t.id);
      const done = tracker.markDone(t, out.state, out.dump.key, this.deps.keepAfterUpload);
      this.verified(versionKey(out.state), out.dump, out.analysis);
      await this.settle(root, done);
    } catch (error) {
      this.attemptFailed(t, error);
    }
  }

  private verified(version: string, dump: VerifiedDump, analysis: Promise<HeapSummary> | undefined): void {
    const { metrics, log, clock } = this.deps;
    metrics.lastSuccess.set(clock.now() / 1000);
    // S3 answered while the last bucket check said it did not: check again now, not in 30 s.
    if (this.deps.failures.bucketReady === false) this.deps.bucket.soon();
    if (dump.duplicate) {
      metrics.duplicates.inc();
      return;
    }
    metrics.uploaded.inc();
    metrics.bytes.inc(dump.storedSize);
    metrics.duration.observe(dump.seconds);
    log.info('uploaded and verified', {
      key: dump.key,
      size: dump.size,
      storedSize: dump.storedSize,
      complete: dump.complete,
      seconds: Number(dump.seconds.toFixed(3)),
      mibPerSecond: Number((dump.size / 2 ** 20 / Math.max(dump.seconds, 0.001)).toFixed(1)),
    });
    // The summary (and the team's notification) follow when the analysis is done; the dump does not wait.
    this.deps.summaries.verified(version, dump, analysis);
  }

  private async settle(root: PinnedDir, t: Tracked): Promise<void> {
    if (!t.done || t.settled) return;
    const { tracker, metrics, log } = this.deps;
    try {
      const result = await this.deps.retainer.settle(root, t.file.segments, t.done.state, t.done.key);
      switch (result) {
        case 'archived':
        case 'deleted':
          metrics.settled.inc({ action: result });
          log.info(result === 'archived' ? 'verified dump moved to the archive' : 'verified dump deleted', { path: shownId(t.id), key: t.done.key });
          this.forgetTracked(t);
          break;
        case 'gone':
          this.forgetTracked(t);
          break;
        case 'changed':
          // A new version is a new dump: the next scan finds it and it goes through the whole job.
          log.info('dump changed after it was verified: the new content will be uploaded', { path: shownId(t.id) });
          tracker.markSettled(t);
          break;
        case 'kept':
          tracker.markSettled(t);
          break;
      }
    } catch (error) {
      if (this.deps.signal.aborted) return;
      tracker.markFailed(t, this.deps.clock.now(), this.deps.failures.settleFailed(t.id, t.done.key, error));
    }
  }

  private forgetTracked(t: Tracked): void {
    this.deps.tracker.forget(t);
    this.forget(t.id);
    if (t.done) this.deps.analyses?.forget(versionKey(t.done.state));
  }

  private attemptFailed(t: Tracked, error: unknown): void {
    const { tracker, metrics, log, clock } = this.deps;
    if (this.deps.signal.aborted) return;
    const overwrite = (error as { overwrite?: string }).overwrite;
    if (overwrite !== undefined) this.overwrite.set(t.id, overwrite);
    const f = this.deps.failures.fileFailed(t.id, t.attempt, error);
    // A failed attempt's abort of its multipart upload may itself have failed (S3 down): abort it at a later bucket check.
    this.deps.bucket.uploadFailed();
    switch (f.failure.kind) {
      case 'gone':
        log.warn('dump vanished before it was uploaded', { path: shownId(t.id), error: f.failure.message });
        this.forgetTracked(t);
        return;
      case 'changed':
        log.info('dump changed during its upload: waiting for it to settle again', { path: shownId(t.id), cause: f.failure.cause });
        tracker.markChanged(t, clock.now());
        return;
      default:
        metrics.retries.inc();
        tracker.markFailed(t, clock.now(), f.delayMs);
        if (f.checkBucket) this.deps.bucket.soon();
    }
  }
}
