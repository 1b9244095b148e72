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

/** A sorted sequence of ids with their node numbers (`idx` null: node = base + position). */
interface Seq {
  readonly lo: Uint32Array;
  readonly hi: Uint32Array | null;
  readonly idx: Uint32Array | null;
  readonly base: number;
}

/** Runs of at least this share of the ids are merged as they are; shorter runs are sorted together first. */
const BIG_RUN_SHARE = 1 / 64;
/** Up to this many short-run ids, a comparison sort; beyond, a radix sort. */
const COMPARE_SORT_MAX = 200_000;

/**
 * Sorted ids and rank -> node (null when the ids were in order already). HotSpot writes objects in
 * address order per heap region, after the class dumps: a few long ascending runs and many tiny ones.
 * The tiny runs are sorted together, then the long runs and that are merged pairwise, shortest first:
 * about two linear passes for a real dump; a dump in random order costs one radix sort.
 */
function sortIds(hi: Uint32Array | null, lo: Uint32Array, budget: Budget): { sortedHi: Uint32Array | null; sortedLo: Uint32Array; order: Uint32Array | null } {
  const n = lo.length;
  const less = (h1: number, l1: number, h2: number, l2: number) => h1 < h2 || (h1 === h2 && l1 < l2);
  const starts: number[] = [0];
  for (let i = 1; i < n; i++) if (less(hi === null ? 0 : hi[i], lo[i], hi === null ? 0 : hi[i - 1], lo[i - 1])) starts.push(i);
  if (starts.length === 1) return { sortedHi: hi, sortedLo: lo, order: null };
  starts.push(n);
  const big: Seq[] = [];
  const small: number[] = [];
  let smallCount = 0;
  for (let r = 0; r + 1 < starts.length; r++) {
    const a = starts[r];
    const z = starts[r + 1];
    if (z - a >= Math.max(2, n * BIG_RUN_SHARE)) big.push({ lo: lo.subarray(a, z), hi: hi === null ? null : hi.subarray(a, z), idx: null, base: a });
    else {
      small.push(a, z);
      smallCount += z - a;
    }
  }
  if (smallCount > 0) big.push(sortSmall(hi, lo, small, smallCount, budget));
  // merge, shortest two first (their order does not matter: ties go by node number)
  while (big.length > 1) {
    budget.check();
    big.sort((x, y) => y.lo.length - x.lo.length);
    const a = big.pop() as Seq;
    const b = big.pop() as Seq;
    big.push(merge(a, b, hi !== null, budget));
  }
  const out = big[0];
  budget.free(lo);
  budget.free(hi ?? undefined);
  return { sortedHi: out.hi, sortedLo: out.lo, order: out.idx ?? identity(out, budget) };
}

function identity(s: Seq, budget: Budget): Uint32Array {
  const idx = budget.u32(s.lo.length, 'id sort');
  for (let i = 0; i < idx.length; i++) idx[i] = s.base + i;
  return idx;
}

function merge(a: Seq, b: Seq, wide: boolean, budget: Budget): Seq {
  const n = a.lo.length + b.lo.length;
  const lo = budget.u32(n, 'id sort');
  const hi = wide ? budget.u32(n, 'id sort') : null;
  const idx = budget.u32(n, 'id sort');
  const aN = a.lo.length;
  const bN = b.lo.length;
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < aN && j < bN) {
    const ah = a.hi === null ? 0 : a.hi[i];
    const bh = b.hi === null ? 0 : b.hi[j];
    const ai = a.idx === null ? a.base + i : a.idx[i];
    const bi = b.idx === null ? b.base + j : b.idx[j];
    const takeA = ah < bh || (ah === bh && (a.lo[i] < b.lo[j] || (a.lo[i] === b.lo[j] && ai < bi)));
    if (takeA) {
      lo[k] = a.lo[i];
      if (hi !== null) hi[k] = ah;
      idx[k++] = ai;
      i++;
    } else {
      lo[k] = b.lo[j];
      if (hi !== null) hi[k] = bh;
      idx[k++] = bi;
      j++;
    }
  }
  for (; i < aN; i++, k++) {
    lo[k] = a.lo[i];
    if (hi !== null) hi[k] = a.hi === null ? 0 : a.hi[i];
    idx[k] = a.idx === null ? a.base + i : a.idx[i];
  }
  for (; j < bN; j++, k++) {
    lo[k] = b.lo[j];
    if (hi !== null) hi[k] = b.hi === null ? 0 : b.hi[j];
    idx[k] = b.idx === null ? b.base + j : b.idx[j];
  }
  for (const s of [a, b]) {
    // views of the original arrays are released with them; merged sequences now
    if (s.idx !== null) {
      budget.free(s.lo);
      budget.free(s.hi ?? undefined);
      budget.free(s.idx);
    }
  }
  return { lo, hi, idx, base: 0 };
}

