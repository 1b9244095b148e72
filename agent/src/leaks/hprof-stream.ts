/**
 * A push parser for the whole object graph of an HPROF stream: every record and heap sub-record, the
 * field bytes of every instance and the elements of every object array (the triage parser skips
 * bodies; this one cannot). Bytes arrive in chunks of any size; an item cut by a chunk boundary is
 * assembled in a small carry (record prefixes, sub-record headers, an instance's field bytes up to the
 * size its class declares, a class dump: all bounded), object array elements are streamed without
 * being assembled, and everything else is skipped by its length. Format constants: ../triage/hprof-format.ts.
 *
 * Never throws on bad input: a malformed sub-record ends its segment (noted in `issues`) and the walk
 * resumes at the next record; a record length past the end of the stream just ends the walk.
 */
import { basicTypeSizeTable, HPROF_MAGICS, MAX_MAGIC_LENGTH, RECORD_HEADER_SIZE, SUB, SUPPORTED_ID_SIZES, TAG } from '../triage/hprof-format';

/** What the walker finds, in stream order. `offset`s are stream offsets of an item's first byte. */
export interface HeapSink {
  header(idSize: number, version: string, timestampMs: number): void;
  /** Leading body bytes of a top-level record (not a heap segment) the sink wants: 0 skips it. */
  recordPrefix(tag: number, length: number): number;
  record(tag: number, length: number, bodyOffset: number, buf: Buffer, pos: number, prefix: number): void;
  /**
   * An instance: how many of its `dataBytes` field bytes `instance` must see (<= dataBytes). `view` is a
   * DataView of `buf` (the hot paths read through it).
   */
  instanceWant(buf: Buffer, view: DataView, p: number, dataBytes: number): number;
  /** The instance whose sub-record starts at buf[p] (header), with `data` field bytes at buf[p + header]. */
  instance(buf: Buffer, view: DataView, p: number, data: number, dataBytes: number, offset: number): void;
  /** An object array's header at buf[p]; its `length` elements follow through `elements`. */
  objectArray(buf: Buffer, view: DataView, p: number, length: number, offset: number): void;
  /** `count` consecutive element ids of the current object array at buf[pos]. */
  elements(buf: Buffer, view: DataView, pos: number, count: number): void;
  /** A primitive array's header at buf[p]; returns how many content bytes `content` must see. */
  primitiveArray(buf: Buffer, view: DataView, p: number, length: number, type: number, elementSize: number, offset: number): number;
  content(buf: Buffer, pos: number, length: number): void;
  /** A whole CLASS DUMP of `total` bytes at buf[p]. */
  classDump(buf: Buffer, p: number, total: number, offset: number): void;
  /** A GC root sub-record (fixed size) at buf[p]. */
  root(tag: number, buf: Buffer, p: number): void;
}

const enum S {
  Header,
  Record,
  Segment,
  Skip,
  Carry,
  Elements,
  Stopped,
}

// Tags as module constants: read in the hot loop for every object.
const INSTANCE_DUMP = SUB.instanceDump;
const OBJECT_ARRAY_DUMP = SUB.objectArrayDump;
const PRIMITIVE_ARRAY_DUMP = SUB.primitiveArrayDump;
const CLASS_DUMP = SUB.classDump;

/** Largest item ever assembled in the carry (a CLASS DUMP is at most ~2.4 MiB; instance data is capped by the sink). */
const MAX_CARRY = 8 * 1024 * 1024;
const MAX_ISSUES = 20;

export class HprofStream {
  idSize = 0;
  version = '';
  readonly issues: string[] = [];
  issueCount = 0;
  /** Stream offset just after the last HEAP DUMP END, -1 if none yet. */
  private endAt = -1;
  private lastTag = -1;
  private lastLength = -1;
  private records = 0;

  private state = S.Header;
  private base = 0;
  private recEnd = 0;
  private inSegment = false;
  private skipTarget = 0;
  private carry = Buffer.alloc(1024);
  private carryLen = 0;
  private carryNeed = 0;
  private carryAt = 0;
  /** Object array elements still to come, and a cut id's first bytes. */
  private elemsLeft = 0;
  private elemCarry = Buffer.alloc(8);
  private elemCarryLen = 0;
  private sizes: Uint8Array = new Uint8Array(256);
  private rootSizes = new Int32Array(256);
  private stopReason = '';

  private viewBuf: Buffer | null = null;
  private view: DataView = new DataView(new ArrayBuffer(0));

  constructor(private readonly sink: HeapSink) {}

