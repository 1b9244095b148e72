/**
 * Incremental HPROF parser: bytes in file order, in chunks of any size (1 byte .. MiBs), push based.
 *
 * It walks the records and the heap dump sub-records and hands them to a visitor; it never holds more
 * than a small carry of the stream: a record header cut by a chunk boundary (9 bytes), the prefix of a
 * top-level record the visitor asked for (bounded by the visitor), a sub-record header cut by a chunk
 * boundary (at most 2 identifiers + 9 bytes, or one CLASS DUMP: at most ~2.4 MiB because its counts are
 * u2), or the first bytes of an object's body the visitor asked for (bounded by the visitor). Array and
 * instance bodies are skipped by their length without being read, so the walk costs O(bytes) with a
 * small constant however the chunks fall, and a crafted length can only make it skip.
 *
 * Lengths are unsigned 32-bit (a HEAP DUMP SEGMENT may be longer than 2 GiB). Unknown record types
 * are skipped by their length. Sub-records carry no length, so an unknown or malformed sub-record ends
 * the analysis of its segment (noted in `issues`); the walk resumes at the next record, whose position
 * the segment's length gives. `structure()` says whether the bytes so far are a whole dump.
 */
import {
  basicTypeSizeTable,
  HPROF_MAGICS,
  MAX_MAGIC_LENGTH,
  RECORD_HEADER_SIZE,
  rootSizeTable,
  SUB,
  SUPPORTED_ID_SIZES,
  TAG,
} from './hprof-format';

/** Receives what the parser finds. Methods are called in stream order. */
export interface HprofVisitor {
  header(version: string, idSize: number, timestampMs: number): void;
  /** How many leading body bytes of this top-level record `record` needs (0: the record is skipped). */
  recordPrefix(tag: number, length: number): number;
  /** `prefix` bytes of the record's body at buf[pos..]; `bodyOffset` is the body's stream offset. */
  record(tag: number, length: number, bodyOffset: number, buf: Buffer, pos: number, prefix: number): void;
  /**
   * INSTANCE DUMP whose header starts at buf[p] (tag). Returns how many leading bytes of the instance's
   * field data `body` must receive (0: none).
   */
  instance(buf: Buffer, p: number, classHi: number, classLo: number, dataBytes: number): number;
  /** OBJECT ARRAY DUMP whose header starts at buf[p]. */
  objectArray(buf: Buffer, p: number, length: number, classHi: number, classLo: number): void;
  /** PRIMITIVE ARRAY DUMP whose header starts at buf[p]; returns the leading body bytes `body` needs. */
  primitiveArray(buf: Buffer, p: number, length: number, type: number, elementSize: number): number;
  /** The body bytes asked for by the last `instance` or `primitiveArray` (fewer if the record is cut). */
  body(buf: Buffer, pos: number, length: number): void;
  /** A whole CLASS DUMP sub-record of `total` bytes at buf[p]. */
  classDump(buf: Buffer, p: number, total: number): void;
  /** A GC root sub-record (fixed size) at buf[p]. */
  root(tag: number, buf: Buffer, p: number): void;
  /**
   * Optional fast loop over the sub-records in buf[p..end) (`view` is a DataView of `buf`): handles
   * as many as it can exactly as instance/objectArray/primitiveArray would (and only those that lie
   * wholly before `end` and need no body bytes), returns the position of the first one it leaves to
   * the parser. Returning `p` is always correct.
   */
  heapRun(buf: Buffer, view: DataView, p: number, end: number): number;
  /**
   * Optional: an object sub-record at buf[p] (stream offset `offset`, in a segment ending at
   * `segmentEnd`), about every `checkpoints(bytes)` bytes: where to look for objects again later.
   */
  checkpoint?(buf: Buffer, p: number, offset: number, segmentEnd: number): void;
}

