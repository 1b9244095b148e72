/**
 * One scan of the dump tree folded into the tracked state: the scan itself (scanner.ts, which also
 * tells the watcher which directories to watch), what it could not look at (logged once per cause,
 * counted), and the tracker's reconcile. Every name a tenant chose is escaped before it is logged.
 */
import type { PinnedDir } from '../fs/pinned-dir';
import type { Logger } from '../runtime/logger';
import type { FailureReporter } from './failures';
import type { UploaderMetrics } from './metrics';
import { DEFAULT_SCAN_LIMITS, type ScanLimits, type ScanResult, scanDumps, shownId, type SkipReason } from './scanner';
import type { Tracker } from './tracker';
import type { DirWatcher } from './watcher';

export interface ScanSettings {
  readonly patterns: readonly string[];
  readonly markerName: string;
  readonly maxFiles: number;
  readonly maxFilesPerNamespace: number;
  readonly maxEntriesPerPod: number;
}

const REASONS: readonly SkipReason[] = ['fifo', 'socket', 'device', 'symlink', 'other', 'hardlink', 'sparse'];

export class ScanPass {
  constructor(
    private readonly cfg: ScanSettings,
    private readonly deps: {
      readonly watcher: DirWatcher;
      readonly tracker: Tracker;
      readonly metrics: UploaderMetrics;
      readonly failures: FailureReporter;
      readonly log: Logger;
    },
  ) {}

  /**
   * Scans and reconciles; `busy` files (a job runs on them) stay tracked whatever the scan saw. Returns
   * the ids dropped and the time the walk itself took (without the turns it gave the event loop).
   */
  async run(root: PinnedDir, now: () => number, busy: (id: string) => boolean): Promise<{ dropped: string[]; busyMs: number }> {
    const { watcher, metrics } = this.deps;
    watcher.beginScan();
    const limits: ScanLimits = {
      ...DEFAULT_SCAN_LIMITS, maxFiles: this.cfg.maxFiles, maxFilesPerNamespace: this.cfg.maxFilesPerNamespace, maxEntriesPerPod: this.cfg.maxEntriesPerPod,
    };
    const result = await scanDumps(root, { patterns: this.cfg.patterns, markerName: this.cfg.markerName, limits, onDir: (dir, segments) => watcher.add(dir, segments) });
    const watch = watcher.endScan(!result.truncated.dirs);
    metrics.watched.set(watch.watched);
    metrics.unwatched.set(watch.unwatched);
    this.report(result);
    return { dropped: this.deps.tracker.reconcile(result.files, now(), busy), busyMs: result.busyMs };
  }

  private report(result: ScanResult): void {
    const { metrics, failures, log } = this.deps;
    for (const e of result.errors) {
      // Vanished or swapped folders are the tree changing under the scan; a permission error is not.
      if (e.error.code === 'EACCES' || e.error.code === 'EPERM') {
        failures.once(`scan ${e.error.code} ${e.path}`, () => log.error('cannot read a folder of the dump tree: its dumps are not seen', {
          path: shownId(e.path), error: e.error, hint: 'the uploader reads other users\' folders with CAP_DAC_READ_SEARCH (granted by its SCC)',
        }));
      } else {
        log.debug('cannot read a directory', { path: shownId(e.path), error: e.error });
      }
    }
    if (result.truncated.dirs || result.truncated.depth) {
      failures.once('scan truncated', () => log.warn('the dump tree is larger than the scan limits: the rest is not looked at', {
        dirs: result.dirCount, truncatedDirs: result.truncated.dirs, truncatedDepth: result.truncated.depth,
      }));
    }
    metrics.truncatedPods.set(result.truncatedPods.length);
    for (const pod of result.truncatedPods) {
      failures.once(`pod budget ${pod}`, () => log.warn('a pod folder holds more entries than one scan reads: the rest of it is not looked at', {
        folder: shownId(pod), limit: this.cfg.maxEntriesPerPod, hint: 'DUMP_MAX_ENTRIES_PER_POD; the pod\'s own dumps beyond it wait until its folder is smaller',
      }));
    }
    let untracked = 0;
    for (const [tenant, n] of result.unreported) {
      untracked += n;
      failures.once(`too many files ${tenant}`, () => log.warn('more dump files in a namespace than are tracked at once: the rest waits until others are gone', {
        namespace: shownId(tenant), untracked: n, limitPerNamespace: this.cfg.maxFilesPerNamespace, limit: this.cfg.maxFiles,
      }));
    }
    metrics.untracked.set(untracked);
    for (const reason of REASONS) metrics.skipped.set({ reason }, result.skippedCount[reason] ?? 0);
    // One line per pod folder and reason (not per entry: 10,000 symlinks are one line), until the next recovery.
    for (const f of result.skippedFolders) {
      failures.once(`skip ${f.reason} ${f.folder}`, () => log.warn('not uploading a matching entry that is not a plain dump file', {
        path: shownId(f.example), reason: f.reason, entriesLikeIt: f.count,
      }));
    }
  }
}
