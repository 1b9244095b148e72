/**
 * HprofAnalyzer: the triage analysis of one heap dump, in one streaming pass, in bounded memory.
 *
 *   const a = new HprofAnalyzer();
 *   a.update(chunk);              // the dump's bytes in order (the decompressed stream of a .hprof.gz)
 *   a.structure();                // is the stream so far a whole dump?
 *   const heap = await a.finish(fileNameReader(fh));
 *
 * Per class: instances and shallow bytes; the largest objects; totals; every thread's stack with its
 * name. Pure: it reads no file itself, only the few name records it needs at the end, through the
 * injected NameReader. Never throws on bad or truncated input: the summary says it is partial.
 *
 * Memory is bounded by the caps below whatever the dump's size. Worst cases with the defaults, each
 * reached only when a dump has that much of it: classes (100,000 rows of 66 bytes + 2 id tables:
 * ~14 MiB), names (1,000,000 x 18 bytes: ~17 MiB), thread stacks (2,048 threads x at most 128 frame
 * slots x 37 bytes: ~9 MiB, plus 65,536 frame records: ~3 MiB), thread names (16,384 Thread objects,
 * names of 256 characters: ~5 MiB), checkpoints (65,536 x 24 bytes: 1.5 MiB), the parser's carry (one
 * CLASS DUMP: <= 2.4 MiB) and fixed tables (~0.3 MiB). A typical dump (a few thousand classes, 50k-300k
 * names, tens of threads) needs 2-8 MiB (measured by `npm run bench:analysis`: +7 MiB peak RSS).
 * Time is linear in the bytes: bodies are skipped by their length, each byte is looked at a bounded
 * number of times however the chunks fall, and names are read once at the end.
 */
import { ClassTable, FLAG, Kind, PRIMITIVE_ROWS, SENTINEL_ROW } from './class-table';
import { basicTypeSize, basicTypeSizeTable, headerSizes, javaClassName, PRIMITIVE_ARRAY_NAMES, RECORD_BUDGET, SUB, TAG } from './hprof-format';
import { HprofRecordParser, HprofVisitor, StructureVerdict } from './hprof-records';
import { formatId, IdTable } from './id-table';
import { LargestObjects } from './largest';
import { NameIndex, NameReader } from './name-index';
import { ObjectLocator } from './object-locator';
import { StackTable } from './stacks';
import type { ClassSummary, FrameSummary, HeapSummary, ObjectSummary, ThreadSummary } from './summary';
import { ThreadNames } from './thread-names';

export interface AnalyzerOptions {
  /** Classes listed in the summary (by shallow bytes). @default 100 */
  readonly topClasses?: number;
  /** Largest single objects listed. @default 20 */
  readonly topObjects?: number;
  /** Classes tracked; objects of further classes are counted under `<other classes>`. @default 100000 */
  readonly maxClasses?: number;
  /** UTF-8 name records indexed (their offsets); further names show as `<name 0x…>`. @default 1000000 */
  readonly maxNames?: number;
  /** Longest name read, bytes (longer names are cut). @default 1024 */
  readonly maxNameBytes?: number;
  /** Threads whose stacks are kept. @default 2048 */
  readonly maxThreads?: number;
  /** Frames kept per thread (innermost first; the full depth is still reported). @default 64 */
  readonly maxFramesPerThread?: number;
  /** STACK FRAME records held at once. @default 65536 */
  readonly maxFrameRecords?: number;
  /** java.lang.Thread instances whose names are looked for. @default 16384 */
  readonly maxThreadObjects?: number;
  /** Characters kept of a thread name. @default 256 */
  readonly maxThreadNameChars?: number;
  /** Heap bytes between two checkpoints (where objects can be looked for again at the end). @default 65536 */
  readonly checkpointBytes?: number;
  /** Checkpoints kept (24 bytes each; when full, every other one is dropped). @default 65536 */
  readonly maxCheckpoints?: number;
  /**
   * Bytes read at the end to find thread names the walk missed (only with a NameReader that has
   * `randomAccess`: an uncompressed file). @default 33554432
   */
  readonly maxRecoveryBytes?: number;
  /** Top-level records analysed; past them the analysis stops, saying so. @default RECORD_BUDGET (5,000,000) */
  readonly maxRecords?: number;
}

const DEFAULTS: Required<AnalyzerOptions> = {
  topClasses: 100,
  topObjects: 20,
  maxClasses: 100_000,
  maxNames: 1_000_000,
  maxNameBytes: 1024,
  maxThreads: 2048,
  maxFramesPerThread: 64,
  maxFrameRecords: 65_536,
  maxThreadObjects: 16_384,
  maxThreadNameChars: 256,
  checkpointBytes: 64 * 1024,
  maxCheckpoints: 65_536,
  maxRecoveryBytes: 32 * 1024 * 1024,
  maxRecords: RECORD_BUDGET,
};

