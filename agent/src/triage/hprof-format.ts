/**
 * The HPROF binary format as HotSpot writes it (`JAVA PROFILE 1.0.2`; 1.0.1 is read the same way).
 *
 * Stream = header (NUL-terminated version string, u4 identifier size, u8 timestamp in ms since the
 * epoch), then records `u1 tag, u4 microseconds since the header's time, u4 body length, body`. All
 * integers are big-endian and lengths unsigned. A heap dump is one HEAP DUMP record (0x0C) or any
 * number of HEAP DUMP SEGMENT records (0x1C) ended by HEAP DUMP END (0x2C, length 0); their bodies
 * are sequences of sub-records `u1 sub-tag, fields` (no length prefix: the length follows from the
 * tag, the identifier size and, for arrays and class dumps, counts inside the sub-record).
 */

export const HPROF_MAGICS: readonly string[] = ['JAVA PROFILE 1.0.2', 'JAVA PROFILE 1.0.1'];
/** Longest version string accepted before the NUL (HotSpot's is 18 characters). */
export const MAX_MAGIC_LENGTH = 64;
/** Identifier sizes read: 4 (32-bit JVMs) and 8 (64-bit JVMs, with or without compressed oops). */
export const SUPPORTED_ID_SIZES: readonly number[] = [4, 8];

/** u1 tag + u4 time + u4 length. */
export const RECORD_HEADER_SIZE = 9;

/**
 * The record-count budget: top-level records looked at in one dump. A HotSpot dump has well under a
 * million (one UTF8 record per symbol, one LOAD CLASS per class, frames, traces, a few heap dump
 * segments); a crafted stream of millions of empty 9-byte records (a 349 KB .hprof.gz inflates to 20
 * million of them) would otherwise cost seconds per file in every walk. Past it, the completeness
 * checks say "incomplete" (the dump then waits the full stability window and is uploaded marked
 * incomplete) and the analysis stops, saying so.
 */
export const RECORD_BUDGET = 5_000_000;

/** Top-level record tags. */
export const TAG = {
  utf8: 0x01,
  loadClass: 0x02,
  unloadClass: 0x03,
  stackFrame: 0x04,
  stackTrace: 0x05,
  allocSites: 0x06,
  heapSummary: 0x07,
  startThread: 0x0a,
  endThread: 0x0b,
  heapDump: 0x0c,
  cpuSamples: 0x0d,
  controlSettings: 0x0e,
  heapDumpSegment: 0x1c,
  heapDumpEnd: 0x2c,
} as const;

/** Heap dump sub-record tags. */
export const SUB = {
  rootUnknown: 0xff,
  rootJniGlobal: 0x01,
  rootJniLocal: 0x02,
  rootJavaFrame: 0x03,
  rootNativeStack: 0x04,
  rootStickyClass: 0x05,
  rootThreadBlock: 0x06,
  rootMonitorUsed: 0x07,
  rootThreadObject: 0x08,
  classDump: 0x20,
  instanceDump: 0x21,
  objectArrayDump: 0x22,
  primitiveArrayDump: 0x23,
} as const;

/** Basic type codes used in class dumps and primitive array dumps. */
export const BASIC_TYPE = {
  object: 2,
  boolean: 4,
  char: 5,
  float: 6,
  double: 7,
  byte: 8,
  short: 9,
  int: 10,
  long: 11,
} as const;

/** Java names of the primitive array types, indexed by basic type code. */
export const PRIMITIVE_ARRAY_NAMES: Readonly<Record<number, string>> = {
  4: 'boolean[]',
  5: 'char[]',
  6: 'float[]',
  7: 'double[]',
  8: 'byte[]',
  9: 'short[]',
  10: 'int[]',
  11: 'long[]',
};

/**
 * Size in bytes of a value of basic type `type` in the dump (objects are identifiers: `idSize`);
 * 0 for a code that is not a basic type (the caller treats the sub-record as malformed).
 */
