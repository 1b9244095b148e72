/**
 * The S3 side of the uploader: HEAD, streaming upload, verification, orphan clean-up.
 *
 * Memory stays flat whatever the file size: every part is streamed straight from the open file
 * (positioned reads, `ContentLength` set), never buffered. With `requestChecksumCalculation:
 * WHEN_REQUIRED` the SDK signs such stream bodies as UNSIGNED-PAYLOAD and sends no aws-chunked
 * framing, which S3-compatible servers mishandle (docs/architecture.md, "S3-compatible servers").
 *
 * Every PUT and every part carries a payload digest (Content-MD5, or x-amz-checksum-sha256) of bytes
 * read before it is sent; the server recomputes it over what it receives and rejects the request
 * (BadDigest) if the file changed in between, so no object is ever stored as "verified" with bytes
 * that differ from its sha256 metadata:
 *  - one PUT: the digest the read pass computed;
 *  - multipart: each part's digest is computed just before the part is sent (part-digests.ts), and
 *    those bytes, hashed again in order, must give the read pass's sha256 before the upload is committed;
 *  - gzip: the output has no known length, so it goes through bounded part buffers (smaller than the
 *    input), each digested in memory; the original bytes are hashed again on the way and compared with
 *    the read pass's sha256 before the upload is committed.
 *
 * Every object written through the store (the dump, its summaries, any other writer's objects) carries the
 * configured server-side encryption (encryption.ts) and, when given, its pod's tags (object-tags.ts);
 * the HEAD reports the stored encryption so the caller can verify it.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  S3Client,
  StorageClass,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { createHash } from 'crypto';
import type { FileHandle } from 'fs/promises';
import { Readable } from 'stream';
import { createGzip, constants as zc } from 'zlib';
import type { Logger } from '../runtime/logger';
import { NO_ENCRYPTION, type ObjectEncryption, sseRequestFields, type StoredEncryption } from './encryption';
import { PART_STREAM, rangeStream } from './file-source';
import { type ObjectTags, taggingHeader } from './object-tags';
import { PartDigester } from './part-digests';
import type { PayloadDigest, PositionedRead } from './read-pass';

export interface StoreOptions {
  readonly bucket: string;
  readonly storageClass: string;
  readonly partSizeBytes: number;
  readonly concurrency: number;
  /** Files up to this size go as one streamed PutObject. @default partSizeBytes */
  readonly multipartThresholdBytes?: number;
  readonly logger: Logger;
  /** Requested on every PUT and CreateMultipartUpload. @default none */
  readonly encryption?: ObjectEncryption;
  /** Send the tags callers give (S3_OBJECT_TAGS). @default true */
  readonly objectTags?: boolean;
}

export interface HeadResult {
  readonly size: number;
  readonly metadata: Record<string, string>;
  /** Without quotes; '' when the server gave none. */
  readonly etag: string;
  /** The server-side encryption the server reports for the object. */
  readonly encryption: StoredEncryption;
}

export interface UploadRequest {
  readonly fh: FileHandle;
  /** Bytes of the file to send (the size that was hashed). */
  readonly size: number;
  readonly key: string;
  readonly metadata: Record<string, string>;
  /** @default none */
  readonly tags?: ObjectTags;
  readonly gzip: boolean;
  readonly digest: PayloadDigest;
  /** Part size (undefined: one PUT); unused with gzip. */
  readonly partSize?: number;
  /** One PUT: the payload digest the read pass computed (undefined otherwise). */
  readonly putDigest?: Buffer;
  /** Positioned reads of the same file with the job's read timeout: the multipart part digests. */
  readonly read: PositionedRead;
  /** The read pass's sha256 of the original bytes: multipart and gzip hash them again and compare before commit. */
  readonly sha256: string;
  readonly signal?: AbortSignal;
  /** Called with every chunk of original bytes read for sending. */
  readonly onBytes?: (n: number) => void;
  /** Last check before a multipart upload is committed; throwing aborts it. */
  readonly beforeCommit?: () => Promise<void>;
}

export interface UploadResult {
  /** Bytes stored in S3 (differs from the file size with gzip). */
  readonly storedSize: number;
  readonly multipart: boolean;
  /** Multipart, not gzip: the payload digest sent with each part, in order (the ETag check). */
  readonly partDigests?: readonly Buffer[];
}