/** What `body()` is for. */
const enum Pending {
  None,
  Thread,
  String,
  Array,
}

/** Interesting names, recognised by content while the UTF8 records stream by. */
const WATCHED_NAMES = ['name', 'value', 'coder', 'java/lang/Thread', 'java.lang.Thread', 'java/lang/String', 'java.lang.String'];
const W_NAME = 0;
const W_VALUE = 1;
const W_CODER = 2;

/** An object's body is read (Thread and String fields, thread name arrays) only up to this many bytes. */
const MAX_BODY_READ = 64 * 1024;

const EMPTY_VIEW: DataView = new DataView(new ArrayBuffer(0));

/** Direct-mapped cache class id -> row for the fast loop (3 x 32 KiB). */
const CACHE_SIZE = 8192;
const CACHE_MASK = CACHE_SIZE - 1;

export class HprofAnalyzer implements HprofVisitor {
  private readonly opts: Required<AnalyzerOptions>;
  private readonly parser: HprofRecordParser;
  private readonly classes: ClassTable;
  private readonly names: NameIndex;
  private readonly stacks: StackTable;
  private readonly threadNames: ThreadNames;
  private readonly largest: LargestObjects;
  private readonly locator: ObjectLocator;
  private checkpointStride: number;

  private idSize = 0;
  private version = '';
  private timestampMs = -1;
  private instanceHeader = 0;
  private arrayHeader = 0;

  // watched names: WATCHED_NAMES index -> id (hi, lo), found
  private readonly watchHi = new Uint32Array(WATCHED_NAMES.length);
  private readonly watchLo = new Uint32Array(WATCHED_NAMES.length);
  private readonly watchFound = new Uint8Array(WATCHED_NAMES.length);
  private threadRow = -1;
  private stringRow = -1;
  /** Offset of Thread.name among java.lang.Thread's own fields; of String.value and String.coder. */
  private threadNameOffset = -1;
  private stringValueOffset = -1;
  private stringCoderOffset = -1;
  /** Offset of the name field in the instance data of each Thread (sub)class row. */
  private readonly threadNameAt = new Map<number, number>();

  // class id -> row, as int32 halves (what DataView.getInt32 gives); SENTINEL_ROW when empty
  private readonly cacheHi = new Int32Array(CACHE_SIZE);
  private readonly cacheLo = new Int32Array(CACHE_SIZE);
  private readonly cacheRow = new Int32Array(CACHE_SIZE).fill(SENTINEL_ROW);
  /** Element sizes by primitive type code (0: not a primitive type, including objects). */
  private primSizes: Uint8Array = new Uint8Array(256);
  private viewBuf: Buffer | null = null;
  private view: DataView = EMPTY_VIEW;

  // objects of classes that got no row (table full)
  private otherInstances = 0;
  private otherInstanceBytes = 0;
  private otherArrays = 0;
  private otherArrayBytes = 0;

  private pending = Pending.None;
  private pendingSlot = 0;
  private pendingHi = 0;
  private pendingLo = 0;
  private pendingOffset = 0;
  private pendingType = 0;

  constructor(options: AnalyzerOptions = {}) {
    this.opts = { ...DEFAULTS, ...definedOnly(options) };
    const o = this.opts;
    this.parser = new HprofRecordParser(this);
    this.parser.maxRecords = o.maxRecords;
    this.classes = new ClassTable(o.maxClasses);
    this.names = new NameIndex(o.maxNames, Math.min(o.maxNameBytes, 65535));
    this.stacks = new StackTable(o.maxThreads, o.maxFramesPerThread, o.maxFrameRecords);
    this.threadNames = new ThreadNames(o.maxThreadObjects, o.maxThreadNameChars);
    this.largest = new LargestObjects(o.topObjects);
    this.checkpointStride = o.checkpointBytes;
    this.locator = new ObjectLocator(o.checkpointBytes, o.maxCheckpoints);
    this.parser.checkpoints(o.checkpointBytes);
  }

  /**
   * Feeds the next bytes of the dump, in file order, any chunk size. Keeps no reference to `chunk`
   * (what it needs across chunks is copied), so the caller may reuse the buffer. Never throws.
   */
  update(chunk: Buffer): void {
    this.parser.update(chunk);
    this.viewBuf = null; // not even a view of it is kept
    this.view = EMPTY_VIEW;
  }

  /** Whether the stream so far is a complete dump: it ends exactly after HEAP DUMP END. */
  structure(): StructureVerdict {
    return this.parser.structure();
  }

  /**
   * Bytes held by the analysis' tables and buffers (not counting JS object overhead): what the caps
   * bound. For tests and metrics.
   */
  stateBytes(): number {
    return (
      this.classes.bytes +
      this.names.bytes +
      this.stacks.bytes +
      this.threadNames.bytes +
      this.locator.bytes +
      this.parser.bufferBytes +
      this.cacheRow.length * 12 +
      this.threadNameAt.size * 32
    );
  }