/** The ids of the short runs (`ranges`: start, end pairs), sorted with their node numbers (stable). */
function sortSmall(hi: Uint32Array | null, lo: Uint32Array, ranges: number[], count: number, budget: Budget): Seq {
  let sLo = budget.u32(count, 'id sort');
  let sHi = hi === null ? null : budget.u32(count, 'id sort');
  let sIdx = budget.u32(count, 'id sort');
  let k = 0;
  for (let r = 0; r < ranges.length; r += 2) {
    for (let i = ranges[r]; i < ranges[r + 1]; i++, k++) {
      sLo[k] = lo[i];
      if (sHi !== null) sHi[k] = (hi as Uint32Array)[i];
      sIdx[k] = i;
    }
  }
  if (count <= COMPARE_SORT_MAX) {
    const perm = Array.from({ length: count }, (_, i) => i);
    perm.sort((x, y) => (sHi === null ? 0 : sHi[x] - sHi[y]) || sLo[x] - sLo[y] || sIdx[x] - sIdx[y]);
    const oLo = Uint32Array.from(perm, (p) => sLo[p]);
    const oHi = sHi === null ? null : Uint32Array.from(perm, (p) => (sHi as Uint32Array)[p]);
    const oIdx = Uint32Array.from(perm, (p) => sIdx[p]);
    sLo.set(oLo);
    if (sHi !== null) sHi.set(oHi as Uint32Array);
    sIdx.set(oIdx);
    return { lo: sLo, hi: sHi, idx: sIdx, base: 0 };
  }
  // LSD radix on 16-bit digits (stable: equal ids keep node order), digits all ids share skipped
  let bLo = budget.u32(count, 'id sort');
  let bHi = sHi === null ? null : budget.u32(count, 'id sort');
  let bIdx = budget.u32(count, 'id sort');
  const freq = new Uint32Array(65_537);
  for (let d = 0; d < 4; d++) {
    if (d >= 2 && sHi === null) break;
    budget.check();
    const src = d < 2 ? sLo : (sHi as Uint32Array);
    const shift = d % 2 === 0 ? 0 : 16;
    freq.fill(0);
    for (let i = 0; i < count; i++) freq[((src[i] >>> shift) & 0xffff) + 1]++;
    if (freq.some((f) => f === count)) continue; // every id has this digit
    for (let v = 1; v <= 65_536; v++) freq[v] += freq[v - 1];
    for (let i = 0; i < count; i++) {
      const to = freq[(src[i] >>> shift) & 0xffff]++;
      bLo[to] = sLo[i];
      if (bHi !== null) bHi[to] = (sHi as Uint32Array)[i];
      bIdx[to] = sIdx[i];
    }
    [sLo, bLo] = [bLo, sLo];
    [sHi, bHi] = [bHi, sHi];
    [sIdx, bIdx] = [bIdx, sIdx];
  }
  budget.free(bLo);
  budget.free(bHi ?? undefined);
  budget.free(bIdx);
  return { lo: sLo, hi: sHi, idx: sIdx, base: 0 };
}
