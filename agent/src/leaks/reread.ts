/**
 * The few objects a report shows (suspects, the paths to them, top dominators, thread names), read
 * again from the dump at the end: their ids, instance field values, array elements and class dumps.
 * The graph keeps no id or file offset per object (that would cost 8-16 bytes each); instead the first
 * walk noted a checkpoint every 256 objects and every MiB (records.ts), and node N is found by walking
 * from the checkpoint before it: at most 1 MiB plus one object of reading per window. The windows'
 * bytes stream into one small walker each (WindowReader): no window is ever held whole, and a
 * `.hprof.gz` is inflated once, from its start to the last window.
 */
import type { NameRange, NameReader } from '../triage/name-index';
import { basicTypeSize, SUB } from '../triage/hprof-format';
import { type HeapSink, HprofStream } from './hprof-stream';

/** Bytes read from a checkpoint: its distance to any later object before the next one (1 MiB) plus the largest item captured. */
const WINDOW = 4 * 1024 * 1024;
const MAX_FIELD_BYTES = 64 * 1024;
const MAX_ELEMENTS = 256 * 1024;
const MAX_CONTENT = 4096;

export interface StaticValue {
  readonly nameHi: number;
  readonly nameLo: number;
  readonly valueHi: number;
  readonly valueLo: number;
}

export interface ReadObject {
  readonly tag: number;
  readonly idHi: number;
  readonly idLo: number;
  /** Instance or array class id. */
  classHi: number;
  classLo: number;
  /** Instance: field bytes (up to 64 KiB). */
  data?: Buffer;
  /** Object array: its length and the first element ids (hi, lo) read. */
  length?: number;
  elements?: number[];
  /** Primitive array: type and the first content bytes. */
  type?: number;
  content?: Buffer;
  /** Class dump: super, loader, static reference values. */
  superHi?: number;
  superLo?: number;
  loaderHi?: number;
  loaderLo?: number;
  statics?: StaticValue[];
}

export interface Checkpoints {
  readonly node: readonly number[];
  readonly offset: readonly number[];
  /** End of the heap dump segment the checkpoint is in (the walk reads on into later records from there). */
  readonly segEnd: readonly number[];
}

class Finder implements HeapSink {
  next: number;
  private current: ReadObject | undefined;
  constructor(
    start: number,
    private readonly idSize: number,
    private readonly targets: ReadonlySet<number>,
    readonly found: Map<number, ReadObject>,
  ) {
    this.next = start;
  }

  private id(buf: Buffer, at: number): [number, number] {
    return this.idSize === 8 ? [buf.readUInt32BE(at), buf.readUInt32BE(at + 4)] : [0, buf.readUInt32BE(at)];
  }

  private begin(tag: number, buf: Buffer, p: number, classAt: number): ReadObject | undefined {
    const n = this.next++;
    this.current = undefined;
    if (!this.targets.has(n) || this.found.has(n)) return undefined;
    const [idHi, idLo] = this.id(buf, p + 1);
    const [classHi, classLo] = classAt > 0 ? this.id(buf, p + classAt) : [0, 0];
    const o: ReadObject = { tag, idHi, idLo, classHi, classLo };
    this.found.set(n, o);
    this.current = o;
    return o;
  }

  header(): void {}
  recordPrefix(): number {
    return 0;
  }
  record(): void {}
  root(): void {}

  instanceWant(_buf: Buffer, _view: DataView, _p: number, dataBytes: number): number {
    return this.targets.has(this.next) && !this.found.has(this.next) ? Math.min(dataBytes, MAX_FIELD_BYTES) : 0;
  }

  instance(buf: Buffer, _view: DataView, p: number, data: number): void {
    const o = this.begin(SUB.instanceDump, buf, p, 5 + this.idSize);
    if (o) o.data = Buffer.from(buf.subarray(p + 9 + 2 * this.idSize, p + 9 + 2 * this.idSize + data));
  }

  objectArray(buf: Buffer, _view: DataView, p: number, length: number): void {
    const o = this.begin(SUB.objectArrayDump, buf, p, 9 + this.idSize);
    if (o) {
      o.length = length;
      o.elements = [];
    }
  }

