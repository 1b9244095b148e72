/**
 * What the HPROF push parser (hprof-stream.ts) reports, in stream order: the graph recorder (records.ts)
 * during the analysis, the object finder (reread.ts) when objects are read again.
 */
/** What the walker finds, in stream order. `offset`s are stream offsets of an item's first byte. */
export interface HeapSink {
  header(idSize: number, version: string, timestampMs: number): void;
  /** Leading body bytes of a top-level record (not a heap segment) the sink wants: 0 skips it. */
  recordPrefix(tag: number, length: number): number;
  record(tag: number, length: number, bodyOffset: number, buf: Buffer, pos: number, prefix: number): void;
  /**
   * An instance: how many of its `dataBytes` field bytes `instance` must see (<= dataBytes). `view` is a
   * DataView of `buf` (the hot paths read through it).
   */
  instanceWant(buf: Buffer, view: DataView, p: number, dataBytes: number): number;
  /** The instance whose sub-record starts at buf[p] (header), with `data` field bytes at buf[p + header]. */
  instance(buf: Buffer, view: DataView, p: number, data: number, dataBytes: number, offset: number): void;
  /** An object array's header at buf[p]; its `length` elements follow through `elements`. */
  objectArray(buf: Buffer, view: DataView, p: number, length: number, offset: number): void;
  /** `count` consecutive element ids of the current object array at buf[pos]. */
  elements(buf: Buffer, view: DataView, pos: number, count: number): void;
  /** A primitive array's header at buf[p]; returns how many content bytes `content` must see. */
  primitiveArray(buf: Buffer, view: DataView, p: number, length: number, type: number, elementSize: number, offset: number): number;
  content(buf: Buffer, pos: number, length: number): void;
  /** A whole CLASS DUMP of `total` bytes at buf[p]. */
  classDump(buf: Buffer, p: number, total: number, offset: number): void;
  /** A GC root sub-record (fixed size) at buf[p]. */
  root(tag: number, buf: Buffer, p: number): void;
}

