/**
 * NameReaders: the few name records the summary needs, read at the end of the analysis.
 *
 * - `fileNameReader`: positioned reads on an open HPROF file; nearby ranges share one read.
 * - `gzipFileNameReader`: a `.hprof.gz` (HotSpot's `-XX:HeapDumpGzipLevel`, many gzip members)
 *   re-inflated from its start only up to the end of the last range asked for; HotSpot writes the
 *   names first, so this is a small prefix of the file. Bounded memory: the inflated stream is not
 *   kept, only the ranges.
 * - `bufferNameReader`: an in-memory stream (tests, small inputs).
 */
import type { FileHandle } from 'fs/promises';
import { Readable } from 'stream';
import { createGunzip } from 'zlib';
import type { NameRange, NameReader } from './name-index';

/** Ranges closer than this are read together. */
const GAP = 64 * 1024;
/** Largest single read. */
const MAX_READ = 1024 * 1024;

/** Reads up to `length` bytes at `position` into `buffer` at `offset`; the count read (0 at the end). */
export type RangeRead = (buffer: Buffer, offset: number, length: number, position: number) => Promise<number>;

const fileRead = (fh: FileHandle): RangeRead => async (buffer, offset, length, position) => (await fh.read(buffer, offset, length, position)).bytesRead;

export function fileNameReader(fh: FileHandle): NameReader {
  return readerNameReader(fileRead(fh));
}

/** fileNameReader over any positioned read (e.g. of a raw descriptor). */
export function readerNameReader(read: RangeRead): NameReader {
  return Object.assign(readFileRanges(read), { randomAccess: true });
}

function readFileRanges(read: RangeRead): (ranges: readonly NameRange[]) => Promise<Buffer[]> {
  return async (ranges) => {
    const out: Buffer[] = new Array(ranges.length);
    let i = 0;
    while (i < ranges.length) {
      // group ranges[i..j) into one read
      const start = ranges[i].offset;
      let end = start + ranges[i].length;
      let j = i + 1;
      while (j < ranges.length && ranges[j].offset - end <= GAP && ranges[j].offset + ranges[j].length - start <= MAX_READ) {
        end = Math.max(end, ranges[j].offset + ranges[j].length);
        j++;
      }
      const buf = Buffer.alloc(end - start);
      let got = 0;
      while (got < buf.length) {
        const bytesRead = await read(buf, got, buf.length - got, start + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      for (let k = i; k < j; k++) {
        const from = ranges[k].offset - start;
        out[k] = Buffer.from(buf.subarray(Math.min(from, got), Math.min(from + ranges[k].length, got)));
      }
      i = j;
    }
    return out;
  };
}

export function bufferNameReader(stream: Buffer): NameReader {
  const read = async (ranges: readonly NameRange[]) =>
    ranges.map((r) => Buffer.from(stream.subarray(Math.min(r.offset, stream.length), Math.min(r.offset + r.length, stream.length))));
  return Object.assign(read, { randomAccess: true });
}

/**
 * Ranges of the decompressed stream of a gzip file. A corrupt or truncated file yields the ranges
 * inflated before the damage (the others empty).
 */
export function gzipFileNameReader(fh: FileHandle, opts: { readChunk?: number } = {}): NameReader {
  return gzipReaderNameReader(fileRead(fh), opts);
}

/** gzipFileNameReader over any positioned read. */
export function gzipReaderNameReader(read: RangeRead, opts: { readChunk?: number } = {}): NameReader {
  const chunk = opts.readChunk ?? 128 * 1024;
  return async (ranges: readonly NameRange[]) => {
    const out: Buffer[] = ranges.map((r) => Buffer.alloc(r.length));
    const filled = new Array<number>(ranges.length).fill(0);
    if (ranges.length === 0) return out;
    const last = Math.max(...ranges.map((r) => r.offset + r.length));

    let pos = 0;
    let stopped = false;
    const source = Readable.from(
      (async function* () {
        while (!stopped) {
          const buf = Buffer.allocUnsafe(chunk);
          const bytesRead = await read(buf, 0, chunk, pos);
          if (bytesRead === 0) return;
          pos += bytesRead;
          yield buf.subarray(0, bytesRead);
        }
      })(),
      { objectMode: false },
    );
    const gunzip = createGunzip();
    source.on('error', (error) => gunzip.destroy(error));
    source.pipe(gunzip);

    let offset = 0;
    let next = 0; // first range not yet complete
    try {
      for await (const data of gunzip as AsyncIterable<Buffer>) {
        const dataEnd = offset + data.length;
        for (let k = next; k < ranges.length && ranges[k].offset < dataEnd; k++) {
          const r = ranges[k];
          const from = Math.max(r.offset, offset);
          const to = Math.min(r.offset + r.length, dataEnd);
          if (to > from) {
            data.copy(out[k], from - r.offset, from - offset, to - offset);
            filled[k] = Math.max(filled[k], to - r.offset);
          }
        }
        while (next < ranges.length && ranges[next].offset + ranges[next].length <= dataEnd) next++;
        offset = dataEnd;
        if (offset >= last) break;
      }
    } catch {
      // damaged or truncated: keep what was inflated
    } finally {
      stopped = true;
      gunzip.destroy();
      source.destroy();
    }
    return out.map((b, k) => (filled[k] === b.length ? b : b.subarray(0, filled[k])));
  };
}

export type { NameRange, NameReader };
