/**
 * A compact hash map from 64-bit HPROF identifiers to small integers (row numbers of typed-array
 * tables), without a JS Map or one object per entry: keys are two u32 halves (`hi`, `lo`; 4-byte
 * identifiers have hi = 0), open addressing with linear probing, load factor <= 1/2, doubled on growth.
 * 12 bytes per slot, so at most ~24 bytes per entry.
 * Identifiers are kept exact (no conversion to a JS number, which loses bits above 2^53).
 *
 * The identifiers come from a tenant's bytes, so the table must not be drivable into long probe runs
 * (a dump whose ~160,000 class ids all landed in one bucket of a fixed hash made every lookup scan the
 * whole run: quadratic, minutes of CPU for a 4 MB file):
 *  - the hash is seeded: each table draws two secret 32-bit seeds from the OS's CSPRNG and mixes both
 *    halves with MurmurHash3's finalizer (a bijection with full avalanche), so which ids share a bucket
 *    depends on seeds nobody outside the process sees; a fixed hash's collisions do not carry over;
 *  - probes are bounded: no key is ever stored more than MAX_PROBE slots from its home slot. An insert
 *    that would break that draws new seeds and rehashes (at most MAX_RESEEDS times in the table's
 *    life: a few O(n) passes); past that the ids are adversarial beyond chance and the table throws
 *    IdTableFloodedError (the analysis stops there and says so; the dump is uploaded anyway). So a
 *    lookup costs at most MAX_PROBE + 1 probes, an insert O(MAX_PROBE) amortized, whatever the ids.
 * Why not a JS Map: V8 hashes number keys without a seed, and strings of digits as their numeric value.
 */
import { randomFillSync } from 'crypto';

/** Longest distance of a key from its home slot (linear probing at load <= 1/2 stays far below on any keys that are not aimed). */
export const MAX_PROBE = 96;
/** New seeds drawn in a table's life before it gives up. */
export const MAX_RESEEDS = 6;

/** The ids defeated the seeded hash (never seen with ids that are not chosen against this process's seeds). */
export class IdTableFloodedError extends Error {
  constructor(size: number) {
    super(`identifier table flooded: ${size} ids kept colliding after ${MAX_RESEEDS} new hash seeds`);
    this.name = 'IdTableFloodedError';
  }
}