  /** A DataView of `buf`, reused while the same buffer comes back. */
  private viewOf(buf: Buffer): DataView {
    if (buf !== this.viewBuf) {
      this.viewBuf = buf;
      this.view = new DataView(buf.buffer, buf.byteOffset, buf.length);
    }
    return this.view;
  }

  /**
   * A walker that starts inside a heap dump segment at stream offset `offset` (a sub-record boundary)
   * of a segment ending at `segmentEnd`: for reading objects again at the end of an analysis.
   */
  static inSegment(sink: HeapSink, idSize: number, offset: number, segmentEnd: number): HprofStream {
    const w = new HprofStream(sink);
    w.setIdSize(idSize);
    w.base = offset;
    w.recEnd = segmentEnd;
    w.inSegment = true;
    w.records = 1;
    w.state = S.Segment;
    return w;
  }

  /** End (stream offset) of the record being read: the heap dump segment, while in one. */
  get segmentEnd(): number {
    return this.recEnd;
  }

  /** Bytes seen so far. */
  get bytes(): number {
    return this.base;
  }

  /** Whether the bytes so far are a whole HPROF stream ending exactly after HEAP DUMP END. */
  get complete(): boolean {
    return this.state === S.Record && this.carryLen === 0 && this.lastTag === TAG.heapDumpEnd && this.lastLength === 0 && this.endAt === this.base;
  }

  /** Why the stream is not complete ('' when it is). */
  get incompleteReason(): string {
    if (this.complete) return '';
    if (this.state === S.Stopped) return this.stopReason;
    if (this.state === S.Header) return 'no HPROF header';
    if (this.state !== S.Record || this.carryLen > 0) return `the stream ends inside a record (at offset ${this.base})`;
    return this.endAt >= 0 ? 'data after HEAP DUMP END' : 'the stream does not end with HEAP DUMP END';
  }

  issue(message: string): void {
    this.issueCount++;
    if (this.issues.length < MAX_ISSUES) this.issues.push(message);
  }

  private stop(reason: string): void {
    this.state = S.Stopped;
    this.stopReason = reason;
    this.issue(reason);
  }

  private setIdSize(id: number): void {
    this.idSize = id;
    this.sizes = basicTypeSizeTable(id);
    const r = this.rootSizes;
    r[SUB.rootUnknown] = 1 + id;
    r[SUB.rootJniGlobal] = 1 + 2 * id;
    r[SUB.rootJniLocal] = 1 + id + 8;
    r[SUB.rootJavaFrame] = 1 + id + 8;
    r[SUB.rootNativeStack] = 1 + id + 4;
    r[SUB.rootStickyClass] = 1 + id;
    r[SUB.rootThreadBlock] = 1 + id + 4;
    r[SUB.rootMonitorUsed] = 1 + id;
    r[SUB.rootThreadObject] = 1 + id + 8;
  }

  /** Feeds the next bytes; keeps no reference to `buf`. */
  update(buf: Buffer): void {
    let p = 0;
    const n = buf.length;
    while (p < n) {
      switch (this.state) {
        case S.Segment:
          p = this.segment(buf, p);
          break;
        case S.Skip: {
          const left = this.skipTarget - (this.base + p);
          if (left > n - p) p = n;
          else {
            p += left;
            this.resume();
          }
          break;
        }
        case S.Carry:
          p = this.fillCarry(buf, p);
          break;
        case S.Elements:
          p = this.streamElements(buf, p);
          break;
        case S.Record:
          p = this.item(buf, p, n - p, true);
          break;
        case S.Header:
          p = this.item(buf, p, n - p, true);
          break;
        default:
          p = n;
      }
    }
    this.base += n;
    this.viewBuf = null; // keeps no reference to the caller's buffer
  }

  /** After an item: back into the segment, or on to the next record. */
  private resume(): void {
    this.state = this.inSegment && this.skipTarget < this.recEnd ? S.Segment : S.Record;
    if (this.state === S.Record) this.inSegment = false;
  }

  private skipTo(target: number, p: number): number {
    const at = this.base + p;
    this.skipTarget = target;
    if (target <= at) {
      this.skipTarget = at;
      this.resume();
      return p;
    }
    this.state = S.Skip;
    return p;
  }

