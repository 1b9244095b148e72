/**
 * The uploader loop: scan, decide, upload, verify, clean up; woken early by filesystem events.
 *
 * S3 is the only record of what is done (HEAD: same size + sha256 metadata), so a restart uploads
 * nothing twice; the in-memory map only saves work. One file is uploaded at a time (its parts go in
 * parallel): dumps are few and large, and one at a time keeps memory and disk reads predictable.
 */
import { constants as fsc, FSWatcher, promises as fsp, watch } from 'fs';
import type { FileHandle } from 'fs/promises';
import { OBJECT_METADATA } from '../contract';
import type { CommandContext } from '../runtime/context';
import type { Logger } from '../runtime/logger';
import { sha256Of } from './file-source';
import { checkHprof, HprofVerdict } from './hprof';
import { contentSuffixedKey, metadataValue, nodePrefix, objectKey, podOf } from './keys';
import { createUploaderMetrics, UploaderMetrics } from './metrics';
import { selectForRetention } from './retention';
import { backoffDelay, BackoffPolicy, classifyFailure, ClassifiedFailure, DEFAULT_BACKOFF } from './retry';
import { DumpFile, scanDumps } from './scanner';
import { FileState, observe, Observation, readiness, readyAt, sameState, StabilityWindows } from './stability';
import { HeadResult, S3Store } from './s3-store';

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
  readonly deleteAfterUpload: boolean;
  readonly retentionMaxAgeMs: number;
  readonly retentionMaxBytes: number;
}

export interface UploaderOptions {
  readonly backoff?: BackoffPolicy;
  /** How often S3 reachability (readiness) is re-checked. @default 30 s */
  readonly readinessIntervalMs?: number;
  /** Log upload progress at most this often. @default 10 s */
  readonly progressIntervalMs?: number;
  /**
   * /healthz fails when the loop has been silent this long (a stuck loop gets the pod restarted).
   * The loop beats once per pass and while upload bytes flow.
   * @default 3 x WATCH_INTERVAL + 120 s
   */
  readonly heartbeatMaxSilenceMs?: number;
}

type Status = 'pending' | 'done';

interface Tracked {
  file: DumpFile;
  obs: Observation;
  status: Status;
  /** State that was verified in S3 (status done). */
  doneState?: FileState;
  key?: string;
  sha?: { state: FileState; sha256: string };
  hprof?: { state: FileState; verdict: HprofVerdict };
  attempt: number;
  nextAttemptAt: number;
}

const EVENT_DEBOUNCE_MS = 250;

export class Uploader {
  private readonly tracked = new Map<string, Tracked>();
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly loggedCauses = new Set<string>();
  /** Unreadable local files already reported (cause + path): one error line each. */
  private readonly loggedLocal = new Set<string>();
  private readonly metrics: UploaderMetrics;
  private readonly log: Logger;
  private readonly windows: StabilityWindows;
  private readonly backoff: BackoffPolicy;
  private wakeCtl?: AbortController;
  private debounce?: NodeJS.Timeout;
  private orphansCleaned = false;
  private nextReadinessAt = 0;
  private ready?: boolean;
  private lastBeat = 0;

  constructor(
    private readonly cfg: UploaderSettings,
    private readonly store: S3Store,
    private readonly ctx: Pick<CommandContext, 'logger' | 'clock' | 'registry' | 'signal' | 'setReady' | 'heartbeat'>,
    private readonly opts: UploaderOptions = {},
  ) {
    this.metrics = createUploaderMetrics(ctx.registry);
    this.log = ctx.logger.child('uploader');
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.windows = {
      completeQuietMs: cfg.completeQuietTimeMs,
      stableMs: cfg.fileStableTimeMs,
      confirmMs: Math.min(1000, cfg.completeQuietTimeMs, cfg.fileStableTimeMs),
    };
  }

  /** Runs until the context's signal aborts; resolves once stopped (no upload left running). */
  async run(): Promise<void> {
    const { signal, clock } = this.ctx;
    this.log.info('uploader started', {
      root: this.cfg.dumpRoot,
      bucket: this.store.bucket,
      keyPrefix: nodePrefix(this.cfg.s3.prefix, this.cfg.nodeName),
      patterns: this.cfg.patterns,
    });
    try {
      while (!signal.aborted) {
        this.beat();
        const now = clock.now();
        if (now >= this.nextReadinessAt) await this.checkReadiness();
        await this.scanOnce();
        await this.processReady();
        await this.applyRetention();
        this.updateGauges();
        await this.sleepUntil(this.nextWake());
      }
    } finally {
      this.closeWatchers();
      if (this.debounce) clearTimeout(this.debounce);
      this.log.info('uploader stopped');
    }
  }