  // ---- visitor: header and top-level records --------------------------------------------------------

  header(version: string, idSize: number, timestampMs: number): void {
    this.version = version;
    this.idSize = idSize;
    this.timestampMs = timestampMs;
    const h = headerSizes(idSize);
    this.instanceHeader = h.instance;
    this.arrayHeader = h.array;
    this.primSizes = basicTypeSizeTable(idSize);
    this.primSizes[2] = 0;
  }

  recordPrefix(tag: number, length: number): number {
    const id = this.idSize;
    switch (tag) {
      case TAG.utf8:
        return id + 16; // the id, and enough to recognise the watched names
      case TAG.loadClass:
        return 8 + 2 * id;
      case TAG.stackFrame:
        return 4 * id + 8;
      case TAG.stackTrace:
        return 12 + Math.max(0, Math.min(Math.floor((length - 12) / id), this.opts.maxFramesPerThread)) * id;
      default:
        return 0;
    }
  }

  record(tag: number, length: number, bodyOffset: number, buf: Buffer, pos: number, prefix: number): void {
    const id = this.idSize;
    switch (tag) {
      case TAG.utf8: {
        // tens of thousands to a million of these: DataView reads, no string unless it may be watched
        if (prefix < id) return;
        const view = this.viewOf(buf);
        const lo = view.getUint32(pos + id - 4);
        const hi = id === 8 ? view.getUint32(pos) : 0;
        const nameLength = length - id;
        this.names.add(hi, lo, bodyOffset + id, nameLength);
        if ((nameLength === 4 || nameLength === 5 || nameLength === 16) && prefix >= length) {
          const w = WATCHED_NAMES.indexOf(buf.toString('latin1', pos + id, pos + length));
          if (w >= 0) {
            this.watchHi[w] = hi;
            this.watchLo[w] = lo;
            this.watchFound[w] = 1;
          }
        }
        return;
      }
      case TAG.loadClass: {
        if (prefix < 8 + 2 * id) return;
        const serial = buf.readUInt32BE(pos);
        const hi = this.idHi(buf, pos + 4);
        const lo = this.idLo(buf, pos + 4);
        const nameHi = this.idHi(buf, pos + 8 + id);
        const nameLo = this.idLo(buf, pos + 8 + id);
        const row = this.classes.row(hi, lo);
        if (row < 0) return;
        const t = this.classes;
        t.nameHi[row] = nameHi;
        t.nameLo[row] = nameLo;
        t.flags[row] |= FLAG.named;
        t.serial[row] = serial;
        t.bySerial.set(0, serial, row);
        if (this.watched(3, nameHi, nameLo) || this.watched(4, nameHi, nameLo)) this.threadRow = row;
        if (this.watched(5, nameHi, nameLo) || this.watched(6, nameHi, nameLo)) this.stringRow = row;
        return;
      }
      case TAG.stackFrame: {
        if (prefix < 4 * id + 8) return;
        this.stacks.frame(
          this.idHi(buf, pos),
          this.idLo(buf, pos),
          this.idHi(buf, pos + id),
          this.idLo(buf, pos + id),
          this.idHi(buf, pos + 3 * id),
          this.idLo(buf, pos + 3 * id),
          buf.readUInt32BE(pos + 4 * id),
          buf.readInt32BE(pos + 4 * id + 4),
        );
        return;
      }
      case TAG.stackTrace: {
        if (prefix < 12) return;
        const threadSerial = buf.readUInt32BE(pos + 4);
        const depth = buf.readUInt32BE(pos + 8);
        this.stacks.trace(threadSerial, depth, buf, pos + 12, Math.floor((prefix - 12) / id), id);
        return;
      }
      default:
    }
  }

  /** A DataView of `buf`, reused while the same Buffer comes back. */
  private viewOf(buf: Buffer): DataView {
    if (buf !== this.viewBuf) {
      this.viewBuf = buf;
      this.view = new DataView(buf.buffer, buf.byteOffset, buf.length);
    }
    return this.view;
  }

  private watched(w: number, hi: number, lo: number): boolean {
    return this.watchFound[w] === 1 && this.watchHi[w] === hi && this.watchLo[w] === lo;
  }

  private idHi(buf: Buffer, p: number): number {
    return this.idSize === 8 ? buf.readUInt32BE(p) : 0;
  }

  private idLo(buf: Buffer, p: number): number {
    return buf.readUInt32BE(p + this.idSize - 4);
  }

  // ---- visitor: heap sub-records ---------------------------------------------------------------------