  /**
   * Sub-records of the segment in this chunk. The hot path: instances and primitive arrays lying wholly in
   * the chunk go straight to the sink; everything else (roots, class dumps, object arrays, anything cut by
   * the chunk's end) through item().
   */
  private segment(buf: Buffer, p: number): number {
    const n = buf.length;
    const segLeft = this.recEnd - (this.base + p);
    const end = segLeft < n - p ? p + segLeft : n;
    const id = this.idSize;
    const instHeader = 9 + 2 * id;
    const primHeader = 10 + id;
    const view = this.viewOf(buf);
    const sink = this.sink;
    const sizes = this.sizes;
    while (p < end && this.state === S.Segment) {
      const tag = buf[p];
      if (tag === INSTANCE_DUMP && p + instHeader <= end) {
        const dataBytes = view.getUint32(p + 5 + 2 * id);
        const next = p + instHeader + dataBytes;
        if (next <= end) {
          const want = sink.instanceWant(buf, view, p, dataBytes);
          sink.instance(buf, view, p, want, dataBytes, this.base + p);
          p = next;
          continue;
        }
      } else if (tag === PRIMITIVE_ARRAY_DUMP && p + primHeader <= end) {
        const es = sizes[buf[p + 9 + id]];
        const next = p + primHeader + view.getUint32(p + 5 + id) * es;
        if (es !== 0 && buf[p + 9 + id] !== 2 && next <= end) {
          const want = sink.primitiveArray(buf, view, p, view.getUint32(p + 5 + id), buf[p + 9 + id], es, this.base + p);
          if (want > 0) sink.content(buf, p + primHeader, Math.min(want, next - p - primHeader));
          p = next;
          continue;
        }
      }
      p = this.item(buf, p, end - p, end === n);
    }
    if (this.state === S.Segment && this.base + p >= this.recEnd) {
      this.skipTarget = this.recEnd;
      this.resume();
    }
    return p;
  }

  /**
   * One item at buf[p] with `avail` bytes available (within its segment, for sub-records).
   * `more`: more bytes may follow in the next chunk (otherwise a short item is cut for good).
   * Returns the position after what was consumed; sets the state for what comes next.
   */
  private item(buf: Buffer, p: number, avail: number, more: boolean): number {
    const need = this.state === S.Header ? this.header(buf, p, avail) : this.inSegment ? this.sub(buf, p, avail) : this.recordHeader(buf, p, avail);
    if (need >= 0) return need; // consumed: the new position
    const want = -need;
    if (want <= avail) throw new Error('walker: item asked for bytes it had');
    const atSegEnd = this.inSegment && this.base + p + avail >= this.recEnd;
    if (!more || atSegEnd || want > MAX_CARRY) {
      if (this.inSegment && atSegEnd) {
        this.issue(`sub-record 0x${buf[p].toString(16)} at offset ${this.base + p} is cut by the end of its segment: the rest of the segment was skipped`);
        return this.skipTo(this.recEnd, p + avail);
      }
      if (want > MAX_CARRY) {
        this.issue(`item at offset ${this.base + p} needs ${want} bytes at once: the rest of its record was skipped`);
        return this.skipTo(this.recEnd > this.base + p ? this.recEnd : this.base + p + avail, p + avail);
      }
    }
    // keep the bytes we have and wait for the rest
    if (this.carry.length < want) this.carry = Buffer.alloc(Math.max(want, this.carry.length * 2));
    buf.copy(this.carry, 0, p, p + avail);
    this.carryLen = avail;
    this.carryNeed = want;
    this.carryAt = this.base + p;
    this.carryState = this.state;
    this.state = S.Carry;
    return p + avail;
  }

  private carryState = S.Record;

  private fillCarry(buf: Buffer, p: number): number {
    const limit = this.carryState === S.Segment ? Math.min(buf.length - p, this.recEnd - (this.base + p)) : buf.length - p;
    const take = Math.min(limit, this.carryNeed - this.carryLen);
    buf.copy(this.carry, this.carryLen, p, p + take);
    this.carryLen += take;
    p += take;
    if (this.carryLen < this.carryNeed) {
      if (this.carryState === S.Segment && this.base + p >= this.recEnd) {
        this.issue(`sub-record at offset ${this.carryAt} is cut by the end of its segment: skipped`);
        this.carryLen = 0;
        this.skipTarget = this.recEnd;
        this.resume();
      }
      return p;
    }
    // run the item on the carry, as if the stream were positioned at carryAt
    const savedBase = this.base;
    this.state = this.carryState;
    const len = this.carryLen;
    this.carryLen = 0;
    this.base = this.carryAt;
    let after: number;
    try {
      after = this.item(this.carry, 0, len, true);
    } finally {
      this.base = savedBase;
    }
    if (this.state === S.Carry) {
      // it needs even more (a class dump being measured): the carried bytes are kept, continue filling
      this.carryLen = len;
      return p;
    }
    // what the item consumed beyond the carry comes from this chunk (a skip or elements state follows)
    const consumedAbs = this.carryAt + after;
    if (this.state === S.Skip || this.state === S.Elements) return p - ((this.carryAt + len) - consumedAbs);
    return p - ((this.carryAt + len) - consumedAbs);
  }

