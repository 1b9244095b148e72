/**
 * STACK FRAME and STACK TRACE records, kept (bounded) so that a GC root held by a thread's Java frame
 * can be named by its method: `at Worker.run(Worker.java:12)`. HotSpot writes a few thousand of them;
 * beyond the caps they are dropped (the thread is still named, the frame is not).
 */
import { SeededIdMap } from './seeded-map';

const MAX_FRAMES = 200_000;
const MAX_TRACES = 50_000;
const MAX_DEPTH = 1024;

export interface FrameNames {
  /** Name ids (hi, lo) of the method and the source file; class row or -1; line (HPROF: > 0, or 0/-1 unknown, -2 compiled, -3 native). */
  readonly methodHi: number;
  readonly methodLo: number;
  readonly sourceHi: number;
  readonly sourceLo: number;
  readonly classRow: number;
  readonly line: number;
}

export class StackRecords {
  private readonly frameIndex = new SeededIdMap(256);
  private readonly frames: number[] = []; // methodHi, methodLo, sourceHi, sourceLo, classSerial, line
  private readonly traceIndex = new SeededIdMap(64);
  /** Per trace: its frame ids as (hi, lo) pairs. */
  private readonly traces: number[][] = [];
  private readonly classBySerial = new SeededIdMap(1024);

  /** Prefix of a STACK TRACE record to read: serial, thread serial, count and up to MAX_DEPTH frame ids. */
  static tracePrefix(length: number, idSize: number): number {
    return Math.min(length, 12 + MAX_DEPTH * idSize);
  }

  classSerial(serial: number, row: number): void {
    this.classBySerial.set(0, serial, row);
  }

  frame(buf: Buffer, pos: number, id: number): void {
    if (this.frames.length / 6 >= MAX_FRAMES) return;
    const rd = (at: number): [number, number] => (id === 8 ? [buf.readUInt32BE(at), buf.readUInt32BE(at + 4)] : [0, buf.readUInt32BE(at)]);
    const [fHi, fLo] = rd(pos);
    const [mHi, mLo] = rd(pos + id);
    const [sHi, sLo] = rd(pos + 3 * id);
    this.frameIndex.set(fHi, fLo, this.frames.length / 6);
    this.frames.push(mHi, mLo, sHi, sLo, buf.readUInt32BE(pos + 4 * id), buf.readInt32BE(pos + 4 * id + 4));
  }

  trace(buf: Buffer, pos: number, prefix: number, id: number): void {
    if (this.traces.length >= MAX_TRACES) return;
    const serial = buf.readUInt32BE(pos);
    const count = Math.min(buf.readUInt32BE(pos + 8), Math.floor((prefix - 12) / id));
    const ids: number[] = [];
    for (let i = 0; i < count; i++) {
      const at = pos + 12 + i * id;
      ids.push(id === 8 ? buf.readUInt32BE(at) : 0, buf.readUInt32BE(at + id - 4));
    }
    this.traceIndex.set(0, serial, this.traces.length);
    this.traces.push(ids);
  }

  /** Frame `depth` (0 = innermost) of trace `serial`, or undefined when the dump (or the caps) lost it. */
  frameOf(traceSerial: number, depth: number): FrameNames | undefined {
    const t = this.traceIndex.get(0, traceSerial);
    if (t < 0) return undefined;
    const ids = this.traces[t];
    if (depth < 0 || 2 * depth + 1 >= ids.length) return undefined;
    const f = this.frameIndex.get(ids[2 * depth], ids[2 * depth + 1]);
    if (f < 0) return undefined;
    const r = this.frames;
    const k = 6 * f;
    return { methodHi: r[k], methodLo: r[k + 1], sourceHi: r[k + 2], sourceLo: r[k + 3], classRow: this.classBySerial.get(0, r[k + 4]), line: r[k + 5] };
  }
}
