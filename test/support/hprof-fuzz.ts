/**
 * Adversarial HPROF streams for fuzzing the analysis and the completeness checks, from a seed (the
 * same seed gives the same bytes): random structures with random damage, ids that collide in the
 * analyzer's fixed-index caches and in the id table's former hash, millions of tiny records, deep
 * stacks and extreme class dumps, lying lengths, and gzip bombs (single or many members, cut or whole).
 * Written from the format's definition (hprof-writer.ts), never from the parser's code.
 */
import { gzipSync } from 'zlib';
import { formerHashCollisions, hprofHeader } from './hostile-dumps';
import { HprofWriter, T } from './hprof-writer';

/** mulberry32: a small, fast, seedable PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FuzzCase {
  readonly seed: number;
  readonly generator: string;
  readonly bytes: Buffer;
  /** The file is a .hprof.gz (the bytes are gzip). */
  readonly gzip: boolean;
  /** Chunk sizes to feed the stream walkers with (cycled). */
  readonly chunks: readonly number[];
}

export interface FuzzScale {
  /** Most tiny records in one case. @default 200,000 (CI); the fuzz script goes up to 6,000,000 */
  readonly maxRecords: number;
  /** Most instances/classes in one case. @default 20,000 */
  readonly maxObjects: number;
}

export const CI_SCALE: FuzzScale = { maxRecords: 200_000, maxObjects: 20_000 };

