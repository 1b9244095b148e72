/**
 * Thread names, noted during the walk (records.ts): the ids of the few names that matter (the Thread
 * class and its `name` field, String's `value` and `coder`), the class rows of Thread and String, and
 * for every instance of Thread (or a subclass) the id of its `name` String. The Strings are read at the
 * end (naming.ts), for the threads a report names only.
 */
import type { ClassTable } from './classes';

/** Instances of Thread classes whose name is looked for. */
const MAX_THREADS = 65_536;
/** Watched names, by slot. */
const WATCHED = ['java/lang/Thread', 'name', 'java/lang/String', 'value', 'coder'];
const THREAD = 0;
const NAME = 1;
const STRING = 2;
const CODER = 4;
/** Longest watched name, in bytes. */
export const WATCHED_MAX = 16;

export class ThreadNames {
  private readonly watched: Array<[number, number] | undefined> = WATCHED.map(() => undefined);
  threadRow = -1;
  stringRow = -1;
  /** Thread objects and their `name` String ids. */
  readonly threadHi: number[] = [];
  readonly threadLo: number[] = [];
  readonly nameHi: number[] = [];
  readonly nameLo: number[] = [];
  /** Per class row: offset of the Thread `name` field in its instances' data; -1 not a Thread; undefined not known yet. */
  private readonly nameAt: (number | undefined)[] = [];

  constructor(
    private readonly idSize: number,
    private readonly classes: ClassTable,
  ) {}

  /** A UTF8 record of `text` (only called for short ones). */
  utf8(hi: number, lo: number, text: string): void {
    const w = WATCHED.indexOf(text);
    if (w >= 0) this.watched[w] = [hi, lo];
  }

  /** A LOAD CLASS record: class `row` is named by the UTF8 record `nHi:nLo`. */
  loadClass(row: number, nHi: number, nLo: number): void {
    if (this.is(THREAD, nHi, nLo)) this.threadRow = row;
    if (this.is(STRING, nHi, nLo)) this.stringRow = row;
  }

  /** The id of the name `coder` (String's field), if the dump has it. */
  get coderName(): readonly [number, number] | undefined {
    return this.watched[CODER];
  }

  private is(w: number, hi: number, lo: number): boolean {
    const v = this.watched[w];
    return v !== undefined && v[0] === hi && v[1] === lo;
  }

  /** Whether instances of class `row` may be threads whose name is still wanted. */
  wants(row: number): boolean {
    return this.threadRow >= 0 && this.nameAt[row] !== -1 && this.threadHi.length < MAX_THREADS;
  }

  /** An instance of class `row` (id at `buf[p + 1]`, `data` field bytes from `at`): if it is a Thread, note its `name` String id. */
  instance(buf: Buffer, p: number, at: number, data: number, row: number): void {
    let nameAt = this.nameAt[row];
    if (nameAt === undefined) {
      nameAt = -1;
      if (this.classes.extends(row, this.threadRow)) {
        const refs = this.classes.refsOf(row)!;
        const w = this.watched[NAME];
        // the Thread class's own `name` (a subclass may declare a field of the same name: the last one wins, as Thread's fields come last)
        for (let i = 0; w !== undefined && i < refs.offsets.length; i++) if (refs.nameHi[i] === w[0] && refs.nameLo[i] === w[1]) nameAt = refs.offsets[i];
      }
      this.nameAt[row] = nameAt;
    }
    if (nameAt < 0 || nameAt + this.idSize > data) return;
    this.threadHi.push(this.hiAt(buf, p + 1));
    this.threadLo.push(this.loAt(buf, p + 1));
    this.nameHi.push(this.hiAt(buf, at + nameAt));
    this.nameLo.push(this.loAt(buf, at + nameAt));
  }

  private hiAt(buf: Buffer, at: number): number {
    return this.idSize === 8 ? buf.readUInt32BE(at) : 0;
  }

  private loAt(buf: Buffer, at: number): number {
    return buf.readUInt32BE(at + this.idSize - 4);
  }
}
