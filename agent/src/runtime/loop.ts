/** A sequential loop: one step at a time, never overlapping (no setInterval around async work). */
import type { Clock } from './clock';
import type { Logger } from './logger';

export interface LoopOptions {
  readonly intervalMs: number;
  readonly signal: AbortSignal;
  readonly clock: Clock;
  readonly logger: Logger;
}

/**
 * Runs `step`, sleeps `intervalMs`, repeats until `signal` aborts. A step that throws is logged
 * and the loop goes on: one bad iteration must not kill a node agent. Resolves once stopped.
 */
export async function runLoop(opts: LoopOptions, step: () => Promise<void>): Promise<void> {
  while (!opts.signal.aborted) {
    try {
      await step();
    } catch (error) {
      opts.logger.error('loop step failed', { error: error as Error });
    }
    await opts.clock.sleep(opts.intervalMs, opts.signal);
  }
}
