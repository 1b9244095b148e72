/**
 * Records -> raw graph: the HeapSink that turns one walk over a dump into
 *  - nodes, in dump order: every CLASS DUMP (the class object), instance and array, with its id, class
 *    row and shallow size (the summary's model, ../triage/hprof-format.ts `headerSizes`; class objects
 *    count 0 bytes, as the summary does not count them);
 *  - outgoing references per node, as raw ids in CSR order (edges end at `refEnd[node]`): instance
 *    reference fields (the class hierarchy's layout), object array elements, a class's super class,
 *    loader and static references; null references are left out;
 *  - GC roots of every kind, names (where each UTF8 record is), stack frames and traces, thread names'
 *    String ids, and checkpoints (where to find node N in the stream again).
 * Everything large goes into budget-charged chunk lists (u32-list.ts).
 */
import { headerSizes, SUB, TAG } from '../triage/hprof-format';
import type { Budget } from './budget';
import { CLASS_NODE, ClassTable } from './classes';
import type { HeapSink, HprofStream } from './hprof-stream';
import { StackRecords } from './stack-records';
import { U32List } from './u32-list';

/** Objects between two checkpoints at most, and stream bytes (a checkpoint is never further away than this from any object). */
export const CHECKPOINT_OBJECTS = 256;
export const CHECKPOINT_BYTES = 1024 * 1024;
/** Instances of Thread classes whose name is looked for. */
const MAX_THREADS = 65_536;
/** Watched names (the Thread class and its `name` field; String's `value` and `coder`). */
const WATCHED = ['java/lang/Thread', 'name', 'java/lang/String', 'value', 'coder'];

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

  // GC roots
  readonly rootHi: U32List;
  readonly rootLo: U32List;
  readonly rootKind: U32List;
  readonly rootSerial: U32List;
  readonly rootFrame: U32List;

  // names: id -> (offset, length) of its bytes in the stream
  readonly nameHi: U32List;
  readonly nameLo: U32List;
  readonly nameOffHi: U32List;
  readonly nameOffLo: U32List;
  readonly nameLen: U32List;
  readonly watched: Array<[number, number] | undefined> = WATCHED.map(() => undefined);
  threadRow = -1;
  stringRow = -1;
  /** Thread objects and their `name` String ids. */
  readonly threadHi: number[] = [];
  readonly threadLo: number[] = [];
  readonly threadNameHi: number[] = [];
  readonly threadNameLo: number[] = [];
  /** Per class row: offset of the Thread `name` field in its instances' data; -1 not a Thread; undefined not known yet. */
  private readonly threadNameAt: (number | undefined)[] = [];

  readonly stacks = new StackRecords();

  // checkpoints: node index, stream offset, end of its segment
  readonly cpNode: number[] = [];
  readonly cpOffset: number[] = [];
  readonly cpSegEnd: number[] = [];
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
    this.rootHi = l('GC roots');
    this.rootLo = l('GC roots');
    this.rootKind = l('GC roots');
    this.rootSerial = l('GC roots');
    this.rootFrame = l('GC roots');
    this.nameHi = l('name index');
    this.nameLo = l('name index');
    this.nameOffHi = l('name index');
    this.nameOffLo = l('name index');
    this.nameLen = l('name index');
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
  }

  private hiAt(buf: Buffer, at: number): number {
    return this.idSize === 8 ? buf.readUInt32BE(at) : 0;
  }

  private loAt(buf: Buffer, at: number): number {
    return buf.readUInt32BE(at + this.idSize - 4);
  }

  recordPrefix(tag: number, length: number): number {
    const id = this.idSize;
    switch (tag) {
      case TAG.utf8:
        return id + Math.min(16, Math.max(0, length - id));
      case TAG.loadClass:
        return 8 + 2 * id;
      case TAG.stackFrame:
        return 4 * id + 8;
      case TAG.stackTrace:
        return StackRecords.tracePrefix(length, id);
      default:
        return 0;
    }
  }

  record(tag: number, length: number, bodyOffset: number, buf: Buffer, pos: number, prefix: number): void {
    const id = this.idSize;
    if (tag === TAG.utf8) {
      if (prefix < id) return;
      const hi = this.hiAt(buf, pos);
      const lo = this.loAt(buf, pos);
      const offset = bodyOffset + id;
      this.nameHi.push(hi);
      this.nameLo.push(lo);
      this.nameOffHi.push(Math.floor(offset / 2 ** 32));
      this.nameOffLo.push(offset >>> 0);
      this.nameLen.push(Math.min(length - id, 65_535));
      if (length - id <= 16 && prefix === length) {
        const w = WATCHED.indexOf(buf.toString('latin1', pos + id, pos + length));
        if (w >= 0) this.watched[w] = [hi, lo];
      }
    } else if (tag === TAG.loadClass) {
      if (prefix < 8 + 2 * id) return;
      const row = this.classes.row(this.hiAt(buf, pos + 4), this.loAt(buf, pos + 4));
      const nHi = this.hiAt(buf, pos + 8 + id);
      const nLo = this.loAt(buf, pos + 8 + id);
      this.classes.nameHi[row] = nHi;
      this.classes.nameLo[row] = nLo;
      this.stacks.classSerial(buf.readUInt32BE(pos), row);
      if (this.isWatched(0, nHi, nLo)) this.threadRow = row;
      if (this.isWatched(2, nHi, nLo)) this.stringRow = row;
    } else if (tag === TAG.stackFrame) {
      if (prefix >= 4 * id + 8) this.stacks.frame(buf, pos, id);
    } else if (tag === TAG.stackTrace) {
      if (prefix >= 12) this.stacks.trace(buf, pos, prefix, id);
    }
  }

  private isWatched(w: number, hi: number, lo: number): boolean {
    const v = this.watched[w];
    return v !== undefined && v[0] === hi && v[1] === lo;
  }

  /** A new node (which closes the previous node's edge list); returns its index. */
  private node(hi: number, lo: number, cls: number, size: number, offset: number): number {
    if (this.refEnd.length < this.nodes) this.refEnd.push(this.refLo.length);
    const n = this.nodes++;
    if (n % CHECKPOINT_OBJECTS === 0 || offset >= this.nextCpOffset) {
      this.cpNode.push(n);
      this.cpOffset.push(offset);
      this.cpSegEnd.push(this.segmentEnd());
      this.nextCpOffset = offset + CHECKPOINT_BYTES;
      if ((this.cpNode.length & 0xffff) === 0) this.budget.check();
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
    if (this.threadRow >= 0 && this.threadNameAt[row] !== -1 && this.threadHi.length < MAX_THREADS) this.threadName(buf, at, data, row);
  }

  /** Closes the last node's edge list: call once after the walk. */
  finish(): void {
    if (this.refEnd.length < this.nodes) this.refEnd.push(this.refLo.length);
  }

  /** A Thread (or subclass) instance: note its `name` String id. */
  private threadName(buf: Buffer, at: number, data: number, row: number): void {
    let nameAt = this.threadNameAt[row];
    if (nameAt === undefined) {
      nameAt = -1;
      if (this.classes.extends(row, this.threadRow)) {
        const refs = this.classes.refsOf(row)!;
        const w = this.watched[1];
        // the Thread class's own `name` (a subclass may declare a field of the same name: the last one wins, as Thread's fields come last)
        for (let i = 0; w !== undefined && i < refs.offsets.length; i++) if (refs.nameHi[i] === w[0] && refs.nameLo[i] === w[1]) nameAt = refs.offsets[i];
      }
      this.threadNameAt[row] = nameAt;
    }
    if (nameAt < 0 || nameAt + this.idSize > data) return;
    const p = at - 9 - 2 * this.idSize;
    this.threadHi.push(this.hiAt(buf, p + 1));
    this.threadLo.push(this.loAt(buf, p + 1));
    this.threadNameHi.push(this.hiAt(buf, at + nameAt));
    this.threadNameLo.push(this.loAt(buf, at + nameAt));
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
    const id = this.idSize;
    this.rootHi.push(this.hiAt(buf, p + 1));
    this.rootLo.push(this.loAt(buf, p + 1));
    this.rootKind.push(tag);
    const threaded = tag === SUB.rootJniLocal || tag === SUB.rootJavaFrame || tag === SUB.rootNativeStack || tag === SUB.rootThreadBlock || tag === SUB.rootThreadObject;
    this.rootSerial.push(threaded ? buf.readUInt32BE(p + 1 + id) : 0);
    // frame number (JNI local, Java frame; -1 = none) or, for a thread object, its stack trace serial
    this.rootFrame.push(tag === SUB.rootJniLocal || tag === SUB.rootJavaFrame || tag === SUB.rootThreadObject ? buf.readUInt32BE(p + 5 + id) : 0xffffffff);
  }
}
