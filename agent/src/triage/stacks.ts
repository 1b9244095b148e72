/**
 * Thread stacks from STACK FRAME / STACK TRACE records and ROOT THREAD OBJECT sub-records.
 *
 * HotSpot writes, per thread, its frames (one STACK FRAME record each) and then its STACK TRACE
 * (serial, thread serial, frame ids). A trace's frames are copied into the thread's row when the
 * trace arrives; the frame records themselves are kept in a bounded table that is emptied when full
 * (with HotSpot's order only frames already copied are lost; frames written after their trace, by
 * other writers, are looked up again at the end). At most `maxThreads` threads and
 * `maxFramesPerThread` frames each are kept (the stack's full depth is still reported).
 * Names (method, source file, class) stay identifiers here; the analyzer reads them at the end.
 */
import { IdTable } from './id-table';

export interface ThreadRow {
  readonly serial: number;
  depth: number;
  objHi: number;
  objLo: number;
  hasObject: boolean;
  /** First frame slot, slots allocated, slots used. */
  start: number;
  capacity: number;
  frames: number;
}

/** A stored frame (ids of its names, class serial and line), read back at the end. */
export interface FrameIds {
  methodHi: number;
  methodLo: number;
  sourceHi: number;
  sourceLo: number;
  classSerial: number;
  /** HPROF line: > 0 line number, 0 or -1 unknown, -2 compiled, -3 native. */
  line: number;
  resolved: boolean;
}

export class StackTable {
  // frame records
  private readonly frameIndex = new IdTable(64);
  private fMethodHi = new Uint32Array(64);
  private fMethodLo = new Uint32Array(64);
  private fSourceHi = new Uint32Array(64);
  private fSourceLo = new Uint32Array(64);
  private fClassSerial = new Uint32Array(64);
  private fLine = new Int32Array(64);
  private frameCount = 0;

  // frame slots of the kept threads
  private sFrameHi = new Uint32Array(64);
  private sFrameLo = new Uint32Array(64);
  private sMethodHi = new Uint32Array(64);
  private sMethodLo = new Uint32Array(64);
  private sSourceHi = new Uint32Array(64);
  private sSourceLo = new Uint32Array(64);
  private sClassSerial = new Uint32Array(64);
  private sLine = new Int32Array(64);
  private sResolved = new Uint8Array(64);
  private slots = 0;

  private readonly bySerial = new IdTable(64);
  readonly threads: ThreadRow[] = [];
  /** Threads not kept (cap reached). */
  droppedThreads = 0;

  /**
   * @param maxThreads threads kept
   * @param maxFramesPerThread frames kept per thread
   * @param maxFrameRecords STACK FRAME records held at once
   */
  constructor(
    private readonly maxThreads: number,
    private readonly maxFramesPerThread: number,
    private readonly maxFrameRecords: number,
  ) {}

  /** STACK FRAME: frame id, method name id, signature id (not kept), source file id, class serial, line. */
  frame(frameHi: number, frameLo: number, methodHi: number, methodLo: number, sourceHi: number, sourceLo: number, classSerial: number, line: number): void {
    if (this.frameCount >= this.maxFrameRecords) {
      // a single stack deeper than the table: its outer frames are lost
      this.frameIndex.clear();
      this.frameCount = 0;
    }
    const f = this.frameCount++;
    if (f === this.fLine.length) this.growFrames(Math.min(f * 2, this.maxFrameRecords));
    this.fMethodHi[f] = methodHi;
    this.fMethodLo[f] = methodLo;
    this.fSourceHi[f] = sourceHi;
    this.fSourceLo[f] = sourceLo;
    this.fClassSerial[f] = classSerial;
    this.fLine[f] = line;
    this.frameIndex.set(frameHi, frameLo, f);
  }

  /** The thread with `threadSerial`, created if there is room; undefined when the cap is reached. */
  thread(threadSerial: number): ThreadRow | undefined {
    const t = this.bySerial.get(0, threadSerial);
    if (t >= 0) return this.threads[t];
    if (this.threads.length >= this.maxThreads) {
      this.droppedThreads++;
      return undefined;
    }
    const row: ThreadRow = { serial: threadSerial, depth: 0, objHi: 0, objLo: 0, hasObject: false, start: 0, capacity: 0, frames: 0 };
    this.bySerial.set(0, threadSerial, this.threads.length);
    this.threads.push(row);
    return row;
  }

