/**
 * Read-only S3 access of the API server: list the bucket below the prefix, HEAD a dump, stream a dump (or a
 * byte range of it) and read the small JSON/text objects next to it. Every failure is a StoreError that says
 * whether S3 could not be reached (the API answers 503) or the object is not there (404). A dump's bytes come through
 * `bodies`, a client whose GETs are read by DirectGetHandler (net/direct-get.ts): its body is a DirectResponse.
 */
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';

export interface ListedObject {
  readonly key: string;
  readonly size: number;
  /** ms since the epoch (S3 LastModified: when the upload finished). */
  readonly lastModified: number;
  /** Without quotes. */
  readonly etag: string;
}

export interface ObjectHead {
  readonly size: number;
  readonly metadata: Readonly<Record<string, string>>;
  readonly etag: string;
  readonly lastModified: number;
}

export interface ObjectStream {
  readonly body: Readable;
  /** Bytes in this answer. */
  readonly length: number;
  /** The whole object's size. */
  readonly totalSize: number;
  /** `[start, end]` inclusive when a range was asked for. */
  readonly range?: readonly [number, number];
}

export type StoreErrorKind = 'not-found' | 'unavailable' | 'range-not-satisfiable';

export class StoreError extends Error {
  public constructor(readonly kind: StoreErrorKind, message: string) {
    super(message);
    this.name = 'StoreError';
  }
}

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

function storeError(error: unknown, what: string): StoreError {
  const e = error as SdkError;
  const status = e.$metadata?.httpStatusCode;
  if (status === 404 || e.name === 'NoSuchKey' || e.name === 'NotFound') return new StoreError('not-found', `${what}: not found`);
  if (status === 416 || e.name === 'InvalidRange') return new StoreError('range-not-satisfiable', `${what}: range not satisfiable`);
  // Network errors, timeouts, 5xx, access denied to the API's own credential: the store is not usable now.
  const why = status !== undefined ? `HTTP ${status} ${e.name ?? ''}`.trim() : (e.code ?? e.name ?? 'error');
  return new StoreError('unavailable', `${what}: ${why}${e.message && status === undefined ? ` (${e.message})` : ''}`);
}

export class DumpStore {
  public constructor(
    readonly client: S3Client,
    readonly bucket: string,
    /** '' or ends with '/'. */
    readonly prefix: string,
    /** The client that streams dumps (createS3Client with directGets); default `client`. */
    readonly bodies: S3Client = client,
  ) {}

  /** Every object below the prefix, page by page (1000 per page). */
  public async *list(signal?: AbortSignal): AsyncGenerator<ListedObject[]> {
    let token: string | undefined;
    do {
      let out;
      try {
        out = await this.client.send(new ListObjectsV2Command({
          Bucket: this.bucket, Prefix: this.prefix === '' ? undefined : this.prefix, ContinuationToken: token,
        }), { abortSignal: signal });
      } catch (error) {
        throw storeError(error, `list s3://${this.bucket}/${this.prefix}`);
      }
      yield (out.Contents ?? []).filter((o) => o.Key !== undefined).map((o) => ({
        key: o.Key!,
        size: o.Size ?? 0,
        lastModified: o.LastModified?.getTime() ?? 0,
        etag: (o.ETag ?? '').replace(/"/g, ''),
      }));
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  public async head(key: string, signal?: AbortSignal): Promise<ObjectHead> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: signal });
      return { size: out.ContentLength ?? 0, metadata: out.Metadata ?? {}, etag: (out.ETag ?? '').replace(/"/g, ''), lastModified: out.LastModified?.getTime() ?? 0 };
    } catch (error) {
      throw storeError(error, `head ${key}`);
    }
  }

  /** The object's bytes as a stream (`range`: inclusive start and end, already checked against the size). */
  public async stream(key: string, range: readonly [number, number] | undefined, signal?: AbortSignal): Promise<ObjectStream> {
    try {
      const out = await this.bodies.send(new GetObjectCommand({
        Bucket: this.bucket, Key: key, ...(range !== undefined ? { Range: `bytes=${range[0]}-${range[1]}` } : {}),
      }), { abortSignal: signal });
      const length = out.ContentLength ?? 0;
      const total = range !== undefined ? Number(/\/(\d+)$/.exec(out.ContentRange ?? '')?.[1] ?? NaN) : length;
      return { body: out.Body as Readable, length, totalSize: Number.isFinite(total) ? total : length, ...(range !== undefined ? { range } : {}) };
    } catch (error) {
      throw storeError(error, `get ${key}`);
    }
  }

  /** A small object whole (a summary, a leak report); larger than `maxBytes` is an error, not a truncation. */
  public async small(key: string, maxBytes: number, signal?: AbortSignal): Promise<Buffer> {
    let out;
    try {
      out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: signal });
    } catch (error) {
      throw storeError(error, `get ${key}`);
    }
    const body = out.Body as Readable;
    if ((out.ContentLength ?? 0) > maxBytes) {
      body.destroy();
      throw new StoreError('unavailable', `get ${key}: ${out.ContentLength} bytes, more than the ${maxBytes} a report may have`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of body) {
        size += (chunk as Buffer).length;
        if (size > maxBytes) throw new StoreError('unavailable', `get ${key}: more than ${maxBytes} bytes`);
        chunks.push(chunk as Buffer);
      }
    } catch (error) {
      body.destroy();
      throw error instanceof StoreError ? error : storeError(error, `get ${key}`);
    }
    return Buffer.concat(chunks, size);
  }
}
