/**
 * Finding a few objects again after the walk, by identifier, with small reads.
 *
 * HotSpot writes objects in address order within each heap region, and an object's identifier is its
 * address. During the walk the parser reports a checkpoint (identifier and stream offset of an object
 * sub-record) about every `stride` bytes; to find object X later, the checkpoints with the largest
 * identifiers not above X say where to start reading: a window of a few strides is read (through the
 * NameReader, positioned reads) and walked with a parser that starts inside that segment. Used for
 * thread names whose String or value array came before the Thread in the dump.
 *
 * Bounded: at most `maxCheckpoints` are kept (when full, every other one is dropped and the stride
 * doubles), 24 bytes each.
 */
import { HprofRecordParser, HprofVisitor } from './hprof-records';
import { IdTable } from './id-table';
import type { NameReader } from './name-index';

export interface FoundObject {
  /** Sub-record tag: 0x21 instance, 0x22 object array, 0x23 primitive array. */
  readonly tag: number;
  readonly classHi: number;
  readonly classLo: number;
  /** Primitive array element type (0x23). */
  readonly type: number;
  /** Leading bytes of the object's body (instance fields, array elements). */
  readonly body: Buffer;
}

const TO_NUMBER = 4294967296;

export class ObjectLocator {
  private idHi = new Uint32Array(64);
  private idLo = new Uint32Array(64);
  private offset = new Float64Array(64);
  private segEnd = new Float64Array(64);
  private count = 0;

  constructor(
    public stride: number,
    private readonly maxCheckpoints: number,
  ) {}

  /** Called by the parser (via the analyzer) at an object sub-record. */
  add(idHi: number, idLo: number, offset: number, segmentEnd: number): void {
    if (this.count === this.maxCheckpoints) this.thin();
    const i = this.count++;
    if (i === this.offset.length) {
      const cap = Math.min(i * 2, this.maxCheckpoints);
      this.idHi = copy(this.idHi, new Uint32Array(cap));
      this.idLo = copy(this.idLo, new Uint32Array(cap));
      this.offset = copy(this.offset, new Float64Array(cap));
      this.segEnd = copy(this.segEnd, new Float64Array(cap));
    }
    this.idHi[i] = idHi;
    this.idLo[i] = idLo;
    this.offset[i] = offset;
    this.segEnd[i] = segmentEnd;
  }

  /** Keeps every other checkpoint; the caller doubles the parser's stride. */
  private thin(): void {
    let j = 0;
    for (let i = 0; i < this.count; i += 2, j++) {
      this.idHi[j] = this.idHi[i];
      this.idLo[j] = this.idLo[i];
      this.offset[j] = this.offset[i];
      this.segEnd[j] = this.segEnd[i];
    }
    this.count = j;
    this.stride *= 2;
  }

  /** Bytes held. */
  get bytes(): number {
    return this.offset.length * 24;
  }

  get size(): number {
    return this.count;
  }

  /**
   * Looks for the objects `ids` (hi, lo pairs), trying for each the `candidates` checkpoints with the
   * closest identifiers below it, reading windows of `windowBytes`, at most `budgetBytes` in total.
   * Returns what was found, by index into `ids`, with up to `bodyBytes` of each body.
   */
  async find(
    ids: ReadonlyArray<readonly [number, number]>,
    idSize: number,
    read: NameReader,
    opts: { candidates: number; windowBytes: number; budgetBytes: number; bodyBytes: number },
  ): Promise<Map<number, FoundObject>> {
    const found = new Map<number, FoundObject>();
    if (this.count === 0 || ids.length === 0) return found;
    // checkpoints by identifier
    const order = Array.from({ length: this.count }, (_, i) => i);
    const key = (i: number) => this.idHi[i] * TO_NUMBER + this.idLo[i];
    order.sort((a, b) => key(a) - key(b) || a - b);
    const keys = order.map(key);

    // windows to read (deduplicated by checkpoint)
    const windows = new Map<number, number[]>(); // checkpoint -> indices of ids
    let budget = opts.budgetBytes;
    for (let k = 0; k < ids.length; k++) {
      const x = ids[k][0] * TO_NUMBER + ids[k][1];
      // last checkpoint with identifier <= x
      let lo = 0;
      let hi = keys.length - 1;
      let at = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (keys[mid] <= x) {
          at = mid;
          lo = mid + 1;
        } else {
          hi = mid - 1;
        }
      }
      for (let c = 0; c < opts.candidates && at - c >= 0; c++) {
        const cp = order[at - c];
        const list = windows.get(cp);
        if (list) {
          list.push(k);
        } else if (budget >= opts.windowBytes) {
          budget -= opts.windowBytes;
          windows.set(cp, [k]);
        }
      }
    }
    if (windows.size === 0) return found;
    const checkpoints = [...windows.keys()].sort((a, b) => this.offset[a] - this.offset[b]);
    let buffers: Buffer[];
    try {
      buffers = await read(checkpoints.map((cp) => ({ offset: this.offset[cp], length: opts.windowBytes })));
    } catch {
      return found;
    }

    for (let w = 0; w < checkpoints.length; w++) {
      const cp = checkpoints[w];
      const wanted = new IdTable(16);
      for (const k of windows.get(cp) ?? []) if (!found.has(k)) wanted.set(ids[k][0], ids[k][1], k);
      if (wanted.size === 0) continue;
      const finder = new Finder(wanted, idSize, opts.bodyBytes, found);
      HprofRecordParser.inSegment(finder, idSize, this.offset[cp], this.segEnd[cp]).update(buffers[w]);
    }
    return found;
  }
}

function copy<T extends Uint32Array | Float64Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

/** A visitor that only looks for some objects by identifier. */
class Finder implements HprofVisitor {
  private current = -1;
  private classHi = 0;
  private classLo = 0;
  private tag = 0;
  private type = 0;

  constructor(
    private readonly wanted: IdTable,
    private readonly idSize: number,
    private readonly bodyBytes: number,
    private readonly found: Map<number, FoundObject>,
  ) {}

  private match(buf: Buffer, p: number): number {
    const id = this.idSize;
    const k = this.wanted.get(id === 8 ? buf.readUInt32BE(p + 1) : 0, buf.readUInt32BE(p + 1 + id - 4));
    return k >= 0 && !this.found.has(k) ? k : -1;
  }

  instance(buf: Buffer, p: number, classHi: number, classLo: number, dataBytes: number): number {
    const k = this.match(buf, p);
    if (k < 0) return 0;
    this.current = k;
    this.tag = 0x21;
    this.classHi = classHi;
    this.classLo = classLo;
    return Math.max(1, Math.min(dataBytes, this.bodyBytes));
  }

  objectArray(): void {
    // thread names are never object arrays
  }

  primitiveArray(buf: Buffer, p: number, length: number, type: number, elementSize: number): number {
    const k = this.match(buf, p);
    if (k < 0) return 0;
    this.current = k;
    this.tag = 0x23;
    this.type = type;
    return Math.max(1, Math.min(length * elementSize, this.bodyBytes));
  }

  body(buf: Buffer, pos: number, length: number): void {
    if (this.current < 0) return;
    this.found.set(this.current, {
      tag: this.tag,
      classHi: this.classHi,
      classLo: this.classLo,
      type: this.type,
      body: Buffer.from(buf.subarray(pos, pos + length)),
    });
    this.current = -1;
  }

  heapRun(_buf: Buffer, _view: DataView, p: number): number {
    return p;
  }

  header(): void {}
  recordPrefix(): number {
    return 0;
  }
  record(): void {}
  classDump(): void {}
  root(): void {}
}
