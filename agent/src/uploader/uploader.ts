/**
 * The uploader loop: the orchestrator. Each pass: check the bucket when due, scan the tree (find:
 * scanner.ts, woken early by watcher.ts), fold what it found into the tracked state (track:
 * tracker.ts), run the due upload jobs one at a time (upload: upload-job.ts), settle verified dumps
 * and trim the archive (retain: after-upload.ts), report failures (failures.ts), sleep.
 *
 * S3 is the only record of what is done (HEAD: same size + sha256 metadata), so a restart uploads
 * nothing twice; the in-memory state only saves work. One file is uploaded at a time (its parts go in
 * parallel): dumps are few and large, and one at a time keeps memory and disk reads predictable. No
 * file can hold the loop: reads time out, every failure backs off on its own, other dumps keep going.
 */
import type { AfterUpload, PayloadDigest } from '../config';
import { OBJECT_METADATA } from '../contract';
import { PinnedDir } from '../fs/pinned-dir';
import type { CommandContext } from '../runtime/context';
import type { Logger } from '../runtime/logger';
import { type Retainer, volumeUsage } from './after-upload';
import { FailureReporter } from './failures';
import { nodePrefix } from './keys';
import { createUploaderMetrics, type UploaderMetrics } from './metrics';
import { backoffDelay, type BackoffPolicy, classifyFailure, DEFAULT_BACKOFF } from './retry';
import { DEFAULT_SCAN_LIMITS, scanDumps } from './scanner';
import type { LifecycleCheck } from './lifecycle';
import { podTags } from './object-tags';
import type { S3Store } from './s3-store';
import { readiness, readyAt, type StabilityWindows } from './stability';
import { type Tracked, Tracker } from './tracker';
import { type DumpKind, kindOfName, type Triage, type TriageOutcome, UploadJob, type VerifiedDump } from './upload-job';
import { DirWatcher } from './watcher';

/** What the loop needs from the resolved config (UploaderConfig satisfies it). */
export interface UploaderSettings {
  readonly nodeName: string;
  readonly dumpRoot: string;
  readonly markerName: string;
  readonly s3: { readonly prefix: string };
  readonly patterns: readonly string[];
  readonly watchIntervalMs: number;
  readonly fileStableTimeMs: number;
  readonly completeQuietTimeMs: number;
  readonly gzip: boolean;
  readonly digest: PayloadDigest;
  readonly afterUpload: AfterUpload;
  readonly maxWatches: number;
  readonly maxFiles: number;
  readonly readTimeoutMs: number;
  readonly retentionMaxAgeMs: number;
  readonly retentionMaxBytes: number;
}

/** Told about every verified dump (notifications, events); must not throw or block. */
export type VerifiedListener = (dump: VerifiedDump, triage: TriageOutcome | undefined) => void;

export interface UploaderOptions {
  readonly backoff?: BackoffPolicy;
  /** How often S3 reachability (readiness) is re-checked. @default 30 s */
  readonly readinessIntervalMs?: number;
  /** Log upload progress at most this often. @default 10 s */
  readonly progressIntervalMs?: number;
  /**
   * /healthz fails when the loop has been silent this long (a stuck loop gets the pod restarted).
   * The loop beats once per pass and while bytes are read or sent.
   * @default 3 x WATCH_INTERVAL + FILE_READ_TIMEOUT + 120 s
   */
  readonly heartbeatMaxSilenceMs?: number;
  /** The triage analysis for a dump of this kind, or undefined. @default none */
  readonly triage?: (kind: DumpKind) => Triage | undefined;
  /** @default none */
  readonly onVerified?: VerifiedListener;
  /** How often the archive is trimmed and local usage measured. @default 60 s */
  readonly housekeepingIntervalMs?: number;
  /** Checks the bucket's lifecycle rule after a successful bucket check (it paces itself). @default none */
  readonly lifecycle?: Pick<LifecycleCheck, 'check'>;
}

const EVENT_DEBOUNCE_MS = 250;
/** Attempts to write a dump's summary objects (transient errors only are retried). */
const SUMMARY_ATTEMPTS = 4;
/** An event-driven scan waits at least this many times the last scan's duration (a tenant writing nonstop cannot make the loop scan nonstop). */
const SCAN_THROTTLE_FACTOR = 10;