  private header(buf: Buffer, p: number, avail: number): number {
    const window = buf.subarray(p, p + Math.min(avail, MAX_MAGIC_LENGTH + 1));
    const nul = window.indexOf(0);
    if (nul < 0) {
      if (avail > MAX_MAGIC_LENGTH) {
        this.stop('not an HPROF stream: no header');
        return p + avail;
      }
      return -(avail + 1);
    }
    const version = buf.toString('latin1', p, p + nul);
    if (!HPROF_MAGICS.includes(version)) {
      this.stop(`not an HPROF stream: unknown header ${JSON.stringify(version.slice(0, 40))}`);
      return p + avail;
    }
    if (avail < nul + 13) return -(nul + 13);
    const idSize = buf.readUInt32BE(p + nul + 1);
    const timestamp = buf.readUInt32BE(p + nul + 5) * 2 ** 32 + buf.readUInt32BE(p + nul + 9);
    if (!SUPPORTED_ID_SIZES.includes(idSize)) {
      this.stop(`unsupported identifier size ${idSize} (expected 4 or 8)`);
      return p + avail;
    }
    this.version = version;
    this.setIdSize(idSize);
    this.sink.header(idSize, version, timestamp);
    this.state = S.Record;
    return p + nul + 13;
  }

  private recordHeader(buf: Buffer, p: number, avail: number): number {
    if (avail < RECORD_HEADER_SIZE) return -RECORD_HEADER_SIZE;
    const tag = buf[p];
    const length = buf.readUInt32BE(p + 5);
    const bodyAt = this.base + p + RECORD_HEADER_SIZE;
    this.records++;
    this.lastTag = tag;
    this.lastLength = length;
    this.recEnd = bodyAt + length;
    if (tag === TAG.heapDumpEnd) this.endAt = this.recEnd;
    if (tag === TAG.heapDump || tag === TAG.heapDumpSegment) {
      this.inSegment = true;
      this.skipTarget = bodyAt;
      this.state = length > 0 ? S.Segment : S.Record;
      if (length === 0) this.inSegment = false;
      return p + RECORD_HEADER_SIZE;
    }
    const want = Math.min(this.sink.recordPrefix(tag, length), length);
    if (want > 0) {
      if (avail < RECORD_HEADER_SIZE + want) return -(RECORD_HEADER_SIZE + want);
      this.sink.record(tag, length, bodyAt, buf, p + RECORD_HEADER_SIZE, want);
    }
    return this.skipTo(this.recEnd, p + RECORD_HEADER_SIZE + Math.min(want, avail - RECORD_HEADER_SIZE));
  }

  /** One heap sub-record (see item()). */
  private sub(buf: Buffer, p: number, avail: number): number {
    const id = this.idSize;
    const tag = buf[p];
    const at = this.base + p;
    const view = this.viewOf(buf);
    if (tag === INSTANCE_DUMP) {
      const h = 9 + 2 * id;
      if (avail < h) return -h;
      const dataBytes = view.getUint32(p + 5 + 2 * id);
      const want = this.sink.instanceWant(buf, view, p, dataBytes);
      if (avail < h + want) return -(h + want);
      this.sink.instance(buf, view, p, want, dataBytes, at);
      const next = p + h + dataBytes;
      if (dataBytes === want) return next; // the whole instance was in the chunk
      return this.skipTo(at + h + dataBytes, p + h + want);
    }
    if (tag === PRIMITIVE_ARRAY_DUMP) {
      const h = 10 + id;
      if (avail < h) return -h;
      const length = view.getUint32(p + 5 + id);
      const type = buf[p + 9 + id];
      const es = this.sizes[type];
      if (es === 0 || type === 2) return this.bad(p, avail, `primitive array of unknown type ${type}`);
      const bytes = length * es;
      const want = Math.min(bytes, this.sink.primitiveArray(buf, view, p, length, type, es, at));
      if (want > 0) {
        if (avail < h + want) {
          if (h + want > MAX_CARRY) return this.bad(p, avail, 'primitive array content too large to read');
          return -(h + want);
        }
        this.sink.content(buf, p + h, want);
      }
      if (h + bytes <= avail) return p + h + bytes;
      return this.skipTo(at + h + bytes, p + h + want);
    }
    if (tag === OBJECT_ARRAY_DUMP) {
      const h = 9 + 2 * id;
      if (avail < h) return -h;
      const length = view.getUint32(p + 5 + id);
      this.sink.objectArray(buf, view, p, length, at);
      const inChunk = Math.min(length, Math.floor((avail - h) / id));
      if (inChunk > 0) this.sink.elements(buf, view, p + h, inChunk);
      if (inChunk === length) return p + h + length * id;
      this.elemsLeft = length - inChunk;
      this.elemCarryLen = 0;
      this.state = S.Elements;
      return p + h + inChunk * id;
    }
    const rootSize = this.rootSizes[tag];
    if (rootSize > 0) {
      if (avail < rootSize) return -rootSize;
      this.sink.root(tag, buf, p);
      return p + rootSize;
    }
    if (tag === CLASS_DUMP) {
      const total = this.measureClassDump(buf, p, avail);
      if (total === 0) return this.bad(p, avail, 'class dump with an unknown value type');
      if (total < 0) return total;
      this.sink.classDump(buf, p, total, at);
      return p + total;
    }
    return this.bad(p, avail, `unknown heap sub-record tag 0x${tag.toString(16)}`);
  }

