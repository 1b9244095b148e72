/**
 * The one read of a dump before it is uploaded. The bytes read once feed, in the same pass:
 *  - the whole-object sha256 (the object's identity in its metadata);
 *  - for an upload as one PUT, its payload digest (Content-MD5, or x-amz-checksum-sha256, which is the
 *    sha256 itself), so the server rejects bytes that differ from the bytes read here (the upload reads
 *    the file again). A multipart upload digests each part just before sending it (part-digests.ts), and
 *    gzip on the fly digests the compressed parts it makes: both start sending without a second hash of
 *    the whole file first;
 *  - for a gzip-compressed HPROF: the streaming decode (every member to its end, trailers checked)
 *    and the structure of the decompressed dump (does it end on HEAP DUMP END), within the inflate
 *    budget (`inflateLimit` decompressed bytes) and the record budget (hprof.ts): a bomb's decode stops
 *    there, its completeness unknown, instead of costing what the tenant wants.
 * The decode never fails the pass: its failure is recorded; the upload goes on. The triage analysis
 * is not part of the pass: it runs in its own process (analyses.ts), reading the same file.
 */
import { createHash } from 'crypto';
import { createGunzip, type Gunzip } from 'zlib';
import { fsError } from '../fs/pinned-dir';
import type { StuckReads } from '../fs/stuck-io';
import { HprofStreamWalker } from './hprof';

import type { PayloadDigest } from '../config';

/** Payload digests the uploader sends: MD5 (checked by S3-compatible servers, s3rver excepted), or SHA-256 (AWS and newer servers). */
export type { PayloadDigest };

/** Reads up to `length` bytes at `position` into `buffer`; the count read (0 at EOF). */
export type PositionedRead = (buffer: Buffer, position: number, length: number) => Promise<number>;

export interface PassPlan {
  /** Bytes to read (the size that was observed). */
  readonly size: number;
  /**
   * The payload digest of the one PUT that will send these bytes; undefined for none (multipart and gzip
   * uploads digest their parts as they send them, and a summary needs no upload at all).
   */
  readonly digest?: PayloadDigest;
  /** The file is a gzip-compressed HPROF: decode it and check the decompressed structure. */
  readonly gzipHprof: boolean;
  /** Decompressed bytes decoded at most (gzipHprof); past them the completeness is unknown. @default no limit */
  readonly inflateLimit?: number;
}

export interface PassResult {
  readonly sha256: string;
  /** MD5 of the whole file (hex) when the digest is md5: the ETag S3 returns for the one PUT. */
  readonly md5?: string;
  /** The one PUT's payload digest (raw bytes), in the plan's algorithm; undefined without a digest. */
  readonly payloadDigest?: Buffer;
  /** Gzip-compressed HPROF only. */
  readonly decoded?: {
    readonly complete: boolean;
    readonly reason?: string;
    /** Decompressed bytes (known when every member decoded). */
    readonly uncompressedSize?: number;
    /** The decode stopped at the inflate budget: whether the dump is complete is not known. */
    readonly unknown?: true;
  };
}

export interface PassDeps {
  readonly signal?: AbortSignal;
  /** Called with every chunk's size (liveness: a long pass is progress). */
  readonly onBytes?: (n: number) => void;
  /** A single read that takes longer fails the pass (a hung disk or NFS server never hangs the loop). */
  readonly readTimeoutMs: number;
  /** @default 1 MiB */
  readonly chunkSize?: number;
  /** Where a read that times out is recorded, under whose key (the file's id), see withReadTimeout. */
  readonly stuck?: { readonly reads: StuckReads; readonly key: string };
}

const DEFAULT_CHUNK = 1024 * 1024;

/**
 * A read that gives up after `ms`. The read itself may stay stuck in the thread pool: it is recorded
 * in `stuck` under `key` (fs/stuck-io.ts), so the same file is not read again until it returns.
 */
export function withReadTimeout(read: PositionedRead, ms: number, stuck?: { readonly reads: StuckReads; readonly key: string }): PositionedRead {
  return (buffer, position, length) => {
    let timer: NodeJS.Timeout | undefined;
    const attempt = read(buffer, position, length);
    const timeout = new Promise<number>((_, reject) => {
      timer = setTimeout(() => {
        stuck?.reads.track(stuck.key, attempt);
        reject(fsError('EREADTIMEOUT', `a read of ${length} bytes at ${position} took more than ${ms} ms`));
      }, ms);
    });
    return Promise.race([attempt, timeout]).finally(() => clearTimeout(timer));
  };
}

