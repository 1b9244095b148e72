/**
 * The records outside heap dump segments, as the walk meets them (records.ts): UTF8 (where each name's
 * bytes are, names.ts; the few watched ones, thread-names.ts), LOAD CLASS (class names and serials),
 * STACK FRAME and STACK TRACE (stack-records.ts).
 */
import { TAG } from '../triage/hprof-format';
import type { Budget } from './budget';
import type { ClassTable } from './classes';
import { NameLists } from './names';
import { StackRecords } from './stack-records';
import { ThreadNames, WATCHED_MAX } from './thread-names';

export class TopRecords {
  readonly names: NameLists;
  readonly stacks = new StackRecords();
  readonly threads: ThreadNames;

  constructor(
    budget: Budget,
    private readonly idSize: number,
    private readonly classes: ClassTable,
  ) {
    this.names = new NameLists(budget);
    this.threads = new ThreadNames(idSize, classes);
  }

  private hiAt(buf: Buffer, at: number): number {
    return this.idSize === 8 ? buf.readUInt32BE(at) : 0;
  }

  private loAt(buf: Buffer, at: number): number {
    return buf.readUInt32BE(at + this.idSize - 4);
  }

  /** How many bytes of a record's body `record` needs to see. */
  prefix(tag: number, length: number): number {
    const id = this.idSize;
    switch (tag) {
      case TAG.utf8:
        return id + Math.min(WATCHED_MAX, Math.max(0, length - id));
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
      this.names.add(hi, lo, bodyOffset + id, length - id);
      if (length - id <= WATCHED_MAX && prefix === length) this.threads.utf8(hi, lo, buf.toString('latin1', pos + id, pos + length));
    } else if (tag === TAG.loadClass) {
      if (prefix < 8 + 2 * id) return;
      const row = this.classes.row(this.hiAt(buf, pos + 4), this.loAt(buf, pos + 4));
      const nHi = this.hiAt(buf, pos + 8 + id);
      const nLo = this.loAt(buf, pos + 8 + id);
      this.classes.nameHi[row] = nHi;
      this.classes.nameLo[row] = nLo;
      this.stacks.classSerial(buf.readUInt32BE(pos), row);
      this.threads.loadClass(row, nHi, nLo);
    } else if (tag === TAG.stackFrame) {
      if (prefix >= 4 * id + 8) this.stacks.frame(buf, pos, id);
    } else if (tag === TAG.stackTrace) {
      if (prefix >= 12) this.stacks.trace(buf, pos, prefix, id);
    }
  }
}
