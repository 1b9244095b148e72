/**
 * Real S3-compatible servers for tests: s3rver (npm, fast) and Ceph RGW (the real thing, ~20 s start).
 *
 * Usage:
 *   let s3: S3Server;
 *   beforeAll(async () => { s3 = await startS3Server('s3rver'); });
 *   afterAll(disposeAll);   // stops every server/process this file started, by PID
 *
 * Clients use `requestChecksumCalculation/responseChecksumValidation: 'WHEN_REQUIRED'`: with the SDK's
 * default CRC32 trailers s3rver stores the aws-chunked framing and RGW answers 411 (both seen on these machines).
 */
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListMultipartUploadsCommandOutput,
  ListObjectsV2Command,
  ListObjectsV2CommandOutput,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { createHash } from 'crypto';
import { createReadStream } from 'fs';
import { Readable } from 'stream';
import { ENV } from '../../agent/src/contract';
import { type CephOptions, CephStore, startCeph, cephBinariesPresent } from './ceph';
import { registerCleanup } from './procs';
import { startS3rver } from './s3rver';

export { disposeAll } from './procs';

export type S3ServerKind = 's3rver' | 'ceph';

export interface S3Server {
  readonly kind: S3ServerKind;
  readonly endpoint: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly bucket: string;
  pid(): number | undefined;
  client(): S3Client;
  stop(): Promise<void>;
  start(): Promise<void>;
  kill(): Promise<void>;
  dispose(): Promise<void>;
  createBucket(name: string): Promise<void>;
  listKeys(prefix?: string): Promise<string[]>;
  listMultipartUploads(): Promise<Array<{ key: string; uploadId: string }>>;
  /** Another S3 user with its own keys (Ceph RGW only: `radosgw-admin user create`), e.g. for bucket policy tests. */
  createUser(uid: string): Promise<{ readonly accessKeyId: string; readonly secretAccessKey: string }>;
}

/** What a server implementation provides: process control only; S3 operations are shared below. */
export interface S3Backend {
  readonly kind: S3ServerKind;
  readonly port: number;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  pid(): number | undefined;
  stop(): Promise<void>;
  start(): Promise<void>;
  kill(): Promise<void>;
  /** Stop and remove all data; idempotent. */
  dispose(): Promise<void>;
  /** Runs `radosgw-admin` with the cluster's config (Ceph only); resolves its stdout. */
  radosgwAdmin?(args: string[]): Promise<string>;
}

export const TEST_REGION = 'us-east-1';
export const DEFAULT_TEST_BUCKET = 'test-bucket';

/**
 * The SDK's log for the tests' own clients: kept, not printed. The SDK writes some warnings straight to
 * console without a logger ("An error was encountered in a non-retryable streaming request." when a test
 * aborts an upload on purpose); the agent's client routes them into its log (agent/src/uploader/command.ts).
 */
export const sdkMessages: string[] = [];
const SDK_LOGGER = {
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (...args: unknown[]) => void sdkMessages.push(args.map(String).join(' ')),
  error: (...args: unknown[]) => void sdkMessages.push(args.map(String).join(' ')),
};

/** An S3Client for an endpoint, with the settings every server here needs. */
export function makeS3Client(endpoint: string, accessKeyId: string, secretAccessKey: string): S3Client {
  return new S3Client({
    logger: SDK_LOGGER,
    endpoint,
    region: TEST_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // a stopped server should fail fast, not hang a test: the SDK retries a few times anyway
    maxAttempts: 3,
  });
}

class RunningS3Server implements S3Server {
  readonly endpoint: string;
  readonly region = TEST_REGION;
  private ownClient: S3Client | undefined;
  private disposed = false;

  constructor(
    private readonly backend: S3Backend,
    readonly bucket: string,
  ) {
    this.endpoint = `http://127.0.0.1:${backend.port}`;
  }

  get kind(): S3ServerKind {
    return this.backend.kind;
  }
  get accessKeyId(): string {
    return this.backend.accessKeyId;
  }
  get secretAccessKey(): string {
    return this.backend.secretAccessKey;
  }

  pid(): number | undefined {
    return this.backend.pid();
  }

  /** A new client on each call: callers may destroy() theirs without breaking others. */
  client(): S3Client {
    return makeS3Client(this.endpoint, this.accessKeyId, this.secretAccessKey);
  }

  /** The helper's own client, for the operations below. */
  private c(): S3Client {
    this.ownClient ??= this.client();
    return this.ownClient;
  }

  stop(): Promise<void> {
    return this.backend.stop();
  }
  start(): Promise<void> {
    return this.backend.start();
  }
  kill(): Promise<void> {
    return this.backend.kill();
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.ownClient?.destroy();
    await this.backend.dispose();
  }

  async createBucket(name: string): Promise<void> {
    await this.c().send(new CreateBucketCommand({ Bucket: name }));
  }