export async function readPass(read: PositionedRead, plan: PassPlan, deps: PassDeps): Promise<PassResult> {
  const timedRead = withReadTimeout(read, deps.readTimeoutMs, deps.stuck);
  const whole = createHash('sha256');
  // The one PUT's payload digest is the whole file's: MD5 is the only extra hash (and sha256 none).
  const wholeMd5 = plan.digest === 'md5' ? createHash('md5') : undefined;
  const decoder = plan.gzipHprof ? new GzipDecoder(plan.inflateLimit ?? Infinity) : undefined;

  const buf = Buffer.allocUnsafe(deps.chunkSize ?? DEFAULT_CHUNK);
  let pos = 0;
  while (pos < plan.size) {
    if (deps.signal?.aborted) throw Object.assign(new Error('read pass aborted'), { name: 'AbortError' });
    const n = await timedRead(buf, pos, Math.min(buf.length, plan.size - pos));
    if (n === 0) throw fsError('ESHRUNK', `file shrank while reading (at ${pos} of ${plan.size})`);
    const chunk = buf.subarray(0, n);
    whole.update(chunk);
    wholeMd5?.update(chunk);
    if (decoder) await decoder.write(chunk);
    pos += n;
    deps.onBytes?.(n);
  }
  const sha256 = whole.digest();
  const md5 = wholeMd5?.digest();
  const decoded = decoder ? await decoder.end() : undefined;
  return {
    sha256: sha256.toString('hex'),
    ...(md5 ? { md5: md5.toString('hex') } : {}),
    ...(plan.digest === 'sha256' ? { payloadDigest: sha256 } : md5 ? { payloadDigest: md5 } : {}),
    ...(decoded ? { decoded } : {}),
  };
}

/**
 * Streaming gunzip of every member (HotSpot writes a compressed dump as many gzip members, in
 * parallel): zlib checks each member's CRC-32 and length trailer; a cut-off stream or a bad trailer
 * is an incomplete dump, never an exception. The decompressed bytes go to the structure walker
 * (does the dump end on HEAP DUMP END). The inflation itself runs on libuv's thread pool; the walker
 * looks at record headers only. It stops early (and the rest of the file is only hashed) once the
 * walker has its verdict (not an HPROF, over the record budget) or past `limit` decompressed bytes.
 */
class GzipDecoder {
  private readonly gz: Gunzip;
  private bytes = 0;
  private error?: Error;
  private stopped?: 'walked' | 'limit';
  private readonly walker = new HprofStreamWalker();

  constructor(private readonly limit: number) {
    this.gz = createGunzip();
    this.gz.on('data', (out: Buffer) => {
      if (this.stopped) return;
      this.bytes += out.length;
      if (this.bytes > this.limit) {
        this.stop('limit');
        return;
      }
      this.walker.update(out);
      if (this.walker.done) this.stop('walked');
    });
    this.gz.on('error', (e) => (this.error ??= e));
  }

  private stop(why: 'walked' | 'limit'): void {
    this.stopped = why;
    // zlib would go on inflating what it holds: a bomb's megabyte is gigabytes
    this.gz.destroy();
  }

  /** Writes a copy (the caller reuses its buffer) and waits while zlib catches up. */
  async write(chunk: Buffer): Promise<void> {
    if (this.error || this.stopped) return;
    if (!this.gz.write(Buffer.from(chunk))) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.gz.off('drain', done);
          this.gz.off('error', done);
          this.gz.off('close', done);
          resolve();
        };
        this.gz.once('drain', done);
        this.gz.once('error', done);
        this.gz.once('close', done);
      });
    }
  }

  async end(): Promise<NonNullable<PassResult['decoded']>> {
    if (!this.error && !this.stopped) {
      await new Promise<void>((resolve) => {
        this.gz.once('end', resolve);
        this.gz.once('error', () => resolve());
        this.gz.once('close', resolve); // stopped (destroyed) while the last bytes were inflated
        this.gz.end();
      });
    }
    this.gz.destroy();
    if (this.stopped === 'limit') {
      return { complete: false, unknown: true, reason: `not checked to its end: it inflates to more than ${this.limit} bytes (the inflate budget)` };
    }
    if (this.error && !this.stopped) return { complete: false, reason: `gzip stream is not complete: ${this.error.message}` };
    const structure = this.walker.structure();
    return { complete: structure.complete, ...(structure.reason ? { reason: structure.reason } : {}), ...(this.stopped ? {} : { uncompressedSize: this.bytes }) };
  }
}
