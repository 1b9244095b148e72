/**
 * The one read of a dump before it is uploaded. The bytes read once feed, in the same pass:
 *  - the whole-object sha256 (the object's identity in its metadata);
 *  - for an upload as one PUT, its payload digest (Content-MD5, or x-amz-checksum-sha256, which is the
 *    sha256 itself), so the server rejects bytes that differ from the bytes read here (the upload reads
 *    the file again). A multipart upload digests each part just before sending it (part-digests.ts), and
 *    gzip on the fly digests the compressed parts it makes: both start sending without a second hash of
 *    the whole file first;
 *  - for a gzip-compressed HPROF: the streaming decode (every member to its end, trailers checked)
 *    and the structure of the decompressed dump (does it end on HEAP DUMP END);
 *  - the triage analysis of the (decompressed) HPROF.
 * The analysis and the decode never fail the pass: their failure is recorded; the upload goes on.
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

/** A push-based analysis of an HPROF byte stream (the triage analyzer satisfies it). */
export interface StreamAnalysis {
  update(chunk: Buffer): void;
}

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
  /** The (decoded) bytes to analyse, or undefined for none. */
  readonly analysis?: StreamAnalysis;
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
  };
  /** Why the analysis stopped early, if it did (the summary is then partial or absent). */
  readonly analysisError?: string;
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
  const decoder = plan.gzipHprof ? new GzipDecoder(plan.analysis) : undefined;
  let analysisError: string | undefined;
  const analyse = !plan.gzipHprof && plan.analysis ? guarded(plan.analysis, (e) => (analysisError ??= e)) : undefined;

  const buf = Buffer.allocUnsafe(deps.chunkSize ?? DEFAULT_CHUNK);
  let pos = 0;
  while (pos < plan.size) {
    if (deps.signal?.aborted) throw Object.assign(new Error('read pass aborted'), { name: 'AbortError' });
    const n = await timedRead(buf, pos, Math.min(buf.length, plan.size - pos));
    if (n === 0) throw fsError('ESHRUNK', `file shrank while reading (at ${pos} of ${plan.size})`);
    const chunk = buf.subarray(0, n);
    whole.update(chunk);
    wholeMd5?.update(chunk);
    analyse?.(chunk);
    if (decoder) await decoder.write(chunk);
    pos += n;
    deps.onBytes?.(n);
  }
  const sha256 = whole.digest();
  const md5 = wholeMd5?.digest();
  const decoded = decoder ? await decoder.end() : undefined;
  if (decoder?.analysisError) analysisError ??= decoder.analysisError;
  return {
    sha256: sha256.toString('hex'),
    ...(md5 ? { md5: md5.toString('hex') } : {}),
    ...(plan.digest === 'sha256' ? { payloadDigest: sha256 } : md5 ? { payloadDigest: md5 } : {}),
    ...(decoded ? { decoded } : {}),
    ...(analysisError !== undefined ? { analysisError } : {}),
  };
}

/** Wraps an analysis so an exception disables it instead of failing the pass. */
function guarded(a: StreamAnalysis, onError: (message: string) => void): (chunk: Buffer) => void {
  let failed = false;
  return (chunk) => {
    if (failed) return;
    try {
      a.update(chunk);
    } catch (error) {
      failed = true;
      onError(`analysis failed: ${(error as Error).message}`);
    }
  };
}

/**
 * Streaming gunzip of every member (HotSpot writes a compressed dump as many gzip members, in
 * parallel): zlib checks each member's CRC-32 and length trailer; a cut-off stream or a bad trailer
 * is an incomplete dump, never an exception. The decompressed bytes go to the structure walker
 * (does the dump end on HEAP DUMP END) and to the analysis.
 */
class GzipDecoder {
  private readonly gz: Gunzip;
  private bytes = 0;
  private error?: Error;
  analysisError?: string;
  private readonly analyse?: (chunk: Buffer) => void;
  private readonly walker = new HprofStreamWalker();

  constructor(analysis?: StreamAnalysis) {
    this.gz = createGunzip();
    if (analysis) this.analyse = guarded(analysis, (e) => (this.analysisError ??= e));
    this.gz.on('data', (out: Buffer) => {
      this.bytes += out.length;
      this.walker.update(out);
      this.analyse?.(out);
    });
    this.gz.on('error', (e) => (this.error ??= e));
  }

  /** Writes a copy (the caller reuses its buffer) and waits while zlib catches up. */
  async write(chunk: Buffer): Promise<void> {
    if (this.error) return;
    if (!this.gz.write(Buffer.from(chunk))) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.gz.off('drain', done);
          this.gz.off('error', done);
          resolve();
        };
        this.gz.once('drain', done);
        this.gz.once('error', done);
      });
    }
  }

  async end(): Promise<NonNullable<PassResult['decoded']>> {
    if (!this.error) {
      await new Promise<void>((resolve) => {
        this.gz.once('end', resolve);
        this.gz.once('error', () => resolve());
        this.gz.end();
      });
    }
    this.gz.destroy();
    if (this.error) return { complete: false, reason: `gzip stream is not complete: ${this.error.message}` };
    const structure = this.walker.structure();
    return { complete: structure.complete, ...(structure.reason ? { reason: structure.reason } : {}), uncompressedSize: this.bytes };
  }
}
