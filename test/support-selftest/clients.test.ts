/** Self-test: the aws CLI and rclone read back (and write) objects on s3rver with the same sha256. */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { awsCli, rclone } from '../support/clients';
import { disposeAll, getObjectSha256, S3Server, sha256File, startS3Server } from '../support/s3';

describe('independent clients against s3rver', () => {
  let s3: S3Server;
  let dir: string;
  const body = randomBytes(2 * 1024 * 1024 + 5);
  const sha = createHash('sha256').update(body).digest('hex');

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'clients-'));
    s3 = await startS3Server('s3rver');
    const client = s3.client();
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'dumps/one.hprof', Body: body }));
    client.destroy();
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await disposeAll();
  });

  it('aws s3 cp downloads the object intact', async () => {
    const dst = path.join(dir, 'aws.hprof');
    const r = await awsCli(s3, ['s3', 'cp', `s3://${s3.bucket}/dumps/one.hprof`, dst]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(await sha256File(dst)).toBe(sha);
  });

  it('aws s3api head-object sees the size', async () => {
    const r = await awsCli(s3, ['s3api', 'head-object', '--bucket', s3.bucket, '--key', 'dumps/one.hprof']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).ContentLength).toBe(body.length);
  });

  it('rclone copyto downloads the object intact', async () => {
    const dst = path.join(dir, 'rclone.hprof');
    const r = await rclone(s3, ['copyto', `x:${s3.bucket}/dumps/one.hprof`, dst]);
    expect(r).toMatchObject({ code: 0 });
    expect(await sha256File(dst)).toBe(sha);
  });

  it('rclone and aws can upload, and the SDK reads that back', async () => {
    const src = path.join(dir, 'src.bin');
    writeFileSync(src, body);
    expect((await rclone(s3, ['copyto', src, `x:${s3.bucket}/by-rclone`])).code).toBe(0);
    expect((await awsCli(s3, ['s3', 'cp', src, `s3://${s3.bucket}/by-aws`])).code).toBe(0);
    expect((await getObjectSha256(s3, 'by-rclone')).sha256).toBe(sha);
    expect((await getObjectSha256(s3, 'by-aws')).sha256).toBe(sha);
  });

  it('reports a failure as a non-zero code', async () => {
    const r = await awsCli(s3, ['s3', 'cp', `s3://${s3.bucket}/missing`, path.join(dir, 'm')]);
    expect(r.code).not.toBe(0);
  });
});
