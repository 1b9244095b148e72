/**
 * A hash map from 64-bit HPROF identifiers (two u32 halves) to non-negative integers, for the keys a
 * dump chooses freely (class ids, serial numbers, frame ids) while the dump is read.
 *
 * A crafted dump must not be able to make it slow: the hash is keyed with random per-map seeds (the
 * dump's author cannot know which keys collide), probing is linear with a load factor <= 1/2, and a
 * probe sequence longer than MAX_PROBE (only bad luck can cause one) rebuilds the table with new
 * seeds. JS `Map` is not used for dump-chosen numbers: V8 hashes numbers without a seed.
 */
import { randomBytes } from 'crypto';

const MAX_PROBE = 64;

export class SeededIdMap {
  private keysHi: Uint32Array;
  private keysLo: Uint32Array;
  /** value + 1; 0 = empty */
  private values: Int32Array;
  private mask: number;
  private count = 0;
  private seedA = 0;
  private seedB = 0;

  constructor(capacity = 16) {
    let cap = 16;
    while (cap < capacity * 2) cap *= 2;
    this.keysHi = new Uint32Array(cap);
    this.keysLo = new Uint32Array(cap);
    this.values = new Int32Array(cap);
    this.mask = cap - 1;
    this.reseed();
  }

  get size(): number {
    return this.count;
  }

  /** Bytes held by the table. */
  get bytes(): number {
    return this.values.length * 12;
  }

  private reseed(): void {
    const r = randomBytes(8);
    this.seedA = r.readUInt32LE(0) | 1;
    this.seedB = r.readUInt32LE(4);
  }

  private slot(hi: number, lo: number): number {
    let h = Math.imul(hi ^ this.seedB, 0x85ebca6b) + Math.imul(lo ^ 0x9e3779b9, this.seedA);
    h ^= h >>> 16;
    h = Math.imul(h, 0x7feb352d);
    h ^= h >>> 15;
    h = Math.imul(h, 0x846ca68b);
    h ^= h >>> 16;
    return h & this.mask;
  }

  /** The value for (hi, lo), or -1. */
  get(hi: number, lo: number): number {
    hi >>>= 0;
    lo >>>= 0;
    let s = this.slot(hi, lo);
    for (let probe = 0; probe <= this.mask; probe++) {
      const v = this.values[s];
      if (v === 0) return -1;
      if (this.keysLo[s] === lo && this.keysHi[s] === hi) return v - 1;
      s = (s + 1) & this.mask;
    }
    return -1;
  }

  /** Stores `value` (>= 0) for (hi, lo), replacing an earlier one. */
  set(hi: number, lo: number, value: number): void {
    if ((this.count + 1) * 2 > this.values.length) this.rebuild(this.values.length * 2);
    while (!this.put(hi >>> 0, lo >>> 0, value + 1)) this.rebuild(this.values.length);
  }

  /** Stores and returns `value` unless (hi, lo) has one already; then returns that one. */
  getOrSet(hi: number, lo: number, value: number): number {
    const v = this.get(hi, lo);
    if (v >= 0) return v;
    this.set(hi, lo, value);
    return value;
  }

  private put(hi: number, lo: number, stored: number): boolean {
    let s = this.slot(hi, lo);
    for (let probe = 0; probe < MAX_PROBE; probe++) {
      const v = this.values[s];
      if (v === 0) {
        this.keysHi[s] = hi;
        this.keysLo[s] = lo;
        this.values[s] = stored;
        this.count++;
        return true;
      }
      if (this.keysLo[s] === lo && this.keysHi[s] === hi) {
        this.values[s] = stored;
        return true;
      }
      s = (s + 1) & this.mask;
    }
    return false;
  }

  /** New seeds (and capacity): every key lands somewhere else. */
  private rebuild(capacity: number): void {
    const { keysHi, keysLo, values } = this;
    for (let attempt = 0; ; attempt++) {
      this.keysHi = new Uint32Array(capacity);
      this.keysLo = new Uint32Array(capacity);
      this.values = new Int32Array(capacity);
      this.mask = capacity - 1;
      this.count = 0;
      this.reseed();
      let ok = true;
      for (let i = 0; i < values.length && ok; i++) if (values[i] !== 0) ok = this.put(keysHi[i], keysLo[i], values[i]);
      if (ok) return;
      if (attempt >= 3) capacity *= 2; // keep going with more room: never loops forever
    }
  }
}
