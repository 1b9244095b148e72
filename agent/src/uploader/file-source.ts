/**
 * Reading dump files with flat memory and few CPU cycles per byte.
 *
 * Node allocates a fresh Buffer for every chunk a stream reads. V8 only forces a collection of such
 * "external" memory after tens of MiB of it have piled up, so streaming a GiB file raised peak RSS by
 * 20-35 MiB although only a few chunks are alive at any time (measured here). `ReadBudget` asks V8 for
 * a cheap young-generation collection every few MiB read. The read pass (read-pass.ts) reuses one
 * buffer and allocates nothing.
 *
 * Chunk size and collection interval are measured, not guessed (`npm run bench`'s driver, 1 GiB to
 * s3rver, Node 24 --jitless, CPU of the sending phase only, 2-3 runs each):
 *  - one stream (a single PUT, gzip): 128 KiB chunks and a collection every 2 MiB cost 1.6-2.5 CPU s per
 *    GiB sent; 512 KiB chunks and a collection every 4 MiB cost 1.0-1.3 s, peak RSS +1.5 MiB (~78.5).
 *    Per-chunk work (stream bookkeeping, promise and socket write, interpreted without the JIT) is most of
 *    the cost, so fewer chunks is cheaper; but 1 MiB chunks (4.1-5.0 s) and 512 KiB with a collection
 *    every 8 MiB (3.4 s) were far worse: the external memory then grows until V8 does full collections;
 *  - parts of a multipart upload (4 streams in flight): 512 KiB chunks raised peak RSS to 82-84 MiB for
 *    no gain (2.6-2.7 vs 2.6-3.0 s), so parts keep 128 KiB chunks and a collection every 2 MiB: the
 *    same bytes in flight as one 512 KiB stream.
 */
import type { FileHandle } from 'fs/promises';
import { Readable } from 'stream';
import { setFlagsFromString } from 'v8';
import { runInNewContext } from 'vm';

/** How a range is read: chunk size and how many bytes between young-generation collections. */
export interface ReadShape {
  readonly chunkBytes: number;
  readonly gcEveryBytes: number;
}

/** One stream per file: a single PUT, or the gzip source. */
export const ONE_STREAM: ReadShape = { chunkBytes: 512 * 1024, gcEveryBytes: 4 * 1024 * 1024 };
/** One of the parts of a multipart upload that are read at the same time. */
export const PART_STREAM: ReadShape = { chunkBytes: 128 * 1024, gcEveryBytes: 2 * 1024 * 1024 };

type GcFn = (opts?: { type?: 'minor' | 'major' }) => void;

let gcFn: GcFn | null | undefined;
function minorGc(): void {
  if (gcFn === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      gcFn = runInNewContext('gc') as GcFn;
    } catch {
      gcFn = null; // no gc hook available: memory is higher, behaviour unchanged
    }
  }
  gcFn?.({ type: 'minor' });
}

/**
 * V8 sizes its heap for speed by default; `--optimize-for-size` makes it grow the heap less eagerly
 * (measured here: multipart upload of 1 GiB, peak RSS ~90 -> ~78 MiB, same throughput). It is not
 * allowed in NODE_OPTIONS, so the uploader sets it at start, before the heap grows.
 */
export function tuneV8ForFlatMemory(): void {
  try {
    setFlagsFromString('--optimize-for-size');
  } catch {
    // unknown flag on some other runtime: only memory is affected
  }
}

/** Counts bytes read by all streams of the process and collects chunk garbage every `everyBytes`. */
export class ReadBudget {
  private sinceGc = 0;
  account(n: number, everyBytes: number): void {
    this.sinceGc += n;
    if (this.sinceGc >= everyBytes) {
      this.sinceGc = 0;
      minorGc();
    }
  }
}

export const sharedBudget = new ReadBudget();

/**
 * A Readable over bytes [start, end) of an already open file. Positioned reads on the shared handle,
 * so parts read concurrently, and a file unlinked meanwhile still reads consistently.
 */
export function rangeStream(
  fh: FileHandle,
  start: number,
  end: number,
  onBytes?: (n: number) => void,
  onError?: (error: Error) => void,
  shape: ReadShape = ONE_STREAM,
  budget = sharedBudget,
): Readable {
  let pos = start;
  const stream = new Readable({
    highWaterMark: shape.chunkBytes,
    read() {
      if (pos >= end) return void this.push(null);
      const want = Math.min(shape.chunkBytes, end - pos);
      const buf = Buffer.allocUnsafe(want);
      fh.read(buf, 0, want, pos).then(
        ({ bytesRead }) => {
          if (bytesRead === 0) {
            this.destroy(Object.assign(new Error(`file shrank during upload (at ${pos}, expected ${end})`), { code: 'ESHRUNK' }));
            return;
          }
          pos += bytesRead;
          budget.account(bytesRead, shape.gcEveryBytes);
          onBytes?.(bytesRead);
          this.push(bytesRead === want ? buf : buf.subarray(0, bytesRead));
        },
        (error) => this.destroy(error),
      );
    },
  });
  // `pipe()` does not forward source errors and the HTTP layer may have let go of the stream already:
  // a read error (file truncated, handle closed after a failed request) is reported to the upload,
  // which aborts its request, instead of becoming an uncaught exception.
  stream.on('error', (error) => onError?.(error));
  return stream;
}
