/**
 * When is a dump finished? (pure: decisions from observations, no I/O)
 *
 * A file is quiet once its (size, mtime, inode) state has been seen unchanged on two observations at
 * least `confirmMs` apart; from then on it has been quiet since its mtime. (Using mtime rather than
 * our own first sighting lets a restarted uploader pick up old dumps at once; the second observation
 * guards against a writer that is still going.) Then:
 *  - an HPROF that passes the structural check may go after `completeQuietMs`;
 *  - anything else (truncated HPROF, gzip, phd) goes after the full `stableMs` window.
 */

export interface FileState {
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
}

export interface Observation extends FileState {
  /** When this exact state was first observed. */
  readonly firstSeenAt: number;
}

export interface StabilityWindows {
  readonly completeQuietMs: number;
  readonly stableMs: number;
  /** Minimum gap between two observations of the same state. */
  readonly confirmMs: number;
}

export function sameState(a: FileState, b: FileState): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino;
}

/** Folds a new stat into the previous observation. */
export function observe(prev: Observation | undefined, now: FileState, at: number): Observation {
  if (prev && sameState(prev, now)) return prev;
  return { size: now.size, mtimeMs: now.mtimeMs, ino: now.ino, firstSeenAt: at };
}

/** How long the file has been quiet at `at`, or 0 if that is not confirmed yet. */
export function quietFor(obs: Observation, at: number, w: StabilityWindows): number {
  if (at - obs.firstSeenAt < w.confirmMs) return 0;
  return Math.max(0, at - Math.min(obs.mtimeMs, obs.firstSeenAt));
}

/** Earliest time at which the file could become ready with `windowMs`, given no further change. */
export function readyAt(obs: Observation, windowMs: number, w: StabilityWindows): number {
  return Math.max(obs.firstSeenAt + w.confirmMs, Math.min(obs.mtimeMs, obs.firstSeenAt) + windowMs);
}

export type Readiness = 'wait' | 'quiet-short' | 'quiet-full';

/** 'quiet-short': quiet long enough for a structurally complete HPROF; 'quiet-full': for anything. */
export function readiness(obs: Observation, at: number, w: StabilityWindows): Readiness {
  const q = quietFor(obs, at, w);
  if (q >= w.stableMs) return 'quiet-full';
  if (q >= w.completeQuietMs) return 'quiet-short';
  return 'wait';
}