/** Minimum S3 part size (all parts but the last). */
const MIN_PART = 5 * 1024 * 1024;
const GZIP_PART = 8 * 1024 * 1024;
const MAX_PARTS = 10_000;

export class S3Store {
  constructor(
    readonly client: S3Client,
    private readonly opts: StoreOptions,
  ) {}

  get bucket(): string {
    return this.opts.bucket;
  }

  /** The encryption every object is written with (and verified against). */
  get encryption(): ObjectEncryption {
    return this.opts.encryption ?? NO_ENCRYPTION;
  }

  /** Whether objects get the tags callers give (S3_OBJECT_TAGS). */
  get tagsOn(): boolean {
    return this.opts.objectTags !== false;
  }

  /** The fields every new object gets: storage class, encryption and (when on and given) tags. */
  private objectFields(tags: ObjectTags | undefined) {
    const tagging = tags !== undefined && this.tagsOn ? taggingHeader(tags) : undefined;
    return {
      StorageClass: this.opts.storageClass as StorageClass,
      ...sseRequestFields(this.encryption),
      ...(tagging !== undefined ? { Tagging: tagging } : {}),
    };
  }

  /** Cheap reachability + permission check (readiness). Throws the SDK error. */
  async checkBucket(signal?: AbortSignal): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.opts.bucket }), { abortSignal: signal });
  }

  /** The object's size and metadata, or undefined if there is no object under `key`. */
  async head(key: string, signal?: AbortSignal): Promise<HeadResult | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.opts.bucket, Key: key }), { abortSignal: signal });
      return {
        size: out.ContentLength ?? -1,
        metadata: out.Metadata ?? {},
        etag: (out.ETag ?? '').replace(/"/g, ''),
        encryption: {
          ...(out.ServerSideEncryption !== undefined ? { algorithm: out.ServerSideEncryption } : {}),
          ...(out.SSEKMSKeyId !== undefined ? { kmsKeyId: out.SSEKMSKeyId } : {}),
        },
      };
    } catch (error) {
      const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.$metadata?.httpStatusCode === 404 && (e.name === 'NotFound' || e.name === 'NoSuchKey')) return undefined;
      throw error;
    }
  }

  /** A small object from memory (a dump's summary), with its Content-MD5, the store's encryption and `tags`. */
  async putSmall(key: string, body: Buffer, contentType: string, metadata: Record<string, string>, signal?: AbortSignal, tags?: ObjectTags): Promise<void> {
    await this.client.send(new PutObjectCommand({
      Bucket: this.opts.bucket,
      Key: key,
      Body: body,
      ContentLength: body.length,
      ContentType: contentType,
      ContentMD5: createHash('md5').update(body).digest('base64'),
      Metadata: metadata,
      ...this.objectFields(tags),
    }), { abortSignal: signal });
  }

  /** The part size the store uses for a file of `size` bytes, or undefined for one PUT. */
  partSizeFor(size: number): number | undefined {
    const threshold = this.opts.multipartThresholdBytes ?? this.opts.partSizeBytes;
    if (size <= threshold) return undefined;
    // S3 allows at most 10,000 parts: very large files get larger parts (memory does not depend on it).
    return Math.max(MIN_PART, this.opts.partSizeBytes, Math.ceil(size / MAX_PARTS));
  }

  async upload(req: UploadRequest): Promise<UploadResult> {
    if (req.gzip) return this.uploadGzip(req);
    const partSize = req.partSize;
    if (partSize === undefined) {
      const ctl = linkedController(req.signal);
      let readError: Error | undefined;
      try {
        await this.client.send(
          new PutObjectCommand({
            ...this.common(req),
            ...digestHeader(req.digest, req.putDigest),
            ContentLength: req.size,
            Body: rangeStream(req.fh, 0, req.size, req.onBytes, (e) => {
              readError = e;
              ctl.abort(e);
            }),
          }),
          { abortSignal: ctl.signal },
        );
      } catch (error) {
        throw readError ?? error;
      } finally {
        ctl.dispose();
      }
      return { storedSize: req.size, multipart: false };
    }
    const digester = new PartDigester(req.read, req.size, partSize, req.digest, this.opts.concurrency);
    await this.multipart({
      ...req,
      beforeCommit: async () => {
        if (digester.sha256() !== req.sha256) {
          throw Object.assign(new Error('file changed between the read pass and the upload'), { code: 'ECHANGED' });
        }
        await req.beforeCommit?.();
      },
    }, digester.partCount, async (n, fail, signal) => {
      // Asked for synchronously, in part order (digests are computed one at a time, in that order).
      const digest = await digester.part(n, signal);
      const start = (n - 1) * partSize;
      const end = Math.min(req.size, start + partSize);
      return { body: rangeStream(req.fh, start, end, req.onBytes, fail, PART_STREAM), length: end - start, digest };
    }, this.opts.concurrency);
    return { storedSize: req.size, multipart: true, partDigests: digester.all() };
  }

  /** Gzip on the fly into a multipart upload; parts are buffers of compressed bytes. */
  private async uploadGzip(req: UploadRequest): Promise<UploadResult> {
    const gz = createGzip({ level: zc.Z_BEST_SPEED });
    const again = createHash('sha256');
    const source = rangeStream(req.fh, 0, req.size, (n) => req.onBytes?.(n), (e) => gz.destroy(e));
    source.on('data', (chunk: Buffer) => again.update(chunk));
    source.pipe(gz);
    const parts = bufferedParts(gz, GZIP_PART);
    let stored = 0;
    await this.multipart({
      ...req,
      // The compressed bytes are made here, so their digests are too; the original bytes must still
      // be the ones the read pass hashed.
      beforeCommit: async () => {
        if (again.digest('hex') !== req.sha256) {
          throw Object.assign(new Error('file changed between the read pass and the upload'), { code: 'ECHANGED' });
        }
        await req.beforeCommit?.();
      },
    }, undefined, async (_n) => {
      const next = await parts.next();
      if (next.done) return undefined;
      stored += next.value.length;
      return { body: next.value, length: next.value.length, digest: createHash(req.digest).update(next.value).digest() };
    }, Math.min(2, this.opts.concurrency));
    return { storedSize: stored, multipart: true };
  }

  private common(req: UploadRequest) {
    return {
      Bucket: this.opts.bucket,
      Key: req.key,
      Metadata: req.metadata,
      ...this.objectFields(req.tags),
      ...(req.gzip ? { ContentEncoding: 'gzip', ContentType: 'application/gzip' } : { ContentType: 'application/octet-stream' }),
    };
  }

  /**
   * Runs a multipart upload with `concurrency` parts in flight. `nextPart(n)` gives part n's body
   * (undefined = no more parts); it is called in part order. Any failure aborts the other parts and
   * the upload (best effort: orphans left by a failed abort are cleaned at the next start).
   */
  private async multipart(
    req: UploadRequest,
    count: number | undefined,
    nextPart: (n: number, fail: (error: Error) => void, signal: AbortSignal) => Promise<{ body: Readable | Buffer; length: number; digest: Buffer } | undefined>,
    concurrency: number,
  ): Promise<void> {
    const { UploadId } = await this.client.send(new CreateMultipartUploadCommand({
      ...this.common(req),
      ...(req.digest === 'sha256' ? { ChecksumAlgorithm: 'SHA256' as const } : {}),
    }), { abortSignal: req.signal });
    if (!UploadId) throw new Error('CreateMultipartUpload returned no UploadId');
    const inner = linkedController(req.signal);
    let readError: Error | undefined;
    const fail = (error: Error) => {
      readError ??= error;
      inner.abort(error);
    };
    const done: Array<{ ETag: string; PartNumber: number; ChecksumSHA256?: string }> = [];
    let issued = 0;
    let exhausted = false;
    let firstFailure: unknown;
    const parts = async () => {
      while (!exhausted && !inner.signal.aborted) {
        if (count !== undefined && issued >= count) return;
        const n = ++issued;
        const part = await nextPart(n, fail, inner.signal);
        if (!part) {
          exhausted = true;
          return;
        }
        const out = await this.client.send(
          new UploadPartCommand({
            Bucket: this.opts.bucket, Key: req.key, UploadId, PartNumber: n, Body: part.body, ContentLength: part.length,
            ...digestHeader(req.digest, part.digest),
          }),
          { abortSignal: inner.signal },
        );
        done[n - 1] = {
          ETag: out.ETag ?? '',
          PartNumber: n,
          ...(req.digest === 'sha256' ? { ChecksumSHA256: part.digest.toString('base64') } : {}),
        };
      }
    };
    const worker = async () => {
      try {
        await parts();
      } catch (error) {
        // The first failure stops the other workers (their requests end as aborted, which is not the cause).
        firstFailure ??= error;
        inner.abort(error);
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.max(1, concurrency) }, () => worker()));
      if (readError) throw readError;
      if (firstFailure !== undefined) throw firstFailure;
      if (inner.signal.aborted) throw Object.assign(new Error('upload aborted'), { name: 'AbortError' });
      await req.beforeCommit?.();
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.opts.bucket,
          Key: req.key,
          UploadId,
          MultipartUpload: { Parts: done },
        }),
      );
    } catch (error) {
      inner.abort();
      await this.abortUpload(req.key, UploadId);
      throw error;
    } finally {
      inner.dispose();
    }
  }

  private async abortUpload(key: string, uploadId: string): Promise<void> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.opts.bucket, Key: key, UploadId: uploadId }));
    } catch (error) {
      this.opts.logger.debug('abort of multipart upload failed (cleaned at next start)', { key, error: error as Error });
    }
  }

  /**
   * Aborts every open multipart upload under `prefix` (ours: the node's own key space), or only those
   * initiated before `initiatedBefore` (others may be in flight). Returns the count, or undefined when
   * the server does not implement listing (s3rver: 501).
   */
  async abortOrphans(prefix: string, initiatedBefore?: Date): Promise<number | undefined> {
    let aborted = 0;
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    for (;;) {
      let page;
      try {
        page = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.opts.bucket, Prefix: prefix, KeyMarker, UploadIdMarker }));
      } catch (error) {
        const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
        if (e.$metadata?.httpStatusCode === 501 || e.name === 'NotImplemented') return undefined;
        throw error;
      }
      for (const u of page.Uploads ?? []) {
        if (!u.Key || !u.UploadId) continue;
        // an upload started after `initiatedBefore` may be one this process is sending right now
        if (initiatedBefore && !(u.Initiated && u.Initiated < initiatedBefore)) continue;
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.opts.bucket, Key: u.Key, UploadId: u.UploadId }));
        aborted++;
      }
      if (!page.IsTruncated) return aborted;
      KeyMarker = page.NextKeyMarker;
      UploadIdMarker = page.NextUploadIdMarker;
    }
  }
}

