/**
 * Readiness state, the abort signal, and ordered shutdown steps: the parts of CommandContext
 * that main.ts owns. Steps run one at a time, in registration order; a failing step is logged
 * and the next one still runs (e.g. the unmount must happen even if removing the marker failed).
 */
import type { Logger } from './logger';

export class Lifecycle {
  private readonly controller = new AbortController();
  private readonly steps: Array<{ name: string; step: () => Promise<void> | void }> = [];
  private readyState: { ready: boolean; reason?: string } = { ready: false, reason: 'starting' };
  private readonly beats = new Map<string, { at: number; maxSilenceMs: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  heartbeat(loop: string, maxSilenceMs: number): void {
    this.beats.set(loop, { at: this.now(), maxSilenceMs });
  }

  /** Healthy unless a loop that reported heartbeats has been silent too long. */
  get health(): { healthy: boolean; reason?: string } {
    for (const [loop, { at, maxSilenceMs }] of this.beats) {
      const silentMs = this.now() - at;
      if (silentMs > maxSilenceMs) return { healthy: false, reason: `loop ${loop} silent for ${silentMs} ms (limit ${maxSilenceMs} ms)` };
    }
    return { healthy: true };
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get ready(): { ready: boolean; reason?: string } {
    return this.readyState;
  }

  setReady(ready: boolean, reason?: string): void {
    const changed = ready !== this.readyState.ready;
    this.readyState = { ready, ...(reason !== undefined ? { reason } : {}) };
    if (changed) this.logger.info(ready ? 'ready' : 'not ready', { reason });
  }

  onShutdown(name: string, step: () => Promise<void> | void): void {
    this.steps.push({ name, step });
  }

  /** Abort the signal (idempotent). */
  abort(): void {
    if (!this.controller.signal.aborted) this.controller.abort();
  }

  /** Run every registered step once, in order. Returns false if any step failed. */
  async runShutdownSteps(): Promise<boolean> {
    let ok = true;
    const steps = this.steps.splice(0);
    for (const { name, step } of steps) {
      try {
        await step();
        this.logger.info('shutdown step done', { step: name });
      } catch (error) {
        ok = false;
        this.logger.error('shutdown step failed', { step: name, error: error as Error });
      }
    }
    return ok;
  }
}
