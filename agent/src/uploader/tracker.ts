/**
 * What the uploader knows about each dump file it has seen: the one place where that state changes.
 *
 * S3 stays the only record of what is done (a restart asks S3 again); this map only saves work and
 * decides when to look at a file again. It is bounded: files beyond `maxFiles` are not tracked (the
 * scanner reports them; the loop warns and counts), and entries of files that are gone are dropped
 * at every full scan.
 */
import type { FileIdentity } from '../fs/pinned-dir';
import { sameVersion } from '../fs/pinned-dir';
import type { HprofVerdict } from './hprof';
import type { DumpFile, SkipReason } from './scanner';
import { observe, type Observation } from './stability';
import type { CachedPass } from './upload-job';

export type Phase =
  /** Seen, not in S3 yet (or changed since). */
  | 'pending'
  /** Verified in S3 (this version); may still wait for its local clean-up. */
  | 'done'
  /** Never uploaded: not a plain regular file (see SkipReason). */
  | 'skipped';

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
  readonly skip?: SkipReason;
}

export class Tracker {
  private readonly map = new Map<string, Tracked>();

  constructor(private readonly maxFiles: number) {}

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
   * Folds a complete scan in: new files are added (up to the bound), changed ones go back to pending
   * (a changed version is a new dump until S3 says otherwise), vanished ones are dropped. Returns how
   * many files could not be tracked because of the bound.
   */
  reconcile(files: readonly DumpFile[], skipped: ReadonlyArray<{ id: string; reason: SkipReason; segments: readonly Buffer[] }>, now: number): { untracked: number; newlySkipped: Array<{ id: string; reason: SkipReason }> } {
    const seen = new Set<string>();
    let untracked = 0;
    for (const file of files) {
      seen.add(file.id);
      const prev = this.map.get(file.id);
      if (!prev && this.map.size >= this.maxFiles) {
        untracked++;
        continue;
      }
      const obs = observe(prev?.obs, file.state, now);
      if (prev && prev.phase !== 'skipped' && obs === prev.obs) {
        this.map.set(file.id, { ...prev, file });
        continue;
      }
      // New, or a new version: nothing known about it yet.
      this.map.set(file.id, { id: file.id, file, obs, phase: 'pending', attempt: 0, nextAttemptAt: 0 });
    }
    const newlySkipped: Array<{ id: string; reason: SkipReason }> = [];
    for (const s of skipped) {
      seen.add(s.id);
      const prev = this.map.get(s.id);
      if (prev?.phase === 'skipped' && prev.skip === s.reason) continue;
      if (!prev && this.map.size >= this.maxFiles) continue;
      newlySkipped.push({ id: s.id, reason: s.reason });
      const placeholder: DumpFile = prev?.file ?? { id: s.id, segments: s.segments, state: ZERO_STATE, uid: -1 };
      this.map.set(s.id, { id: s.id, file: placeholder, obs: prev?.obs ?? { state: ZERO_STATE, mtimeMs: 0, firstSeenAt: now }, phase: 'skipped', attempt: 0, nextAttemptAt: 0, skip: s.reason });
    }
    for (const id of this.map.keys()) if (!seen.has(id)) this.map.delete(id);
    return { untracked, newlySkipped };
  }

  /** Files that may be worked on now, oldest modification first. */
  due(now: number): Tracked[] {
    return this.all()
      .filter((t) => (t.phase === 'pending' || (t.phase === 'done' && !t.settled)) && t.nextAttemptAt <= now)
      .sort((a, b) => a.obs.mtimeMs - b.obs.mtimeMs);
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

  private update(t: Tracked, change: Partial<Tracked>): Tracked {
    const next = { ...(this.map.get(t.id) ?? t), ...change };
    this.map.set(t.id, next);
    return next;
  }
}

const ZERO_STATE: FileIdentity = { dev: 0n, ino: 0n, size: 0, mtimeNs: 0n, ctimeNs: 0n };