/** Whether the stream so far is a whole dump. */
export interface StructureVerdict {
  /** True iff the bytes so far are an HPROF stream ending exactly after HEAP DUMP END (tag 0x2C, length 0). */
  readonly complete: boolean;
  /** Why not complete. */
  readonly reason?: string;
  /** Bytes seen. */
  readonly bytes: number;
  /** 'hprof' once a known header was read, 'not-hprof' if the header is something else, else 'unknown'. */
  readonly format: 'hprof' | 'not-hprof' | 'unknown';
}

const enum State {
  Header,
  Record,
  Segment,
  Skip,
  Capture,
  SubCarry,
  Stopped,
}

const enum Capture {
  Record,
  Body,
}

/** Resumable length scan of a CLASS DUMP (positions relative to its tag byte). */
interface ClassDumpScan {
  stage: number;
  pos: number;
  left: number;
}

const MAX_ISSUES = 20;

/** Hex formatting for messages. */
const hex = (n: number): string => `0x${n.toString(16).padStart(2, '0')}`;

export class HprofRecordParser {
  /** Identifier size from the header (0 until read). */
  idSize = 0;
  version = '';
  /** Problems that made part of the heap unreadable (first MAX_ISSUES; `issueCount` counts all). */
  readonly issues: string[] = [];
  issueCount = 0;

  private state = State.Header;
  /** Stream offset of buf[0] of the chunk being processed; after update(), the bytes seen. */
  private base = 0;
  private stopReason = '';
  private format: StructureVerdict['format'] = 'unknown';

  // current record
  private recStart = 0;
  private recTag = -1;
  private recLength = 0;
  private recEnd = 0;
  private inSegment = false;
  private records = 0;
  /** Stream offset just after the last HEAP DUMP END record. */
  private endAt = -1;

  // small carry: file header, record headers, sub-record headers, class dumps
  private carry = Buffer.alloc(256);
  private carryLen = 0;
  private carryNeed = 0;
  private carryStart = 0;
  private readonly scan: ClassDumpScan = { stage: 0, pos: 0, left: 0 };

  // skip / capture
  private skipTarget = 0;
  private capKind = Capture.Record;
  private capBuf = Buffer.alloc(1024);
  private capLen = 0;
  private capNeed = 0;
  private capThen = 0;

  // sub-record sizes for the identifier size
  private typeSizes: Uint8Array = new Uint8Array(256);
  private instHdr = 0;
  private primHdr = 0;
  private rootSizes: Int32Array = new Int32Array(256);

  /** The record-count budget: past this many top-level records the analysis stops (noted), the walk too. */
  maxRecords = Infinity;

  /** Stream offset from which the next object sub-record is reported to `visitor.checkpoint`. */
  private nextCheckpoint = Infinity;
  private checkpointEvery = Infinity;

  constructor(private readonly visitor: HprofVisitor) {}

  /**
   * Reports object sub-records to `visitor.checkpoint`: the first one, then the first one starting at
   * least `bytes` after the previous checkpoint (the same ones however the stream is chunked). May be
   * called again (from the callback) to change the distance.
   */
  checkpoints(bytes: number): void {
    if (this.checkpointEvery === Infinity) this.nextCheckpoint = 0;
    this.checkpointEvery = bytes;
  }

  private checkpoint(buf: Buffer, p: number, at: number): void {
    if (at < this.nextCheckpoint || !this.visitor.checkpoint) return;
    this.visitor.checkpoint(buf, p, at, this.recEnd);
    this.nextCheckpoint = at + this.checkpointEvery;
  }

  /**
   * A parser that starts inside a heap dump segment: `offset` is the stream offset of the first byte
   * it will be given (a sub-record boundary), `segmentEnd` the segment's end (for re-reading a window
   * of a dump at the end of an analysis).
   */
  static inSegment(visitor: HprofVisitor, idSize: number, offset: number, segmentEnd: number): HprofRecordParser {
    const parser = new HprofRecordParser(visitor);
    parser.setIdSize(idSize);
    parser.format = 'hprof';
    parser.base = offset;
    parser.recStart = offset;
    parser.recTag = TAG.heapDumpSegment;
    parser.recEnd = segmentEnd;
    parser.inSegment = true;
    parser.records = 1;
    parser.state = offset < segmentEnd ? State.Segment : State.Record;
    return parser;
  }

