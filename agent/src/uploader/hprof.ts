/**
 * Structural completeness check of a HotSpot heap dump (pure over a positioned reader).
 *
 * A finished dump (`JAVA PROFILE 1.0.2`) is: the header string + NUL, u4 identifier size, u8 timestamp,
 * then records `u1 tag, u4 time, u4 length, body[length]`, the last one HEAP DUMP END (0x2C, length 0).
 * Walking the record headers must land exactly on end-of-file. Only the 9-byte headers are read (in
 * windows, so thousands of small string records cost a few reads), never the bodies: cheap for GiB files.
 * A dump the JVM is still writing, or one cut short by an OOM kill, fails the walk.
 */
import { RECORD_BUDGET } from '../triage/hprof-format';

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
export const MAX_WALK_RECORDS = RECORD_BUDGET;

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
 * positions: the decompressed bytes of a `.hprof.gz`. Only the record headers are parsed (in place
 * when a header lies within one chunk; only a header cut by a chunk boundary is carried); bodies are
 * skipped by their (unsigned 32-bit) length, so the cost is the decompression, not the walk. Past
 * MAX_WALK_RECORDS records the verdict is "incomplete" and `done` tells the caller it may stop feeding.
 */
export class HprofStreamWalker {
  private bytes = 0;
  /** Header bytes (up to 64 + 13), or a record header cut by a chunk boundary (< 9). */
  private pending = Buffer.alloc(0);
  private headerDone = false;
  private skip = 0;
  private lastTag = -1;
  private lastLength = -1;
  private records = 0;
  private verdict?: HprofVerdict;

  /** A verdict is reached whatever follows (not an HPROF, or over the record budget): feeding more changes nothing. */
  get done(): boolean {
    return this.verdict !== undefined;
  }

  update(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.verdict !== undefined) return;
    let p = 0;
    const n = chunk.length;
    if (!this.headerDone) {
      const take = Math.min(n, 64 + 13 - this.pending.length);
      this.pending = Buffer.concat([this.pending, chunk.subarray(0, take)]);
      const used = this.tryHeader(take === n);
      if (used < 0) return;
      // the bytes after the header belong to the first record
      p = take - (this.pending.length - used);
      this.pending = Buffer.alloc(0);
      if (p < 0) p = 0;
    }
    while (p < n) {
      if (this.skip > 0) {
        const k = Math.min(this.skip, n - p);
        this.skip -= k;
        p += k;
        continue;
      }
      let h: Buffer = chunk;
      let at = p;
      if (this.pending.length > 0 || n - p < RECORD_HEADER) {
        const take = Math.min(n - p, RECORD_HEADER - this.pending.length);
        this.pending = Buffer.concat([this.pending, chunk.subarray(p, p + take)]);
        p += take;
        if (this.pending.length < RECORD_HEADER) return;
        h = this.pending;
        at = 0;
      } else {
        p += RECORD_HEADER;
      }
      if (++this.records > MAX_WALK_RECORDS) {
        this.verdict = { kind: 'incomplete', reason: `more than ${MAX_WALK_RECORDS} records: not checked further` };
        return;
      }
      this.lastTag = h[at];
      this.lastLength = h.readUInt32BE(at + 5);
      this.skip = this.lastLength;
      if (h === this.pending) this.pending = Buffer.alloc(0);
    }
  }

  /** Parses the header once its NUL and the 12 bytes after it are pending: its length, or -1 (not yet, or a verdict). */
  private tryHeader(endOfChunk: boolean): number {
    const nul = this.pending.indexOf(0);
    if (nul < 0) {
      if (this.pending.length >= 64) this.verdict = { kind: 'not-hprof', reason: 'no HPROF header' };
      return -1;
    }
    const magic = this.pending.subarray(0, nul).toString('latin1');
    if (!MAGICS.includes(magic)) {
      this.verdict = { kind: 'not-hprof', reason: `unknown header ${JSON.stringify(magic)}` };
      return -1;
    }
    const first = nul + 1 + 4 + 8;
    if (this.pending.length < first) {
      if (!endOfChunk && this.pending.length >= 64 + 13) this.verdict = { kind: 'not-hprof', reason: 'header too long' };
      return -1;
    }
    this.headerDone = true;
    return first;
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