  /**
   * The hot loop (most of the CPU time of an analysis). Counts ordinary objects lying wholly in
   * buf[p..end) with as few interpreter steps as possible (the uploader may run without the JIT):
   * fields read with DataView (a builtin, not interpreted), class rows from a direct-mapped cache, one
   * comparison deciding whether an object could be among the largest or must be looked at (thread
   * names). Everything else returns to the parser, which calls instance/objectArray/primitiveArray:
   * the slow path, which does the same accounting and more.
   */
  heapRun(buf: Buffer, view: DataView, p: number, end: number): number {
    const id = this.idSize;
    const idLoAt = id - 4; // offset of the low half of an identifier
    const instHdr = 9 + 2 * id;
    const primHdr = 10 + id;
    const t = this.classes;
    const count = t.count;
    const data = t.data;
    const dataHigh = t.dataHigh;
    const gate = t.gate;
    const kind = t.kind;
    const cacheHi = this.cacheHi;
    const cacheLo = this.cacheLo;
    const cacheRow = this.cacheRow;
    const sizes = this.primSizes;
    const threshold = this.largest.threshold;
    const arrayHeader = this.arrayHeader;
    const names = this.threadNames;
    const stringRow = names.pendingStrings > 0 ? this.stringRow : -2;
    const arraysWanted = names.pendingArrays > 0;
    const stringFilter = names.stringFilter;
    const arrayFilter = names.arrayFilter;
    const id8 = id === 8;
    // last positions where a header fits (masks and tags are literals: cheaper than constants when interpreted)
    const instLimit = end - instHdr;
    const primLimit = end - primHdr;
    while (p < end) {
      const tag = buf[p];
      if (tag === 0x21) {
        // INSTANCE DUMP: tag, object id, u4 stack serial, class id, u4 data length, data
        if (p > instLimit) return p;
        const q = p + 5 + id;
        const lo = view.getInt32(q + idLoAt);
        const hi = id8 ? view.getInt32(q) : 0;
        const next = p + instHdr + view.getUint32(q + id);
        if (next > end) return p;
        const slot = (lo >>> 3) & 8191; // CACHE_MASK
        if (cacheLo[slot] !== lo || cacheHi[slot] !== hi) return p;
        const row = cacheRow[slot];
        if (gate[row] > threshold) return p;
        if (row === stringRow && stringFilter[(view.getInt32(p + 1 + idLoAt) >>> 3) & 65535] !== 0) return p; // FILTER_MASK
        count[row]++;
        p = next;
      } else if (tag === 0x23) {
        // PRIMITIVE ARRAY DUMP: tag, array id, u4 stack serial, u4 length, u1 type, elements
        if (p > primLimit) return p;
        const q = p + 5 + id;
        const type = buf[q + 4];
        const size = sizes[type];
        if (size === 0) return p;
        const bytes = view.getUint32(q) * size;
        const next = p + primHdr + bytes;
        if (next > end || bytes + arrayHeader > threshold) return p;
        if (arraysWanted && (type === 8 || type === 5) && arrayFilter[(view.getInt32(p + 1 + idLoAt) >>> 3) & 65535] !== 0) return p;
        const row = type - 4;
        count[row]++;
        const sum = data[row] + bytes;
        if (sum > 1073741824) {
          dataHigh[row] += sum;
          data[row] = 0;
        } else {
          data[row] = sum;
        }
        p = next;
      } else if (tag === 0x22) {
        // OBJECT ARRAY DUMP: tag, array id, u4 stack serial, u4 length, array class id, elements
        if (p > instLimit) return p;
        const q = p + 5 + id;
        const bytes = view.getUint32(q) * id;
        const next = p + instHdr + bytes;
        if (next > end || bytes + arrayHeader > threshold) return p;
        const lo = view.getInt32(q + 4 + idLoAt);
        const hi = id8 ? view.getInt32(q + 4) : 0;
        const slot = (lo >>> 3) & 8191;
        if (cacheLo[slot] !== lo || cacheHi[slot] !== hi) return p;
        const row = cacheRow[slot];
        if (kind[row] !== Kind.ObjectArray) return p;
        count[row]++;
        const sum = data[row] + bytes;
        if (sum > 1073741824) {
          dataHigh[row] += sum;
          data[row] = 0;
        } else {
          data[row] = sum;
        }
        p = next;
      } else {
        return p;
      }
    }
    return p;
  }

  /** Row of class (hi, lo) (created if there is room; -1 if not), remembered in the fast loop's cache. */
  private classRow(hi: number, lo: number): number {
    const row = this.classes.row(hi, lo);
    if (row >= 0) {
      const slot = (lo >>> 3) & CACHE_MASK;
      this.cacheHi[slot] = hi | 0;
      this.cacheLo[slot] = lo | 0;
      this.cacheRow[slot] = row;
    }
    return row;
  }

