/**
 * When is a dump finished? (pure: decisions from observations, no I/O)
 *
 * A file is quiet once its version (device, inode, size, mtime, ctime) has been seen unchanged on two observations at
 * least `confirmMs` apart; from then on it has been quiet since its mtime. (Using mtime rather than
 * our own first sighting lets a restarted uploader pick up old dumps at once; the second observation
 * guards against a writer that is still going.) Then:
 *  - an HPROF that passes the structural check may go after `completeQuietMs`;
 *  - anything else (truncated HPROF, gzip, phd) goes after the full `stableMs` window.
 */

import { type FileIdentity, sameVersion } from '../fs/pinned-dir';

export interface Observation {
  /** The version observed (device, inode, size, mtime, ctime). */
  readonly state: FileIdentity;
  /** Its mtime in ms. */
  readonly mtimeMs: number;
  /** When this exact version was first observed. */
  readonly firstSeenAt: number;
}

export interface StabilityWindows {
  readonly completeQuietMs: number;
  readonly stableMs: number;
  /** Minimum gap between two observations of the same state. */
  readonly confirmMs: number;
}

export function mtimeMsOf(state: FileIdentity): number {
  return Number(state.mtimeNs / 1_000_000n);
}

/** Folds a new stat into the previous observation: any change of the version restarts the clock. */
export function observe(prev: Observation | undefined, now: FileIdentity, at: number): Observation {
  if (prev && sameVersion(prev.state, now)) return prev;
  return { state: now, mtimeMs: mtimeMsOf(now), firstSeenAt: at };
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
