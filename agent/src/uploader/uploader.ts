/**
 * The uploader loop: the orchestrator. Each pass: check the bucket when due (bucket-check.ts), scan
 * the tree and fold it into the tracked state (scan-pass.ts, woken early by watcher.ts), start due
 * dumps in the free upload slots, fairly across namespaces (scheduler.ts; each dump's turn:
 * dump-jobs.ts), trim the archive (after-upload.ts), sleep. Jobs run beside the loop: a job's end
 * wakes it. The analyses (summaries) run in their own process, one at a time (analyses.ts), and no
 * upload waits for them.
 *
 * S3 is the only record of what is done (HEAD: same size + sha256 metadata), so a restart uploads
 * nothing twice; the in-memory state only saves work. Up to UPLOAD_SLOTS dumps go at once, never two
 * of one namespace (their parts go in parallel): a tenant's multi-GiB dump cannot hold another
 * tenant's dump for its whole transfer. No file can hold the loop: reads time out, every failure
 * backs off on its own, other dumps keep going.
 */
import { PinnedDir } from '../fs/pinned-dir';
import type { CommandContext } from '../runtime/context';
import type { Logger } from '../runtime/logger';
import { inflateLimit } from '../triage/dump-analysis';
import type { Retainer } from './after-upload';
import { BucketCheck } from './bucket-check';
import { DumpJobs } from './dump-jobs';
import { FailureReporter } from './failures';
import { Housekeeping } from './housekeeping';
import { nodePrefix } from './keys';
import { createUploaderMetrics, type UploaderMetrics } from './metrics';
import { DEFAULT_BACKOFF } from './retry';
import { ScanPass } from './scan-pass';
import { tenantOf } from './scan-rules';
import { FairScheduler } from './scheduler';
import type { S3Store } from './s3-store';
import type { StabilityWindows } from './stability';
import { type Tracked, Tracker } from './tracker';
import { UploadJob } from './upload-job';
import type { UploaderOptions, UploaderSettings } from './uploader-settings';
import { DirWatcher } from './watcher';

export type { VerifiedListener } from './summaries';

export type { UploaderOptions, UploaderSettings } from './uploader-settings';

const EVENT_DEBOUNCE_MS = 250;
/**
 * An event-driven scan waits at least this many times the last scan's own time (a tenant writing
 * nonstop cannot make the loop scan nonstop; the scan's budgets keep that time short).
 */
const SCAN_THROTTLE_FACTOR = 10;

export class Uploader {
  private readonly tracker = new Tracker();
  private readonly scheduler: FairScheduler;
  private readonly watcher: DirWatcher;
  private readonly metrics: UploaderMetrics;
  private readonly failures: FailureReporter;
  private readonly bucket: BucketCheck;
  private readonly scanPass: ScanPass;
  private readonly jobs: DumpJobs;
  private readonly housekeeping: Housekeeping;
  private readonly log: Logger;
  private readonly windows: StabilityWindows;
  /** Running jobs: file id -> (start time, the job's promise). */
  private readonly running = new Map<string, { started: number; done: Promise<void> }>();
  private wakeCtl?: AbortController;
  private debounce?: NodeJS.Timeout;
  private lastScanMs = 0;
  private lastScanEnd = 0;
  private lastBeat = 0;

