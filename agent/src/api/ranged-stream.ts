/**
 * A dump's bytes [start, end] as ONE readable stream made of several ranged GETs in flight at once, delivered in
 * order: what `aws s3 cp` does for speed, because one S3 connection is slower than the client's link (on AWS S3
 * about 100 MB/s per connection; here, every hop of one connection shares the machine's cores).
 *
 * No bytes are buffered by us: the parts after the one being sent are requested but not read, so their first
 * bytes wait in the kernel's socket buffers (TCP flow control holds the rest on the server) until it is their
 * turn. Memory stays that of one stream; the requests' latency and the servers' ramp-up overlap.
 */
import { Readable } from 'node:stream';
import type { DumpStore, ObjectStream } from './dump-store';

export interface RangedOptions {
  /** Bytes per ranged GET. */
  readonly partBytes: number;
  /** GETs open at once (the one being sent included). */
  readonly inFlight: number;
}

/** Measured with `npm run bench:api` (docs/performance.md). */
export const DOWNLOAD_PARTS: RangedOptions = { partBytes: 8 * 1024 * 1024, inFlight: 2 };

/**
 * Opens the first part (so a missing object or an unreachable store is an error before anything is sent) and
 * returns the whole range as a stream. `signal` (the client went away) aborts every open request.
 */
export async function openRanged(store: DumpStore, key: string, start: number, end: number, o: RangedOptions, signal: AbortSignal): Promise<Readable> {
  const abort = new AbortController();
  const onAbort = () => abort.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  const pending: Array<Promise<ObjectStream>> = [];
  let next = start;
  const launch = () => {
    if (next > end) return;
    const from = next;
    const to = Math.min(end, from + o.partBytes - 1);
    next = to + 1;
    const p = store.stream(key, [from, to], abort.signal);
    p.catch(() => undefined); // awaited in order below; an early failure must not be unhandled meanwhile
    pending.push(p);
  };
  for (let i = 0; i < o.inFlight; i++) launch();
  let first: ObjectStream;
  try {
    first = await pending.shift()!;
  } catch (error) {
    abort.abort();
    signal.removeEventListener('abort', onAbort);
    throw error;
  }
  launch();
  async function* parts(): AsyncGenerator<Buffer> {
    let current: ObjectStream | undefined = first;
    try {
      while (current !== undefined) {
        for await (const chunk of current.body) yield chunk as Buffer;
        const upcoming = pending.shift();
        current = upcoming === undefined ? undefined : await upcoming;
        launch();
      }
    } finally {
      // Done, failed, or the client went away: nothing stays open.
      abort.abort();
      signal.removeEventListener('abort', onAbort);
      current?.body.destroy();
      for (const p of pending.splice(0)) p.then((s) => s.body.destroy(), () => undefined);
    }
  }
  return Readable.from(parts(), { objectMode: false, highWaterMark: 64 * 1024 });
}
