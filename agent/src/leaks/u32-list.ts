/**
 * An append-only list of u32 values in chunks of 1 Mi values (4 MiB): beyond the first chunk, growing
 * never copies (no doubling that would briefly hold twice the data), every chunk is charged to the
 * Budget, and the final exact-size array is assembled chunk by chunk, each chunk released as soon as it
 * is copied. The first chunk starts at 1 Ki values and doubles up to a full chunk, so a small dump costs
 * little.
 */
import type { Budget } from './budget';

export const CHUNK_SHIFT = 20;
export const CHUNK = 1 << CHUNK_SHIFT;
const MASK = CHUNK - 1;
const FIRST = 1024;

export class U32List {
  readonly chunks: Uint32Array[] = [];
  private cur: Uint32Array = new Uint32Array(0);
  private pos = 0; // the first push allocates
  private full = 0; // values in completed chunks

  constructor(
    private readonly budget: Budget,
    private readonly what: string,
  ) {}

  get length(): number {
    return this.full + (this.chunks.length === 0 ? 0 : this.pos);
  }

  push(v: number): void {
    if (this.pos === this.cur.length) this.grow();
    this.cur[this.pos++] = v;
  }

  get(i: number): number {
    return this.chunks[i >>> CHUNK_SHIFT][i & MASK];
  }

  set(i: number, v: number): void {
    this.chunks[i >>> CHUNK_SHIFT][i & MASK] = v;
  }

  private grow(): void {
    if (this.chunks.length === 1 && this.cur.length < CHUNK) {
      // the first chunk doubles (copying at most 2 MiB) until it is a full one
      const bigger = this.cur.length * 2;
      this.budget.charge((bigger - this.cur.length) * 4, this.what);
      const next = new Uint32Array(bigger);
      next.set(this.cur);
      this.cur = next;
      this.chunks[0] = next;
      return;
    }
    if (this.chunks.length > 0) this.full += CHUNK;
    const size = this.chunks.length === 0 ? FIRST : CHUNK;
    this.budget.charge(size * 4, this.what);
    this.cur = new Uint32Array(size);
    this.chunks.push(this.cur);
    this.pos = 0;
  }

  /**
   * The values as one Uint32Array of exactly `length + extra` elements (the extra ones zero); the
   * list is empty afterwards. Peak memory: the result plus one chunk.
   */
  toArray(extra = 0): Uint32Array {
    const n = this.length;
    const out = this.budget.u32(n + extra, this.what);
    let at = 0;
    for (let c = 0; c < this.chunks.length; c++) {
      const chunk = this.chunks[c];
      const take = Math.min(chunk.length, n - at);
      out.set(take === chunk.length ? chunk : chunk.subarray(0, take), at);
      at += take;
      this.budget.free(chunk);
      (this.chunks as (Uint32Array | undefined)[])[c] = undefined;
    }
    this.clear();
    return out;
  }

  /** Drops every value (and gives their memory back). */
  clear(): void {
    for (const c of this.chunks) if (c) this.budget.free(c);
    this.chunks.length = 0;
    this.cur = new Uint32Array(0);
    this.pos = 0;
    this.full = 0;
  }
}