  /** Bytes seen so far. */
  get bytes(): number {
    return this.base;
  }

  /** Bytes held by the carry and capture buffers. */
  get bufferBytes(): number {
    return this.carry.length + this.capBuf.length;
  }

  /** Feeds the next bytes of the stream. Never throws on bad input (the walk stops, noted in `issues`). */
  update(buf: Buffer): void {
    const n = buf.length;
    let p = 0;
    for (;;) {
      try {
        this.walk(buf, p);
        break;
      } catch (error) {
        // A bug must not take the uploader down, nor cost it the completeness check: the analysis
        // stops, the walk goes on over record headers only.
        p = this.failedAt;
        if (!this.degrade(error as Error, p)) break;
      }
    }
    this.base += n;
  }

  /** Position in the chunk of the step that was running (for degrade()). */
  private failedAt = 0;
  /** After an internal error: records are skipped by their length, nothing more is analysed. */
  private degraded = false;

  private walk(buf: Buffer, p: number): void {
    const n = buf.length;
    while (p < n) {
      this.failedAt = p;
      switch (this.state) {
        case State.Segment:
          p = this.segment(buf, p);
          break;
        case State.Skip: {
          const left = this.skipTarget - (this.base + p);
          if (left < 0) throw new Error(`skip target ${this.skipTarget} behind the walk`);
          if (left > n - p) {
            p = n;
          } else {
            p += left;
            this.resume(p);
          }
          break;
        }
        case State.Record:
          p = this.recordHeader(buf, p);
          break;
        case State.Capture:
          p = this.capture(buf, p);
          break;
        case State.SubCarry:
          p = this.subCarry(buf, p);
          break;
        case State.Header:
          p = this.fileHeader(buf, p);
          break;
        default:
          p = n;
      }
    }
  }

  /** After an internal error at buf[p]: go on to the end of the current record, headers only from there. */
  private degrade(error: Error, p: number): boolean {
    const at = this.base + p;
    if (this.degraded || this.state === State.Header || this.state === State.Stopped || this.recEnd < at) {
      this.stop(`analysis stopped at offset ${at}: ${error.message}`);
      return false;
    }
    this.issue(`analysis stopped at offset ${at}: ${error.message}; the rest was only checked for completeness`);
    this.degraded = true;
    this.carryLen = 0;
    this.inSegment = false;
    if (this.state === State.Record && this.recEnd === at) return true;
    this.skipTarget = this.recEnd;
    this.state = State.Skip;
    return true;
  }

  /** Whether the bytes so far are a structurally complete dump. */
  structure(): StructureVerdict {
    const bytes = this.base;
    const format = this.format;
    const no = (reason: string): StructureVerdict => ({ complete: false, reason, bytes, format });
    switch (this.state) {
      case State.Header:
        return no(bytes === 0 ? 'empty stream' : `HPROF header cut short (${bytes} bytes)`);
      case State.Stopped:
        return no(this.stopReason);
      case State.Record:
        if (this.carryLen > 0) return no(`record header cut at offset ${this.base - this.carryLen}`);
        if (this.records === 0) return no('no records after the header');
        if (this.recTag === TAG.heapDumpEnd && this.recLength === 0) return { complete: true, bytes, format };
        if (this.endAt >= 0) return no(`${bytes - this.endAt} bytes after HEAP DUMP END`);
        return no('does not end with HEAP DUMP END');
      default:
        return no(
          `record at offset ${this.recStart} (tag ${hex(this.recTag)}, ${this.recLength} bytes) cut after ` +
            `${bytes - this.recStart - RECORD_HEADER_SIZE} bytes`,
        );
    }
  }

  private issue(message: string): void {
    this.issueCount++;
    if (this.issues.length < MAX_ISSUES) this.issues.push(message);
  }

  private stop(reason: string): void {
    this.state = State.Stopped;
    this.stopReason = reason;
    this.issue(reason);
  }

  // ---- file header -------------------------------------------------------------------------------

