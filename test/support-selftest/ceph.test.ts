/** Self-test of the Ceph RGW harness: one cluster for the file; put/get, RGW stop/start/kill, multipart listing. */
import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'crypto';
import { mkdtempSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { awsCli, rclone } from '../support/clients';
import { expectOutageKeepsData } from './outage';
import { cephAvailable, disposeAll, getObjectSha256, s3Env, S3Server, sha256File, startS3Server } from '../support/s3';
import { note } from '../support/notes';

const describeCeph = cephAvailable() ? describe : describe.skip;
if (!cephAvailable()) {
  console.warn('!!! SKIPPING Ceph harness self-test: ceph-mon/ceph-osd/radosgw not installed (CI installs them) !!!');
}

describeCeph('ceph harness', () => {
  let s3: S3Server;
  const body = randomBytes(5 * 1024 * 1024 + 3);
  const sha = createHash('sha256').update(body).digest('hex');

  beforeAll(async () => {
    const t0 = Date.now();
    s3 = await startS3Server('ceph', { bucket: 'selftest' });
    note(`ceph started in ${Date.now() - t0} ms on ${s3.endpoint} (rgw pid ${s3.pid()})`);
  }, 120_000);
  afterAll(disposeAll, 60_000);

  it('starts with an empty bucket and the documented credentials', async () => {
    expect(s3.kind).toBe('ceph');
    expect(s3.accessKeyId).toBe('TESTKEY');
    expect(s3Env(s3).AWS_SECRET_ACCESS_KEY).toBe('TESTSECRET');
    expect(await s3.listKeys()).toEqual([]);
  });

  it('round-trips an object with metadata and STANDARD_IA', async () => {
    const client = s3.client();
    await client.send(
      new PutObjectCommand({
        Bucket: s3.bucket, Key: 'd/x.hprof', Body: body, Metadata: { node: 'n1' }, StorageClass: 'STANDARD_IA',
      }),
    );
    client.destroy();
    const got = await getObjectSha256(s3, 'd/x.hprof');
    expect(got).toMatchObject({ sha256: sha, size: body.length, metadata: { node: 'n1' }, storageClass: 'STANDARD_IA' });
    expect(await s3.listKeys('d/')).toEqual(['d/x.hprof']);
  });

  it('an RGW outage (stop/start, kill/start) keeps the data', async () => {
    await expectOutageKeepsData(s3, 'd/x.hprof', sha);
  }, 60_000);

  it('lists open multipart uploads', async () => {
    const client = s3.client();
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: 'mp/open' }));
    expect(await s3.listMultipartUploads()).toEqual([{ key: 'mp/open', uploadId: UploadId }]);
    await client.send(new AbortMultipartUploadCommand({ Bucket: s3.bucket, Key: 'mp/open', UploadId }));
    client.destroy();
    expect(await s3.listMultipartUploads()).toEqual([]);
  });

  it('aws CLI and rclone read the object back', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ceph-cli-'));
    try {
      const a = await awsCli(s3, ['s3', 'cp', `s3://${s3.bucket}/d/x.hprof`, path.join(dir, 'x')]);
      expect(a.code).toBe(0);
      expect(await sha256File(path.join(dir, 'x'))).toBe(sha);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const r = await rclone(s3, ['lsjson', `x:${s3.bucket}/d/`]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([expect.objectContaining({ Path: 'x.hprof', Size: body.length })]);
  });
});
