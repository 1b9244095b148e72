/**
 * Reading dump files with flat memory.
 *
 * Node allocates a fresh Buffer for every chunk a stream reads. V8 only forces a collection of such
 * "external" memory after tens of MiB of it have piled up, so streaming a GiB file raised peak RSS by
 * 20-35 MiB although only a few chunks are alive at any time (measured here). `ReadBudget` asks V8 for
 * a cheap young-generation collection after every 2 MiB read (~500 scavenges of a tiny young space
 * per GiB: no measurable cost); with 128 KiB chunks this gave the lowest peak without losing
 * throughput (1 GiB to s3rver, peak RSS: single PUT ~70 MiB, multipart ~75 MiB; 256 KiB chunks and a
 * GC every 8 MiB: 77-82 MiB). The read pass (read-pass.ts) reuses one buffer and allocates nothing.
 */
import type { FileHandle } from 'fs/promises';
import { Readable } from 'stream';
import { setFlagsFromString } from 'v8';
import { runInNewContext } from 'vm';

const CHUNK = 128 * 1024;

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
  constructor(private readonly everyBytes = 2 * 1024 * 1024) {}
  account(n: number): void {
    this.sinceGc += n;
    if (this.sinceGc >= this.everyBytes) {
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
  budget = sharedBudget,
): Readable {
  let pos = start;
  const stream = new Readable({
    highWaterMark: CHUNK,
    read() {
      if (pos >= end) return void this.push(null);
      const want = Math.min(CHUNK, end - pos);
      const buf = Buffer.allocUnsafe(want);
      fh.read(buf, 0, want, pos).then(
        ({ bytesRead }) => {
          if (bytesRead === 0) {
            this.destroy(Object.assign(new Error(`file shrank during upload (at ${pos}, expected ${end})`), { code: 'ESHRUNK' }));
            return;
          }
          pos += bytesRead;
          budget.account(bytesRead);
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