  private fileHeader(buf: Buffer, p: number): number {
    const want = MAX_MAGIC_LENGTH + 1 + 12;
    const take = Math.min(buf.length - p, want - this.carryLen);
    buf.copy(this.carry, this.carryLen, p, p + take);
    this.carryLen += take;
    p += take;
    const nul = this.carry.subarray(0, Math.min(this.carryLen, MAX_MAGIC_LENGTH + 1)).indexOf(0);
    if (nul < 0) {
      if (this.carryLen > MAX_MAGIC_LENGTH) {
        this.format = 'not-hprof';
        this.stop('not an HPROF stream: no header');
      }
      return p;
    }
    const version = this.carry.toString('latin1', 0, nul);
    if (!HPROF_MAGICS.includes(version)) {
      this.format = 'not-hprof';
      this.stop(`not an HPROF stream: unknown header ${JSON.stringify(version.slice(0, 40))}`);
      return p;
    }
    const end = nul + 1 + 12;
    if (this.carryLen < end) return p;
    const idSize = this.carry.readUInt32BE(nul + 1);
    const timestamp = this.carry.readUInt32BE(nul + 5) * 2 ** 32 + this.carry.readUInt32BE(nul + 9);
    p -= this.carryLen - end; // bytes after the header belong to the records
    this.carryLen = 0;
    this.format = 'hprof';
    this.version = version;
    if (!SUPPORTED_ID_SIZES.includes(idSize)) {
      this.stop(`unsupported identifier size ${idSize} (expected 4 or 8)`);
      return p;
    }
    this.setIdSize(idSize);
    this.visitor.header(version, idSize, timestamp);
    this.state = State.Record;
    return p;
  }

  private setIdSize(id: number): void {
    this.idSize = id;
    this.typeSizes = basicTypeSizeTable(id);
    this.instHdr = 9 + 2 * id; // tag, object id, u4 stack serial, class id, u4 data length
    this.primHdr = 10 + id; // tag, array id, u4 stack serial, u4 length, u1 type
    this.rootSizes = rootSizeTable(id);
  }

  // ---- records -----------------------------------------------------------------------------------

  /** Record headers, and the records that lie wholly in this chunk, in one loop. */
  private recordHeader(buf: Buffer, p: number): number {
    const n = buf.length;
    const v = this.visitor;
    for (;;) {
      let h: Buffer = buf;
      let at = p;
      if (this.carryLen > 0 || n - p < RECORD_HEADER_SIZE) {
        const take = Math.min(n - p, RECORD_HEADER_SIZE - this.carryLen);
        buf.copy(this.carry, this.carryLen, p, p + take);
        this.carryLen += take;
        p += take;
        if (this.carryLen < RECORD_HEADER_SIZE) return p;
        h = this.carry;
        at = 0;
        this.carryLen = 0;
      } else {
        p += RECORD_HEADER_SIZE;
      }
      const tag = h[at];
      const length = h[at + 5] * 16777216 + ((h[at + 6] << 16) | (h[at + 7] << 8) | h[at + 8]);
      const bodyStart = this.base + p;
      const recEnd = bodyStart + length;
      this.recStart = bodyStart - RECORD_HEADER_SIZE;
      this.recTag = tag;
      this.recLength = length;
      this.recEnd = recEnd;
      if (++this.records > this.maxRecords) {
        this.stop(`more than ${this.maxRecords} records (the record budget): the analysis stopped at offset ${this.recStart}`);
        return n;
      }
      if ((tag === TAG.heapDumpSegment || tag === TAG.heapDump) && !this.degraded) {
        this.inSegment = true;
        this.state = State.Segment;
        if (length === 0) this.resume(p);
        return p;
      }
      if (tag === TAG.heapDumpEnd) this.endAt = recEnd;
      const want = this.degraded ? 0 : v.recordPrefix(tag, length);
      const prefix = want < length ? want : length;
      if (prefix > 0) {
        if (n - p < prefix) {
          this.startCapture(Capture.Record, prefix, recEnd);
          return p;
        }
        v.record(tag, length, bodyStart, buf, p, prefix);
      }
      const next = recEnd - this.base;
      if (next > n) {
        this.skipTarget = recEnd;
        this.state = State.Skip;
        return p;
      }
      p = next;
      if (p === n) return p;
    }
  }