  elements(buf: Buffer, _view: DataView, pos: number, count: number): void {
    const e = this.current?.elements;
    if (!e) return;
    for (let i = 0; i < count && e.length < 2 * MAX_ELEMENTS; i++) e.push(...this.id(buf, pos + i * this.idSize));
  }

  primitiveArray(buf: Buffer, _view: DataView, p: number, length: number, type: number, elementSize: number): number {
    const o = this.begin(SUB.primitiveArrayDump, buf, p, 0);
    if (!o) return 0;
    o.length = length;
    o.type = type;
    return Math.min(length * elementSize, MAX_CONTENT);
  }

  content(buf: Buffer, pos: number, length: number): void {
    if (this.current) this.current.content = Buffer.from(buf.subarray(pos, pos + length));
  }

  classDump(buf: Buffer, p: number): void {
    const o = this.begin(SUB.classDump, buf, p, 0);
    if (!o) return;
    const id = this.idSize;
    let q = p + 1 + id + 4;
    [o.superHi, o.superLo] = this.id(buf, q);
    [o.loaderHi, o.loaderLo] = this.id(buf, q + id);
    q += 6 * id + 4;
    const cp = buf.readUInt16BE(q);
    q += 2;
    for (let i = 0; i < cp; i++) q += 3 + basicTypeSize(buf[q + 2], id);
    const statics = buf.readUInt16BE(q);
    q += 2;
    o.statics = [];
    for (let i = 0; i < statics; i++) {
      const type = buf[q + id];
      if (type === 2) {
        const [nameHi, nameLo] = this.id(buf, q);
        const [valueHi, valueLo] = this.id(buf, q + id + 1);
        o.statics.push({ nameHi, nameLo, valueHi, valueLo });
      }
      q += id + 1 + basicTypeSize(type, id);
    }
  }
}

/**
 * Delivers the bytes of stream ranges (sorted by offset; they may overlap) in order, in chunks:
 * `onData(i, chunk)` with consecutive chunks of range i.
 */
export type WindowReader = (ranges: readonly NameRange[], onData: (range: number, chunk: Buffer) => void) => Promise<void>;

/** A WindowReader over a NameReader (whole ranges, one at a time): for in-memory dumps and tests. */
export function windowsOf(read: NameReader): WindowReader {
  return async (ranges, onData) => {
    for (let i = 0; i < ranges.length; i++) {
      const [b] = await read([ranges[i]]);
      if (b && b.length > 0) onData(i, b);
    }
  };
}

/** The checkpoint at or before node `n` (index into the checkpoint lists). */
function checkpointOf(cp: Checkpoints, n: number): number {
  let a = 0;
  let z = cp.node.length - 1;
  while (a < z) {
    const m = (a + z + 1) >>> 1;
    if (cp.node[m] <= n) a = m;
    else z = m - 1;
  }
  return a;
}

/** Reads the objects `nodes` (dump order indices) again. Objects that cannot be found are absent from the result. */
export async function rereadObjects(nodes: readonly number[], cp: Checkpoints, idSize: number, windows: WindowReader): Promise<Map<number, ReadObject>> {
  const found = new Map<number, ReadObject>();
  if (cp.node.length === 0 || nodes.length === 0) return found;
  const byCheckpoint = new Map<number, Set<number>>();
  for (const n of nodes) {
    const c = checkpointOf(cp, n);
    if (cp.node[c] > n) continue;
    const set = byCheckpoint.get(c) ?? new Set<number>();
    set.add(n);
    byCheckpoint.set(c, set);
  }
  const cps = [...byCheckpoint.keys()].sort((a, b) => cp.offset[a] - cp.offset[b]);
  const ranges: NameRange[] = cps.map((c) => ({ offset: cp.offset[c], length: WINDOW }));
  // one walker per window; it starts at a sub-record boundary and past the segment's end reads on, record by record
  const walkers = cps.map((c) => HprofStream.inSegment(new Finder(cp.node[c], idSize, byCheckpoint.get(c)!, found), idSize, cp.offset[c], cp.segEnd[c]));
  await windows(ranges, (i, chunk) => walkers[i].update(chunk));
  return found;
}