  instance(buf: Buffer, p: number, classHi: number, classLo: number, dataBytes: number): number {
    const row = this.classRow(classHi, classLo);
    if (row < 0) {
      this.otherInstances++;
      this.otherInstanceBytes += dataBytes + this.instanceHeader;
      return 0;
    }
    const t = this.classes;
    t.count[row]++;
    t.data[row] += dataBytes;
    const size = ((t.flags[row] & FLAG.dumped) !== 0 ? t.instanceBytes[row] : dataBytes) + this.instanceHeader;
    if (size > this.largest.threshold) this.largest.offer(size, row, this.idHi(buf, p + 1), this.idLo(buf, p + 1), -1);
    const kind = t.kind[row];
    return kind === Kind.Plain ? 0 : this.specialInstance(buf, p, row, kind, dataBytes);
  }

  objectArray(buf: Buffer, p: number, length: number, classHi: number, classLo: number): void {
    const row = this.classRow(classHi, classLo);
    const bytes = length * this.idSize;
    if (row < 0) {
      this.otherArrays++;
      this.otherArrayBytes += bytes + this.arrayHeader;
      return;
    }
    const t = this.classes;
    t.count[row]++;
    t.data[row] += bytes;
    t.flags[row] |= FLAG.array;
    if (t.kind[row] === Kind.Unknown) t.kind[row] = Kind.ObjectArray;
    const size = bytes + this.arrayHeader;
    if (size > this.largest.threshold) this.largest.offer(size, row, this.idHi(buf, p + 1), this.idLo(buf, p + 1), length);
  }

  primitiveArray(buf: Buffer, p: number, length: number, type: number, elementSize: number): number {
    const row = type - 4;
    const t = this.classes;
    const bytes = length * elementSize;
    t.count[row]++;
    t.data[row] += bytes;
    const size = bytes + this.arrayHeader;
    if (size > this.largest.threshold) this.largest.offer(size, row, this.idHi(buf, p + 1), this.idLo(buf, p + 1), length);
    if (this.threadNames.pendingArrays > 0 && (type === 8 || type === 5)) {
      const slot = this.threadNames.wantedArray(this.idHi(buf, p + 1), this.idLo(buf, p + 1));
      if (slot >= 0) {
        this.pending = Pending.Array;
        this.pendingSlot = slot;
        this.pendingType = type;
        return this.threadNames.arrayBytes(length, elementSize);
      }
    }
    return 0;
  }

  /** Thread and String instances (and a class's first instance, to find out which it is). */
  private specialInstance(buf: Buffer, p: number, row: number, kind: number, dataBytes: number): number {
    if (kind === Kind.Unknown) kind = this.resolveKind(row);
    const id = this.idSize;
    if (kind === Kind.Thread) {
      const at = this.threadNameAt.get(row) ?? -1;
      if (at < 0 || at + id > dataBytes || at + id > MAX_BODY_READ) return 0;
      this.pending = Pending.Thread;
      this.pendingHi = this.idHi(buf, p + 1);
      this.pendingLo = this.idLo(buf, p + 1);
      this.pendingOffset = at;
      return at + id;
    }
    if (kind === Kind.String && this.threadNames.pendingStrings > 0) {
      const slot = this.threadNames.wantedString(this.idHi(buf, p + 1), this.idLo(buf, p + 1));
      if (slot < 0) return 0;
      const need = Math.max(this.stringValueOffset + id, this.stringCoderOffset + 1);
      if (need > dataBytes || need > MAX_BODY_READ) return 0;
      this.pending = Pending.String;
      this.pendingSlot = slot;
      return need;
    }
    return 0;
  }

  /** Plain, Thread (java.lang.Thread or a subclass) or String, from the superclass chain. */
  private resolveKind(row: number): number {
    const t = this.classes;
    let kind: number = Kind.Plain;
    if (row === this.stringRow && this.stringValueOffset >= 0) {
      kind = Kind.String;
    } else if (this.threadRow >= 0 && this.threadNameOffset >= 0) {
      // instance data = the class's own fields, then its superclass's, and so on
      let offset = 0;
      let r = row;
      for (let depth = 0; r >= 0 && depth < 64; depth++) {
        if (r === this.threadRow) {
          this.threadNameAt.set(row, offset + this.threadNameOffset);
          kind = Kind.Thread;
          break;
        }
        const own = t.ownFieldBytes[r];
        if (own < 0 || (t.flags[r] & FLAG.hasSuper) === 0) break;
        offset += own;
        r = t.index.get(t.superHi[r], t.superLo[r]);
      }
    }
    t.kind[row] = kind;
    this.updateGate(row);
    return kind;
  }

  /** Lets the fast loop count this class's instances once its size is known and nothing else is needed. */
  private updateGate(row: number): void {
    const t = this.classes;
    const k = t.kind[row];
    t.gate[row] = (k === Kind.Plain || k === Kind.String) && (t.flags[row] & FLAG.dumped) !== 0 ? t.instanceBytes[row] + this.instanceHeader : Infinity;
  }