  private bad(p: number, avail: number, what: string): number {
    const at = this.base + p;
    this.issue(`${what} at offset ${at}: the rest of its heap dump segment (${this.recEnd - at} bytes) was skipped`);
    return this.skipTo(this.recEnd, p + Math.min(avail, this.recEnd - at));
  }

  /** Elements of an object array that did not fit in the chunk where it started. */
  private streamElements(buf: Buffer, p: number): number {
    const id = this.idSize;
    const n = Math.min(buf.length, p + (this.recEnd - (this.base + p)));
    if (this.elemCarryLen > 0) {
      const take = Math.min(id - this.elemCarryLen, n - p);
      buf.copy(this.elemCarry, this.elemCarryLen, p, p + take);
      this.elemCarryLen += take;
      p += take;
      if (this.elemCarryLen < id) return this.elementsCut(p);
      this.sink.elements(this.elemCarry, this.viewOf(this.elemCarry), 0, 1);
      this.elemCarryLen = 0;
      this.elemsLeft--;
    }
    const whole = Math.min(this.elemsLeft, Math.floor((n - p) / id));
    if (whole > 0) {
      this.sink.elements(buf, this.viewOf(buf), p, whole);
      p += whole * id;
      this.elemsLeft -= whole;
    }
    if (this.elemsLeft === 0) {
      this.state = S.Segment;
      if (this.base + p >= this.recEnd) {
        this.skipTarget = this.recEnd;
        this.resume();
      }
      return p;
    }
    if (p < n) {
      // the start of a cut id
      buf.copy(this.elemCarry, 0, p, n);
      this.elemCarryLen = n - p;
      p = n;
    }
    return this.elementsCut(p);
  }

  private elementsCut(p: number): number {
    if (this.base + p >= this.recEnd) {
      this.issue(`object array cut by the end of its segment (${this.elemsLeft} elements missing)`);
      this.elemsLeft = 0;
      this.elemCarryLen = 0;
      this.skipTarget = this.recEnd;
      this.resume();
    }
    return p;
  }

  /** Length of the CLASS DUMP at buf[p]: total, -N (needs N bytes) or 0 (malformed). */
  private measureClassDump(buf: Buffer, p: number, avail: number): number {
    const id = this.idSize;
    const sizes = this.sizes;
    let pos = 1 + 7 * id + 8;
    if (avail < pos + 2) return -(pos + 2);
    for (let left = buf.readUInt16BE(p + pos), q = (pos += 2); left > 0; left--) {
      if (avail < q + 3) return -(q + 3);
      const size = sizes[buf[p + q + 2]];
      if (size === 0) return 0;
      q += 3 + size;
      pos = q;
    }
    if (avail < pos + 2) return -(pos + 2);
    for (let left = buf.readUInt16BE(p + pos), q = (pos += 2); left > 0; left--) {
      if (avail < q + id + 1) return -(q + id + 1);
      const size = sizes[buf[p + q + id]];
      if (size === 0) return 0;
      q += id + 1 + size;
      pos = q;
    }
    if (avail < pos + 2) return -(pos + 2);
    const total = pos + 2 + buf.readUInt16BE(p + pos) * (id + 1);
    return avail < total ? -total : total;
  }
}
