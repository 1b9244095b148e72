/**
 * The analyzer's id table against ids chosen to collide. Collisions are computed here, from the hash
 * functions' definitions (MurmurHash3's 32-bit finalizer and its inverse; the multiplicative hash the
 * table used before), not by asking the table where a key lands.
 */
import { IdTable, IdTableFloodedError, MAX_RESEEDS } from '../../../agent/src/triage/id-table';

const M1 = 0x85ebca6b;
const M2 = 0xc2b2ae35;

/** MurmurHash3 fmix32, written from the reference implementation. */
function fmix(x: number): number {
  let h = x >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  h = Math.imul(h, M1) >>> 0;
  h = (h ^ (h >>> 13)) >>> 0;
  h = Math.imul(h, M2) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  return h;
}

/** Multiplicative inverse of an odd number mod 2^32 (Newton's iteration). */
function inverse(a: number): number {
  let x = a >>> 0;
  for (let i = 0; i < 5; i++) x = Math.imul(x, (2 - Math.imul(a, x)) >>> 0) >>> 0;
  return x >>> 0;
}

/** Undoes h ^= h >>> s. */
function unxorshift(h: number, s: number): number {
  let x = h >>> 0;
  for (let i = s; i < 32; i += s) x = (h ^ (x >>> s)) >>> 0;
  return x >>> 0;
}

function unfmix(y: number): number {
  let h = unxorshift(y, 16);
  h = Math.imul(h, inverse(M2)) >>> 0;
  h = unxorshift(h, 13);
  h = Math.imul(h, inverse(M1)) >>> 0;
  return unxorshift(h, 16);
}

/**
 * `n` low halves (with high half `hi`) whose mixed value shares its top 16 bits, i.e. one home slot in
 * any table of up to 65,536 slots, for a table seeded with (seedLo, seedHi).
 */
function aimedIds(n: number, hi: number, seedLo: number, seedHi: number): number[] {
  const hiMix = fmix((hi ^ seedHi) >>> 0);
  return Array.from({ length: n }, (_, i) => (unfmix(((0xabcd << 16) | i) >>> 0) ^ seedLo ^ hiMix) >>> 0);
}

/**
 * 8-byte class ids that collide completely in the hash the table used before (no seed):
 * imul(lo ^ imul(hi, 0x85ebca6b), 0x9e3779b1) is the same value for every one of them, at every table
 * size: the attack of issue 20.
 */
function oldHashCollisions(n: number): Array<[number, number]> {
  const X = 0x5eed5eed;
  return Array.from({ length: n }, (_, i) => [i + 1, (X ^ Math.imul(i + 1, 0x85ebca6b)) >>> 0]);
}
const oldHash = (hi: number, lo: number): number => Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> 0;

const elapsed = (f: () => void): number => {
  const t = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t) / 1e6;
};

describe('IdTable', () => {
  it('maps 64-bit ids exactly, like a Map, through growth', () => {
    const t = new IdTable(4);
    const ref = new Map<string, number>();
    let r = 12345;
    const next = () => (r = (Math.imul(r, 1103515245) + 12345) >>> 0);
    for (let i = 0; i < 30_000; i++) {
      const hi = i % 3 === 0 ? 0 : next() % 16;
      const lo = next();
      t.set(hi, lo, i);
      ref.set(`${hi}:${lo}`, i);
    }
    expect(t.size).toBe(ref.size);
    const wrong = [...ref].filter(([k, v]) => t.get(...(k.split(':').map(Number) as [number, number])) !== v);
    expect(wrong).toEqual([]);
    expect(t.get(99, 99)).toBe(-1);
  });

  it('our own collision check: the aimed ids really share one home slot under those seeds', () => {
    const seeds: [number, number] = [0x01234567, 0x89abcdef];
    const t = new IdTable(32_768, { seeds });
    const homes = new Set(aimedIds(1000, 7, ...seeds).map((lo) => t.home(7, lo)));
    expect(homes.size).toBe(1);
  });

  it('20,000 ids aimed at its seeds cost linear time: it draws new seeds and every id is found', () => {
    const seeds: [number, number] = [0x0badf00d, 0x5eed1234];
    const ids = aimedIds(20_000, 7, ...seeds);
    const spread = ids.map((_, i) => (Math.imul(i + 1, 0x9e3779b1) >>> 0));
    const t = new IdTable(16, { seeds });
    const aimed = elapsed(() => ids.forEach((lo, i) => t.set(7, lo, i)));
    expect(t.reseeds).toBeGreaterThanOrEqual(1);
    expect(ids.filter((lo, i) => t.get(7, lo) !== i)).toEqual([]);
    const base = new IdTable(16, { seeds });
    const plain = elapsed(() => spread.forEach((lo, i) => base.set(7, lo, i)));
    // quadratic would be 20,000^2 / 2 = 2e8 probes: seconds; linear is milliseconds
    expect(aimed).toBeLessThan(Math.max(500, 50 * plain));
  });

  it('ids that keep colliding whatever the seed (a seed source that never changes) end in IdTableFloodedError, quickly', () => {
    const seeds: [number, number] = [1, 2];
    const t = new IdTable(16, { seeds, seedSource: (() => { let k = 0; return () => (k++ % 2 === 0 ? 1 : 2); })() });
    const ids = aimedIds(5_000, 7, ...seeds);
    let thrown: unknown;
    const ms = elapsed(() => {
      try {
        ids.forEach((lo, i) => t.set(7, lo, i));
      } catch (error) {
        thrown = error;
      }
    });
    expect(thrown).toBeInstanceOf(IdTableFloodedError);
    expect(t.reseeds).toBe(MAX_RESEEDS);
    expect(ms).toBeLessThan(2000);
  });

  it('the old fixed hash\'s colliding class ids (160,000) are ordinary ids to it', () => {
    const ids = oldHashCollisions(160_000);
    // the collision, checked: one hash value for all of them
    expect(new Set(ids.map(([hi, lo]) => oldHash(hi, lo))).size).toBe(1);
    const t = new IdTable(256);
    const ms = elapsed(() => ids.forEach(([hi, lo], i) => t.set(hi, lo, i)));
    expect(t.reseeds).toBe(0);
    expect(ms).toBeLessThan(5000);
    expect(t.get(...ids[123_456])).toBe(123_456);
  });
});
