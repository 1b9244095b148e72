/** Self-test of the s3rver harness: put/get with sha256, stop/start keeps data, kill, listings. */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { randomBytes, createHash } from 'crypto';
import { disposeAll, getObjectSha256, s3Env, S3Server, startS3Server } from '../support/s3';
import { pidAlive } from '../support/procs';
import { expectOutageKeepsData } from './outage';
import { note } from '../support/notes';

describe('s3rver harness', () => {
  let s3: S3Server;
  const body = randomBytes(3 * 1024 * 1024 + 17);
  const sha = createHash('sha256').update(body).digest('hex');

  beforeAll(async () => {
    const t0 = Date.now();
    s3 = await startS3Server('s3rver', { bucket: 'selftest' });
    note(`s3rver started in ${Date.now() - t0} ms on ${s3.endpoint} (pid ${s3.pid()})`);
  });
  afterAll(disposeAll);

  it('starts with an empty bucket and the documented credentials', async () => {
    expect(s3.kind).toBe('s3rver');
    expect(s3.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(s3.accessKeyId).toBe('S3RVER');
    expect(await s3.listKeys()).toEqual([]);
    expect(s3Env(s3)).toEqual({
      S3_ENDPOINT_URL: s3.endpoint,
      S3_BUCKET: 'selftest',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_DEFAULT_REGION: 'us-east-1',
      S3_FORCE_PATH_STYLE: 'true',
    });
  });

  it('round-trips an object with metadata and the same sha256', async () => {
    const client = s3.client();
    await client.send(
      new PutObjectCommand({ Bucket: s3.bucket, Key: 'a/b.hprof', Body: body, Metadata: { node: 'n1' } }),
    );
    client.destroy();
    const got = await getObjectSha256(s3, 'a/b.hprof');
    expect(got).toMatchObject({ sha256: sha, size: body.length, metadata: { node: 'n1' } });
    expect(await s3.listKeys('a/')).toEqual(['a/b.hprof']);
    expect(await s3.listKeys('zzz/')).toEqual([]);
  });

  it('keeps data and port across stop/start, and across kill/start', async () => {
    await expectOutageKeepsData(s3, 'a/b.hprof', sha);
  });

  it('paginates listKeys past 1000 keys', async () => {
    const client = s3.client();
    const keys = Array.from({ length: 1005 }, (_, i) => `many/${String(i).padStart(4, '0')}`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((Key) => client.send(new PutObjectCommand({ Bucket: s3.bucket, Key, Body: 'x' }))));
    }
    client.destroy();
    expect((await s3.listKeys('many/')).sort()).toEqual(keys);
  });

  it('says clearly that s3rver cannot list multipart uploads', async () => {
    await expect(s3.listMultipartUploads()).rejects.toThrow(/not supported by s3rver/);
  });

  it('createBucket makes a second bucket', async () => {
    await s3.createBucket('other');
    await expect(s3.createBucket('other')).rejects.toThrow();
  });

  it('dispose stops the server and is idempotent', async () => {
    const pid = s3.pid()!;
    await s3.dispose();
    await s3.dispose();
    expect(pidAlive(pid)).toBe(false);
    expect(s3.pid()).toBeUndefined();
  });
});
