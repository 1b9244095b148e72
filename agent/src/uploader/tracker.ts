/**
 * What the uploader knows about each dump file it has seen: the one place where that state changes.
 *
 * S3 stays the only record of what is done (a restart asks S3 again); this map only saves work and
 * decides when to look at a file again. It holds exactly the files the last scan reported (bounded
 * per namespace and fairly node-wide by the scan, scan-rules.ts) plus those a job is working on;
 * entries of files that are gone or no longer reported are dropped at every full scan. Entries that
 * are not candidates (symlinks, FIFOs, ...) are never tracked: they are counted per scan and hold no
 * slot (10,000 dangling symlinks once held every slot of the node).
 */
import type { FileIdentity } from '../fs/pinned-dir';
import { sameVersion } from '../fs/pinned-dir';
import type { HprofVerdict } from './hprof';
import type { DumpFile } from './scan-rules';
import { observe, type Observation, readyAt, type StabilityWindows } from './stability';
import { kindOfName } from './scan-rules';
import type { CachedPass } from './upload-job';

export type Phase =
  /** Seen, not in S3 yet (or changed since). */
  | 'pending'
  /** Verified in S3 (this version); may still wait for its local clean-up. */
  | 'done';

export interface Tracked {
  readonly id: string;
  readonly file: DumpFile;
  readonly obs: Observation;
  readonly phase: Phase;
  /** Failed attempts since the last success or change. */
  readonly attempt: number;
  /** Not before this time (backoff after a failure). */
  readonly nextAttemptAt: number;
  /** The cheap HPROF structure check, for the version it ran on. */
  readonly check?: { readonly state: FileIdentity; readonly verdict: HprofVerdict };
  /** The read pass, for the version it ran on (kept until the upload is verified). */
  readonly pass?: CachedPass;
  /** Phase done: the version verified and its key. */
  readonly done?: { readonly state: FileIdentity; readonly key: string };
  /** Phase done: the local clean-up (archive, delete) is finished or not wanted. */
  readonly settled?: boolean;
}

export class Tracker {
  private readonly map = new Map<string, Tracked>();

  get size(): number {
    return this.map.size;
  }

  get(id: string): Tracked | undefined {
    return this.map.get(id);
  }

  all(): Tracked[] {
    return [...this.map.values()];
  }

  /**
   * Folds a complete scan in: new files are added, changed ones go back to pending (a changed version
   * is a new dump until S3 says otherwise), files no longer reported are dropped unless `busy` (a job
   * is working on them; its outcome is recorded when it ends). Returns the ids dropped.
   */
  reconcile(files: readonly DumpFile[], now: number, busy: (id: string) => boolean = () => false): string[] {
    const seen = new Set<string>();
    for (const file of files) {
      seen.add(file.id);
      const prev = this.map.get(file.id);
      const obs = observe(prev?.obs, file.state, now);
      if (prev && obs === prev.obs) {
        this.map.set(file.id, { ...prev, file });
        continue;
      }
      // New, or a new version: nothing known about it yet.
      this.map.set(file.id, { id: file.id, file, obs, phase: 'pending', attempt: 0, nextAttemptAt: 0 });
    }
    const dropped: string[] = [];
    for (const id of this.map.keys()) {
      if (seen.has(id) || busy(id)) continue;
      this.map.delete(id);
      dropped.push(id);
    }
    return dropped;
  }

  /**
   * When the next file may become due (its stability window or its backoff ends), not counting `busy`
   * ones (their job's end wakes the loop). The short window applies unless this very version already
   * failed its completeness check.
   */
  nextDueAt(windows: StabilityWindows, busy: (id: string) => boolean): number {
    let wake = Infinity;
    for (const t of this.map.values()) {
      if (busy(t.id)) continue;
      if (t.phase === 'done' && !t.settled) wake = Math.min(wake, t.nextAttemptAt);
      if (t.phase !== 'pending') continue;
      const kind = kindOfName(t.file.segments[t.file.segments.length - 1]);
      const failed = (Tracker.current(t.check, t.obs.state) && t.check?.verdict.kind !== 'complete')
        || (Tracker.current(t.pass, t.obs.state) && kind === 'hprof-gzip' && !t.pass?.result.decoded?.complete);
      const window = kind !== 'other' && !failed ? windows.completeQuietMs : windows.stableMs;
      wake = Math.min(wake, Math.max(readyAt(t.obs, window, windows), t.nextAttemptAt));
    }
    return wake;
  }

  /** Files that may be worked on now (the scheduler picks among them, fairly). */
  due(now: number): Tracked[] {
    return this.all().filter((t) => (t.phase === 'pending' || (t.phase === 'done' && !t.settled)) && t.nextAttemptAt <= now);
  }

  setCheck(t: Tracked, state: FileIdentity, verdict: HprofVerdict): Tracked {
    return this.update(t, { check: { state, verdict } });
  }

  setPass(t: Tracked, pass: CachedPass): Tracked {
    return this.update(t, { pass });
  }

  /** Verified in S3: the pass result is no longer needed. */
  markDone(t: Tracked, state: FileIdentity, key: string, settled: boolean): Tracked {
    return this.update(t, { phase: 'done', done: { state, key }, settled, pass: undefined, attempt: 0, nextAttemptAt: 0 });
  }

  markSettled(t: Tracked): Tracked {
    return this.update(t, { settled: true, attempt: 0, nextAttemptAt: 0 });
  }

  /** A failed attempt: try again after `delayMs`. */
  markFailed(t: Tracked, now: number, delayMs: number): Tracked {
    return this.update(t, { attempt: t.attempt + 1, nextAttemptAt: now + delayMs });
  }

  /** The file changed under us (seen by the server or by a re-check): forget what was computed. */
  markChanged(t: Tracked, now: number): Tracked {
    return this.update(t, { phase: 'pending', check: undefined, pass: undefined, done: undefined, settled: undefined, obs: { ...t.obs, firstSeenAt: now } });
  }

  /** Removed locally (archived, deleted) or vanished. */
  forget(t: Tracked): void {
    this.map.delete(t.id);
  }

  /** Whether the cached check/pass belongs to the version `state`. */
  static current<T extends { state: FileIdentity }>(entry: T | undefined, state: FileIdentity): T | undefined {
    return entry && sameVersion(entry.state, state) ? entry : undefined;
  }

  /** Records an outcome; an entry a full scan has dropped meanwhile (the file is gone) stays dropped. */
  private update(t: Tracked, change: Partial<Tracked>): Tracked {
    const now = this.map.get(t.id);
    const next = { ...(now ?? t), ...change };
    if (now) this.map.set(t.id, next);
    return next;
  }
}