export class Uploader {
  private readonly tracker: Tracker;
  private readonly watcher: DirWatcher;
  private readonly metrics: UploaderMetrics;
  private readonly failures: FailureReporter;
  private readonly job: UploadJob;
  private readonly log: Logger;
  private readonly windows: StabilityWindows;
  private wakeCtl?: AbortController;
  private debounce?: NodeJS.Timeout;
  private orphansCleaned = false;
  private nextReadinessAt = 0;
  private nextHousekeepingAt = 0;
  private lastScanMs = 0;
  private lastScanEnd = 0;
  private lastBeat = 0;
  /** Keys written last time whose bytes did not verify: the next attempt overwrites them. */
  private readonly overwrite = new Map<string, string>();

  constructor(
    private readonly cfg: UploaderSettings,
    private readonly store: S3Store,
    private readonly retainer: Retainer,
    private readonly ctx: Pick<CommandContext, 'logger' | 'clock' | 'registry' | 'signal' | 'setReady' | 'heartbeat' | 'stuckReads'>,
    private readonly opts: UploaderOptions = {},
  ) {
    this.metrics = createUploaderMetrics(ctx.registry);
    this.log = ctx.logger.child('uploader');
    this.tracker = new Tracker(cfg.maxFiles);
    this.watcher = new DirWatcher(cfg.maxWatches, () => this.onEvent(), this.log);
    this.failures = new FailureReporter(this.log, this.metrics, opts.backoff ?? DEFAULT_BACKOFF, ctx.setReady, store.bucket);
    this.windows = {
      completeQuietMs: cfg.completeQuietTimeMs,
      stableMs: cfg.fileStableTimeMs,
      confirmMs: Math.min(1000, cfg.completeQuietTimeMs, cfg.fileStableTimeMs),
    };
    this.job = new UploadJob(
      {
        nodeName: cfg.nodeName, prefix: cfg.s3.prefix, gzip: cfg.gzip, digest: cfg.digest, readTimeoutMs: cfg.readTimeoutMs,
        progressIntervalMs: opts.progressIntervalMs ?? 10_000,
      },
      { store, clock: ctx.clock, logger: this.log, signal: ctx.signal, onBytes: () => this.beatWhileBusy(), stuck: ctx.stuckReads, triage: opts.triage },
    );
  }