  /**
   * STACK TRACE of thread `threadSerial` with `depth` frames, whose first frame ids are in
   * buf[pos..pos + available * idSize).
   */
  trace(threadSerial: number, depth: number, buf: Buffer, pos: number, available: number, idSize: number): void {
    if (threadSerial === 0) return; // HotSpot's placeholder trace for objects, not a thread
    const t = this.thread(threadSerial);
    if (!t) return;
    const n = Math.min(depth, available, this.maxFramesPerThread);
    if (n > t.capacity) {
      // A second trace for the same thread replaces the first; it gets the most slots a thread can
      // have, so that a thread is given slots at most twice (memory stays bounded by the caps).
      const capacity = t.capacity === 0 ? n : this.maxFramesPerThread;
      t.start = this.slots;
      t.capacity = capacity;
      const most = 2 * this.maxThreads * this.maxFramesPerThread;
      if (this.slots + capacity > this.sLine.length) this.growSlots(Math.min(Math.max(this.slots + capacity, this.sLine.length * 2), Math.max(most, this.slots + capacity)));
      this.slots += capacity;
    }
    t.depth = depth;
    t.frames = n;
    for (let i = 0; i < n; i++) {
      const at = pos + i * idSize;
      const hi = idSize === 8 ? buf.readUInt32BE(at) : 0;
      const lo = buf.readUInt32BE(at + idSize - 4);
      const s = t.start + i;
      this.sFrameHi[s] = hi;
      this.sFrameLo[s] = lo;
      this.resolveSlot(s);
    }
    // HotSpot writes each thread's frames just before its trace: between traces is the time to
    // empty a filling frame table without losing frames still to be used
    if (this.frameCount * 2 >= this.maxFrameRecords) {
      this.frameIndex.clear();
      this.frameCount = 0;
    }
  }

  /** ROOT THREAD OBJECT: thread `threadSerial` is the java.lang.Thread object `(objHi, objLo)`. */
  threadObject(threadSerial: number, objHi: number, objLo: number): void {
    if (threadSerial === 0) return;
    const t = this.thread(threadSerial);
    if (!t) return;
    t.objHi = objHi;
    t.objLo = objLo;
    t.hasObject = true;
  }

  private resolveSlot(s: number): void {
    const f = this.frameIndex.get(this.sFrameHi[s], this.sFrameLo[s]);
    if (f < 0) {
      this.sResolved[s] = 0;
      return;
    }
    this.sMethodHi[s] = this.fMethodHi[f];
    this.sMethodLo[s] = this.fMethodLo[f];
    this.sSourceHi[s] = this.fSourceHi[f];
    this.sSourceLo[s] = this.fSourceLo[f];
    this.sClassSerial[s] = this.fClassSerial[f];
    this.sLine[s] = this.fLine[f];
    this.sResolved[s] = 1;
  }

  /** The frames of thread `t` (innermost first); unresolved frames are retried against the frame table. */
  framesOf(t: ThreadRow): FrameIds[] {
    const out: FrameIds[] = [];
    for (let s = t.start; s < t.start + t.frames; s++) {
      if (this.sResolved[s] === 0) this.resolveSlot(s);
      out.push({
        methodHi: this.sMethodHi[s],
        methodLo: this.sMethodLo[s],
        sourceHi: this.sSourceHi[s],
        sourceLo: this.sSourceLo[s],
        classSerial: this.sClassSerial[s],
        line: this.sLine[s],
        resolved: this.sResolved[s] === 1,
      });
    }
    return out;
  }

  /** Bytes held by the tables. */
  get bytes(): number {
    return this.fLine.length * 24 + this.frameIndex.bytes + this.sLine.length * 37 + this.bySerial.bytes + this.threads.length * 64;
  }

  private growFrames(capacity: number): void {
    this.fMethodHi = grow(this.fMethodHi, capacity);
    this.fMethodLo = grow(this.fMethodLo, capacity);
    this.fSourceHi = grow(this.fSourceHi, capacity);
    this.fSourceLo = grow(this.fSourceLo, capacity);
    this.fClassSerial = grow(this.fClassSerial, capacity);
    this.fLine = grow(this.fLine, capacity);
  }

  private growSlots(capacity: number): void {
    this.sFrameHi = grow(this.sFrameHi, capacity);
    this.sFrameLo = grow(this.sFrameLo, capacity);
    this.sMethodHi = grow(this.sMethodHi, capacity);
    this.sMethodLo = grow(this.sMethodLo, capacity);
    this.sSourceHi = grow(this.sSourceHi, capacity);
    this.sSourceLo = grow(this.sSourceLo, capacity);
    this.sClassSerial = grow(this.sClassSerial, capacity);
    this.sLine = grow(this.sLine, capacity);
    this.sResolved = grow(this.sResolved, capacity);
  }
}

function grow<T extends Uint32Array | Int32Array | Uint8Array>(a: T, capacity: number): T {
  const b = new (a.constructor as new (n: number) => T)(capacity);
  b.set(a);
  return b;
}
