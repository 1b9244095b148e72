/**
 * Object id -> node index, without a hash table: the ids are sorted once (LSD radix sort on 16-bit
 * digits, skipping digits all ids share; stable, so of duplicate ids the first in the dump wins) and
 * indexed by their value's position between the smallest and the largest id (about two ids per
 * bucket), then a lookup is a bucket read plus a binary search inside the bucket. Whatever ids a dump
 * holds, a lookup costs O(log n): ids crafted to share one bucket only make that search a few steps
 * longer; duplicate ids resolve to one node (the others are unreachable) and are counted.
 *
 * Memory: sorted ids (8 bytes per object, 4 for 4-byte ids), rank -> node (4), buckets (~2); the
 * sort briefly needs twice the ids and ranks.
 */
import type { Budget } from './budget';

export const NONE = 0xffffffff;
const TWO32 = 4294967296;

export class IdIndex {
  private constructor(
    private readonly hi: Uint32Array | null,
    private readonly lo: Uint32Array,
    /** rank -> node */
    private readonly order: Uint32Array | null,
    private readonly buckets: Uint32Array,
    private readonly min: number,
    private readonly max: number,
    private readonly scale: number,
    readonly duplicates: number,
    private readonly budget: Budget,
  ) {}

  get size(): number {
    return this.lo.length;
  }

  /**
   * Builds the index over node ids given in node order (`hi` null for 4-byte ids). Takes ownership of
   * the arrays (they may become the sorted ones).
   */
  static build(hi: Uint32Array | null, lo: Uint32Array, budget: Budget): IdIndex {
    const n = lo.length;
    const { sortedHi, sortedLo, order } = sortIds(hi, lo, budget);
    let duplicates = 0;
    for (let r = 1; r < n; r++) if (sortedLo[r] === sortedLo[r - 1] && (sortedHi === null || sortedHi[r] === sortedHi[r - 1])) duplicates++;
    const key = (r: number) => (sortedHi === null ? 0 : sortedHi[r]) * TWO32 + sortedLo[r];
    const min = n > 0 ? key(0) : 0;
    const max = n > 0 ? key(n - 1) : -1;
    const nb = Math.max(1, n >>> 1);
    const scale = nb / (max - min + 1);
    const buckets = budget.u32(nb + 1, 'object id index');
    let b = 0;
    for (let r = 0; r < n; r++) {
      let k = Math.floor((key(r) - min) * scale);
      if (k >= nb) k = nb - 1;
      while (b <= k) buckets[b++] = r;
      if ((r & 0xfffff) === 0) budget.check();
    }
    while (b <= nb) buckets[b++] = n;
    return new IdIndex(sortedHi, sortedLo, order, buckets, min, max, scale, duplicates, budget);
  }

  /** The node with id (hi, lo), or NONE. */
  lookup(hi: number, lo: number): number {
    const k = hi * TWO32 + lo;
    if (k < this.min || k > this.max) return NONE;
    const nb = this.buckets.length - 1;
    let b = Math.floor((k - this.min) * this.scale);
    if (b >= nb) b = nb - 1;
    let a = this.buckets[b];
    let z = this.buckets[b + 1];
    const H = this.hi;
    const L = this.lo;
    // leftmost r in [a, z) with id(r) >= (hi, lo)
    while (a < z) {
      const m = (a + z) >>> 1;
      const mh = H === null ? 0 : H[m];
      if (mh < hi || (mh === hi && L[m] < lo)) a = m + 1;
      else z = m;
    }
    if (a >= L.length || L[a] !== lo || (H !== null && H[a] !== hi)) return NONE;
    return this.order === null ? a : this.order[a];
  }

  /** Gives the index's memory back. */
  dispose(): void {
    this.budget.free(this.hi ?? undefined);
    this.budget.free(this.lo);
    this.budget.free(this.order ?? undefined);
    this.budget.free(this.buckets);
  }
}

/** Sorted ids and rank -> node (null when the ids were in order already). */
function sortIds(hi: Uint32Array | null, lo: Uint32Array, budget: Budget): { sortedHi: Uint32Array | null; sortedLo: Uint32Array; order: Uint32Array | null } {
  const n = lo.length;
  const digit = [(i: number) => lo[i] & 0xffff, (i: number) => lo[i] >>> 16, (i: number) => (hi === null ? 0 : hi[i] & 0xffff), (i: number) => (hi === null ? 0 : hi[i] >>> 16)];
  // one pass: are they sorted already, and which digits differ at all
  let sorted = true;
  const first = [digit[0](0), digit[1](0), digit[2](0), digit[3](0)];
  const varies = [false, false, false, false];
  for (let i = 1; i < n; i++) {
    const h = hi === null ? 0 : hi[i];
    const ph = hi === null ? 0 : hi[i - 1];
    if (sorted && (h < ph || (h === ph && lo[i] < lo[i - 1]))) sorted = false;
    if (!varies[0] && (lo[i] & 0xffff) !== first[0]) varies[0] = true;
    if (!varies[1] && lo[i] >>> 16 !== first[1]) varies[1] = true;
    if (!varies[2] && (h & 0xffff) !== first[2]) varies[2] = true;
    if (!varies[3] && h >>> 16 !== first[3]) varies[3] = true;
  }
  if (sorted) return { sortedHi: hi, sortedLo: lo, order: null };

  let aLo = lo;
  let aHi = hi;
  let aIdx = budget.u32(n, 'id sort');
  for (let i = 0; i < n; i++) aIdx[i] = i;
  let bLo = budget.u32(n, 'id sort');
  let bHi = hi === null ? null : budget.u32(n, 'id sort');
  let bIdx = budget.u32(n, 'id sort');
  const count = new Uint32Array(65_537);
  for (let d = 0; d < 4; d++) {
    if (!varies[d]) continue;
    budget.check();
    count.fill(0);
    const shift = d % 2 === 0 ? 0 : 16;
    const src = d < 2 ? aLo : (aHi as Uint32Array);
    for (let i = 0; i < n; i++) count[((src[i] >>> shift) & 0xffff) + 1]++;
    for (let k = 1; k <= 65_536; k++) count[k] += count[k - 1];
    for (let i = 0; i < n; i++) {
      const to = count[(src[i] >>> shift) & 0xffff]++;
      bLo[to] = aLo[i];
      if (bHi !== null) bHi[to] = (aHi as Uint32Array)[i];
      bIdx[to] = aIdx[i];
    }
    [aLo, bLo] = [bLo, aLo];
    [aHi, bHi] = [bHi, aHi];
    [aIdx, bIdx] = [bIdx, aIdx];
  }
  budget.free(bLo);
  budget.free(bHi ?? undefined);
  budget.free(bIdx);
  return { sortedHi: aHi, sortedLo: aLo, order: aIdx };
}
