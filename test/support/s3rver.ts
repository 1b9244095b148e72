/**
 * s3rver (npm) as a child process on 127.0.0.1 with a temp data dir.
 * start() after stop()/kill() reuses the same port and directory, so objects survive an "outage".
 */
import { mkdtempSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { S3Backend } from './s3';
import { freePort, repoPath, spawnTracked, TrackedProcess, waitForHttp } from './procs';

const START_TIMEOUT_MS = 15_000;

class S3rverBackend implements S3Backend {
  readonly kind = 's3rver' as const;
  readonly accessKeyId = 'S3RVER';
  readonly secretAccessKey = 'S3RVER';
  private proc: TrackedProcess | undefined;
  private disposed = false;

  constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly bucket: string,
  ) {}

  pid(): number | undefined {
    return this.proc && this.proc.exitInfo() === undefined ? this.proc.pid : undefined;
  }

  async start(): Promise<void> {
    if (this.disposed) throw new Error('s3rver: start() after dispose()');
    if (this.pid() !== undefined) return;
    // --configure-bucket on an existing bucket is a no-op, so restarts keep the data
    // --openssl-legacy-provider: s3rver encrypts ListObjectsV2 continuation tokens with DES, which
    // OpenSSL 3 (Node >= 17) only has in the legacy provider; without it any truncated listing is a 500
    const proc = spawnTracked(process.execPath, [
      '--openssl-legacy-provider', repoPath('node_modules', 's3rver', 'bin', 's3rver.js'), '-d', this.dir, '-a', '127.0.0.1', '-p', String(this.port),
      '--configure-bucket', this.bucket, '--silent',
    ], { watchdog: true });
    this.proc = proc;
    try {
      await waitForHttp(this.port, START_TIMEOUT_MS, () => proc.exitInfo() !== undefined);
    } catch (err) {
      await proc.dispose(1000);
      throw new Error(`s3rver did not start on port ${this.port}: ${(err as Error).message}\n${proc.output()}`);
    }
  }

  async stop(): Promise<void> {
    await this.proc?.dispose(5000);
  }

  async kill(): Promise<void> {
    if (!this.proc) return;
    this.proc.signal('SIGKILL');
    await this.proc.exited;
    await this.proc.dispose();
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Starts s3rver on a free port with a fresh temp dir and an empty bucket. */
export async function startS3rver(bucket: string): Promise<S3Backend> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 's3rver-'));
  const backend = new S3rverBackend(await freePort(), dir, bucket);
  try {
    await backend.start();
  } catch (err) {
    await backend.dispose();
    throw err;
  }
  return backend;
}
