/**
 * Records -> raw graph: the HeapSink that turns one walk over a dump into
 *  - nodes, in dump order: every CLASS DUMP (the class object), instance and array, with its id, class
 *    row and shallow size (the summary's model, ../triage/hprof-format.ts `headerSizes`; class objects
 *    count 0 bytes, as the summary does not count them);
 *  - outgoing references per node, as raw ids in CSR order (edges end at `refEnd[node]`): instance
 *    reference fields (the class hierarchy's layout), object array elements, a class's super class,
 *    loader and static references; null references are left out;
 *  - GC roots of every kind (root-records.ts); names (where each UTF8 record is), stack frames and
 *    traces, thread names' String ids (top-records.ts); checkpoints (where to find node N in the stream
 *    again).
 * Everything large goes into budget-charged chunk lists (u32-list.ts).
 */
import { headerSizes } from '../triage/hprof-format';
import type { Budget } from './budget';
import { CLASS_NODE, ClassTable } from './classes';
import type { HeapSink, HprofStream } from './hprof-stream';
import { RootRecords } from './root-records';
import { TopRecords } from './top-records';
import { U32List } from './u32-list';

/** Objects between two checkpoints at most, and stream bytes (a checkpoint is never further away than this from any object). */
export const CHECKPOINT_OBJECTS = 256;
export const CHECKPOINT_BYTES = 1024 * 1024;

export class GraphRecorder implements HeapSink {
  idSize = 0;
  timestampMs = 0;
  private instHeader = 0;
  private arrayHeader = 0;
  classes!: ClassTable;
  stream!: HprofStream;

  // nodes
  readonly idHi: U32List;
  readonly idLo: U32List;
  readonly cls: U32List;
  readonly size: U32List;
  readonly refEnd: U32List;
  /** Node -> shallow size for the rare objects of 4 GiB or more (size slot 0xffffffff). */
  readonly bigSizes = new Map<number, number>();
  nodes = 0;
  instances = 0;
  arrays = 0;
  /** Instances whose class layout was unknown when they came (their references are missing). */
  unknownLayout = 0;
  shallowTotal = 0;

  // references (raw ids); refHi only for 8-byte ids
  readonly refHi: U32List;
  readonly refLo: U32List;

  readonly roots: RootRecords;
  /** Names, stack frames and traces, thread names. */
  top!: TopRecords;

  /** Checkpoints: node index, stream offset, end of its segment. */
  readonly checkpoints = { node: [] as number[], offset: [] as number[], segEnd: [] as number[] };
  private nextCpOffset = 0;

  constructor(
    private readonly budget: Budget,
    private readonly segmentEnd: () => number,
  ) {
    const l = (what: string) => new U32List(budget, what);
    this.idHi = l('object ids');
    this.idLo = l('object ids');
    this.cls = l('object classes');
    this.size = l('object sizes');
    this.refEnd = l('edge offsets');
    this.refHi = l('references');
    this.refLo = l('references');
    this.roots = new RootRecords(budget);
  }

  get references(): number {
    return this.refLo.length;
  }

  header(idSize: number, _version: string, timestampMs: number): void {
    this.idSize = idSize;
    this.timestampMs = timestampMs;
    const h = headerSizes(idSize);
    this.instHeader = h.instance;
    this.arrayHeader = h.array;
    this.classes = new ClassTable(idSize);
    this.top = new TopRecords(this.budget, idSize, this.classes);
  }

  private hiAt(buf: Buffer, at: number): number {
    return this.idSize === 8 ? buf.readUInt32BE(at) : 0;
  }

  private loAt(buf: Buffer, at: number): number {
    return buf.readUInt32BE(at + this.idSize - 4);
  }

  recordPrefix(tag: number, length: number): number {
    return this.top.prefix(tag, length);
  }

  record(tag: number, length: number, bodyOffset: number, buf: Buffer, pos: number, prefix: number): void {
    this.top.record(tag, length, bodyOffset, buf, pos, prefix);
  }

  /** A new node (which closes the previous node's edge list); returns its index. */
  private node(hi: number, lo: number, cls: number, size: number, offset: number): number {
    if (this.refEnd.length < this.nodes) this.refEnd.push(this.refLo.length);
    const n = this.nodes++;
    if (n % CHECKPOINT_OBJECTS === 0 || offset >= this.nextCpOffset) {
      const cp = this.checkpoints;
      cp.node.push(n);
      cp.offset.push(offset);
      cp.segEnd.push(this.segmentEnd());
      this.nextCpOffset = offset + CHECKPOINT_BYTES;
      if ((cp.node.length & 0xffff) === 0) this.budget.check();
    }
    if (this.idSize === 8) this.idHi.push(hi);
    this.idLo.push(lo);
    this.cls.push(cls);
    if (size >= 0xffffffff) {
      this.bigSizes.set(n, size);
      this.size.push(0xffffffff);
    } else this.size.push(size);
    this.shallowTotal += size;
    return n;
  }

