/**
 * An append-only list of u32 values in fixed chunks of 1 Mi values (4 MiB): growing never copies (no
 * doubling that would briefly hold twice the data), every chunk is charged to the Budget, and the
 * final exact-size array is assembled chunk by chunk, each chunk released as soon as it is copied.
 */
import type { Budget } from './budget';

export const CHUNK_SHIFT = 20;
export const CHUNK = 1 << CHUNK_SHIFT;
const MASK = CHUNK - 1;

export class U32List {
  readonly chunks: Uint32Array[] = [];
  private cur: Uint32Array = new Uint32Array(0);
  private pos = CHUNK; // the first push allocates
  private full = 0; // values in completed chunks

  constructor(
    private readonly budget: Budget,
    private readonly what: string,
  ) {}

  get length(): number {
    return this.full + (this.chunks.length === 0 ? 0 : this.pos);
  }

  push(v: number): void {
    if (this.pos === CHUNK) this.grow();
    this.cur[this.pos++] = v;
  }

  get(i: number): number {
    return this.chunks[i >>> CHUNK_SHIFT][i & MASK];
  }

  set(i: number, v: number): void {
    this.chunks[i >>> CHUNK_SHIFT][i & MASK] = v;
  }

  private grow(): void {
    if (this.chunks.length > 0) this.full += CHUNK;
    this.budget.charge(CHUNK * 4, this.what);
    this.cur = new Uint32Array(CHUNK);
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
      const take = Math.min(CHUNK, n - at);
      out.set(take === CHUNK ? chunk : chunk.subarray(0, take), at);
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
    this.pos = CHUNK;
    this.full = 0;
  }
}
