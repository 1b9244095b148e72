/**
 * One channel's deliveries: a small bounded queue drained by one worker, each item retried with
 * backoff and full jitter (../uploader/retry.ts), each attempt under a timeout.
 *
 * `push` never blocks and never throws: the uploader calls it and goes on. When the queue is full
 * the OLDEST item is dropped (and counted): a burst of dumps keeps the newest news. `stop()` aborts
 * the attempt in flight and drops what is pending, with one log line.
 */
import type { Clock } from '../runtime/clock';
import type { LogFields, Logger } from '../runtime/logger';
import { backoffDelay, type BackoffPolicy } from '../uploader/retry';
import type { Channel, DropReason, NotificationMetrics } from './metrics';

export type AttemptOutcome =
  | { readonly ok: true; readonly detail?: LogFields }
  | {
    readonly ok: false;
    /** False for answers that will not change (e.g. 403, 404, 400): give up at once. */
    readonly retryable: boolean;
    /** Short stable cause, e.g. `403 Forbidden`, `ECONNREFUSED`, `timeout`. */
    readonly cause: string;
    readonly message: string;
    /** The server asked to wait this long (429 Retry-After). */
    readonly retryAfterMs?: number;
  };

/** Notification retries: 1 s doubling to 60 s, full jitter. */
export const NOTIFY_BACKOFF: BackoffPolicy = { baseMs: 1000, capMs: 60_000 };

export interface DeliveryQueueOptions<T> {
  readonly channel: Channel;
  readonly capacity: number;
  readonly maxAttempts: number;
  readonly timeoutMs: number;
  /** @default NOTIFY_BACKOFF */
  readonly backoff?: BackoffPolicy;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: NotificationMetrics;
  /** @default Math.random */
  readonly random?: () => number;
  /** One attempt. `signal` aborts on the attempt's timeout and at the hard stop. */
  readonly attempt: (item: T, signal: AbortSignal) => Promise<AttemptOutcome>;
  /** Log fields that name an item (never secrets). */
  readonly describe: (item: T) => LogFields;
  /** Applied to every error text before it is logged (e.g. removes a secret URL). @default identity */
  readonly redact?: (text: string) => string;
}

export class DeliveryQueue<T> {
  private readonly items: T[] = [];
  private running?: Promise<void>;
  private readonly hardStop = new AbortController();
  private droppedAtStop = 0;
  private readonly log: Logger;
  private readonly redact: (text: string) => string;

  constructor(private readonly opts: DeliveryQueueOptions<T>) {
    this.log = opts.logger;
    this.redact = opts.redact ?? ((s) => s);
  }

  get pending(): number {
    return this.items.length;
  }

  get stopped(): boolean {
    return this.hardStop.signal.aborted;
  }

  /** Queues an item (never blocks, never throws). */
  push(item: T): void {
    if (this.stopped) {
      this.drop(item, 'shutdown');
      this.log.warn('notification dropped: shutting down', { channel: this.opts.channel, ...this.opts.describe(item) });
      return;
    }
    if (this.items.length >= this.opts.capacity) {
      const oldest = this.items.shift() as T;
      this.drop(oldest, 'queue_full');
      this.log.warn('notification queue full: oldest dropped', { channel: this.opts.channel, capacity: this.opts.capacity, ...this.opts.describe(oldest) });
    }
    this.items.push(item);
    this.kick();
  }

  /** Resolves once nothing is pending or in flight. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Aborts the attempt in flight, drops everything pending (one log line), waits for the worker to end. */
  async stop(): Promise<void> {
    if (!this.stopped) this.hardStop.abort();
    for (const item of this.items.splice(0)) this.drop(item, 'shutdown');
    await this.idle();
    if (this.droppedAtStop > 0) {
      this.log.warn('notifications dropped at shutdown', { channel: this.opts.channel, count: this.droppedAtStop });
      this.droppedAtStop = 0;
    }
  }

  private drop(_item: T, reason: DropReason): void {
    this.opts.metrics.dropped.inc({ channel: this.opts.channel, reason });
    if (reason === 'shutdown') this.droppedAtStop++;
  }

  private kick(): void {
    if (this.running || this.items.length === 0 || this.stopped) return;
    this.running = this.work().finally(() => {
      this.running = undefined;
      this.kick(); // an item pushed while the worker was finishing
    });
  }

  private async work(): Promise<void> {
    while (this.items.length > 0 && !this.stopped) {
      await this.deliver(this.items.shift() as T);
    }
  }

  private async deliver(item: T): Promise<void> {
    const { channel, metrics, clock } = this.opts;
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.attempt(item);
      if (this.stopped && !outcome.ok) {
        this.drop(item, 'shutdown');
        return;
      }
      if (outcome.ok) {
        metrics.sent.inc({ channel });
        metrics.lastSuccess.set({ channel }, clock.now() / 1000);
        this.log.info('notification sent', { channel, attempts: attempt + 1, ...this.opts.describe(item), ...outcome.detail });
        return;
      }
      const message = this.redact(outcome.message);
      if (!outcome.retryable || attempt + 1 >= this.opts.maxAttempts) {
        metrics.failed.inc({ channel });
        this.log.error('notification failed', {
          channel, cause: this.redact(outcome.cause), error: message, attempts: attempt + 1,
          hint: outcome.retryable ? 'gave up after the last attempt' : 'not retried: the answer will not change', ...this.opts.describe(item),
        });
        return;
      }
      metrics.retries.inc({ channel });
      const backoff = this.opts.backoff ?? NOTIFY_BACKOFF;
      const delay = Math.min(backoff.capMs, Math.max(backoffDelay(attempt, backoff, this.opts.random), outcome.retryAfterMs ?? 0));
      this.log.debug('notification attempt failed, retrying', { channel, cause: this.redact(outcome.cause), error: message, attempt: attempt + 1, delayMs: delay, ...this.opts.describe(item) });
      await clock.sleep(delay, this.hardStop.signal);
      if (this.stopped) {
        this.drop(item, 'shutdown');
        return;
      }
    }
  }

  /** One attempt under the timeout (measured on the injected clock) and the hard stop. */
  private async attempt(item: T): Promise<AttemptOutcome> {
    const ac = new AbortController();
    const onStop = () => ac.abort();
    this.hardStop.signal.addEventListener('abort', onStop, { once: true });
    let timedOut = false;
    void this.opts.clock.sleep(this.opts.timeoutMs, ac.signal).then(() => {
      if (!ac.signal.aborted) {
        timedOut = true;
        ac.abort();
      }
    });
    const timeout: AttemptOutcome = { ok: false, retryable: true, cause: 'timeout', message: `no answer within ${this.opts.timeoutMs} ms` };
    try {
      const outcome = await this.opts.attempt(item, ac.signal);
      return timedOut && !outcome.ok ? timeout : outcome;
    } catch (error) {
      if (timedOut) return timeout;
      const e = error as { code?: unknown; name?: unknown; message?: unknown };
      const cause = typeof e.code === 'string' ? e.code : typeof e.name === 'string' ? e.name : 'Error';
      return { ok: false, retryable: true, cause, message: typeof e.message === 'string' ? e.message : String(error) };
    } finally {
      this.hardStop.signal.removeEventListener('abort', onStop);
      ac.abort(); // ends the timeout's sleep
    }
  }
}
