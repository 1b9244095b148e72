/**
 * Per-class state of the analysis, one row per class, in typed arrays (no object per class):
 * identifiers from LOAD CLASS / CLASS DUMP, the layout facts needed for sizes and for finding thread
 * names, and the running instance count and bytes. Rows 0..7 are the primitive array types (they have
 * no class identifier in PRIMITIVE ARRAY DUMP records). At most `maxClasses` identified classes get a
 * row; objects of further classes are counted by the caller as "other classes".
 */
import { IdTable } from './id-table';

export const enum Kind {
  /** Not yet looked at (resolved at the class's first instance). */
  Unknown = 0,
  Plain = 1,
  /** java.lang.Thread or a subclass: its name is read. */
  Thread = 2,
  /** java.lang.String: read when it is a wanted thread name. */
  String = 3,
  /** An object array class whose arrays the fast path may count. */
  ObjectArray = 4,
}

export const FLAG = {
  named: 1,
  dumped: 2,
  array: 4,
  hasSuper: 8,
  primitive: 16,
} as const;

/** Rows reserved for the primitive array types 4..11 (boolean .. long): row = type - 4. */
export const PRIMITIVE_ROWS = 8;
/** A row that is never a class: its gate sends objects to the slow path (initial class cache entries). */
export const SENTINEL_ROW = PRIMITIVE_ROWS;
/** Rows before the first class row. */
export const RESERVED_ROWS = PRIMITIVE_ROWS + 1;

/** Bytes per row over all arrays (for the documented memory bound), without the id table. */
export const BYTES_PER_CLASS = 4 * 7 + 1 * 2 + 8 * 5 + 4;

export class ClassTable {
  readonly index = new IdTable(256);
  /** class serial (LOAD CLASS) -> row */
  readonly bySerial = new IdTable(256);
  size = 0;
  /** Classes referenced but not given a row (table full). */
  dropped = 0;

  idHi = new Uint32Array(0);
  idLo = new Uint32Array(0);
  nameHi = new Uint32Array(0);
  nameLo = new Uint32Array(0);
  superHi = new Uint32Array(0);
  superLo = new Uint32Array(0);
  flags = new Uint8Array(0);
  kind = new Uint8Array(0);
  /** Instance size from the CLASS DUMP (field bytes incl. superclasses'), -1 until known. */
  instanceBytes = new Float64Array(0);
  /** Objects seen. */
  count = new Float64Array(0);
  /**
   * Field bytes (instances) or element bytes (arrays) seen: `data + dataHigh`. The fast loop adds to
   * `data` and moves it to `dataHigh` past 2^30, so that it adds small integers (an interpreter boxes
   * every number beyond them: two allocations per array once a class passes 2 GiB).
   */
  data = new Float64Array(0);
  dataHigh = new Float64Array(0);
  /** Bytes of the class's own (not inherited) instance fields, -1 until its CLASS DUMP. */
  ownFieldBytes = new Int32Array(0);
  /** Serial number from LOAD CLASS, 0 if none. */
  serial = new Uint32Array(0);
  /**
   * The fast path counts an instance of this row only if the largest-objects threshold is at least
   * this (its shallow size); +Infinity sends every instance to the slow path (class not dumped yet,
   * kind not resolved, Thread classes, array rows).
   */
  gate = new Float64Array(0);

  constructor(private readonly maxClasses: number) {
    this.grow(256);
    for (let t = 0; t < PRIMITIVE_ROWS; t++) {
      const row = this.size++;
      this.flags[row] = FLAG.array | FLAG.primitive;
      this.kind[row] = Kind.Plain;
      this.gate[row] = Infinity;
    }
    this.size++; // SENTINEL_ROW
    this.gate[SENTINEL_ROW] = Infinity;
    this.kind[SENTINEL_ROW] = Kind.Plain;
  }

  /** Row of class `(hi, lo)`, created if needed; -1 when the table is full. */
  row(hi: number, lo: number): number {
    const r = this.index.get(hi, lo);
    if (r >= 0) return r;
    if (this.size - RESERVED_ROWS >= this.maxClasses) {
      this.dropped++;
      return -1;
    }
    const row = this.size;
    if (row === this.count.length) this.grow(row * 2);
    this.size = row + 1;
    this.idHi[row] = hi;
    this.idLo[row] = lo;
    this.instanceBytes[row] = -1;
    this.ownFieldBytes[row] = -1;
    this.gate[row] = Infinity;
    this.index.set(hi, lo, row);
    return row;
  }

  /** Bytes of fields or elements seen for `row`. */
  dataOf(row: number): number {
    return this.data[row] + this.dataHigh[row];
  }

  /** Row of the class whose LOAD CLASS had `serial`, or -1. */
  rowOfSerial(serial: number): number {
    return this.bySerial.get(0, serial);
  }

  /** Bytes held by the table. */
  get bytes(): number {
    return this.count.length * BYTES_PER_CLASS + this.index.bytes + this.bySerial.bytes;
  }

  private grow(capacity: number): void {
    const g = <T extends Uint32Array | Uint8Array | Float64Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(capacity);
      b.set(a);
      return b;
    };
    this.idHi = g(this.idHi, (n) => new Uint32Array(n));
    this.idLo = g(this.idLo, (n) => new Uint32Array(n));
    this.nameHi = g(this.nameHi, (n) => new Uint32Array(n));
    this.nameLo = g(this.nameLo, (n) => new Uint32Array(n));
    this.superHi = g(this.superHi, (n) => new Uint32Array(n));
    this.superLo = g(this.superLo, (n) => new Uint32Array(n));
    this.flags = g(this.flags, (n) => new Uint8Array(n));
    this.kind = g(this.kind, (n) => new Uint8Array(n));
    this.instanceBytes = g(this.instanceBytes, (n) => new Float64Array(n));
    this.count = g(this.count, (n) => new Float64Array(n));
    this.data = g(this.data, (n) => new Float64Array(n));
    this.dataHigh = g(this.dataHigh, (n) => new Float64Array(n));
    this.ownFieldBytes = g(this.ownFieldBytes, (n) => new Int32Array(n));
    this.serial = g(this.serial, (n) => new Uint32Array(n));
    this.gate = g(this.gate, (n) => new Float64Array(n));
  }
}