  private beat(): void {
    this.lastBeat = this.ctx.clock.now();
    this.ctx.heartbeat?.('uploader', this.opts.heartbeatMaxSilenceMs ?? 3 * this.cfg.watchIntervalMs + 120_000);
  }

  // ---- readiness -------------------------------------------------------------------------------

  private async checkReadiness(): Promise<void> {
    this.nextReadinessAt = this.ctx.clock.now() + (this.opts.readinessIntervalMs ?? 30_000);
    try {
      await this.store.checkBucket(this.ctx.signal);
      this.setReady(true);
      if (!this.orphansCleaned) await this.cleanOrphans().catch((error) => this.orphanCleanupFailed(error));
    } catch (error) {
      if (this.ctx.signal.aborted) return;
      this.reportFailure(classifyFailure(error), 'S3 check failed');
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

  private setReady(ready: boolean, reason?: string): void {
    if (ready) this.loggedCauses.clear();
    if (this.ready === ready && ready) return;
    this.ready = ready;
    this.ctx.setReady(ready, reason);
  }

  /** Permanent causes: one error line per distinct cause until things recover. */
  private reportFailure(f: ClassifiedFailure, what: string, fields: Record<string, unknown> = {}): void {
    if (f.kind === 'gone') return;
    if (f.kind === 'local') {
      // One file we cannot read says nothing about S3: log it once per file, keep readiness.
      const key = `${f.cause} ${String(fields.path)}`;
      if (this.loggedLocal.has(key)) return;
      this.loggedLocal.add(key);
      this.log.error(what, { cause: f.cause, error: f.message, hint: 'the uploader cannot read this file: it needs CAP_DAC_READ_SEARCH (granted by its SCC) and a readable mount', ...fields });
      return;
    }
    this.setReady(false, `${f.cause}: ${f.message}`);
    if (this.loggedCauses.has(f.cause)) {
      this.log.debug(what, { cause: f.cause, error: f.message, ...fields });
      return;
    }
    this.loggedCauses.add(f.cause);
    const hint = f.kind === 'permanent' ? 'check the bucket name, credentials and permissions; retrying slowly' : 'retrying with backoff';
    (f.kind === 'permanent' ? this.log.error : this.log.warn)(what, { cause: f.cause, error: f.message, bucket: this.store.bucket, hint, ...fields });
  }

  // ---- scanning and events ---------------------------------------------------------------------

  private async scanOnce(): Promise<void> {
    const now = this.ctx.clock.now();
    const result = await scanDumps(this.cfg.dumpRoot, this.cfg.patterns, this.cfg.markerName);
    for (const e of result.errors) {
      if (e.path === this.cfg.dumpRoot) this.log.warn('cannot read the dump root', { path: e.path, error: e.error });
      else this.log.debug('cannot read a directory', { path: e.path, error: e.error });
    }
    const seen = new Set<string>();
    for (const file of result.files) {
      const id = file.path.toString('latin1');
      seen.add(id);
      const t = this.tracked.get(id);
      if (!t) {
        this.tracked.set(id, { file, obs: observe(undefined, file, now), status: 'pending', attempt: 0, nextAttemptAt: 0 });
        continue;
      }
      t.file = file;
      t.obs = observe(t.obs, file, now);
      if (t.status === 'done' && t.doneState && !sameState(t.doneState, file)) {
        this.log.info('dump changed after upload: will upload the new content', { path: file.path.toString() });
        Object.assign(t, { status: 'pending', doneState: undefined, key: undefined, attempt: 0, nextAttemptAt: 0 });
      }
    }
    for (const id of this.tracked.keys()) if (!seen.has(id)) this.tracked.delete(id);
    this.syncWatchers(result.dirs);
  }

  private syncWatchers(dirs: Buffer[]): void {
    const want = new Set(dirs.map((d) => d.toString('latin1')));
    for (const [id, w] of this.watchers) {
      if (!want.has(id)) {
        w.close();
        this.watchers.delete(id);
      }
    }
    for (const dir of dirs) {
      const id = dir.toString('latin1');
      if (this.watchers.has(id)) continue;
      try {
        // One non-recursive watch per directory the scanner (lstat, no symlinks) visited: events can
        // never come from outside the root. Events only wake the loop early; the scan decides.
        const w = watch(dir, { persistent: false }, () => this.onEvent());
        w.on('error', () => {
          w.close();
          this.watchers.delete(id);
        });
        this.watchers.set(id, w);
      } catch (error) {
        this.log.debug('cannot watch a directory: relying on the periodic scan', { path: dir.toString(), error: error as Error });
      }
    }
  }

  private closeWatchers(): void {
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }

  private onEvent(): void {
    if (this.debounce) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      this.wakeCtl?.abort();
    }, Math.min(EVENT_DEBOUNCE_MS, this.cfg.completeQuietTimeMs || EVENT_DEBOUNCE_MS));
  }

