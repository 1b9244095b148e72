/**
 * GC roots as the walk finds them (records.ts): raw object id, ROOT record kind, thread serial (for the
 * kinds tied to a thread) and frame number, or for a ROOT THREAD OBJECT its stack trace serial. graph.ts
 * turns the ids into nodes.
 */
import { SUB } from '../triage/hprof-format';
import type { Budget } from './budget';
import { U32List } from './u32-list';

/** No frame number. */
export const NO_FRAME = 0xffffffff;

export class RootRecords {
  readonly hi: U32List;
  readonly lo: U32List;
  readonly kind: U32List;
  readonly serial: U32List;
  readonly frame: U32List;

  constructor(budget: Budget) {
    const l = () => new U32List(budget, 'GC roots');
    this.hi = l();
    this.lo = l();
    this.kind = l();
    this.serial = l();
    this.frame = l();
  }

  get length(): number {
    return this.lo.length;
  }

  /** The ROOT sub-record of kind `tag` at `buf[p]` (its tag byte). */
  add(tag: number, buf: Buffer, p: number, idSize: number): void {
    this.hi.push(idSize === 8 ? buf.readUInt32BE(p + 1) : 0);
    this.lo.push(buf.readUInt32BE(p + 1 + idSize - 4));
    this.kind.push(tag);
    const threaded = tag === SUB.rootJniLocal || tag === SUB.rootJavaFrame || tag === SUB.rootNativeStack || tag === SUB.rootThreadBlock || tag === SUB.rootThreadObject;
    this.serial.push(threaded ? buf.readUInt32BE(p + 1 + idSize) : 0);
    const framed = tag === SUB.rootJniLocal || tag === SUB.rootJavaFrame || tag === SUB.rootThreadObject;
    this.frame.push(framed ? buf.readUInt32BE(p + 5 + idSize) : NO_FRAME);
  }

  /** Frees the lists (after graph.ts resolved them). */
  clear(): void {
    for (const l of [this.hi, this.lo, this.kind, this.serial, this.frame]) l.clear();
  }
}
