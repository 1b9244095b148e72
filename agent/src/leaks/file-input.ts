/**
 * A dump file on local disk as the analysis' input: its HPROF stream read once in 1 MiB chunks (a
 * `.hprof.gz` inflated on the way, with inflate budgets: at most `maxStreamBytes` and `maxRatio` times
 * the file's size, so a small compressed bomb ends with a clear reason), and positioned reads for the
 * names and objects read again at the end (for a `.hprof.gz`, one more inflation from the start up to
 * the last range: HotSpot writes names first).
 */
import type { FileHandle } from 'fs/promises';
import { createGunzip, type Gunzip } from 'zlib';
import { fileNameReader, gzipFileNameReader } from '../triage/name-readers';
import type { DumpInput } from './analyze';
import { BudgetExceeded } from './budget';
import type { WindowReader } from './reread';

const CHUNK = 1024 * 1024;

export interface InflateLimits {
  /** Largest HPROF stream inflated from a `.hprof.gz`. @default 64 GiB */
  readonly maxStreamBytes?: number;
  /** Largest inflated/compressed ratio. @default 1000 */
  readonly maxRatio?: number;
}

export const DEFAULT_MAX_STREAM_BYTES = 64 * 2 ** 30;
export const DEFAULT_MAX_RATIO = 1000;

export function fileInput(fh: FileHandle, size: number, gzip: boolean, limits: InflateLimits = {}): DumpInput & { inflated(): number } {
  let inflated = 0;
  const maxBytes = Math.min(limits.maxStreamBytes ?? DEFAULT_MAX_STREAM_BYTES, (limits.maxRatio ?? DEFAULT_MAX_RATIO) * Math.max(size, 1));
  return {
    read: gzip ? gzipFileNameReader(fh) : fileNameReader(fh),
    windows: gzip ? gzipWindows(fh, size) : fileWindows(fh),
    inflated: () => inflated,
    async stream(onChunk) {
      if (!gzip) {
        const buf = Buffer.allocUnsafe(CHUNK);
        for (let pos = 0; pos < size;) {
          const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, size - pos), pos);
          if (bytesRead === 0) break;
          onChunk(buf.subarray(0, bytesRead));
          pos += bytesRead;
        }
        return;
      }
      const gunzip = createGunzip({ chunkSize: CHUNK });
      const pump = pumpFile(fh, size, gunzip);
      // errors of the consumer (budgets, and anything else) end the analysis; zlib's only end the stream
      let stopped: unknown;
      try {
        for await (const data of gunzip as AsyncIterable<Buffer>) {
          inflated += data.length;
          try {
            if (inflated > maxBytes) throw new BudgetExceeded('size', `the .hprof.gz inflates to more than ${maxBytes} bytes (the inflate budget: ${limits.maxRatio ?? DEFAULT_MAX_RATIO} times its size, at most ${limits.maxStreamBytes ?? DEFAULT_MAX_STREAM_BYTES})`);
            onChunk(data);
          } catch (error) {
            stopped = error;
            break;
          }
        }
      } catch {
        // a damaged or cut .hprof.gz: what was inflated is analysed, the walk says it is incomplete
      } finally {
        gunzip.destroy();
        await pump;
      }
      if (stopped !== undefined) throw stopped;
    },
  };
}

/** Windows of a plain file: positioned reads of at most 1 MiB, one window after the other. */
function fileWindows(fh: FileHandle): WindowReader {
  return async (ranges, onData) => {
    const buf = Buffer.allocUnsafe(CHUNK);
    for (let i = 0; i < ranges.length; i++) {
      const end = ranges[i].offset + ranges[i].length;
      for (let pos = ranges[i].offset; pos < end;) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, end - pos), pos);
        if (bytesRead === 0) break;
        onData(i, buf.subarray(0, bytesRead));
        pos += bytesRead;
      }
    }
  };
}

/** Windows of a `.hprof.gz`: one inflation from the start, each chunk handed to the windows it overlaps, up to the last window's end. */
function gzipWindows(fh: FileHandle, size: number): WindowReader {
  return async (ranges, onData) => {
    if (ranges.length === 0) return;
    const last = Math.max(...ranges.map((r) => r.offset + r.length));
    const gunzip = createGunzip({ chunkSize: CHUNK });
    const pump = pumpFile(fh, size, gunzip);
    let offset = 0;
    let first = 0; // ranges before this one are done (ranges are sorted by offset)
    try {
      for await (const data of gunzip as AsyncIterable<Buffer>) {
        const dataEnd = offset + data.length;
        while (first < ranges.length && ranges[first].offset + ranges[first].length <= offset) first++;
        for (let i = first; i < ranges.length && ranges[i].offset < dataEnd; i++) {
          const from = Math.max(ranges[i].offset, offset);
          const to = Math.min(ranges[i].offset + ranges[i].length, dataEnd);
          if (to > from) onData(i, data.subarray(from - offset, to - offset));
        }
        offset = dataEnd;
        if (offset >= last) break;
      }
    } catch {
      // damaged or cut: the windows got what was inflated
    } finally {
      gunzip.destroy();
      await pump;
    }
  };
}

/**
 * Writes the file into the gunzip stream, waiting for it to drain; stops (and resolves) as soon as the
 * stream is destroyed, whoever stops reading: never rejects, never waits for a drain that cannot come.
 */
async function pumpFile(fh: FileHandle, size: number, gunzip: Gunzip): Promise<void> {
  const buf = Buffer.allocUnsafe(CHUNK);
  try {
    for (let pos = 0; pos < size && !gunzip.destroyed;) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, size - pos), pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      if (!gunzip.write(Buffer.from(buf.subarray(0, bytesRead)))) {
        await new Promise<void>((resolve) => {
          const done = () => {
            gunzip.off('drain', done);
            gunzip.off('close', done);
            resolve();
          };
          gunzip.on('drain', done);
          gunzip.on('close', done);
        });
      }
    }
    if (!gunzip.destroyed) gunzip.end();
  } catch (error) {
    gunzip.destroy(error as Error);
  }
}