  private nextWake(): number {
    const now = this.ctx.clock.now();
    let wake = now + this.cfg.watchIntervalMs;
    wake = Math.min(wake, this.nextReadinessAt);
    for (const t of this.tracked.values()) {
      if (t.status !== 'pending') continue;
      // An HPROF may go after the short quiet time unless this very state already failed the check.
      const failedCheck = t.hprof !== undefined && sameState(t.hprof.state, t.obs) && t.hprof.verdict.kind !== 'complete';
      const window = this.isHprof(t.file) && !failedCheck ? this.windows.completeQuietMs : this.windows.stableMs;
      wake = Math.min(wake, Math.max(readyAt(t.obs, window, this.windows), t.nextAttemptAt));
    }
    return Math.max(wake, now + 10);
  }

  private async sleepUntil(at: number): Promise<void> {
    // Shutdown may have begun while this pass ran (e.g. during the start-up S3 check): an abort
    // listener added now would never fire, so do not start sleeping at all.
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

  // ---- deciding and uploading ------------------------------------------------------------------

  private isHprof(file: DumpFile): boolean {
    return file.segments[file.segments.length - 1].toString('latin1').endsWith('.hprof');
  }

  private async processReady(): Promise<void> {
    const pending = [...this.tracked.values()].filter((t) => t.status === 'pending').sort((a, b) => a.file.mtimeMs - b.file.mtimeMs);
    for (const t of pending) {
      if (this.ctx.signal.aborted) return;
      if (t.nextAttemptAt > this.ctx.clock.now()) continue;
      await this.processOne(t);
    }
  }

  private async processOne(t: Tracked): Promise<void> {
    const state = readiness(t.obs, this.ctx.clock.now(), this.windows);
    if (state === 'wait') return;
    const pathStr = t.file.path.toString();
    let fh: FileHandle;
    try {
      fh = await fsp.open(t.file.path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
    } catch (error) {
      return this.failed(t, error);
    }
    const started = this.ctx.clock.now();
    try {
      const st = await fh.stat();
      if (!sameState({ size: st.size, mtimeMs: st.mtimeMs, ino: st.ino }, t.obs)) return; // changed: the next scan re-observes
      const fileState: FileState = { size: t.obs.size, mtimeMs: t.obs.mtimeMs, ino: t.obs.ino };

      let complete: 'true' | 'false' | 'unknown' = 'unknown';
      if (this.isHprof(t.file)) {
        if (!t.hprof || !sameState(t.hprof.state, fileState)) {
          const verdict = await checkHprof(async (b, p, l) => (await fh.read(b, 0, l, p)).bytesRead, fileState.size);
          t.hprof = { state: fileState, verdict };
        }
        const v = t.hprof.verdict;
        if (v.kind !== 'complete' && state !== 'quiet-full') return; // wait for the full window
        complete = v.kind === 'complete' ? 'true' : 'false';
        if (v.kind !== 'complete') this.log.warn('dump is not structurally complete: uploading it marked incomplete', { path: pathStr, reason: v.reason });
      } else if (state !== 'quiet-full') {
        return;
      }

      if (!t.sha || !sameState(t.sha.state, fileState)) t.sha = { state: fileState, sha256: await sha256Of(fh, fileState.size) };
      const sha256 = t.sha.sha256;
      const gzip = this.cfg.gzip && !pathStr.endsWith('.gz');
      const baseKey = objectKey(this.cfg.s3.prefix, this.cfg.nodeName, t.file.segments) + (gzip ? '.gz' : '');
      const target = await this.resolveTarget(baseKey, sha256, fileState.size, gzip);

      if (target.duplicate) {
        this.metrics.duplicates.inc();
        this.log.info('already in S3: skipped', { path: pathStr, key: target.key, size: fileState.size });
      } else {
        const metadata = this.metadataFor(t.file, sha256, fileState.size, complete, gzip);
        this.log.info('uploading', { path: pathStr, key: target.key, size: fileState.size, complete, gzip });
        const { storedSize } = await this.uploadWithProgress(fh, t, target.key, metadata, gzip, fileState);
        const head = await this.store.head(target.key, this.ctx.signal);
        if (!head || !matches(head, sha256, fileState.size, gzip) || (gzip && head.size !== storedSize)) {
          throw Object.assign(new Error(`verification failed for ${target.key}: ${JSON.stringify(head ?? 'missing')}`), { code: 'EVERIFY' });
        }
        const seconds = (this.ctx.clock.now() - started) / 1000;
        this.metrics.uploaded.inc();
        this.metrics.bytes.inc(storedSize);
        this.metrics.duration.observe(seconds);
        this.log.info('uploaded and verified', {
          path: pathStr,
          key: target.key,
          size: fileState.size,
          storedSize,
          complete,
          seconds: Number(seconds.toFixed(3)),
          mibPerSecond: Number((fileState.size / 2 ** 20 / Math.max(seconds, 0.001)).toFixed(1)),
        });
      }
      this.metrics.lastSuccess.set(Date.now() / 1000);
      Object.assign(t, { status: 'done', doneState: fileState, key: target.key, attempt: 0, nextAttemptAt: 0 });
      this.setReady(true);
      if (this.cfg.deleteAfterUpload) await this.deleteVerified(t, 'uploaded');
    } catch (error) {
      this.failed(t, error);
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  /**
   * Where this content goes: the plain key if free, or already ours (same sha256 + size) -> duplicate;
   * if the plain key holds a different dump, the content-suffixed key (never overwrite another dump).
   * Anything under the suffixed key that does not verify is a failed copy of this same content.
   */
  private async resolveTarget(baseKey: string, sha256: string, size: number, gzip: boolean): Promise<{ key: string; duplicate: boolean }> {
    const base = await this.store.head(baseKey, this.ctx.signal);
    if (!base) return { key: baseKey, duplicate: false };
    if (matches(base, sha256, size, gzip)) return { key: baseKey, duplicate: true };
    const suffixed = contentSuffixedKey(baseKey, sha256);
    const other = await this.store.head(suffixed, this.ctx.signal);
    if (other && matches(other, sha256, size, gzip)) return { key: suffixed, duplicate: true };
    this.log.info('key holds a different dump: using a content-suffixed key', { key: baseKey, suffixedKey: suffixed });
    return { key: suffixed, duplicate: false };
  }

  private metadataFor(file: DumpFile, sha256: string, size: number, complete: string, gzip: boolean): Record<string, string> {
    const { namespace, pod } = podOf(file.segments);
    const m: Record<string, string> = {
      [OBJECT_METADATA.node]: metadataValue(this.cfg.nodeName),
      [OBJECT_METADATA.uploadTime]: new Date(this.ctx.clock.now()).toISOString(),
      [OBJECT_METADATA.originalSize]: String(size),
      [OBJECT_METADATA.sha256]: sha256,
      [OBJECT_METADATA.complete]: complete,
    };
    if (namespace !== undefined) m[OBJECT_METADATA.namespace] = metadataValue(namespace);
    if (pod !== undefined) m[OBJECT_METADATA.pod] = metadataValue(pod);
    if (gzip) m[OBJECT_METADATA.encoding] = 'gzip';
    return m;
  }

  private async uploadWithProgress(fh: FileHandle, t: Tracked, key: string, metadata: Record<string, string>, gzip: boolean, state: FileState) {
    const every = this.opts.progressIntervalMs ?? 10_000;
    const start = this.ctx.clock.now();
    let sent = 0;
    let lastLog = start;
    const path = t.file.path;
    return this.store.upload({
      fh,
      size: state.size,
      key,
      metadata,
      gzip,
      signal: this.ctx.signal,
      onBytes: (n) => {
        sent += n;
        const now = this.ctx.clock.now();
        if (now - this.lastBeat >= 1000) this.beat(); // a long upload is progress, not a stuck loop
        if (now - lastLog < every) return;
        lastLog = now;
        this.log.info('upload progress', {
          key,
          percent: Number(((100 * sent) / Math.max(1, state.size)).toFixed(1)),
          mibPerSecond: Number((sent / 2 ** 20 / ((now - start) / 1000)).toFixed(1)),
        });
      },
      // A dump deleted or replaced while uploading is not committed (its multipart upload is aborted).
      beforeCommit: async () => {
        const st = await fsp.lstat(path).catch(() => undefined);
        if (!st || st.ino !== state.ino || st.size !== state.size || st.mtimeMs !== state.mtimeMs) {
          throw Object.assign(new Error('file vanished or changed during upload'), { code: st ? 'ECHANGED' : 'EVANISHED' });
        }
      },
    });
  }

  private failed(t: Tracked, error: unknown): void {
    if (this.ctx.signal.aborted) return;
    const code = (error as { code?: string }).code;
    const pathStr = t.file.path.toString();
    if (code === 'ECHANGED') {
      this.log.info('dump changed during upload: waiting for it to settle again', { path: pathStr });
      return;
    }
    const f = classifyFailure(error);
    this.metrics.failed.inc();
    // The failed attempt's abort of its multipart upload may itself have failed (S3 down): list and
    // abort our own open uploads again at the next successful S3 check. Safe: uploads run only inside
    // this sequential loop, so none of ours is in flight then.
    this.orphansCleaned = false;
    if (f.kind === 'gone') {
      this.log.warn('dump vanished before it was uploaded', { path: pathStr, error: f.message });
      this.tracked.delete(t.file.path.toString('latin1'));
      return;
    }
    const delay = f.kind === 'permanent' || f.kind === 'local' ? this.backoff.capMs : backoffDelay(t.attempt, this.backoff);
    t.attempt++;
    t.nextAttemptAt = this.ctx.clock.now() + delay;
    this.metrics.retries.inc();
    const repeated = this.loggedCauses.has(f.cause);
    this.reportFailure(f, 'upload failed (local file kept)', { path: pathStr, attempt: t.attempt, retryInMs: delay });
    // Transient failures stay visible at each (backed-off) retry; permanent ones were said once.
    if (repeated && f.kind === 'transient') {
      this.log.warn('upload failed again (local file kept)', { path: pathStr, cause: f.cause, attempt: t.attempt, retryInMs: delay });
    }
  }

  // ---- local deletion and retention ------------------------------------------------------------

  /** Deletes a local dump only if S3 verifies it (HEAD: size + sha256) and the file is unchanged. */
  private async deleteVerified(t: Tracked, reason: 'uploaded' | 'retention'): Promise<boolean> {
    if (t.status !== 'done' || !t.key || !t.sha || !t.doneState) return false;
    const gzip = t.key.endsWith('.gz') && !t.file.path.toString().endsWith('.gz');
    const head = await this.store.head(t.key, this.ctx.signal);
    if (!head || !matches(head, t.sha.sha256, t.doneState.size, gzip)) {
      this.log.warn('not deleting: S3 does not verify the object', { path: t.file.path.toString(), key: t.key });
      Object.assign(t, { status: 'pending', doneState: undefined, key: undefined });
      return false;
    }
    const st = await fsp.lstat(t.file.path).catch(() => undefined);
    if (!st || !sameState({ size: st.size, mtimeMs: st.mtimeMs, ino: st.ino }, t.doneState)) return false;
    try {
      await fsp.unlink(t.file.path);
    } catch (error) {
      const f = classifyFailure(error);
      if (!this.loggedCauses.has(`delete ${f.cause}`)) {
        this.loggedCauses.add(`delete ${f.cause}`);
        this.log.error('cannot delete a verified dump', { path: t.file.path.toString(), error: error as Error });
      }
      return false;
    }
    this.tracked.delete(t.file.path.toString('latin1'));
    this.metrics.deleted.inc({ reason });
    this.log.info('deleted local dump (verified in S3)', { path: t.file.path.toString(), key: t.key, reason });
    return true;
  }

  private async applyRetention(): Promise<void> {
    const { retentionMaxAgeMs: maxAgeMs, retentionMaxBytes: maxBytes } = this.cfg;
    if (!maxAgeMs && !maxBytes) return;
    const all = [...this.tracked.entries()];
    const ids = selectForRetention(
      all.map(([id, t]) => ({ id, size: t.file.size, mtimeMs: t.file.mtimeMs, verified: t.status === 'done' })),
      Date.now(),
      { maxAgeMs, maxBytes },
    );
    for (const id of ids) {
      const t = this.tracked.get(id);
      if (!t) continue;
      try {
        await this.deleteVerified(t, 'retention');
      } catch (error) {
        this.log.debug('retention check failed', { path: t.file.path.toString(), error: error as Error });
      }
    }
  }

  private updateGauges(): void {
    const pending = [...this.tracked.values()].filter((t) => t.status === 'pending');
    this.metrics.backlog.set(pending.length);
    const oldest = pending.reduce((m, t) => Math.min(m, t.file.mtimeMs), Infinity);
    this.metrics.oldestPendingAge.set(pending.length ? Math.max(0, (Date.now() - oldest) / 1000) : 0);
  }
}

/** Same content: sha256 and original size in the metadata, and (uncompressed) the object size. */
export function matches(head: HeadResult, sha256: string, size: number, gzip: boolean): boolean {
  const m = head.metadata;
  if (m[OBJECT_METADATA.sha256] !== sha256 || m[OBJECT_METADATA.originalSize] !== String(size)) return false;
  return gzip || head.size === size;
}
