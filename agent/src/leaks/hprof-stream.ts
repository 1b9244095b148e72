/**
 * A push parser for the whole object graph of an HPROF stream, its heap level (the records are
 * record-stream.ts'): every heap sub-record, the field bytes of every instance and the elements of every
 * object array (the triage parser skips bodies; this one cannot). Bytes arrive in chunks of any size; an item cut by a chunk boundary is
 * assembled in a small carry (record prefixes, sub-record headers, an instance's field bytes up to the
 * size its class declares, a class dump: all bounded), object array elements are streamed without
 * being assembled, and everything else is skipped by its length. Format constants: ../triage/hprof-format.ts.
 *
 * Never throws on bad input: a malformed sub-record ends its segment (noted in `issues`) and the walk
 * resumes at the next record; a record length past the end of the stream just ends the walk.
 */
import { SUB } from '../triage/hprof-format';
import type { HeapSink } from './heap-sink';
import { MAX_CARRY, RecordStream, S } from './record-stream';

export type { HeapSink } from './heap-sink';

// Tags as module constants: read in the hot loop for every object.
const INSTANCE_DUMP = SUB.instanceDump;
const OBJECT_ARRAY_DUMP = SUB.objectArrayDump;
const PRIMITIVE_ARRAY_DUMP = SUB.primitiveArrayDump;
const CLASS_DUMP = SUB.classDump;
const SEGMENT = S.Segment;

export class HprofStream extends RecordStream {
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

  /**
   * Sub-records of the segment in this chunk. The hot path: instances and primitive arrays lying wholly in
   * the chunk go straight to the sink; everything else (roots, class dumps, object arrays, anything cut by
   * the chunk's end) through item().
   */
  protected segment(buf: Buffer, p: number): number {
    const n = buf.length;
    const segLeft = this.recEnd - (this.base + p);
    const end = segLeft < n - p ? p + segLeft : n;
    const id = this.idSize;
    const instHeader = 9 + 2 * id;
    const primHeader = 10 + id;
    const view = this.viewOf(buf);
    const sink = this.sink;
    const sizes = this.sizes;
    while (p < end && this.state === SEGMENT) {
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

  /** One heap sub-record (see item()). */
  protected sub(buf: Buffer, p: number, avail: number): number {
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
      const total = measureClassDump(buf, p, avail, this.idSize, this.sizes);
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
  protected streamElements(buf: Buffer, p: number): number {
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

}

/** Length of the CLASS DUMP at buf[p]: total, -N (needs N bytes) or 0 (malformed). */
function measureClassDump(buf: Buffer, p: number, avail: number, id: number, sizes: Uint8Array): number {
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