  body(buf: Buffer, pos: number, length: number): void {
    const id = this.idSize;
    switch (this.pending) {
      case Pending.Thread:
        if (this.pendingOffset + id <= length) {
          const at = pos + this.pendingOffset;
          this.threadNames.threadObject(this.pendingHi, this.pendingLo, this.idHi(buf, at), this.idLo(buf, at));
        }
        break;
      case Pending.String:
        if (this.stringValueOffset + id <= length) {
          const at = pos + this.stringValueOffset;
          const coder = this.stringCoderOffset >= 0 && this.stringCoderOffset < length ? buf[pos + this.stringCoderOffset] : -1;
          this.threadNames.stringValue(this.pendingSlot, this.idHi(buf, at), this.idLo(buf, at), coder);
        }
        break;
      case Pending.Array:
        this.threadNames.arrayContent(this.pendingSlot, buf, pos, length, this.pendingType);
        break;
      default:
    }
    this.pending = Pending.None;
  }

  classDump(buf: Buffer, p: number, total: number): void {
    const id = this.idSize;
    const end = p + total;
    let q = p + 1;
    const hi = this.idHi(buf, q);
    const lo = this.idLo(buf, q);
    q += id + 4;
    const superHi = this.idHi(buf, q);
    const superLo = this.idLo(buf, q);
    q += 6 * id; // super, loader, signers, protection domain, 2 reserved
    const instanceSize = buf.readUInt32BE(q);
    q += 4;
    const row = this.classes.row(hi, lo);
    if (row < 0) return;
    // constant pool and static fields: skipped (their sizes were checked by the parser)
    const cp = buf.readUInt16BE(q);
    q += 2;
    for (let i = 0; i < cp; i++) q += 3 + basicTypeSize(buf[q + 2], id);
    const statics = buf.readUInt16BE(q);
    q += 2;
    for (let i = 0; i < statics; i++) q += id + 1 + basicTypeSize(buf[q + id], id);
    const fields = buf.readUInt16BE(q);
    q += 2;
    const isThread = row === this.threadRow;
    const isString = row === this.stringRow;
    let own = 0;
    for (let i = 0; i < fields && q + id + 1 <= end; i++) {
      const type = buf[q + id];
      if ((isThread || isString) && (type === 2 || type === 8)) {
        const fh = this.idHi(buf, q);
        const fl = this.idLo(buf, q);
        if (isThread && type === 2 && this.watched(W_NAME, fh, fl)) this.threadNameOffset = own;
        if (isString && type === 2 && this.watched(W_VALUE, fh, fl)) this.stringValueOffset = own;
        if (isString && type === 8 && this.watched(W_CODER, fh, fl)) this.stringCoderOffset = own;
      }
      own += basicTypeSize(type, id);
      q += id + 1;
    }
    const t = this.classes;
    t.instanceBytes[row] = instanceSize;
    t.ownFieldBytes[row] = own;
    t.superHi[row] = superHi;
    t.superLo[row] = superLo;
    t.flags[row] |= FLAG.dumped | (superHi !== 0 || superLo !== 0 ? FLAG.hasSuper : 0);
    this.updateGate(row);
  }

  checkpoint(buf: Buffer, p: number, offset: number, segmentEnd: number): void {
    this.locator.add(this.idHi(buf, p + 1), this.idLo(buf, p + 1), offset, segmentEnd);
    if (this.locator.stride !== this.checkpointStride) {
      this.checkpointStride = this.locator.stride;
      this.parser.checkpoints(this.checkpointStride);
    }
  }

  root(tag: number, buf: Buffer, p: number): void {
    if (tag === SUB.rootThreadObject) {
      const id = this.idSize;
      this.stacks.threadObject(buf.readUInt32BE(p + 1 + id), this.idHi(buf, p + 1), this.idLo(buf, p + 1));
    }
  }

  // ---- thread names the walk missed --------------------------------------------------------------------

