/**
 * The payload digests of a multipart upload's parts, computed just before each part is sent, so that
 * the upload starts as soon as the read pass has the object's sha256 instead of after a second hash
 * (MD5 per part) over the whole file: that hash now runs while earlier parts are on the wire.
 *
 * Each part is read twice from the page cache: once here for its digest, once by the request that
 * sends it. The server checks the digest (Content-MD5, or x-amz-checksum-sha256 where it checks that),
 * so the bytes stored are the bytes digested here. Those bytes are also hashed again, in order, into a
 * whole-file sha256 that must equal the read pass's before the upload is committed: the object's bytes
 * are then the bytes its sha256 metadata names, even if the file changed between the two reads in a
 * way its times do not show (a write through a mapping that was already dirty).
 */
import { createHash, type Hash } from 'crypto';
import { fsError } from '../fs/pinned-dir';
import type { PayloadDigest, PositionedRead } from './read-pass';

/** Bytes per read: one reused buffer, so digesting allocates nothing per chunk. */
const CHUNK = 512 * 1024;

export class PartDigester {
  private readonly whole: Hash = createHash('sha256');
  private wholeHex?: string;
  private readonly buf = Buffer.allocUnsafe(CHUNK);
  private readonly digests: Buffer[] = [];
  /** Parts are digested one at a time, in order (the whole sha256 runs over them): the last one scheduled. */
  private queue: Promise<unknown> = Promise.resolve();
  private scheduled = 0;
  private readonly pending = new Map<number, Promise<Buffer>>();
  private asked = 0;
  /** Once a part failed, the whole sha256 cannot be completed: every later part fails the same way. */
  private failure: unknown;

  constructor(
    private readonly read: PositionedRead,
    private readonly size: number,
    private readonly partSize: number,
    private readonly digest: PayloadDigest,
    /**
     * Parts digested ahead of the one asked for, so a part's digest is ready when a request is free to
     * send it: without it, requests that finish together wait for each other's digests in turn.
     */
    private readonly lookahead: number,
  ) {}

  get partCount(): number {
    return Math.max(1, Math.ceil(this.size / this.partSize));
  }

  /** Part n's payload digest (raw bytes). Parts must be asked for as 1, 2, 3, ... */
  part(n: number, signal?: AbortSignal): Promise<Buffer> {
    if (n !== this.asked + 1 || n > this.partCount) return Promise.reject(new Error(`part ${n} asked for out of order (expected ${this.asked + 1} of ${this.partCount})`));
    this.asked = n;
    while (this.scheduled < Math.min(this.partCount, n + this.lookahead)) this.schedule(++this.scheduled, signal);
    const run = this.pending.get(n)!;
    this.pending.delete(n);
    return run;
  }

  private schedule(k: number, signal?: AbortSignal): void {
    const run = this.queue.then(async () => {
      if (this.failure !== undefined) throw this.failure;
      try {
        return await this.compute(k, signal);
      } catch (error) {
        this.failure = error;
        throw error;
      }
    });
    this.queue = run.catch(() => undefined); // also: a part digested ahead for an upload that failed is no unhandled rejection
    this.pending.set(k, run);
  }

  /** The digests of every part, in order: known once the last part was digested. */
  all(): readonly Buffer[] {
    if (this.digests.length !== this.partCount) throw new Error(`${this.digests.length} of ${this.partCount} parts digested`);
    return this.digests;
  }

  /** The sha256 (hex) of the bytes digested, once every part was: the read pass's sha256 if nothing changed. */
  sha256(): string {
    this.all();
    this.wholeHex ??= this.whole.digest('hex');
    return this.wholeHex;
  }

  private async compute(n: number, signal?: AbortSignal): Promise<Buffer> {
    const start = (n - 1) * this.partSize;
    const end = Math.min(this.size, start + this.partSize);
    const h = createHash(this.digest);
    let pos = start;
    while (pos < end) {
      if (signal?.aborted) throw Object.assign(new Error('upload aborted'), { name: 'AbortError' });
      const got = await this.read(this.buf, pos, Math.min(CHUNK, end - pos));
      if (got === 0) throw fsError('ESHRUNK', `file shrank during upload (at ${pos}, expected ${end})`);
      const chunk = this.buf.subarray(0, got);
      h.update(chunk);
      this.whole.update(chunk);
      pos += got;
    }
    const d = h.digest();
    this.digests.push(d);
    return d;
  }
}
