/**
 * A dump file on local disk as the analysis' input: its HPROF stream read once in 1 MiB chunks (a
 * `.hprof.gz` inflated on the way, with inflate budgets: at most `maxStreamBytes` and `maxRatio` times
 * the file's size, so a small compressed bomb ends with a clear reason), and positioned reads for the
 * names and objects read again at the end (for a `.hprof.gz`, one more inflation from the start up to
 * the last range: HotSpot writes names first).
 */
import type { FileHandle } from 'fs/promises';
import { createGunzip } from 'zlib';
import { fileNameReader, gzipFileNameReader } from '../triage/name-readers';
import type { DumpInput } from './analyze';
import { BudgetExceeded } from './budget';

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
      let failure: Error | undefined;
      const pump = (async () => {
        const buf = Buffer.allocUnsafe(CHUNK);
        for (let pos = 0; pos < size && !failure;) {
          const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, size - pos), pos);
          if (bytesRead === 0) break;
          pos += bytesRead;
          if (!gunzip.write(Buffer.from(buf.subarray(0, bytesRead)))) await new Promise((r) => gunzip.once('drain', r));
        }
        gunzip.end();
      })();
      pump.catch((e: Error) => gunzip.destroy(e));
      try {
        for await (const data of gunzip as AsyncIterable<Buffer>) {
          inflated += data.length;
          if (inflated > maxBytes) throw new BudgetExceeded('size', `the .hprof.gz inflates to more than ${maxBytes} bytes (the inflate budget: ${limits.maxRatio ?? DEFAULT_MAX_RATIO} times its size, at most ${limits.maxStreamBytes ?? DEFAULT_MAX_STREAM_BYTES})`);
          onChunk(data);
        }
      } catch (error) {
        failure = error as Error;
        gunzip.destroy();
        if (error instanceof BudgetExceeded) throw error;
        // a damaged or cut .hprof.gz: what was inflated is analysed, the walk says it is incomplete
      }
      await pump.catch(() => undefined);
    },
  };
}