  /** Continue at stream offset `target`; `p` is the current position in the chunk. */
  private skipTo(target: number, p: number): void {
    if (target <= this.base + p) {
      this.resume(p);
    } else {
      this.skipTarget = target;
      this.state = State.Skip;
    }
  }

  /** After a record or sub-record: back to the segment if inside one, else to the next record. */
  private resume(p: number): void {
    if (this.inSegment && this.base + p < this.recEnd) {
      this.state = State.Segment;
    } else {
      this.inSegment = false;
      this.state = State.Record;
    }
  }

  private startCapture(kind: Capture, need: number, then: number): void {
    if (this.capBuf.length < need) this.capBuf = Buffer.alloc(Math.max(need, this.capBuf.length * 2));
    this.capKind = kind;
    this.capNeed = need;
    this.capLen = 0;
    this.capThen = then;
    this.state = State.Capture;
  }

  private capture(buf: Buffer, p: number): number {
    const take = Math.min(buf.length - p, this.capNeed - this.capLen);
    buf.copy(this.capBuf, this.capLen, p, p + take);
    this.capLen += take;
    p += take;
    if (this.capLen < this.capNeed) return p;
    if (this.capKind === Capture.Record) {
      this.visitor.record(this.recTag, this.recLength, this.recStart + RECORD_HEADER_SIZE, this.capBuf, 0, this.capNeed);
    } else {
      this.visitor.body(this.capBuf, 0, this.capNeed);
    }
    this.skipTo(this.capThen, p);
    return p;
  }

  // ---- heap dump segments ------------------------------------------------------------------------

  /**
   * Sub-records of a HEAP DUMP (SEGMENT) in this chunk: the visitor's fast loop takes every ordinary
   * sub-record lying wholly in the chunk; the rest (GC roots, class dumps, objects the visitor wants
   * to look at, and a sub-record cut by the chunk's end) goes through subRecord() one at a time.
   */
  private segment(buf: Buffer, p: number): number {
    const n = buf.length;
    const segLeft = this.recEnd - (this.base + p);
    const end = segLeft < n - p ? p + segLeft : n;
    const v = this.visitor;
    const view = new DataView(buf.buffer, buf.byteOffset, n);
    while (p < end) {
      // the fast loop leaves the sub-record at the next checkpoint to subRecord()
      const due = this.nextCheckpoint - this.base;
      p = v.heapRun(buf, view, p, due >= end ? end : due > p ? due : p);
      if (p >= end) break;
      this.scan.stage = 0;
      const total = this.subRecord(buf, p, end - p, this.base + p);
      if (total > 0) {
        p = this.afterSubRecord(buf, p, this.subHeader, total, this.subWant, end);
        if (this.state !== State.Segment) return p;
      } else if (total < 0) {
        // needs more bytes than this chunk holds (of this segment)
        if (end === n && this.base + n < this.recEnd) {
          this.startSubCarry(buf, p, end, -total);
          return n;
        }
        this.badSubRecord(p, `sub-record ${hex(buf[p])} cut by the end of its segment`);
        return p;
      } else {
        this.badSubRecord(p, this.subBad);
        return p;
      }
    }
    if (this.base + p >= this.recEnd) this.resume(p);
    return p;
  }

  /** Sub-record header length set by subRecord() for instances and arrays (for afterSubRecord). */
  private subHeader = 0;
  /** Body bytes the visitor asked for in subRecord(). */
  private subWant = 0;
  /** Why subRecord() returned 0. */
  private subBad = '';