  /**
   * A thread's name is missed in the walk when its String or the String's value array comes before
   * the Thread in the dump (or the String before the Thread). Their identifiers are known by now (or
   * become known round by round: Thread -> String -> array), so each is looked for again near the
   * checkpoints with the closest identifiers (HotSpot writes objects in address order within a heap
   * region), reading small windows of the dump. Bounded by maxRecoveryBytes; only for readers with
   * cheap random access (not a gzip stream, which would be re-inflated up to each window).
   */
  private async recoverThreadNames(threads: readonly ThreadObjectRef[], read: NameReader): Promise<void> {
    const names = this.threadNames;
    let budget = this.opts.maxRecoveryBytes;
    const window = 2 * this.locator.stride;
    for (let round = 0; round < 3 && budget >= window; round++) {
      const needs: Array<{ object: 'thread' | 'string' | 'array'; id: readonly [number, number]; slot: number; thread: ThreadObjectRef }> = [];
      const seen = new IdTable(16);
      for (const th of threads) {
        if (!th.hasObject) continue;
        const m = names.missing(th.objHi, th.objLo);
        if (!m || seen.get(m.id[0], m.id[1]) >= 0) continue;
        seen.set(m.id[0], m.id[1], needs.length);
        needs.push({ ...m, thread: th });
      }
      if (needs.length === 0) return;
      const candidates = 2;
      const found = await this.locator.find(
        needs.map((n) => n.id),
        this.idSize,
        read,
        { candidates, windowBytes: window, budgetBytes: budget, bodyBytes: 4096 },
      );
      budget -= Math.min(budget, needs.length * candidates * window);
      if (found.size === 0) return;
      for (const [k, obj] of found) {
        const need = needs[k];
        const id = this.idSize;
        if (need.object === 'thread' && obj.tag === SUB.instanceDump) {
          const row = this.classes.index.get(obj.classHi, obj.classLo);
          if (row < 0) continue;
          const kind = this.classes.kind[row] === Kind.Unknown ? this.resolveKind(row) : this.classes.kind[row];
          const at = kind === Kind.Thread ? (this.threadNameAt.get(row) ?? -1) : -1;
          if (at >= 0 && at + id <= obj.body.length) names.threadObject(need.id[0], need.id[1], this.idHi(obj.body, at), this.idLo(obj.body, at));
        } else if (need.object === 'string' && obj.tag === SUB.instanceDump && this.stringValueOffset >= 0) {
          if (this.stringValueOffset + id > obj.body.length) continue;
          const coder = this.stringCoderOffset >= 0 && this.stringCoderOffset < obj.body.length ? obj.body[this.stringCoderOffset] : -1;
          names.stringValue(need.slot, this.idHi(obj.body, this.stringValueOffset), this.idLo(obj.body, this.stringValueOffset), coder);
        } else if (need.object === 'array' && obj.tag === SUB.primitiveArrayDump && (obj.type === 8 || obj.type === 5)) {
          const elementSize = obj.type === 5 ? 2 : 1;
          const bytes = Math.min(obj.body.length, names.arrayBytes(Math.floor(obj.body.length / elementSize), elementSize));
          names.arrayContent(need.slot, obj.body, 0, bytes, obj.type);
        }
      }
    }
  }

  // ---- the summary ----------------------------------------------------------------------------------

  /**
   * The summary of what was fed so far. Reads the names it needs through `readNames` (a failure
   * there leaves names as `<name 0x…>` and is noted). Never throws.
   */
  async finish(readNames: NameReader): Promise<HeapSummary> {
    try {
      return await this.summarize(readNames);
    } catch (error) {
      // a bug must not cost the upload its summary entirely
      return {
        ...emptySummary(this.parser.structure()),
        issues: [...this.parser.issues, `summary failed: ${(error as Error).message}`],
      };
    }
  }

