/**
 * Structural completeness check of a HotSpot heap dump (pure over a positioned reader).
 *
 * A finished dump (`JAVA PROFILE 1.0.2`) is: the header string + NUL, u4 identifier size, u8 timestamp,
 * then records `u1 tag, u4 time, u4 length, body[length]`, the last one HEAP DUMP END (0x2C, length 0).
 * Walking the record headers must land exactly on end-of-file. Only the 9-byte headers are read (in
 * windows, so thousands of small string records cost a few reads), never the bodies: cheap for GiB files.
 * A dump the JVM is still writing, or one cut short by an OOM kill, fails the walk.
 */

export type HprofVerdict =
  | { readonly kind: 'complete' }
  | { readonly kind: 'incomplete'; readonly reason: string }
  | { readonly kind: 'not-hprof'; readonly reason: string };

/** Reads up to `length` bytes at `position` into `buffer`; returns the count read (0 at EOF). */
export type PositionedRead = (buffer: Buffer, position: number, length: number) => Promise<number>;

const MAGICS = ['JAVA PROFILE 1.0.2', 'JAVA PROFILE 1.0.1'];
const HEAP_DUMP_END = 0x2c;
const RECORD_HEADER = 9;
const WINDOW = 64 * 1024;

export async function checkHprof(read: PositionedRead, size: number): Promise<HprofVerdict> {
  const head = Buffer.alloc(Math.min(64, size));
  const got = await read(head, 0, head.length);
  const nul = head.subarray(0, got).indexOf(0);
  if (nul < 0) return { kind: 'not-hprof', reason: 'no HPROF header' };
  const magic = head.subarray(0, nul).toString('latin1');
  if (!MAGICS.includes(magic)) return { kind: 'not-hprof', reason: `unknown header ${JSON.stringify(magic)}` };
  const first = nul + 1 + 4 + 8;
  if (size < first) return { kind: 'incomplete', reason: 'header cut short' };

  // Cheap reject before the walk: a finished dump ends with an empty HEAP DUMP END record.
  if (size < first + RECORD_HEADER) return { kind: 'incomplete', reason: 'no records' };
  const tail = Buffer.alloc(RECORD_HEADER);
  if ((await read(tail, size - RECORD_HEADER, RECORD_HEADER)) !== RECORD_HEADER) {
    return { kind: 'incomplete', reason: 'short read at end' };
  }
  if (tail[0] !== HEAP_DUMP_END || tail.readUInt32BE(5) !== 0) {
    return { kind: 'incomplete', reason: 'does not end with HEAP DUMP END' };
  }
  return walk(read, size, first);
}

async function walk(read: PositionedRead, size: number, start: number): Promise<HprofVerdict> {
  const window = Buffer.alloc(WINDOW);
  let winStart = -1;
  let winLen = 0;
  let offset = start;
  let lastTag = -1;
  let lastLength = -1;
  while (offset < size) {
    if (offset + RECORD_HEADER > size) return { kind: 'incomplete', reason: `record header cut at ${offset}` };
    if (winStart < 0 || offset < winStart || offset + RECORD_HEADER > winStart + winLen) {
      winStart = offset;
      winLen = await read(window, offset, Math.min(WINDOW, size - offset));
      if (winLen < RECORD_HEADER) return { kind: 'incomplete', reason: `short read at ${offset}` };
    }
    const at = offset - winStart;
    lastTag = window[at];
    lastLength = window.readUInt32BE(at + 5);
    offset += RECORD_HEADER + lastLength;
  }
  if (offset !== size) return { kind: 'incomplete', reason: `last record runs past end of file (${offset} > ${size})` };
  if (lastTag !== HEAP_DUMP_END || lastLength !== 0) return { kind: 'incomplete', reason: 'last record is not HEAP DUMP END' };
  return { kind: 'complete' };
}

/** checkHprof over a file path (Buffer paths allowed: names need not be UTF-8). */
export async function checkHprofFile(path: string | Buffer): Promise<HprofVerdict> {
  const { open } = await import('fs/promises');
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    return await checkHprof(async (buf, pos, len) => (await fh.read(buf, 0, len, pos)).bytesRead, size);
  } finally {
    await fh.close();
  }
}
