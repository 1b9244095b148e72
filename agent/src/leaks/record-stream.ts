/**
 * The record level of an HPROF push parser (hprof-stream.ts is the heap level): the file header, record
 * headers, the leading bytes of a record a sink wants, skipping by length, and the small carry that
 * assembles an item cut by a chunk boundary (then run again as if it lay in one chunk). The heap segments'
 * sub-records are the subclass's (`segment`, `sub`, `streamElements`). Completeness: the stream is whole
 * iff it ends exactly after HEAP DUMP END. Never throws on bad input: problems end up in `issues`.
 */
import { basicTypeSizeTable, RECORD_HEADER_SIZE, rootSizeTable, TAG } from '../triage/hprof-format';
import { fileHeader } from './file-header';
import type { HeapSink } from './heap-sink';

/** The parser's states (numbers: compared in the hot loop). */
export const S = { Header: 0, Record: 1, Segment: 2, Skip: 3, Carry: 4, Elements: 5, Stopped: 6 } as const;
type State = (typeof S)[keyof typeof S];

/** Largest item ever assembled in the carry (a CLASS DUMP is at most ~2.4 MiB; instance data is capped by the sink). */
export const MAX_CARRY = 8 * 1024 * 1024;
const MAX_ISSUES = 20;

export abstract class RecordStream {
  idSize = 0;
  version = '';
  readonly issues: string[] = [];
  issueCount = 0;
  /** Stream offset just after the last HEAP DUMP END, -1 if none yet. */
  protected endAt = -1;
  protected lastTag = -1;
  protected lastLength = -1;
  protected records = 0;

  protected state: State = S.Header;
  protected base = 0;
  protected recEnd = 0;
  protected inSegment = false;
  protected skipTarget = 0;
  protected carry = Buffer.alloc(1024);
  protected carryLen = 0;
  protected carryNeed = 0;
  protected carryAt = 0;
  /** Object array elements still to come, and a cut id's first bytes. */
  protected elemsLeft = 0;
  protected elemCarry = Buffer.alloc(8);
  protected elemCarryLen = 0;
  protected sizes: Uint8Array = new Uint8Array(256);
  protected rootSizes: Int32Array = new Int32Array(256);
  protected stopReason = '';

  protected viewBuf: Buffer | null = null;
  protected view: DataView = new DataView(new ArrayBuffer(0));

  constructor(protected readonly sink: HeapSink) {}

  /** A DataView of `buf`, reused while the same buffer comes back. */
  protected viewOf(buf: Buffer): DataView {
    if (buf !== this.viewBuf) {
      this.viewBuf = buf;
      this.view = new DataView(buf.buffer, buf.byteOffset, buf.length);
    }
    return this.view;
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

  protected stop(reason: string): void {
    this.state = S.Stopped;
    this.stopReason = reason;
    this.issue(reason);
  }

  protected setIdSize(id: number): void {
    this.idSize = id;
    this.sizes = basicTypeSizeTable(id);
    this.rootSizes = rootSizeTable(id);
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
  protected resume(): void {
    this.state = this.inSegment && this.skipTarget < this.recEnd ? S.Segment : S.Record;
    if (this.state === S.Record) this.inSegment = false;
  }

  protected skipTo(target: number, p: number): number {
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
   * One item at buf[p] with `avail` bytes available (within its segment, for sub-records).
   * `more`: more bytes may follow in the next chunk (otherwise a short item is cut for good).
   * Returns the position after what was consumed; sets the state for what comes next.
   */
  protected item(buf: Buffer, p: number, avail: number, more: boolean): number {
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

  protected carryState: State = S.Record;

  protected fillCarry(buf: Buffer, p: number): number {
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
    return p - (len - after);
  }

  protected header(buf: Buffer, p: number, avail: number): number {
    const h = fileHeader(buf, p, avail);
    if (typeof h === 'number') return h;
    if ('error' in h) {
      this.stop(h.error);
      return p + avail;
    }
    this.version = h.version;
    this.setIdSize(h.idSize);
    this.sink.header(h.idSize, h.version, h.timestampMs);
    this.state = S.Record;
    return h.end;
  }

  protected recordHeader(buf: Buffer, p: number, avail: number): number {
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

  /** The sub-records of the segment in buf from p (the subclass). */
  protected abstract segment(buf: Buffer, p: number): number;
  /** One heap sub-record at buf[p] (see item()). */
  protected abstract sub(buf: Buffer, p: number, avail: number): number;
  /** Object array elements that did not fit in the chunk where their array started. */
  protected abstract streamElements(buf: Buffer, p: number): number;
}
