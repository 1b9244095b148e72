/**
 * Where the dump's UTF-8 name records are, not what they say.
 *
 * A HotSpot dump starts with one UTF8 record per symbol of the JVM (tens of thousands to a million:
 * class, method, field and source file names). The analysis needs a few thousand of them at the end
 * (top classes, stack frames), so during the walk only (identifier -> stream offset, length) is kept,
 * in typed arrays (16 bytes + 2 per name, no object per name), and the names are read at the end, in
 * one batch of positioned reads sorted by offset, through a `NameReader` (names sit near the start
 * of a HotSpot dump, so a compressed dump is re-inflated only up to there).
 */
import { IdTable } from './id-table';

/** A byte range of the HPROF stream (the decompressed stream for a `.hprof.gz`). */
export interface NameRange {
  readonly offset: number;
  readonly length: number;
}

/**
 * Reads byte ranges of the HPROF stream. `ranges` come sorted by offset; the result has one Buffer
 * per range (shorter or empty if the stream ends first). May reject; the analysis then reports the
 * names as unavailable.
 */
export interface NameReader {
  (ranges: readonly NameRange[]): Promise<Buffer[]>;
  /**
   * True when reading far into the stream costs no more than reading near its start (an uncompressed
   * file, a buffer): then the analysis may also re-read a few small windows of the heap to find thread
   * names the walk missed. False or absent for a gzip stream (it would be re-inflated up to there).
   */
  readonly randomAccess?: boolean;
}

export class NameIndex {
  private hi = new Uint32Array(256);
  private lo = new Uint32Array(256);
  private offset = new Float64Array(256);
  private length = new Uint16Array(256);
  /** Names indexed. */
  size = 0;
  /** Names not indexed because the index was full. */
  dropped = 0;

  /**
   * @param maxNames at most this many names are indexed (18 bytes each)
   * @param maxNameBytes longer names are read truncated to this many bytes (<= 65535)
   */
  constructor(
    private readonly maxNames: number,
    private readonly maxNameBytes: number,
  ) {}

  /** Bytes held by the index's arrays. */
  get bytes(): number {
    return this.hi.length * 18;
  }

  /** Notes that name `(hi, lo)` has `length` bytes at stream offset `offset`. */
  add(hi: number, lo: number, offset: number, length: number): void {
    const i = this.size;
    if (i >= this.maxNames) {
      this.dropped++;
      return;
    }
    if (i === this.hi.length) this.grow(Math.min(i * 2, this.maxNames));
    this.hi[i] = hi;
    this.lo[i] = lo;
    this.offset[i] = offset;
    this.length[i] = Math.min(length, this.maxNameBytes);
    this.size = i + 1;
  }

  private grow(capacity: number): void {
    const grown = <T extends Uint32Array | Float64Array | Uint16Array>(a: T, make: (n: number) => T): T => {
      const b = make(capacity);
      b.set(a);
      return b;
    };
    this.hi = grown(this.hi, (n) => new Uint32Array(n));
    this.lo = grown(this.lo, (n) => new Uint32Array(n));
    this.offset = grown(this.offset, (n) => new Float64Array(n));
    this.length = grown(this.length, (n) => new Uint16Array(n));
  }

  /**
   * Reads the names of the identifiers in `wanted` (identifier -> slot 0..slots-1). Returns one entry
   * per slot: the name, or null when the dump has no such name, it was not indexed, or reading failed.
   * One linear pass over the index (no sort of the index needed: the wanted set is small), one batch
   * of reads sorted by offset.
   */
  async resolve(
    wanted: IdTable,
    slots: number,
    read: NameReader,
  ): Promise<{ names: (string | null)[]; error?: string }> {
    const names: (string | null)[] = new Array(slots).fill(null);
    const found: Array<{ offset: number; length: number; slot: number }> = [];
    const seen = new Uint8Array(slots);
    for (let i = 0; i < this.size; i++) {
      const slot = wanted.get(this.hi[i], this.lo[i]);
      if (slot >= 0 && seen[slot] === 0) {
        seen[slot] = 1;
        found.push({ offset: this.offset[i], length: this.length[i], slot });
      }
    }
    if (found.length === 0) return { names };
    found.sort((a, b) => a.offset - b.offset);
    let buffers: Buffer[];
    try {
      buffers = await read(found.map(({ offset, length }) => ({ offset, length })));
    } catch (error) {
      return { names, error: (error as Error).message };
    }
    for (let i = 0; i < found.length; i++) {
      const b = buffers[i];
      if (b && b.length === found[i].length) names[found[i].slot] = b.toString('utf8');
    }
    return { names };
  }
}
