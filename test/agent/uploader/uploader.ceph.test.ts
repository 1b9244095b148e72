/**
 * Compatibility suite against Ceph RGW (the real thing; CI runs it): upload + metadata read back by
 * rclone, restart idempotence, orphaned multipart uploads aborted at start (RGW lists them, s3rver
 * cannot), and an RGW outage (kill + restart) in the middle of a multipart upload.
 */
import { CreateMultipartUploadCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { OBJECT_METADATA } from '../../../agent/src/contract';
import { rclone } from '../../support/clients';
import { mtimeNs, restoreMtime } from '../../support/files';
import { makeHeapDump, makeLargeHprof } from '../../support/jvm';
import { cephAvailable, disposeAll, getObjectSha256, S3Server, sha256File, startS3Server } from '../../support/s3';
import { eventually, FAST_RETRY, msgs, stampedKey, startUploader, testConfig } from './harness';

const describeCeph = cephAvailable() ? describe : describe.skip;

describeCeph('uploader against Ceph RGW', () => {
  let s3: S3Server;
  let tmp: string;
  let dump: string;
  let n = 0;
  const fresh = () => {
    n++;
    const root = path.join(tmp, `root-${n}`);
    mkdirSync(root, { recursive: true });
    return { root, node: `ceph-node-${n}`, prefix: `dumps/ceph-node-${n}/` };
  };

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'uploader-ceph-test-'));
    [s3, dump] = await Promise.all([startS3Server('ceph'), makeHeapDump(path.join(tmp, 'jvm'))]);
  }, 180_000);

  afterAll(async () => {
    await disposeAll();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('uploads a real dump with its metadata; rclone reads the same bytes; a restart uploads nothing twice', async () => {
    const { root, node, prefix } = fresh();
    const file = path.join(root, 'shop', 'web-1', 'java_pid1.hprof');
    mkdirSync(path.dirname(file), { recursive: true });
    copyFileSync(dump, file);
    // left in place (as after a crash between verification and the move): S3 alone says it is done
    const cfg = testConfig(s3, root, { nodeName: node, fileStableTimeMs: 60_000, afterUpload: 'keep' });
    const up = startUploader(cfg);
    const key = stampedKey(`${prefix}shop/web-1/java_pid1.hprof`, statSync(file).mtimeMs);
    try {
      await eventually('the upload', () => msgs(up.events, 'uploaded and verified').length === 1, 30_000);
    } finally {
      await up.stop();
    }
    const digest = await sha256File(file);
    const obj = await getObjectSha256(s3, key);
    expect(obj.sha256).toBe(digest);
    expect(obj.metadata).toMatchObject({
      [OBJECT_METADATA.node]: node,
      [OBJECT_METADATA.namespace]: 'shop',
      [OBJECT_METADATA.pod]: 'web-1',
      [OBJECT_METADATA.sha256]: digest,
      [OBJECT_METADATA.originalSize]: String(statSync(file).size),
      [OBJECT_METADATA.complete]: 'true',
    });
    const out = path.join(tmp, `rclone-${n}`);
    const r = await rclone(s3, ['copyto', `x:${s3.bucket}/${key}`, out]);
    expect(r.code).toBe(0);
    expect(await sha256File(out)).toBe(digest);

    const again = startUploader(cfg);
    try {
      await eventually('the duplicate', () => msgs(again.events, 'already in S3: skipped').length === 1, 30_000);
      expect(msgs(again.events, 'uploaded and verified')).toHaveLength(0);
    } finally {
      await again.stop();
    }
  });

  it('aborts orphaned multipart uploads under its own keys at start, and only those', async () => {
    const { root, node, prefix } = fresh();
    const client = s3.client();
    try {
      const mine = await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: `${prefix}ns/pod/java_pid1.hprof` }));
      await client.send(new UploadPartCommand({ Bucket: s3.bucket, Key: `${prefix}ns/pod/java_pid1.hprof`, UploadId: mine.UploadId, PartNumber: 1, Body: Buffer.alloc(1024, 1) }));
      const theirs = await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: `dumps/someone-else/x.hprof` }));
      const up = startUploader(testConfig(s3, root, { nodeName: node }));
      try {
        await eventually('the orphan aborted', async () => !(await s3.listMultipartUploads()).some((u) => u.key.startsWith(prefix)), 20_000);
        const left = await s3.listMultipartUploads();
        expect(left.some((u) => u.uploadId === theirs.UploadId)).toBe(true);
        expect(msgs(up.events, 'aborted orphaned multipart uploads')[0]).toMatchObject({ count: 1 });
      } finally {
        await up.stop();
      }
    } finally {
      client.destroy();
    }
  });

  it('RGW killed during a multipart upload and restarted: the dump arrives once, intact, no multipart upload left', async () => {
    const { root, node, prefix } = fresh();
    const big = path.join(root, 'ns', 'pod', 'big.hprof');
    mkdirSync(path.dirname(big), { recursive: true });
    await makeLargeHprof(big, 200 * 2 ** 20);
    const digest = await sha256File(big);
    const key = stampedKey(`${prefix}ns/pod/big.hprof`, statSync(big).mtimeMs);
    const up = startUploader(testConfig(s3, root, { nodeName: node, multipartThresholdBytes: 8 * 2 ** 20, concurrency: 1, afterUpload: 'keep' }));
    try {
      await eventually('parts being sent', () => up.events.some((e) => e.msg === 'upload progress' && e.phase === 'sending'), 30_000);
      await s3.kill();
      await new Promise((r) => setTimeout(r, 1000));
      await s3.start();
      await eventually('the big dump', () => msgs(up.events, 'uploaded and verified').length === 1, 90_000);
      expect(msgs(up.events, 'upload failed (local file kept), retrying with backoff').length + msgs(up.events, 'upload failed again (local file kept)').length).toBeGreaterThan(0);
      expect((await s3.listKeys(prefix)).filter((k) => !k.includes('.summary.'))).toEqual([key]);
      expect((await getObjectSha256(s3, key)).sha256).toBe(digest);
      expect(await sha256File(big)).toBe(digest);
      // the failed attempt's multipart upload is aborted (right away, or by the clean-up after the next S3 check)
      await eventually('no multipart upload left under our keys', async () => !(await s3.listMultipartUploads()).some((u) => u.key.startsWith(prefix)), 10_000);
      expect((await s3.listMultipartUploads()).filter((u) => u.key.startsWith(prefix))).toEqual([]);
    } finally {
      await up.stop();
    }
  });

  it.each([['one PUT', 1024], ['multipart', 8]] as const)(
    '%s: 4 KiB changed in place while the bytes are sent (mtime put back): RGW refuses the digest, the new content is uploaded, never a verified object whose bytes differ from its metadata',
    async (_what, thresholdMib) => {
      const { root, node, prefix } = fresh();
      const file = path.join(root, 'ns', 'pod', 'big.hprof');
      mkdirSync(path.dirname(file), { recursive: true });
      await makeLargeHprof(file, 160 * 2 ** 20);
      const up = startUploader(testConfig(s3, root, { nodeName: node, afterUpload: 'keep', multipartThresholdBytes: thresholdMib * 2 ** 20, concurrency: 1 }),
        { ...FAST_RETRY, progressIntervalMs: 50 });
      try {
        await eventually('sending', () => up.events.some((e) => e.msg === 'upload progress' && e.phase === 'sending'), 30_000, 10);
        const { size } = statSync(file);
        const mtime = mtimeNs(file);
        const fd = openSync(file, 'r+');
        writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, size - 4096 - 9);
        closeSync(fd);
        restoreMtime(file, mtime);
        const finalSha = await sha256File(file);
        await eventually('verified', () => msgs(up.events, 'uploaded and verified').length >= 1, 90_000);
        // the server itself said no: the digest of the bytes it received is not the one the read pass sent
        expect(up.events.some((e) => e.msg === 'dump changed during its upload: waiting for it to settle again' && /BadDigest|ECHANGED/.test(String(e.cause)))).toBe(true);
        const keys = (await s3.listKeys(prefix)).filter((k) => !k.includes('.summary.'));
        expect(keys).toHaveLength(1);
        const obj = await getObjectSha256(s3, keys[0]);
        expect(obj.sha256).toBe(obj.metadata[OBJECT_METADATA.sha256]);
        expect(obj.sha256).toBe(finalSha);
      } finally {
        await up.stop();
      }
    },
    180_000,
  );
});