  constructor(
    private readonly cfg: UploaderSettings,
    private readonly store: S3Store,
    retainer: Retainer,
    private readonly ctx: Pick<CommandContext, 'logger' | 'clock' | 'registry' | 'signal' | 'setReady' | 'heartbeat' | 'stuckReads'>,
    private readonly opts: UploaderOptions,
  ) {
    this.metrics = createUploaderMetrics(ctx.registry);
    this.log = ctx.logger.child('uploader');
    this.scheduler = new FairScheduler(cfg.uploadSlots);
    this.watcher = new DirWatcher(cfg.maxWatches, () => this.onEvent(), this.log);
    this.failures = new FailureReporter(this.log, this.metrics, opts.backoff ?? DEFAULT_BACKOFF, ctx.setReady, store.bucket);
    this.bucket = new BucketCheck(store, nodePrefix(cfg.s3.prefix, cfg.nodeName), opts.readinessIntervalMs ?? 30_000, {
      failures: this.failures, log: this.log, clock: ctx.clock, signal: ctx.signal, ...(opts.lifecycle ? { lifecycle: opts.lifecycle } : {}),
    });
    this.scanPass = new ScanPass(cfg, { watcher: this.watcher, tracker: this.tracker, metrics: this.metrics, failures: this.failures, log: this.log });
    this.windows = {
      completeQuietMs: cfg.completeQuietTimeMs,
      stableMs: cfg.fileStableTimeMs,
      confirmMs: Math.min(1000, cfg.completeQuietTimeMs, cfg.fileStableTimeMs),
    };
    const job = new UploadJob(
      {
        nodeName: cfg.nodeName, prefix: cfg.s3.prefix, gzip: cfg.gzip, digest: cfg.digest, readTimeoutMs: cfg.readTimeoutMs,
        progressIntervalMs: opts.progressIntervalMs ?? 10_000,
        inflateLimit: (size) => inflateLimit(cfg, size),
      },
      { store, clock: ctx.clock, logger: this.log, signal: ctx.signal, onBytes: () => this.beatWhileBusy(), stuck: ctx.stuckReads, ...(opts.analyses ? { analyses: opts.analyses } : {}) },
    );
    this.housekeeping = new Housekeeping(retainer, cfg.dumpRoot, opts.housekeepingIntervalMs ?? 60_000, {
      metrics: this.metrics, failures: this.failures, log: this.log, clock: ctx.clock, signal: ctx.signal,
    });
    this.jobs = new DumpJobs({
      job, tracker: this.tracker, retainer, metrics: this.metrics, failures: this.failures, bucket: this.bucket, log: this.log,
      clock: ctx.clock, signal: ctx.signal, windows: this.windows, keepAfterUpload: cfg.afterUpload === 'keep', summaries: opts.summaries,
      ...(opts.analyses ? { analyses: opts.analyses } : {}),
    });
  }

  /** Runs until the context's signal aborts; resolves once stopped (no upload left running). */
  async run(): Promise<void> {
    const { signal } = this.ctx;
    this.log.info('uploader started', {
      root: this.cfg.dumpRoot,
      bucket: this.store.bucket,
      keyPrefix: nodePrefix(this.cfg.s3.prefix, this.cfg.nodeName),
      patterns: this.cfg.patterns,
      afterUpload: this.cfg.afterUpload,
      checksum: this.cfg.digest,
      uploadSlots: this.cfg.uploadSlots,
    });
    try {
      while (!signal.aborted) {
        this.beat();
        await this.bucket.runIfDue(this.oldestJobStart());
        const root = await this.openRoot();
        if (root) {
          try {
            await this.scan(root);
            this.dispatch(root);
            await this.housekeeping.runIfDue(root, this.tracker.all().filter((t) => t.phase === 'pending').reduce((sum, t) => sum + t.obs.state.size, 0));
          } finally {
            await root.close();
          }
        }
        this.updateGauges();
        await this.sleepUntil(this.nextWake());
      }
    } finally {
      await Promise.allSettled([...this.running.values()].map((r) => r.done));
      await this.opts.summaries.drain();
      this.watcher.close();
      if (this.debounce) clearTimeout(this.debounce);
      this.log.info('uploader stopped');
    }
  }

  // ---- liveness --------------------------------------------------------------------------------

  private beat(): void {
    this.lastBeat = this.ctx.clock.now();
    this.ctx.heartbeat?.('uploader', this.opts.heartbeatMaxSilenceMs ?? 3 * this.cfg.watchIntervalMs + this.cfg.readTimeoutMs + 120_000);
  }

  /** Reading, hashing and sending are progress, not a stuck loop. */
  private beatWhileBusy(): void {
    if (this.ctx.clock.now() - this.lastBeat >= 1000) this.beat();
  }

  private oldestJobStart(): number | undefined {
    let oldest: number | undefined;
    for (const r of this.running.values()) oldest = oldest === undefined ? r.started : Math.min(oldest, r.started);
    return oldest;
  }

  // ---- find and track ----------------------------------------------------------------------------