  private async summarize(readNames: NameReader): Promise<HeapSummary> {
    const structure = this.parser.structure();
    const t = this.classes;
    const id = this.idSize;
    const issues = [...this.parser.issues];
    if (this.parser.issueCount > this.parser.issues.length) issues.push(`... and ${this.parser.issueCount - this.parser.issues.length} more problems`);
    if (this.idSize === 0) return { ...emptySummary(structure), issues };

    // per class shallow sizes
    const shallow = new Float64Array(t.size);
    let objects = 0;
    let total = 0;
    let instances = 0;
    let arrays = 0;
    let classCount = 0;
    const rows: number[] = [];
    for (let r = 0; r < t.size; r++) {
      const n = t.count[r];
      if (n === 0) continue;
      const isArray = (t.flags[r] & FLAG.array) !== 0;
      const dumped = (t.flags[r] & FLAG.dumped) !== 0;
      shallow[r] = isArray
        ? t.dataOf(r) + n * this.arrayHeader
        : dumped
          ? n * (t.instanceBytes[r] + this.instanceHeader)
          : t.dataOf(r) + n * this.instanceHeader;
      objects += n;
      total += shallow[r];
      if (isArray) arrays += n;
      else instances += n;
      classCount++;
      rows.push(r);
    }
    const other = this.otherInstances + this.otherArrays;
    const otherBytes = this.otherInstanceBytes + this.otherArrayBytes;
    objects += other;
    total += otherBytes;
    instances += this.otherInstances;
    arrays += this.otherArrays;
    rows.sort((a, b) => shallow[b] - shallow[a] || t.count[b] - t.count[a] || a - b);
    const topRows = rows.slice(0, this.opts.topClasses);
    const objectsTop = this.largest.sorted();
    const threads = this.stacks.threads.slice().sort((a, b) => a.serial - b.serial);
    const framesOf = threads.map((th) => this.stacks.framesOf(th));
    if (readNames.randomAccess) await this.recoverThreadNames(threads, readNames);

    // names to read: class names of listed classes and objects, frames' classes, methods, files
    const wanted = new IdTable(256);
    let slots = 0;
    const want = (hi: number, lo: number): number => {
      let s = wanted.get(hi, lo);
      if (s < 0) {
        s = slots++;
        wanted.set(hi, lo, s);
      }
      return s;
    };
    const classSlot = (row: number): number => ((t.flags[row] & FLAG.named) !== 0 ? want(t.nameHi[row], t.nameLo[row]) : -1);
    const classSlots = new Map<number, number>();
    for (const r of [...topRows, ...objectsTop.map((o) => o.row)]) if (r >= PRIMITIVE_ROWS) classSlots.set(r, classSlot(r));
    const frameSlots = framesOf.map((frames) =>
      frames.map((f) => {
        const row = f.resolved ? t.rowOfSerial(f.classSerial) : -1;
        return {
          method: f.resolved ? want(f.methodHi, f.methodLo) : -1,
          source: f.resolved && (f.sourceHi !== 0 || f.sourceLo !== 0) ? want(f.sourceHi, f.sourceLo) : -1,
          cls: row >= 0 ? classSlot(row) : -1,
        };
      }),
    );
    const { names, error } = await this.names.resolve(wanted, slots, readNames);
    if (error) issues.push(`names could not be read: ${error}`);
    if (this.names.dropped > 0) issues.push(`name index full (maxNames ${this.opts.maxNames}): ${this.names.dropped} names not indexed`);
    if (t.dropped > 0) issues.push(`class table full (maxClasses ${this.opts.maxClasses}): ${other} objects of further classes counted as <other classes>`);
    if (this.stacks.droppedThreads > 0) issues.push(`thread table full (maxThreads ${this.opts.maxThreads}): ${this.stacks.droppedThreads} threads not listed`);
    if (this.threadNames.dropped > 0) issues.push(`thread object table full (maxThreadObjects ${this.opts.maxThreadObjects}): some thread names not looked for`);

    const className = (row: number): string => {
      if (row < PRIMITIVE_ROWS) return PRIMITIVE_ARRAY_NAMES[row + 4];
      const s = classSlots.get(row) ?? -1;
      const n = s >= 0 ? (names[s] ?? null) : null;
      return n !== null ? javaClassName(n) : `<class ${formatId(t.idHi[row], t.idLo[row], id)}>`;
    };
    const classes: ClassSummary[] = topRows.map((r) => ({ name: className(r), instances: t.count[r], shallowBytes: shallow[r] }));
    if (other > 0 && classes.length < this.opts.topClasses) classes.push({ name: '<other classes>', instances: other, shallowBytes: otherBytes });
    const largestObjects: ObjectSummary[] = objectsTop.map((o) => ({
      id: formatId(o.idHi, o.idLo, id),
      className: className(o.row),
      shallowBytes: o.size,
      ...(o.length >= 0 ? { arrayLength: o.length } : {}),
    }));
    const threadSummaries: ThreadSummary[] = threads.map((th, i) => ({
      name: th.hasObject ? this.threadNames.nameOf(th.objHi, th.objLo) : null,
      serial: th.serial,
      objectId: th.hasObject ? formatId(th.objHi, th.objLo, id) : null,
      depth: th.depth,
      frames: framesOf[i].map((f, k): FrameSummary => {
        const s = frameSlots[i][k];
        const name = (slot: number) => (slot >= 0 ? (names[slot] ?? null) : null);
        return {
          className: name(s.cls) !== null ? javaClassName(name(s.cls) as string) : '<unknown class>',
          method: name(s.method) ?? '<unknown method>',
          sourceFile: name(s.source),
          line: f.line > 0 ? f.line : null,
          ...(f.line === -3 ? { native: true as const } : {}),
        };
      }),
    }));

    return {
      complete: structure.complete && this.parser.issueCount === 0,
      structure: { complete: structure.complete, ...(structure.reason !== undefined ? { reason: structure.reason } : {}), bytes: structure.bytes },
      issues,
      format: {
        version: this.version,
        idSize: id,
        timestamp: this.timestampMs >= 0 && this.timestampMs < 8.64e15 ? new Date(this.timestampMs).toISOString() : null,
      },
      headerBytes: { instance: this.instanceHeader, array: this.arrayHeader },
      totals: { objects, shallowBytes: total, instances, arrays, classes: classCount + (other > 0 ? 1 : 0) },
      classes,
      largestObjects,
      threads: threadSummaries,
    };
  }
}

/** Thread rows as the recovery needs them. */
interface ThreadObjectRef {
  readonly hasObject: boolean;
  readonly objHi: number;
  readonly objLo: number;
}

function emptySummary(structure: StructureVerdict): HeapSummary {
  return {
    complete: false,
    structure: { complete: structure.complete, ...(structure.reason !== undefined ? { reason: structure.reason } : {}), bytes: structure.bytes },
    issues: [],
    format: null,
    headerBytes: null,
    totals: { objects: 0, shallowBytes: 0, instances: 0, arrays: 0, classes: 0 },
    classes: [],
    largestObjects: [],
    threads: [],
  };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