export function basicTypeSize(type: number, idSize: number): number {
  switch (type) {
    case 2:
      return idSize;
    case 4:
    case 8:
      return 1;
    case 5:
    case 9:
      return 2;
    case 6:
    case 10:
      return 4;
    case 7:
    case 11:
      return 8;
    default:
      return 0;
  }
}

/** basicTypeSize as a table indexed by type code 0..255 (0 = invalid), for the hot loop. */
export function basicTypeSizeTable(idSize: number): Uint8Array {
  const table = new Uint8Array(256);
  for (let t = 0; t < 256; t++) table[t] = basicTypeSize(t, idSize);
  return table;
}

/** Byte size of each ROOT sub-record kind (tag byte included) by tag 0..255, 0 for other tags. */
export function rootSizeTable(idSize: number): Int32Array {
  const r = new Int32Array(256);
  r[SUB.rootUnknown] = 1 + idSize;
  r[SUB.rootJniGlobal] = 1 + 2 * idSize;
  r[SUB.rootJniLocal] = 1 + idSize + 8;
  r[SUB.rootJavaFrame] = 1 + idSize + 8;
  r[SUB.rootNativeStack] = 1 + idSize + 4;
  r[SUB.rootStickyClass] = 1 + idSize;
  r[SUB.rootThreadBlock] = 1 + idSize + 4;
  r[SUB.rootMonitorUsed] = 1 + idSize;
  r[SUB.rootThreadObject] = 1 + idSize + 8;
  return r;
}

/**
 * Object header sizes used for shallow sizes: THE rule of this module, derived from the dump's
 * identifier size (the JVM's pointer size; HotSpot writes 8 on 64-bit JVMs whether or not oops are
 * compressed).
 *
 * - instance: mark word + class pointer = 2 x idSize (16 bytes on 64-bit, 8 on 32-bit);
 * - array: the instance header + the u4 length = 2 x idSize + 4 (20 on 64-bit, 12 on 32-bit).
 *
 * Shallow size of an instance = its class's instance size from the CLASS DUMP (the dump's own field
 * sizes: references count idSize) + the instance header; of an array = length x element size (idSize
 * for object arrays) + the array header. No alignment padding and no compressed-pointer savings: the
 * dump does not record them, so these are the dump's sizes (what MAT calls shallow heap without its
 * compressed-oops guess), comparable between dumps of any JVM options, not bytes of the live heap.
 */
export function headerSizes(idSize: number): { readonly instance: number; readonly array: number } {
  return { instance: 2 * idSize, array: 2 * idSize + 4 };
}

/**
 * Java-readable class name from the dump's internal form: `java/lang/String` -> `java.lang.String`,
 * `[[I` -> `int[][]`, hidden classes `Foo$$Lambda$1+0x…` -> `Foo$$Lambda$1/0x…` (as Class.getName()).
 */
export function javaClassName(internal: string): string {
  let dims = 0;
  while (dims < internal.length && internal[dims] === '[') dims++;
  if (dims === 0) return externalName(internal);
  const rest = internal.slice(dims);
  let base: string;
  if (rest.startsWith('L') && rest.endsWith(';')) base = externalName(rest.slice(1, -1));
  else if (rest.length === 1 && PRIMITIVE_DESCRIPTORS[rest] !== undefined) base = PRIMITIVE_DESCRIPTORS[rest];
  else base = rest.replace(/\//g, '.'); // not a descriptor: keep what the dump says
  return base + '[]'.repeat(dims);
}

const externalName = (internal: string): string => internal.replace(/\//g, '.').replace(/\+(0x[0-9a-f]+)$/, '/$1');

const PRIMITIVE_DESCRIPTORS: Readonly<Record<string, string>> = {
  Z: 'boolean',
  C: 'char',
  F: 'float',
  D: 'double',
  B: 'byte',
  S: 'short',
  I: 'int',
  J: 'long',
};
