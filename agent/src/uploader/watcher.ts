/**
 * Filesystem events: they only wake the loop early; the scan decides what is there.
 *
 * Each directory is watched through the descriptor the scan pinned it with (`/proc/self/fd/<fd>`):
 * inotify attaches to the directory itself, so a tenant renaming or swapping a folder afterwards
 * cannot point the watch elsewhere. Watches are capped (inotify watches are a per-user kernel
 * resource shared with every other process of the node's root user): beyond the cap, directories
 * are left to the periodic scan, with a warning and a gauge. The root, namespace and pod folders,
 * where dumps are written, are always watched (there are as many as pods on the node) and do not
 * count against the cap: a tenant nesting thousands of folders in its own pod folder takes the cap's
 * watches, never the watch of another pod's folder made after them.
 */
import { type FSWatcher, watch } from 'fs';
import type { PinnedDir } from '../fs/pinned-dir';
import type { Logger } from '../runtime/logger';

export interface WatchStats {
  readonly watched: number;
  /** Directories seen by the last scan that have no watch because of the cap. */
  readonly unwatched: number;
}

export class DirWatcher {
  /** id (path + inode) -> watcher */
  private readonly watchers = new Map<string, FSWatcher>();
  /** Ids of watched directories below the pod folders (those count against the cap). */
  private readonly deep = new Set<string>();
  private seen = new Set<string>();
  private unwatched = 0;
  private warned = false;

  constructor(
    private readonly maxWatches: number,
    private readonly onEvent: () => void,
    private readonly log: Logger,
  ) {}

  beginScan(): void {
    this.seen = new Set();
    this.unwatched = 0;
  }

  /** Called for every directory while the scan holds it pinned. */
  add(dir: PinnedDir, segments: readonly Buffer[]): void {
    const id = `${segments.map((s) => s.toString('latin1')).join('/')}\0${dir.stat.ino}`;
    this.seen.add(id);
    if (this.watchers.has(id)) return;
    const deep = segments.length > 2;
    if (deep && this.deep.size >= this.maxWatches) {
      this.unwatched++;
      return;
    }
    try {
      const w = watch(`/proc/self/fd/${dir.fd}`, { persistent: false }, () => this.onEvent());
      w.on('error', () => {
        w.close();
        this.watchers.delete(id);
        this.deep.delete(id);
      });
      this.watchers.set(id, w);
      if (deep) this.deep.add(id);
    } catch (error) {
      this.unwatched++;
      this.log.debug('cannot watch a directory: the periodic scan covers it', { path: dir.display, error: error as Error });
    }
  }

  /** Drops watches of directories the scan no longer saw; says once when the cap was reached. */
  endScan(complete: boolean): WatchStats {
    if (complete) {
      for (const [id, w] of this.watchers) {
        if (!this.seen.has(id)) {
          w.close();
          this.watchers.delete(id);
          this.deep.delete(id);
        }
      }
    }
    if (this.unwatched > 0 && !this.warned) {
      this.warned = true;
      this.log.warn('directory watch limit reached: the rest is found by the periodic scan only', {
        watched: this.watchers.size, unwatched: this.unwatched, limit: this.maxWatches,
      });
    } else if (this.unwatched === 0) {
      this.warned = false;
    }
    return { watched: this.watchers.size, unwatched: this.unwatched };
  }

  close(): void {
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    this.deep.clear();
  }
}
