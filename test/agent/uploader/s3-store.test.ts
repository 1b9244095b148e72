/**
 * The store's multipart upload against real servers (s3rver; Ceph RGW when installed), from a real file:
 * the part digests it computes as it sends, its refusal to commit bytes other than the read pass's, and
 * a failing part stopping the others. The read function is injected where the test needs the file to
 * read differently than it did in the read pass (a change its times would not show: a write through a
 * mapping that was already dirty), which no test can make the kernel do on demand.
 */
import { createHash, randomBytes } from 'crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { open, type FileHandle } from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import { createLogger } from '../../../agent/src/runtime/logger';
import type { PositionedRead } from '../../../agent/src/uploader/read-pass';
import { S3Store } from '../../../agent/src/uploader/s3-store';
import { cephAvailable, disposeAll, getObjectSha256, type S3Server, startS3Server } from '../../support/s3';

const MIB = 1024 * 1024;
const PART = 5 * MIB;
const data = randomBytes(4 * PART + 12_345);
const sha256 = createHash('sha256').update(data).digest('hex');
const md5 = (b: Buffer) => createHash('md5').update(b).digest();

let tmp: string;
let file: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 's3-store-'));
  file = path.join(tmp, 'dump.hprof');
  writeFileSync(file, data);
});
afterAll(async () => {
  await disposeAll();
  rmSync(tmp, { recursive: true, force: true });
});

const fileRead = (fh: FileHandle): PositionedRead => async (b, p, l) => (await fh.read(b, 0, l, p)).bytesRead;
const servers: Array<['s3rver' | 'ceph', boolean]> = [['s3rver', true], ['ceph', cephAvailable()]];

describe.each(servers)('S3Store multipart (%s)', (kind, available) => {
  const maybe = available ? it : it.skip;
  let s3: S3Server;
  beforeAll(async () => {
    if (available) s3 = await startS3Server(kind);
  }, 120_000);

  const withStore = async (concurrency: number, fn: (store: S3Store, fh: FileHandle) => Promise<void>) => {
    const client = s3.client();
    const store = new S3Store(client, { bucket: s3.bucket, storageClass: 'STANDARD', partSizeBytes: PART, concurrency, logger: createLogger({ level: 'error', write: () => undefined }) });
    const fh = await open(file, 'r');
    try {
      await fn(store, fh);
    } finally {
      await fh.close();
      client.destroy();
    }
  };
  const request = (fh: FileHandle, key: string, read: PositionedRead) => ({
    fh, read, key, size: data.length, partSize: PART, sha256, gzip: false, digest: 'md5' as const, metadata: { sha256 },
  });

  maybe('uploads the file; returns the MD5 of each part it sent; the object reads back as the file', async () => {
    await withStore(4, async (store, fh) => {
      const result = await store.upload(request(fh, 'ok/dump.hprof', fileRead(fh)));
      expect(result.multipart).toBe(true);
      expect(result.partDigests).toEqual(Array.from({ length: 5 }, (_, i) => md5(data.subarray(i * PART, Math.min(data.length, (i + 1) * PART)))));
      expect((await getObjectSha256(s3, 'ok/dump.hprof')).sha256).toBe(sha256);
    });
  }, 60_000);

  maybe('part bytes that differ from the read pass\'s: ECHANGED before commit, no object, the upload aborted', async () => {
    await withStore(2, async (store, fh) => {
      const real = fileRead(fh);
      // part 3 reads 4 KiB other than the read pass saw, for its digest and for the request alike
      const changed: PositionedRead = async (b, p, l) => {
        const n = await real(b, p, l);
        if (p <= 2 * PART + 100 && 2 * PART + 100 < p + n) b[2 * PART + 100 - p] ^= 0xff;
        return n;
      };
      const patchedFh = new Proxy(fh, {
        get(target, prop) {
          if (prop === 'read') return async (b: Buffer, o: number, l: number, p: number) => ({ bytesRead: await changed(b.subarray(o), p, l), buffer: b });
          const v = Reflect.get(target, prop) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
      await expect(store.upload(request(patchedFh, 'changed/dump.hprof', changed))).rejects.toMatchObject({ code: 'ECHANGED' });
      expect(await s3.listKeys('changed/')).toEqual([]);
      if (kind === 'ceph') expect((await s3.listMultipartUploads()).filter((u) => u.key.startsWith('changed/'))).toEqual([]);
    });
  }, 60_000);

  maybe('a part that cannot be read stops the other parts: nothing after it is read or sent', async () => {
    await withStore(2, async (store, fh) => {
      const real = fileRead(fh);
      const positions: number[] = [];
      const failing: PositionedRead = async (b, p, l) => {
        positions.push(p);
        if (p >= 2 * PART) throw Object.assign(new Error('disk gone'), { code: 'EIO' });
        return real(b, p, l);
      };
      await expect(store.upload(request(fh, 'failed/dump.hprof', failing))).rejects.toThrow('disk gone');
      // parts 1 and 2 digested, part 3's first read failed; parts 4 and 5 never read
      expect(Math.max(...positions)).toBe(2 * PART);
      expect(await s3.listKeys('failed/')).toEqual([]);
    });
  }, 60_000);
});
