/**
 * Every HOUSEKEEPING interval: trim the archive to the retention limits (after-upload.ts) and measure
 * what the node's dumps take locally (pending, archived) and on the volume.
 */
import type { PinnedDir } from '../fs/pinned-dir';
import type { Clock } from '../runtime/clock';
import type { Logger } from '../runtime/logger';
import { type Retainer, volumeUsage } from './after-upload';
import type { FailureReporter } from './failures';
import type { UploaderMetrics } from './metrics';
import { shownId } from './scan-rules';

export class Housekeeping {
  private nextAt = 0;

  constructor(
    private readonly retainer: Retainer,
    private readonly dumpRoot: string,
    private readonly intervalMs: number,
    private readonly deps: { readonly metrics: UploaderMetrics; readonly failures: FailureReporter; readonly log: Logger; readonly clock: Clock; readonly signal: AbortSignal },
  ) {}

  /** `pendingBytes`: dumps not in S3 yet (they count against the byte limit but are never removed). */
  async runIfDue(root: PinnedDir, pendingBytes: number): Promise<void> {
    const { metrics, failures, log, clock } = this.deps;
    if (clock.now() < this.nextAt) return;
    this.nextAt = clock.now() + this.intervalMs;
    try {
      const removed = await this.retainer.applyRetention(root, clock.now(), pendingBytes, this.deps.signal);
      for (const id of removed) {
        metrics.settled.inc({ action: 'expired' });
        log.info('archived dump removed by retention', { path: shownId(id) });
      }
      const archived = await this.retainer.listArchive(root);
      metrics.localBytes.set({ state: 'archived' }, archived.reduce((sum, f) => sum + f.size, 0));
    } catch (error) {
      failures.once(`housekeeping ${(error as NodeJS.ErrnoException).code}`, () => log.warn('archive housekeeping failed', { error: error as Error }));
    }
    metrics.localBytes.set({ state: 'pending' }, pendingBytes);
    const usage = await volumeUsage(this.dumpRoot);
    if (usage) {
      metrics.volumeCapacity.set(usage.capacity);
      metrics.volumeUsed.set(usage.used);
    }
  }
}