  /**
   * One sub-record at buf[p] with `avail` bytes available. Returns its total length after visiting
   * it, -N when its first N bytes are needed to go on (N > avail), or 0 when it cannot be read
   * (unknown tag, malformed: an issue was noted and the segment is being skipped).
   */
  private subRecord(buf: Buffer, p: number, avail: number, at: number): number {
    const id = this.idSize;
    const tag = buf[p];
    this.subHeader = 0;
    this.subWant = 0;
    this.subBad = '';
    const rootSize = this.rootSizes[tag];
    if (rootSize > 0) {
      if (avail < rootSize) return -rootSize;
      this.visitor.root(tag, buf, p);
      return rootSize;
    }
    switch (tag) {
      case SUB.instanceDump: {
        const h = this.instHdr;
        if (avail < h) return -h;
        this.checkpoint(buf, p, at);
        const dataBytes = buf.readUInt32BE(p + 5 + 2 * id);
        const classAt = p + 5 + id;
        const hi = id === 8 ? buf.readUInt32BE(classAt) : 0;
        const lo = buf.readUInt32BE(classAt + id - 4);
        this.subHeader = h;
        this.subWant = this.visitor.instance(buf, p, hi, lo, dataBytes);
        return h + dataBytes;
      }
      case SUB.objectArrayDump: {
        const h = this.instHdr;
        if (avail < h) return -h;
        this.checkpoint(buf, p, at);
        const length = buf.readUInt32BE(p + 5 + id);
        const classAt = p + 9 + id;
        const hi = id === 8 ? buf.readUInt32BE(classAt) : 0;
        const lo = buf.readUInt32BE(classAt + id - 4);
        this.subHeader = h;
        this.visitor.objectArray(buf, p, length, hi, lo);
        return h + length * id;
      }
      case SUB.primitiveArrayDump: {
        const h = this.primHdr;
        if (avail < h) return -h;
        const length = buf.readUInt32BE(p + 5 + id);
        const type = buf[p + 9 + id];
        const es = this.typeSizes[type];
        if (es === 0 || type === 2) {
          this.subBad = `primitive array of unknown type ${type}`;
          return 0;
        }
        this.checkpoint(buf, p, at);
        this.subHeader = h;
        this.subWant = this.visitor.primitiveArray(buf, p, length, type, es);
        return h + length * es;
      }
      case SUB.classDump: {
        const total = this.measureClassDump(buf, p, avail);
        if (total > 0) {
          this.visitor.classDump(buf, p, total);
          this.subHeader = total;
        } else if (total === 0) {
          this.subBad = 'class dump with an unknown value type';
        }
        return total;
      }
      default:
        this.subBad = `unknown heap sub-record tag ${hex(tag)}`;
        return 0;
    }
  }

  /**
   * Length of the CLASS DUMP at buf[p] given `avail` bytes: total, -N (needs N bytes to go on) or 0
   * (malformed). Resumable: `this.scan` keeps its progress, so a class dump arriving in many small
   * chunks is scanned once in total, not once per chunk.
   */
  private measureClassDump(buf: Buffer, p: number, avail: number): number {
    const id = this.idSize;
    const sizes = this.typeSizes;
    const s = this.scan;
    for (;;) {
      switch (s.stage) {
        case 0: {
          // tag, class id, u4 stack serial, super, loader, signers, protection domain, 2 reserved, u4 size, u2 cp count
          const fixed = 1 + 7 * id + 4 + 4 + 2;
          if (avail < fixed) return -fixed;
          s.left = buf.readUInt16BE(p + fixed - 2);
          s.pos = fixed;
          s.stage = 1;
          break;
        }
        case 1:
          // constant pool: u2 index, u1 type, value
          while (s.left > 0) {
            if (avail < s.pos + 3) return -(s.pos + 3);
            const size = sizes[buf[p + s.pos + 2]];
            if (size === 0) return 0;
            s.pos += 3 + size;
            s.left--;
          }
          s.stage = 2;
          break;
        case 2:
          if (avail < s.pos + 2) return -(s.pos + 2);
          s.left = buf.readUInt16BE(p + s.pos);
          s.pos += 2;
          s.stage = 3;
          break;
        case 3:
          // static fields: name id, u1 type, value
          while (s.left > 0) {
            if (avail < s.pos + id + 1) return -(s.pos + id + 1);
            const size = sizes[buf[p + s.pos + id]];
            if (size === 0) return 0;
            s.pos += id + 1 + size;
            s.left--;
          }
          s.stage = 4;
          break;
        default: {
          // instance fields: u2 count, (name id, u1 type) each
          if (avail < s.pos + 2) return -(s.pos + 2);
          const total = s.pos + 2 + buf.readUInt16BE(p + s.pos) * (id + 1);
          return avail < total ? -total : total;
        }
      }
    }
  }