  /** Runs until the context's signal aborts; resolves once stopped (no upload left running). */
  async run(): Promise<void> {
    const { signal, clock } = this.ctx;
    this.log.info('uploader started', {
      root: this.cfg.dumpRoot,
      bucket: this.store.bucket,
      keyPrefix: nodePrefix(this.cfg.s3.prefix, this.cfg.nodeName),
      patterns: this.cfg.patterns,
      afterUpload: this.cfg.afterUpload,
      checksum: this.cfg.digest,
    });
    try {
      while (!signal.aborted) {
        this.beat();
        if (clock.now() >= this.nextReadinessAt) await this.checkBucket();
        const root = await this.openRoot();
        if (root) {
          try {
            await this.scan(root);
            await this.processDue(root);
            if (clock.now() >= this.nextHousekeepingAt) await this.housekeeping(root);
          } finally {
            await root.close();
          }
        }
        this.updateGauges();
        await this.sleepUntil(this.nextWake());
      }
    } finally {
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

  /** Reading, hashing, analysing and sending are progress, not a stuck loop. */
  private beatWhileBusy(): void {
    if (this.ctx.clock.now() - this.lastBeat >= 1000) this.beat();
  }

  // ---- the bucket (readiness) ------------------------------------------------------------------

  private async checkBucket(): Promise<void> {
    this.nextReadinessAt = this.ctx.clock.now() + (this.opts.readinessIntervalMs ?? 30_000);
    try {
      await this.store.checkBucket(this.ctx.signal);
      this.failures.bucketOk();
      if (!this.orphansCleaned) await this.cleanOrphans().catch((error) => this.orphanCleanupFailed(error));
      await this.opts.lifecycle?.check(this.ctx.signal);
    } catch (error) {
      if (this.ctx.signal.aborted) return;
      this.failures.bucketFailed(error);
    }
  }

  private async cleanOrphans(): Promise<void> {
    const prefix = nodePrefix(this.cfg.s3.prefix, this.cfg.nodeName);
    const aborted = await this.store.abortOrphans(prefix);
    this.orphansCleaned = true;
    if (aborted === undefined) this.log.debug('server cannot list multipart uploads: orphan clean-up skipped', { prefix });
    else if (aborted > 0) this.log.info('aborted orphaned multipart uploads', { prefix, count: aborted });
  }

  /**
   * Listing or aborting multipart uploads may be denied by a bucket policy that allows uploads: that
   * is not a reason to be unready (or to flap every check). Say so once and do not retry.
   */
  private orphanCleanupFailed(error: unknown): void {
    if (this.ctx.signal.aborted) return;
    this.orphansCleaned = true;
    const f = classifyFailure(error);
    this.log.warn('orphaned multipart upload clean-up failed; open uploads under this node may remain', {
      cause: f.cause, error: f.message, hint: 'allow s3:ListBucketMultipartUploads and s3:AbortMultipartUpload on the bucket',
    });
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
    const started = this.ctx.clock.now();
    this.watcher.beginScan();
    const result = await scanDumps(root, {
      patterns: this.cfg.patterns,
      markerName: this.cfg.markerName,
      limits: { ...DEFAULT_SCAN_LIMITS, maxFiles: this.cfg.maxFiles },
      onDir: (dir, segments) => this.watcher.add(dir, segments),
    });
    const complete = !result.truncated.dirs;
    const watch = this.watcher.endScan(complete);
    this.metrics.watched.set(watch.watched);
    this.metrics.unwatched.set(watch.unwatched);
    for (const e of result.errors) {
      // Vanished or swapped folders are the tree changing under the scan; a permission error is not.
      if (e.error.code === 'EACCES' || e.error.code === 'EPERM') {
        this.failures.once(`scan ${e.error.code} ${e.path}`, () => this.log.error('cannot read a folder of the dump tree: its dumps are not seen', {
          path: e.path, error: e.error, hint: 'the uploader reads other users\' folders with CAP_DAC_READ_SEARCH (granted by its SCC)',
        }));
      } else {
        this.log.debug('cannot read a directory', { path: e.path, error: e.error });
      }
    }
    if (result.truncated.dirs || result.truncated.depth) {
      this.failures.once('scan truncated', () => this.log.warn('the dump tree is larger than the scan limits: the rest is not looked at', {
        dirs: result.dirCount, truncatedDirs: result.truncated.dirs, truncatedDepth: result.truncated.depth,
      }));
    }
    const now = this.ctx.clock.now();
    const { untracked, newlySkipped } = this.tracker.reconcile(result.files, result.skipped, now);
    this.metrics.untracked.set(untracked + (result.truncated.files ? 1 : 0));
    if (untracked > 0 || result.truncated.files) {
      this.failures.once('too many files', () => this.log.warn('more dump files than DUMP_MAX_FILES: the rest waits until others are gone', { limit: this.cfg.maxFiles }));
    }
    for (const s of newlySkipped) {
      this.metrics.skipped.inc({ reason: s.reason });
      // Once per entry and reason: a tenant flipping a FIFO onto a dump's name must not flood the log.
      this.failures.once(`skip ${s.reason} ${s.id}`, () =>
        this.log.warn('not uploading a matching entry that is not a plain dump file', { path: s.id, reason: s.reason }));
    }
    this.lastScanEnd = this.ctx.clock.now();
    this.lastScanMs = this.lastScanEnd - started;
  }

  private onEvent(): void {
    if (this.debounce) return;
    const throttle = Math.max(EVENT_DEBOUNCE_MS, SCAN_THROTTLE_FACTOR * this.lastScanMs);
    const delay = Math.max(Math.min(EVENT_DEBOUNCE_MS, this.cfg.completeQuietTimeMs || EVENT_DEBOUNCE_MS), this.lastScanEnd + throttle - this.ctx.clock.now());
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      this.wakeCtl?.abort();
    }, delay);
  }

