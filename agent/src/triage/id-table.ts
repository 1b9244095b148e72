/**
 * A compact hash map from 64-bit HPROF identifiers to small integers (row numbers of typed-array
 * tables), without a JS Map or one object per entry: keys are two u32 halves (`hi`, `lo`; 4-byte
 * identifiers have hi = 0), open addressing with linear probing, load factor <= 1/2, doubled on growth.
 * 12 bytes per slot, so at most ~24 bytes per entry.
 * Identifiers are kept exact (no conversion to a JS number, which loses bits above 2^53).
 */
export class IdTable {
  private keysHi: Uint32Array;
  private keysLo: Uint32Array;
  /** row + 1 (0 = empty slot) */
  private values: Int32Array;
  private mask: number;
  private shift: number;
  private count = 0;

  constructor(initialCapacity = 1024) {
    let cap = 16;
    while (cap < initialCapacity * 2) cap *= 2;
    this.keysHi = new Uint32Array(cap);
    this.keysLo = new Uint32Array(cap);
    this.values = new Int32Array(cap);
    this.mask = cap - 1;
    this.shift = 32 - Math.log2(cap);
  }

  get size(): number {
    return this.count;
  }

  /** Bytes held by the table's arrays. */
  get bytes(): number {
    return this.values.length * 12;
  }

  /** The value stored for (hi, lo), or -1. */
  get(hi: number, lo: number): number {
    const mask = this.mask;
    const keysLo = this.keysLo;
    const keysHi = this.keysHi;
    const values = this.values;
    let slot = Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> this.shift;
    for (;;) {
      const v = values[slot];
      if (v === 0) return -1;
      if (keysLo[slot] === lo && keysHi[slot] === hi) return v - 1;
      slot = (slot + 1) & mask;
    }
  }

  /** Stores value (>= 0) for (hi, lo), replacing any previous value. */
  set(hi: number, lo: number, value: number): void {
    if ((this.count + 1) * 2 > this.values.length) this.grow();
    this.put(hi >>> 0, lo >>> 0, value + 1);
  }

  clear(): void {
    this.values.fill(0);
    this.count = 0;
  }

  private put(hi: number, lo: number, stored: number): void {
    const mask = this.mask;
    let slot = Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> this.shift;
    for (;;) {
      const v = this.values[slot];
      if (v === 0) {
        this.keysHi[slot] = hi;
        this.keysLo[slot] = lo;
        this.values[slot] = stored;
        this.count++;
        return;
      }
      if (this.keysLo[slot] === lo && this.keysHi[slot] === hi) {
        this.values[slot] = stored;
        return;
      }
      slot = (slot + 1) & mask;
    }
  }

  private grow(): void {
    const { keysHi, keysLo, values } = this;
    const cap = values.length * 2;
    this.keysHi = new Uint32Array(cap);
    this.keysLo = new Uint32Array(cap);
    this.values = new Int32Array(cap);
    this.mask = cap - 1;
    this.shift = 32 - Math.log2(cap);
    this.count = 0;
    for (let i = 0; i < values.length; i++) if (values[i] !== 0) this.put(keysHi[i], keysLo[i], values[i]);
  }
}

/** Formats an identifier as `0x` + 16 (8-byte ids) or 8 (4-byte ids) hex digits. */
export function formatId(hi: number, lo: number, idSize: number): string {
  const low = (lo >>> 0).toString(16).padStart(8, '0');
  return idSize === 4 ? `0x${low}` : `0x${(hi >>> 0).toString(16).padStart(8, '0')}${low}`;
}