  /** The root, opened afresh each pass: after a remount by the guard an old descriptor would show the old mount. */
  private async openRoot(): Promise<PinnedDir | undefined> {
    try {
      return await PinnedDir.open(this.cfg.dumpRoot);
    } catch (error) {
      this.failures.once(`root ${(error as NodeJS.ErrnoException).code}`, () =>
        this.log.error('cannot open the dump root', { path: this.cfg.dumpRoot, error: error as Error }));
      return undefined;
    }
  }

  private async scan(root: PinnedDir): Promise<void> {
    const { dropped, busyMs } = await this.scanPass.run(root, () => this.ctx.clock.now(), (id) => this.scheduler.busy(id));
    for (const id of dropped) this.jobs.forget(id);
    this.scheduler.prune(new Set(this.tracker.all().map((t) => tenantOf(t.file.segments))));
    this.lastScanEnd = this.ctx.clock.now();
    // the walk's own time, not the time jobs ran beside it: a busy node must not make event scans rarer
    this.lastScanMs = busyMs;
  }

  private onEvent(): void {
    if (this.debounce) return;
    const throttle = Math.max(EVENT_DEBOUNCE_MS, SCAN_THROTTLE_FACTOR * this.lastScanMs);
    const delay = Math.max(Math.min(EVENT_DEBOUNCE_MS, this.cfg.completeQuietTimeMs || EVENT_DEBOUNCE_MS), this.lastScanEnd + throttle - this.ctx.clock.now());
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      this.wake();
    }, delay);
  }

  private wake(): void {
    this.wakeCtl?.abort();
  }

  private nextWake(): number {
    const now = this.ctx.clock.now();
    const wake = Math.min(now + this.cfg.watchIntervalMs, this.bucket.dueAt, this.tracker.nextDueAt(this.windows, (id) => this.scheduler.busy(id)));
    return Math.max(wake, now + 10);
  }

  private async sleepUntil(at: number): Promise<void> {
    // Shutdown may have begun while this pass ran: an abort listener added now would never fire.
    if (this.ctx.signal.aborted) return;
    const ctl = new AbortController();
    this.wakeCtl = ctl;
    const onAbort = () => ctl.abort();
    this.ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      await this.ctx.clock.sleep(at - this.ctx.clock.now(), ctl.signal);
    } finally {
      this.ctx.signal.removeEventListener('abort', onAbort);
      this.wakeCtl = undefined;
    }
  }

  // ---- upload and settle -------------------------------------------------------------------------

  /** Starts due dumps in the free slots, the namespace served least recently first. */
  private dispatch(root: PinnedDir): void {
    const due = this.tracker.due(this.ctx.clock.now());
    for (;;) {
      if (this.ctx.signal.aborted) return;
      const t = this.scheduler.pick(due);
      if (!t) return;
      // A handle of the job's own, taken now (synchronously): the pass's root closes when the pass
      // ends, and a descriptor number reopened later could already name something else.
      let own: PinnedDir;
      try {
        own = root.reopenSync();
      } catch (error) {
        this.log.warn('cannot reopen the dump root for a job', { error: error as Error });
        return;
      }
      this.scheduler.start(t);
      const done = this.runJob(own, t);
      this.running.set(t.id, { started: this.ctx.clock.now(), done });
    }
  }

  private async runJob(own: PinnedDir, t: Tracked): Promise<void> {
    try {
      await this.jobs.turn(own, t);
    } catch (error) {
      this.log.error('a dump job failed unexpectedly', { error: error as Error });
    } finally {
      await own.close();
      this.scheduler.finish(t.id);
      this.running.delete(t.id);
      this.metrics.jobsRunning.set(this.running.size);
      this.wake();
    }
  }

  // ---- gauges ----------------------------------------------------------------------------------

  private updateGauges(): void {
    const pending = this.tracker.all().filter((t) => t.phase === 'pending');
    this.metrics.backlog.set(pending.length);
    this.metrics.jobsRunning.set(this.running.size);
    const oldest = pending.reduce((m, t) => Math.min(m, t.obs.mtimeMs), Infinity);
    this.metrics.oldestPendingAge.set(pending.length ? Math.max(0, (this.ctx.clock.now() - oldest) / 1000) : 0);
  }
}
