/**
 * The limits one leak analysis runs under: memory (bytes of the analysis' own typed arrays, charged
 * before each big allocation) and time (a deadline checked between units of work). A dump that needs
 * more gets a clear "not analysed" answer instead of an OOM kill or a process that never ends.
 *
 * Only the large, dump-proportional structures are charged (ids, edges, dominator arrays, names):
 * V8's own heap, code and buffers are the fixed overhead the caller leaves room for when it derives
 * the budget from its container's memory limit.
 */

/** Why an analysis was stopped before it finished: carried as `reason` of a not-analyzed report. */
export class BudgetExceeded extends Error {
  constructor(
    readonly kind: 'memory' | 'time' | 'size',
    message: string,
  ) {
    super(message);
    this.name = 'BudgetExceeded';
  }
}

const MIB = 2 ** 20;
/** Bytes given back between two requested garbage collections. */
const GC_EVERY = 64 * MIB;
const mib = (n: number): string => `${(n / MIB).toFixed(0)} MiB`;

export class Budget {
  private used = 0;
  private peak = 0;

  /**
   * @param maxBytes bytes of analysis arrays allowed at once (Infinity: no limit)
   * @param deadline ms since the epoch after which `check()` throws (Infinity: none)
   * @param now clock (tests)
   */
  constructor(
    readonly maxBytes: number = Infinity,
    readonly deadline: number = Infinity,
    private readonly now: () => number = Date.now,
  ) {}

  /** Bytes charged now. */
  get bytes(): number {
    return this.used;
  }

  /** Most bytes charged at once so far. */
  get peakBytes(): number {
    return this.peak;
  }

  /** Charges `bytes` before they are allocated; throws BudgetExceeded when over the limit. */
  charge(bytes: number, what: string): void {
    if (this.used + bytes > this.maxBytes) {
      throw new BudgetExceeded('memory', `the analysis needs more than its memory budget of ${mib(this.maxBytes)} (${what}: ${mib(this.used + bytes)} needed at once)`);
    }
    this.used += bytes;
    if (this.used > this.peak) this.peak = this.used;
  }

  private releasedSinceGc = 0;

  /**
   * Gives back what an array that is no longer used was charged. V8 frees a typed array's memory only when
   * a garbage collection finds it dead, and with a small JS heap that can be much later: after every
   * GC_EVERY bytes given back, a collection is asked for (when the process runs with --expose-gc, as the
   * analyzer's child does), so the process's memory follows the budget.
   */
  release(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
    this.releasedSinceGc += bytes;
    if (this.releasedSinceGc >= GC_EVERY) {
      this.releasedSinceGc = 0;
      (globalThis as { gc?: () => void }).gc?.();
    }
  }

  /** Throws BudgetExceeded once the deadline has passed. Cheap: call it every few million steps. */
  check(): void {
    if (this.now() > this.deadline) throw new BudgetExceeded('time', 'the analysis ran out of its time budget');
  }

  /** A Uint32Array of `n` elements, charged. */
  u32(n: number, what: string): Uint32Array {
    this.charge(n * 4, what);
    return new Uint32Array(n);
  }

  /** A Float64Array of `n` elements, charged. */
  f64(n: number, what: string): Float64Array {
    this.charge(n * 8, what);
    return new Float64Array(n);
  }

  /** Releases a charged array (the caller drops its last reference to it). */
  free(a: { readonly byteLength: number } | undefined): void {
    if (a) this.release(a.byteLength);
  }
}