type Rand = () => number;
const int = (r: Rand, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

function recordHeader(tag: number, length: number): Buffer {
  const h = Buffer.alloc(9);
  h[0] = tag;
  h.writeUInt32BE(length >>> 0, 5);
  return h;
}
const END = recordHeader(0x2c, 0);

/** A plausible dump: names, classes, a thread with a stack, objects, arrays, in one or two segments. */
function randomStructure(r: Rand, s: FuzzScale): Buffer {
  const w = new HprofWriter(r() < 0.8 ? 8 : 4);
  const classes = int(r, 1, 50);
  for (let c = 0; c < classes; c++) w.utf8(BigInt(1000 + c), `com/fuzz/C${c}`).loadClass(c + 1, BigInt(0x10000 + c * 16), BigInt(1000 + c));
  w.utf8(1n, 'run').stackFrame(0x500n, 1n, 1n, 0n, 1, int(r, -3, 500)).stackTrace(1, 1, [0x500n]);
  w.heapSegment();
  for (let c = 0; c < classes; c++) w.classDump(BigInt(0x10000 + c * 16), c > 0 && r() < 0.5 ? BigInt(0x10000 + (c - 1) * 16) : 0n, 8, [{ name: 1n, type: T.long }]);
  const objects = int(r, 0, Math.min(s.maxObjects, 5000));
  for (let i = 0; i < objects; i++) {
    const k = r();
    if (k < 0.6) w.instance(BigInt(0x1000000 + i * 16), BigInt(0x10000 + int(r, 0, classes - 1) * 16), Buffer.alloc(8));
    else if (k < 0.8) w.primitiveArray(BigInt(0x1000000 + i * 16), pick(r, [T.byte, T.char, T.int, T.long]), int(r, 0, 64));
    else w.objectArray(BigInt(0x1000000 + i * 16), BigInt(0x10000), [BigInt(0x1000000)]);
    if (r() < 0.01) w.heapSegment();
  }
  w.rootThreadObject(0x1000000n, 1, 1);
  return w.end().toBuffer();
}

/** Flips, cuts, inserts: damage anywhere. */
function damage(r: Rand, b: Buffer): Buffer {
  const out = Buffer.from(b);
  const k = r();
  if (k < 0.3) {
    for (let i = int(r, 1, 20); i > 0; i--) out[int(r, 0, out.length - 1)] = int(r, 0, 255);
    return out;
  }
  if (k < 0.6) return out.subarray(0, int(r, 0, out.length));
  if (k < 0.8) {
    const at = int(r, 0, out.length);
    return Buffer.concat([out.subarray(0, at), Buffer.from(Array.from({ length: int(r, 1, 64) }, () => int(r, 0, 255))), out.subarray(at)]);
  }
  return out; // intact
}

/** Instances of classes whose ids collide in the analyzer's direct-mapped class cache (same (lo >>> 3) & 8191) and in the former id hash. */
function collidingIds(r: Rand, s: FuzzScale): Buffer {
  const n = int(r, 1000, s.maxObjects);
  const former = r() < 0.5;
  const ids: Array<[number, number]> = former ? formerHashCollisions(n) : Array.from({ length: n }, (_, i) => [0, ((i << 16) | (0x1234 << 3)) >>> 0]);
  const inst = 1 + 8 + 4 + 8 + 4 + 4;
  const seg = Buffer.alloc(n * inst);
  ids.forEach(([hi, lo], i) => {
    const p = i * inst;
    seg[p] = 0x21;
    seg.writeBigUInt64BE(0x100000000n + BigInt(i) * 16n, p + 1);
    seg.writeUInt32BE(hi, p + 13);
    seg.writeUInt32BE(lo, p + 17);
    seg.writeUInt32BE(4, p + 21);
  });
  return Buffer.concat([hprofHeader(), recordHeader(0x1c, seg.length), seg, END]);
}

/** Many tiny records of known and unknown tags, bodies of 0-3 bytes (written into one buffer: millions of them). */
function tinyRecords(r: Rand, s: FuzzScale): Buffer {
  const n = int(r, 1000, s.maxRecords);
  const head = hprofHeader();
  const out = Buffer.alloc(head.length + n * 12 + 9);
  head.copy(out, 0);
  let p = head.length;
  const tags = [0x01, 0x02, 0x04, 0x05, 0x0d, 0x42, 0xff, 0x1c, 0x0c];
  for (let i = 0; i < n; i++) {
    const len = int(r, 0, 3);
    out[p] = pick(r, tags);
    out.writeUInt32BE(len, p + 5);
    p += 9 + len;
  }
  if (r() < 0.8) p += END.copy(out, p);
  return out.subarray(0, p);
}

/** Stack traces whose frame count says billions, thread tables past their caps, superclass cycles, maximal class dumps. */
function extremes(r: Rand): Buffer {
  const w = new HprofWriter(8);
  w.utf8(1n, 'java/lang/Thread').utf8(2n, 'name').loadClass(1, 0x100n, 1n);
  const trace = Buffer.concat([HprofWriter.u4(1), HprofWriter.u4(1), HprofWriter.u4(0xffffffff), Buffer.alloc(8 * int(r, 0, 100))]);
  w.record(0x05, trace);
  for (let t = 0; t < int(r, 0, 3000); t++) w.stackTrace(t + 2, t + 2, [BigInt(0x600 + t)]);
  w.heapSegment();
  // A extends B extends A: the chain must end anyway
  w.classDump(0x200n, 0x300n, 8, [{ name: 2n, type: T.object }]).classDump(0x300n, 0x200n, 8, [{ name: 2n, type: T.object }]);
  w.classDump(0x100n, 0x200n, 16, [{ name: 2n, type: T.object }]);
  if (r() < 0.3) w.classDump(0x400n, 0n, 0, [], Array.from({ length: 65_535 }, (_, i) => ({ name: BigInt(i + 10), type: T.byte, value: Buffer.alloc(1) })));
  for (let i = 0; i < int(r, 0, 2000); i++) w.instance(BigInt(0x9000 + i * 16), pick(r, [0x100n, 0x200n, 0x300n]), Buffer.alloc(16)).rootThreadObject(BigInt(0x9000 + i * 16), i, 1);
  return w.end().toBuffer();
}

/** Lengths that lie: a segment longer than the file, arrays of 2^32-1 elements, records running past the end. */
function lyingLengths(r: Rand): Buffer {
  const parts: Buffer[] = [hprofHeader()];
  const sub = Buffer.alloc(1 + 8 + 4 + 4 + 1);
  sub[0] = 0x23;
  sub.writeUInt32BE(0xffffffff, 13);
  sub[17] = pick(r, [T.byte, T.long, 3, 0, 200]);
  parts.push(recordHeader(0x1c, r() < 0.5 ? 0xffffffff : sub.length + int(r, 0, 100)), sub);
  if (r() < 0.5) parts.push(recordHeader(0x01, 0xfffffff0), Buffer.alloc(int(r, 0, 50)));
  parts.push(END);
  return Buffer.concat(parts);
}

/** The gzip generators: a bomb of repeated records, sometimes several members, sometimes cut. */
function gzipBomb(r: Rand, s: FuzzScale): Buffer {
  const records = int(r, 10_000, s.maxRecords);
  const body = Buffer.alloc(records * 9);
  for (let i = 0; i < records; i++) body[i * 9] = 0x01;
  const whole = Buffer.concat([hprofHeader(), body, END]);
  const members = r() < 0.5 ? [whole] : [whole.subarray(0, Math.floor(whole.length / 2)), whole.subarray(Math.floor(whole.length / 2))];
  const gz = Buffer.concat(members.map((m) => gzipSync(m, { level: 9 })));
  return r() < 0.3 ? gz.subarray(0, int(r, 0, gz.length)) : gz;
}

export const GENERATORS = ['random-structure', 'colliding-ids', 'tiny-records', 'extremes', 'lying-lengths', 'gzip-bomb', 'gzip-structure'] as const;

export function fuzzCase(seed: number, scale: FuzzScale = CI_SCALE): FuzzCase {
  const r = prng(seed);
  const generator = GENERATORS[seed % GENERATORS.length];
  let bytes: Buffer;
  let gzip = false;
  switch (generator) {
    case 'random-structure':
      bytes = damage(r, randomStructure(r, scale));
      break;
    case 'colliding-ids':
      bytes = collidingIds(r, scale);
      break;
    case 'tiny-records':
      bytes = tinyRecords(r, scale);
      break;
    case 'extremes':
      bytes = damage(r, extremes(r));
      break;
    case 'lying-lengths':
      bytes = lyingLengths(r);
      break;
    case 'gzip-bomb':
      bytes = gzipBomb(r, scale);
      gzip = true;
      break;
    default:
      bytes = gzipSync(damage(r, randomStructure(r, scale)));
      gzip = true;
  }
  const chunks = Array.from({ length: 5 }, () => pick(r, [1, 7, 9, 64, 1000, 65_536, 1 << 20]));
  return { seed, generator, bytes, gzip, chunks };
}