  /**
   * After the visitor saw a sub-record at buf[p] of `total` bytes (`header` of them read): go past it,
   * delivering the first `want` body bytes. Returns the position to continue at (the state says how).
   */
  private afterSubRecord(buf: Buffer, p: number, header: number, total: number, want: number, end: number): number {
    const at = this.base + p;
    let stop = at + total;
    if (stop > this.recEnd) {
      this.issue(`sub-record ${hex(buf[p])} at offset ${at} runs past the end of its segment (offset ${this.recEnd})`);
      stop = this.recEnd;
    }
    if (want > 0) {
      const bodyPos = p + header;
      const w = Math.min(want, stop - (at + header));
      if (bodyPos + w <= end) {
        this.visitor.body(buf, bodyPos, w);
      } else {
        this.startCapture(Capture.Body, w, stop);
        return bodyPos;
      }
    }
    if (stop - this.base <= end) {
      p = stop - this.base;
      if (stop === this.recEnd) this.resume(p);
      return p;
    }
    this.skipTarget = stop;
    this.state = State.Skip;
    return p + header;
  }

  private badSubRecord(p: number, what: string, at = this.base + p): void {
    this.issue(`${what} at offset ${at}: the rest of its heap dump segment (${this.recEnd - at} bytes) was not analysed`);
    this.skipTo(this.recEnd, p);
  }

  // ---- sub-records cut by a chunk boundary ---------------------------------------------------------

  private startSubCarry(buf: Buffer, p: number, end: number, need: number): void {
    const have = end - p;
    this.ensureCarry(Math.max(need, have));
    buf.copy(this.carry, 0, p, end);
    this.carryLen = have;
    this.carryNeed = need;
    this.carryStart = this.base + p;
    this.state = State.SubCarry;
  }

  private ensureCarry(size: number): void {
    if (this.carry.length >= size) return;
    const bigger = Buffer.alloc(Math.max(size, this.carry.length * 2));
    this.carry.copy(bigger, 0, 0, this.carryLen);
    this.carry = bigger;
  }

  private subCarry(buf: Buffer, p: number): number {
    for (;;) {
      const segLeft = this.recEnd - (this.base + p);
      const take = Math.min(buf.length - p, segLeft, this.carryNeed - this.carryLen);
      this.ensureCarry(this.carryNeed);
      buf.copy(this.carry, this.carryLen, p, p + take);
      this.carryLen += take;
      p += take;
      if (this.carryLen < this.carryNeed) {
        if (this.base + p >= this.recEnd) {
          this.carryLen = 0;
          this.badSubRecord(p, `sub-record ${hex(this.carry[0])} cut by the end of its segment`, this.carryStart);
        }
        return p;
      }
      // the carry holds exactly the bytes asked for, all of this sub-record
      const total = this.subRecord(this.carry, 0, this.carryLen, this.carryStart);
      if (total < 0) {
        this.carryNeed = -total;
        continue;
      }
      const have = this.carryLen;
      this.carryLen = 0;
      if (total === 0) {
        this.badSubRecord(p, this.subBad, this.carryStart);
        return p;
      }
      let stop = this.carryStart + total;
      if (stop > this.recEnd) {
        this.issue(`sub-record ${hex(this.carry[0])} at offset ${this.carryStart} runs past the end of its segment (offset ${this.recEnd})`);
        stop = this.recEnd;
      }
      const want = Math.min(this.subWant, stop - (this.carryStart + this.subHeader));
      if (want > 0 && this.subHeader >= have) {
        this.startCapture(Capture.Body, want, stop);
        return p;
      }
      this.skipTo(stop, p);
      return p;
    }
  }
}
