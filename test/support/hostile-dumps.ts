/**
 * Dumps a hostile tenant writes to make the uploader's per-file work expensive (issue 20), built from
 * the HPROF format's definition (as hprof-writer.ts), not from the analyzer's code:
 *  - `collidingClassesHprof`: a valid HPROF whose heap holds one instance of each of ~160,000 classes
 *    whose 8-byte ids all have the same value in the id table's former hash (no seed), computed here;
 *  - `recordBombGz` / `recordBomb`: a valid HPROF of millions of empty records (a 20 million record
 *    stream deflates to a few hundred KB).
 */
import { createWriteStream } from 'fs';
import { once } from 'events';
import { createGzip } from 'zlib';

/** The id table's hash before issue 20: imul(lo ^ imul(hi, 0x85ebca6b), 0x9e3779b1), no seed. */
export function formerIdHash(hi: number, lo: number): number {
  return Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> 0;
}

/** `n` 8-byte ids [hi, lo] with one and the same formerIdHash (so one bucket at every table size). */
export function formerHashCollisions(n: number, x = 0x5eed5eed): Array<[number, number]> {
  return Array.from({ length: n }, (_, i) => [i + 1, (x ^ Math.imul(i + 1, 0x85ebca6b)) >>> 0]);
}

/** `JAVA PROFILE 1.0.2\0`, 8-byte ids, a timestamp. */
export function hprofHeader(idSize: 4 | 8 = 8): Buffer {
  const h = Buffer.alloc(19 + 12);
  h.write('JAVA PROFILE 1.0.2\0', 0, 'latin1');
  h.writeUInt32BE(idSize, 19);
  h.writeBigUInt64BE(BigInt(Date.UTC(2026, 11, 7)), 23);
  return h;
}

function record(tag: number, body: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h[0] = tag;
  h.writeUInt32BE(body.length, 5);
  return Buffer.concat([h, body]);
}

const HEAP_DUMP_END = record(0x2c, Buffer.alloc(0));

/**
 * A complete HPROF: one heap dump segment with one 4-byte instance of each of `n` classes whose ids
 * collide in formerIdHash (~25 bytes per instance: 160,000 classes are ~4 MB), then HEAP DUMP END.
 */
export function collidingClassesHprof(n = 160_000): Buffer {
  const ids = formerHashCollisions(n);
  const inst = 1 + 8 + 4 + 8 + 4 + 4;
  const seg = Buffer.alloc(n * inst);
  ids.forEach(([hi, lo], i) => {
    const p = i * inst;
    seg[p] = 0x21; // INSTANCE DUMP
    seg.writeBigUInt64BE(0x100000000n + BigInt(i) * 16n, p + 1); // object id
    seg.writeUInt32BE(hi, p + 13); // class id, high half
    seg.writeUInt32BE(lo, p + 17); // class id, low half
    seg.writeUInt32BE(4, p + 21); // 4 bytes of fields
  });
  return Buffer.concat([hprofHeader(), record(0x1c, seg), HEAP_DUMP_END]);
}

/** `count` empty UTF8 records (tag 0x01, length 0): the cheapest records a stream can hold. */
function emptyRecords(count: number): Buffer {
  const b = Buffer.alloc(count * 9);
  for (let i = 0; i < count; i++) b[i * 9] = 0x01;
  return b;
}

/** Writes a gzip-compressed (level 9), structurally valid HPROF of `records` empty records to `file`; returns its size. */
export async function recordBombGz(file: string, records = 20_000_000): Promise<number> {
  const out = createWriteStream(file, { mode: 0o644 });
  const gz = createGzip({ level: 9 });
  gz.pipe(out);
  const write = async (b: Buffer) => {
    if (!gz.write(b)) await once(gz, 'drain');
  };
  await write(hprofHeader());
  const block = emptyRecords(1_000_000);
  for (let left = records; left > 0; left -= 1_000_000) await write(left >= 1_000_000 ? block : block.subarray(0, left * 9));
  await write(HEAP_DUMP_END);
  gz.end();
  await once(out, 'close');
  return out.bytesWritten;
}

/** The same, uncompressed, in memory. */
export function recordBomb(records: number): Buffer {
  return Buffer.concat([hprofHeader(), emptyRecords(records), HEAP_DUMP_END]);
}