/** The request field carrying a payload digest the server checks. */
function digestHeader(digest: PayloadDigest, value: Buffer | undefined): { ContentMD5?: string; ChecksumSHA256?: string } {
  if (value === undefined) throw new Error('no payload digest for a request body');
  return digest === 'md5' ? { ContentMD5: value.toString('base64') } : { ChecksumSHA256: value.toString('base64') };
}

/**
 * The ETag S3 gives an object uploaded with these MD5 digests: the MD5 itself for one PUT, the MD5
 * of the parts' MD5s plus `-<parts>` for multipart. Servers that encrypt with KMS (or s3rver, whose
 * multipart ETag is the MD5 of the whole) give other forms: callers compare only a matching form.
 */
export function expectedEtag(md5s: readonly Buffer[], multipart: boolean): string {
  if (!multipart) return md5s[0].toString('hex');
  return `${createHash('md5').update(Buffer.concat(md5s as Buffer[])).digest('hex')}-${md5s.length}`;
}

/** An AbortController that also aborts when `outer` does; dispose() unhooks it. */
function linkedController(outer?: AbortSignal): AbortController & { dispose(): void } {
  const ctl = new AbortController();
  const onAbort = () => ctl.abort(outer?.reason);
  if (outer?.aborted) ctl.abort(outer.reason);
  else outer?.addEventListener('abort', onAbort, { once: true });
  return Object.assign(ctl, { dispose: () => outer?.removeEventListener('abort', onAbort) });
}

/** Re-chunks a stream into buffers of exactly `size` bytes (the last may be shorter); bounded memory. */
export async function* bufferedParts(stream: Readable, size: number): AsyncGenerator<Buffer> {
  let chunks: Buffer[] = [];
  let have = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let c = chunk;
    while (have + c.length >= size) {
      const take = size - have;
      chunks.push(c.subarray(0, take));
      yield Buffer.concat(chunks, size);
      chunks = [];
      have = 0;
      c = c.subarray(take);
    }
    if (c.length) {
      chunks.push(c);
      have += c.length;
    }
  }
  if (have > 0 || chunks.length) yield Buffer.concat(chunks, have);
}
