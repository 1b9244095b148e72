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
/**
 * A HotSpot dump has well under a million records (names, classes, frames, a few heap segments); a
 * crafted file of tiny records could make the walk last minutes. Past this many it is not a dump
 * to trust early: the verdict is incomplete and the file waits for the full stability window.
 */
export const MAX_WALK_RECORDS = 5_000_000;

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
  let records = 0;
  while (offset < size) {
    if (++records > MAX_WALK_RECORDS) return { kind: 'incomplete', reason: `more than ${MAX_WALK_RECORDS} records: not checked further` };
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

/**
 * The same structural check over a byte stream (push based), for dumps that cannot be read at
 * positions: the decompressed bytes of a `.hprof.gz`. Only the record headers are parsed; bodies are
 * skipped by their (unsigned 32-bit) length, so the cost is the decompression, not the walk.
 */
export class HprofStreamWalker {
  private bytes = 0;
  /** Header bytes, then one record header at a time (never more than 64 + 13 bytes). */
  private pending = Buffer.alloc(0);
  private headerDone = false;
  private skip = 0;
  private lastTag = -1;
  private lastLength = -1;
  private verdict?: HprofVerdict;

  update(chunk: Buffer): void {
    this.bytes += chunk.length;
    let c = chunk;
    while (c.length > 0 && this.verdict === undefined) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, c.length);
        this.skip -= n;
        c = c.subarray(n);
        continue;
      }
      const need = this.headerDone ? RECORD_HEADER : 64 + 13;
      const take = Math.min(c.length, need - this.pending.length);
      this.pending = Buffer.concat([this.pending, c.subarray(0, take)]);
      c = c.subarray(take);
      if (!this.headerDone) this.tryHeader(c.length === 0);
      else if (this.pending.length === RECORD_HEADER) {
        this.lastTag = this.pending[0];
        this.lastLength = this.pending.readUInt32BE(5);
        this.skip = this.lastLength;
        this.pending = Buffer.alloc(0);
      }
    }
  }

  /** Parses the header once its NUL and the 12 bytes after it are in `pending`; gives back what follows. */
  private tryHeader(endOfChunk: boolean): void {
    const nul = this.pending.indexOf(0);
    if (nul < 0) {
      if (this.pending.length >= 64) this.verdict = { kind: 'not-hprof', reason: 'no HPROF header' };
      return;
    }
    const magic = this.pending.subarray(0, nul).toString('latin1');
    if (!MAGICS.includes(magic)) {
      this.verdict = { kind: 'not-hprof', reason: `unknown header ${JSON.stringify(magic)}` };
      return;
    }
    const first = nul + 1 + 4 + 8;
    if (this.pending.length < first) {
      if (!endOfChunk && this.pending.length >= 64 + 13) this.verdict = { kind: 'not-hprof', reason: 'header too long' };
      return;
    }
    const rest = this.pending.subarray(first);
    this.headerDone = true;
    this.pending = Buffer.alloc(0);
    if (rest.length > 0) {
      // bytes read past the header belong to the first record: walk them like any chunk
      this.bytes -= rest.length;
      this.update(Buffer.from(rest));
    }
  }

  structure(): { complete: boolean; reason?: string; bytes: number } {
    const v = this.verdictNow();
    return v.kind === 'complete' ? { complete: true, bytes: this.bytes } : { complete: false, reason: v.reason, bytes: this.bytes };
  }

  private verdictNow(): HprofVerdict {
    if (this.verdict) return this.verdict;
    if (!this.headerDone) return { kind: 'incomplete', reason: 'header cut short' };
    if (this.skip > 0 || this.pending.length > 0) return { kind: 'incomplete', reason: `stream ends inside a record (at ${this.bytes})` };
    if (this.lastTag !== HEAP_DUMP_END || this.lastLength !== 0) return { kind: 'incomplete', reason: 'does not end with HEAP DUMP END' };
    return { kind: 'complete' };
  }
}