  async listKeys(prefix?: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const out: ListObjectsV2CommandOutput = await this.c().send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of out.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key);
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  async createUser(uid: string): Promise<{ readonly accessKeyId: string; readonly secretAccessKey: string }> {
    if (!this.backend.radosgwAdmin) throw new Error(`createUser: ${this.kind} has a single user; use a Ceph server`);
    const accessKeyId = `${uid.replace(/[^A-Za-z0-9]/g, '').toUpperCase()}KEY`;
    const secretAccessKey = `${uid}-secret`;
    await this.backend.radosgwAdmin(['user', 'create', '--uid', uid, '--display-name', uid, '--access-key', accessKeyId, '--secret-key', secretAccessKey]);
    return { accessKeyId, secretAccessKey };
  }

  async listMultipartUploads(): Promise<Array<{ key: string; uploadId: string }>> {
    const uploads: Array<{ key: string; uploadId: string }> = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      let out: ListMultipartUploadsCommandOutput;
      try {
        out = await this.c().send(
          new ListMultipartUploadsCommand({ Bucket: this.bucket, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
        );
      } catch (err) {
        const status = err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined;
        if (this.kind === 's3rver' && status === 501) {
          throw new Error('ListMultipartUploads is not supported by s3rver (501 NotImplemented): use a Ceph server for this test');
        }
        throw err;
      }
      for (const u of out.Uploads ?? []) {
        if (u.Key !== undefined && u.UploadId !== undefined) uploads.push({ key: u.Key, uploadId: u.UploadId });
      }
      if (!out.IsTruncated) return uploads;
      keyMarker = out.NextKeyMarker;
      uploadIdMarker = out.NextUploadIdMarker;
    }
  }
}

/**
 * Starts a server of the given kind with an empty bucket (default 'test-bucket'); registered for disposeAll().
 * `cephStore`: 'memstore' (default, every byte in RAM) or 'bluestore' (a sparse block file: multi-GiB tests);
 * `cephStoreBytes`: its capacity (default 4 GiB; raise it for bluestore tests near that size);
 * `ceph`: further Ceph options (SSE-KMS keys, short lifecycle days: test/support/ceph.ts).
 */
export async function startS3Server(
  kind: S3ServerKind,
  opts: { bucket?: string; cephStore?: CephStore; cephStoreBytes?: number; ceph?: Pick<CephOptions, 'kmsKeys' | 'lcDebugIntervalSeconds'> } = {},
): Promise<S3Server> {
  const bucket = opts.bucket ?? DEFAULT_TEST_BUCKET;
  let backend: S3Backend;
  if (kind === 's3rver') backend = await startS3rver(bucket);
  else if (kind === 'ceph') backend = await startCeph({ store: opts.cephStore, storeBytes: opts.cephStoreBytes, ...opts.ceph });
  else throw new Error(`startS3Server: unknown kind '${String(kind)}', expected 's3rver' or 'ceph'`);
  const server = new RunningS3Server(backend, bucket);
  registerCleanup(() => server.dispose());
  if (kind === 'ceph') {
    try {
      await server.createBucket(bucket);
    } catch (err) {
      await server.dispose();
      throw err;
    }
  }
  return server;
}

/** Env vars that point the agent at this server (names from the contract). */
export function s3Env(server: S3Server): Record<string, string> {
  return {
    [ENV.s3EndpointUrl]: server.endpoint,
    [ENV.s3Bucket]: server.bucket,
    [ENV.awsAccessKeyId]: server.accessKeyId,
    [ENV.awsSecretAccessKey]: server.secretAccessKey,
    [ENV.awsDefaultRegion]: server.region,
    [ENV.s3ForcePathStyle]: 'true',
  };
}

/** True when ceph-mon, ceph-osd and radosgw are installed (CI installs them). */
export function cephAvailable(): boolean {
  return cephBinariesPresent();
}

async function sha256Stream(stream: Readable): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    const buf = chunk as Buffer;
    hash.update(buf);
    size += buf.length;
  }
  return { sha256: hash.digest('hex'), size };
}

export async function sha256File(path: string): Promise<string> {
  return (await sha256Stream(createReadStream(path))).sha256;
}

/** Downloads an object from the server's bucket and hashes it (streaming: fine for GiB objects). */
export async function getObjectSha256(
  server: S3Server,
  key: string,
): Promise<{ sha256: string; size: number; metadata: Record<string, string>; storageClass?: string }> {
  const client = server.client();
  try {
    const out = await client.send(new GetObjectCommand({ Bucket: server.bucket, Key: key }));
    if (!(out.Body instanceof Readable)) throw new Error(`getObjectSha256: no body for key '${key}'`);
    const { sha256, size } = await sha256Stream(out.Body);
    return { sha256, size, metadata: out.Metadata ?? {}, storageClass: out.StorageClass };
  } finally {
    client.destroy();
  }
}