  private nextWake(): number {
    const now = this.ctx.clock.now();
    let wake = Math.min(now + this.cfg.watchIntervalMs, this.nextReadinessAt);
    for (const t of this.tracker.all()) {
      if (t.phase === 'done' && !t.settled) wake = Math.min(wake, t.nextAttemptAt);
      if (t.phase !== 'pending') continue;
      // The short window applies unless this very version already failed its completeness check.
      const kind = kindOfName(t.file.segments[t.file.segments.length - 1]);
      const failed = (Tracker.current(t.check, t.obs.state) && t.check?.verdict.kind !== 'complete')
        || (Tracker.current(t.pass, t.obs.state) && kind === 'hprof-gzip' && !t.pass?.result.decoded?.complete);
      const window = kind !== 'other' && !failed ? this.windows.completeQuietMs : this.windows.stableMs;
      wake = Math.min(wake, Math.max(readyAt(t.obs, window, this.windows), t.nextAttemptAt));
    }
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

  private async processDue(root: PinnedDir): Promise<void> {
    for (const t of this.tracker.due(this.ctx.clock.now())) {
      if (this.ctx.signal.aborted) return;
      if (t.phase === 'done') await this.settle(root, t);
      else await this.upload(root, t);
    }
  }

  private async upload(root: PinnedDir, t: Tracked): Promise<void> {
    const state = readiness(t.obs, this.ctx.clock.now(), this.windows);
    if (state === 'wait') return;
    try {
      const out = await this.job.run(root, t, state, this.overwrite.get(t.id));
      if (out.kind === 'checked') {
        if (out.check) this.tracker.setCheck(t, out.state, out.check);
        if (out.pass) this.tracker.setPass(t, out.pass);
        return;
      }
      if (out.kind !== 'verified') return;
      this.overwrite.delete(t.id);
      const done = this.tracker.markDone(t, out.state, out.dump.key, this.cfg.afterUpload === 'keep');
      this.verified(out.dump, out.triage);
      await this.settle(root, done);
    } catch (error) {
      this.attemptFailed(t, error);
    }
  }

  private verified(dump: VerifiedDump, triage: TriageOutcome | undefined): void {
    this.metrics.lastSuccess.set(this.ctx.clock.now() / 1000);
    // S3 answered while the last bucket check said it did not: check again now, not in 30 s.
    if (this.failures.bucketReady === false) this.nextReadinessAt = this.ctx.clock.now();
    if (dump.duplicate) {
      this.metrics.duplicates.inc();
    } else {
      this.metrics.uploaded.inc();
      this.metrics.bytes.inc(dump.storedSize);
      this.metrics.duration.observe(dump.seconds);
      this.log.info('uploaded and verified', {
        key: dump.key,
        size: dump.size,
        storedSize: dump.storedSize,
        complete: dump.complete,
        seconds: Number(dump.seconds.toFixed(3)),
        mibPerSecond: Number((dump.size / 2 ** 20 / Math.max(dump.seconds, 0.001)).toFixed(1)),
      });
    }
    if (triage && dump.summaryKeys && !dump.duplicate) void this.writeSummary(dump, triage);
    else if (!dump.duplicate) this.opts.onVerified?.(dump, triage);
  }

  /**
   * After the dump is verified; never blocks or fails the dump. Transient S3 errors are retried a few
   * times with backoff (the summary is small; the dump's upload does not wait for it); then a failure is
   * logged and counted.
   */
  private async writeSummary(dump: VerifiedDump, triage: TriageOutcome): Promise<void> {
    const keys = dump.summaryKeys!;
    const { json, text } = triage.render(dump);
    const metadata = { [OBJECT_METADATA.node]: this.cfg.nodeName, dump: keys.json.slice(0, -'.summary.json'.length).split('/').pop() ?? '' };
    const tags = podTags(dump.namespace, dump.pod);
    const backoff = this.opts.backoff ?? DEFAULT_BACKOFF;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.store.putSmall(keys.json, Buffer.from(json), 'application/json', metadata, this.ctx.signal, tags);
        await this.store.putSmall(keys.text, Buffer.from(text), 'text/plain; charset=utf-8', metadata, this.ctx.signal, tags);
        this.metrics.summaries.inc({ result: 'written' });
        this.log.info('dump summary written', { key: keys.json });
        break;
      } catch (error) {
        const transient = classifyFailure(error).kind === 'transient';
        if (transient && attempt + 1 < SUMMARY_ATTEMPTS && !this.ctx.signal.aborted) {
          await this.ctx.clock.sleep(Math.max(100, backoffDelay(attempt, backoff)), this.ctx.signal);
          continue;
        }
        this.metrics.summaries.inc({ result: 'failed' });
        this.log.warn('dump summary not written (the dump itself is safe in S3)', { key: keys.json, attempts: attempt + 1, error: error as Error });
        break;
      }
    }
    this.opts.onVerified?.(dump, triage);
  }

  private async settle(root: PinnedDir, t: Tracked): Promise<void> {
    if (!t.done || t.settled) return;
    try {
      const result = await this.retainer.settle(root, t.file.segments, t.done.state, t.done.key);
      switch (result) {
        case 'archived':
        case 'deleted':
          this.metrics.settled.inc({ action: result });
          this.log.info(result === 'archived' ? 'verified dump moved to the archive' : 'verified dump deleted', { path: t.id, key: t.done.key });
          this.tracker.forget(t);
          break;
        case 'gone':
          this.tracker.forget(t);
          break;
        case 'changed':
          // A new version is a new dump: the next scan finds it and it goes through the whole job.
          this.log.info('dump changed after it was verified: the new content will be uploaded', { path: t.id });
          this.tracker.markSettled(t);
          break;
        case 'kept':
          this.tracker.markSettled(t);
          break;
      }
    } catch (error) {
      if (this.ctx.signal.aborted) return;
      this.tracker.markFailed(t, this.ctx.clock.now(), this.failures.settleFailed(t.id, t.done.key, error));
    }
  }

  private attemptFailed(t: Tracked, error: unknown): void {
    if (this.ctx.signal.aborted) return;
    const overwrite = (error as { overwrite?: string }).overwrite;
    if (overwrite !== undefined) this.overwrite.set(t.id, overwrite);
    const f = this.failures.fileFailed(t.id, t.attempt, error);
    // A failed attempt's abort of its multipart upload may itself have failed (S3 down): abort our
    // open uploads again at the next successful bucket check (uploads run only in this loop).
    this.orphansCleaned = false;
    switch (f.failure.kind) {
      case 'gone':
        this.log.warn('dump vanished before it was uploaded', { path: t.id, error: f.failure.message });
        this.tracker.forget(t);
        return;
      case 'changed':
        this.log.info('dump changed during its upload: waiting for it to settle again', { path: t.id, cause: f.failure.cause });
        this.tracker.markChanged(t, this.ctx.clock.now());
        return;
      default:
        this.metrics.retries.inc();
        this.tracker.markFailed(t, this.ctx.clock.now(), f.delayMs);
        if (f.checkBucket) this.nextReadinessAt = Math.min(this.nextReadinessAt, this.ctx.clock.now());
    }
  }

  // ---- housekeeping and gauges -----------------------------------------------------------------

  private async housekeeping(root: PinnedDir): Promise<void> {
    this.nextHousekeepingAt = this.ctx.clock.now() + (this.opts.housekeepingIntervalMs ?? 60_000);
    const pendingBytes = this.tracker.all().filter((t) => t.phase === 'pending').reduce((sum, t) => sum + t.obs.state.size, 0);
    try {
      const removed = await this.retainer.applyRetention(root, this.ctx.clock.now(), pendingBytes, this.ctx.signal);
      for (const id of removed) {
        this.metrics.settled.inc({ action: 'expired' });
        this.log.info('archived dump removed by retention', { path: id });
      }
      const archived = await this.retainer.listArchive(root);
      this.metrics.localBytes.set({ state: 'archived' }, archived.reduce((sum, f) => sum + f.size, 0));
    } catch (error) {
      this.failures.once(`housekeeping ${(error as NodeJS.ErrnoException).code}`, () => this.log.warn('archive housekeeping failed', { error: error as Error }));
    }
    this.metrics.localBytes.set({ state: 'pending' }, pendingBytes);
    const usage = await volumeUsage(this.cfg.dumpRoot);
    if (usage) {
      this.metrics.volumeCapacity.set(usage.capacity);
      this.metrics.volumeUsed.set(usage.used);
    }
  }

  private updateGauges(): void {
    const pending = this.tracker.all().filter((t) => t.phase === 'pending');
    this.metrics.backlog.set(pending.length);
    const oldest = pending.reduce((m, t) => Math.min(m, t.obs.mtimeMs), Infinity);
    this.metrics.oldestPendingAge.set(pending.length ? Math.max(0, (this.ctx.clock.now() - oldest) / 1000) : 0);
  }
}