// Seeds come from a pool refilled from the CSPRNG (many small tables are made per analysis).
const pool = new Uint32Array(256);
let poolAt = pool.length;
function seed32(): number {
  if (poolAt >= pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  return pool[poolAt++];
}

/** MurmurHash3's 32-bit finalizer. */
export function fmix32(x: number): number {
  let h = x;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export interface IdTableOptions {
  /** The first seeds [lo, hi] instead of random ones (tests that aim collisions at a known hash). */
  readonly seeds?: readonly [number, number];
  /** Where later seeds come from. @default the OS's CSPRNG */
  readonly seedSource?: () => number;
}

export class IdTable {
  private keysHi: Uint32Array;
  private keysLo: Uint32Array;
  /** row + 1 (0 = empty slot) */
  private values: Int32Array;
  private mask: number;
  private shift: number;
  private count = 0;
  private seedLo = 0;
  private seedHi = 0;
  /** fmix32(hi ^ seedHi) of the last hi seen (ids of one dump mostly share their high half). */
  private lastHi = 0;
  private lastHiMix = 0;
  /** Seeds drawn after the first (the table's defence against aimed ids, counted). */
  reseeds = 0;
  private readonly seedSource: () => number;

  constructor(initialCapacity = 1024, opts: IdTableOptions = {}) {
    let cap = 16;
    while (cap < initialCapacity * 2) cap *= 2;
    this.keysHi = new Uint32Array(cap);
    this.keysLo = new Uint32Array(cap);
    this.values = new Int32Array(cap);
    this.mask = cap - 1;
    this.shift = 32 - Math.log2(cap);
    this.seedSource = opts.seedSource ?? seed32;
    this.setSeeds(opts.seeds ? opts.seeds[0] : this.seedSource(), opts.seeds ? opts.seeds[1] : this.seedSource());
  }

  get size(): number {
    return this.count;
  }

  /** Bytes held by the table's arrays. */
  get bytes(): number {
    return this.values.length * 12;
  }

  /** Home slot of (hi, lo) for the current seeds and capacity. */
  home(hi: number, lo: number): number {
    let m = this.lastHiMix;
    if (hi !== this.lastHi) {
      m = fmix32((hi ^ this.seedHi) >>> 0);
      this.lastHi = hi;
      this.lastHiMix = m;
    }
    return fmix32((lo ^ this.seedLo ^ m) >>> 0) >>> this.shift;
  }

  /** The value stored for (hi, lo), or -1. */
  get(hi: number, lo: number): number {
    const h = hi >>> 0;
    const l = lo >>> 0;
    const mask = this.mask;
    const keysLo = this.keysLo;
    const keysHi = this.keysHi;
    const values = this.values;
    let slot = this.home(h, l);
    // every key sits within MAX_PROBE of its home slot: no need to look further
    for (let i = 0; i <= MAX_PROBE; i++) {
      const v = values[slot];
      if (v === 0) return -1;
      if (keysLo[slot] === l && keysHi[slot] === h) return v - 1;
      slot = (slot + 1) & mask;
    }
    return -1;
  }

  /** Stores value (>= 0) for (hi, lo), replacing any previous value. Throws IdTableFloodedError (see above). */
  set(hi: number, lo: number, value: number): void {
    if ((this.count + 1) * 2 > this.values.length) this.rebuild(this.values.length * 2, false);
    while (!this.put(hi >>> 0, lo >>> 0, value + 1)) this.rebuild(this.values.length, true);
  }

  clear(): void {
    this.values.fill(0);
    this.count = 0;
  }

  /** Inserts or replaces; false (nothing stored) when the key would land more than MAX_PROBE from home. */
  private put(hi: number, lo: number, stored: number): boolean {
    const mask = this.mask;
    let slot = this.home(hi, lo);
    for (let i = 0; i <= MAX_PROBE; i++) {
      const v = this.values[slot];
      if (v === 0) {
        this.keysHi[slot] = hi;
        this.keysLo[slot] = lo;
        this.values[slot] = stored;
        this.count++;
        return true;
      }
      if (this.keysLo[slot] === lo && this.keysHi[slot] === hi) {
        this.values[slot] = stored;
        return true;
      }
      slot = (slot + 1) & mask;
    }
    return false;
  }

  private setSeeds(lo: number, hi: number): void {
    this.seedLo = lo >>> 0;
    this.seedHi = hi >>> 0;
    this.lastHi = 0;
    this.lastHiMix = fmix32(this.seedHi);
  }

  /** Rehashes every entry into `cap` slots, with new seeds when asked (or when the old ones do not fit). */
  private rebuild(cap: number, reseed: boolean): void {
    const { keysHi, keysLo, values } = this;
    for (let newSeeds = reseed; ; newSeeds = true) {
      if (newSeeds) {
        if (this.reseeds >= MAX_RESEEDS) throw new IdTableFloodedError(this.count);
        this.reseeds++;
        this.setSeeds(this.seedSource(), this.seedSource());
      }
      this.keysHi = new Uint32Array(cap);
      this.keysLo = new Uint32Array(cap);
      this.values = new Int32Array(cap);
      this.mask = cap - 1;
      this.shift = 32 - Math.log2(cap);
      this.count = 0;
      let ok = true;
      for (let i = 0; i < values.length && ok; i++) if (values[i] !== 0) ok = this.put(keysHi[i], keysLo[i], values[i]);
      if (ok) return;
    }
  }
}

/** Formats an identifier as `0x` + 16 (8-byte ids) or 8 (4-byte ids) hex digits. */
export function formatId(hi: number, lo: number, idSize: number): string {
  const low = (lo >>> 0).toString(16).padStart(8, '0');
  return idSize === 4 ? `0x${low}` : `0x${(hi >>> 0).toString(16).padStart(8, '0')}${low}`;
}