  private ref(hi: number, lo: number): void {
    if (hi === 0 && lo === 0) return;
    if (this.idSize === 8) this.refHi.push(hi);
    this.refLo.push(lo);
  }

  private readonly refCb = (hi: number, lo: number): void => this.ref(hi, lo);

  /** The class row of the instance being read (instanceWant -> instance). */
  private pendingRow = -1;

  private rowAt(view: DataView, at: number): number {
    return this.classes.row(this.idSize === 8 ? view.getUint32(at) : 0, view.getUint32(at + this.idSize - 4));
  }

  instanceWant(_buf: Buffer, view: DataView, p: number, dataBytes: number): number {
    const row = this.rowAt(view, p + 5 + this.idSize);
    this.pendingRow = row;
    const refs = this.classes.refsOf(row);
    if (refs === null) return 0;
    return dataBytes < refs.span ? dataBytes : refs.span;
  }

  instance(buf: Buffer, view: DataView, p: number, data: number, dataBytes: number, offset: number): void {
    const id = this.idSize;
    const classes = this.classes;
    const row = this.pendingRow;
    const declared = classes.instanceSize[row];
    const idHi = id === 8 ? view.getUint32(p + 1) : 0;
    this.node(idHi, view.getUint32(p + id - 3), row, (declared >= 0 ? declared : dataBytes) + this.instHeader, offset);
    this.instances++;
    const refs = classes.refsOf(row);
    if (refs === null) {
      if (dataBytes > 0) this.unknownLayout++;
      return;
    }
    const at = p + 9 + 2 * id;
    const offs = refs.offsets;
    const refHi = this.refHi;
    const refLo = this.refLo;
    for (let i = 0; i < offs.length; i++) {
      const o = offs[i];
      if (o + id > data) break;
      if (id === 8) {
        const hi = view.getUint32(at + o);
        const lo = view.getUint32(at + o + 4);
        if (hi !== 0 || lo !== 0) {
          refHi.push(hi);
          refLo.push(lo);
        }
      } else {
        const lo = view.getUint32(at + o);
        if (lo !== 0) refLo.push(lo);
      }
    }
    if (this.top.threads.wants(row)) this.top.threads.instance(buf, p, at, data, row);
  }

  /** Closes the last node's edge list: call once after the walk. */
  finish(): void {
    if (this.refEnd.length < this.nodes) this.refEnd.push(this.refLo.length);
  }

  objectArray(_buf: Buffer, view: DataView, p: number, length: number, offset: number): void {
    const id = this.idSize;
    const row = this.rowAt(view, p + 9 + id);
    this.node(id === 8 ? view.getUint32(p + 1) : 0, view.getUint32(p + id - 3), row, length * id + this.arrayHeader, offset);
    this.arrays++;
  }

  elements(_buf: Buffer, view: DataView, pos: number, count: number): void {
    const refHi = this.refHi;
    const refLo = this.refLo;
    if (this.idSize === 8) {
      const end = pos + count * 8;
      for (let q = pos; q < end; q += 8) {
        const hi = view.getUint32(q);
        const lo = view.getUint32(q + 4);
        if (hi !== 0 || lo !== 0) {
          refHi.push(hi);
          refLo.push(lo);
        }
      }
    } else {
      const end = pos + count * 4;
      for (let q = pos; q < end; q += 4) {
        const lo = view.getUint32(q);
        if (lo !== 0) refLo.push(lo);
      }
    }
  }

  primitiveArray(_buf: Buffer, view: DataView, p: number, length: number, type: number, elementSize: number, offset: number): number {
    const id = this.idSize;
    this.node(id === 8 ? view.getUint32(p + 1) : 0, view.getUint32(p + id - 3), type - 4, length * elementSize + this.arrayHeader, offset);
    this.arrays++;
    return 0;
  }

  content(): void {
    // never asked for
  }

  classDump(buf: Buffer, p: number, total: number, offset: number): void {
    const row = this.classes.row(this.hiAt(buf, p + 1), this.loAt(buf, p + 1));
    this.classes.node[row] = this.node(this.hiAt(buf, p + 1), this.loAt(buf, p + 1), (row | CLASS_NODE) >>> 0, 0, offset);
    this.classes.classDump(buf, p, total, this.refCb);
  }

  root(tag: number, buf: Buffer, p: number): void {
    this.roots.add(tag, buf, p, this.idSize);
  }
}
