/**
 * Data protection against Ceph RGW (Debian's Pacific 16.2), the real thing: SSE-KMS with RGW's `testing` key
 * backend (two random keys made for this run), object tags read back with GetObjectTagging, the lifecycle rule
 * applied with `npm run bucket-lifecycle -- --apply` and really expiring objects (a lifecycle "day" lasts 10 s here), and
 * a GetBucketLifecycleConfiguration denied by a bucket policy. A recording proxy on loopback shows the exact
 * headers of every request; it forwards them untouched (headers are signed), so RGW decides what is stored.
 *
 * SSE-S3 is not in Pacific (it came in Ceph 18): RGW 16 answers 200 to `x-amz-server-side-encryption: AES256`
 * and stores the object in clear. That is exactly "a PUT without the encryption": the verifying HEAD must refuse it.
 */
import {
  DeleteBucketPolicyCommand, GetObjectCommand, GetObjectTaggingCommand, HeadObjectCommand, ListObjectsV2Command, PutBucketPolicyCommand, PutObjectCommand, type S3Client,
} from '@aws-sdk/client-s3';
import { createHash } from 'crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { COMMANDS, ENV, NODE_OPTIONS_BY_COMMAND, NODE_OPTIONS_ENV, OBJECT_METADATA } from '../../../agent/src/contract';
import { synthPipeline } from '../../../lib/synth';
import { AGENT_BUNDLE } from '../../../scripts/bundle-agent';
import { container, find } from '../../support/manifests';
import type { ObjectEncryption } from '../../../agent/src/uploader/encryption';
import { startFaultProxy } from '../../support/fault-proxy';
import { makeHeapDump, makeLargeHprof } from '../../support/jvm';
import { node24Binary } from '../../support/node24';
import { freePort, repoPath, runTracked, spawnTracked } from '../../support/procs';
import { cephAvailable, disposeAll, getObjectSha256, makeS3Client, type S3Server, sha256File, startS3Server } from '../../support/s3';
import { eventually, FAST_RETRY, msgs, stampedKey, startUploader, testConfig } from './harness';

const describeCeph = cephAvailable() ? describe : describe.skip;
const MIB = 2 ** 20;
const KMS = { mode: 'SSE-KMS', kmsKeyId: 'testkey-1' } as const;
/** What the x-amz-tagging header must be for namespace `shop`, pod `web-1`: URL query encoding, '/' as %2F. */
const SHOP_WEB_1_TAGGING = 'heapdump-pipeline.io%2Fnamespace=shop&heapdump-pipeline.io%2Fpod=web-1';
const SHOP_WEB_1_TAGS = [{ Key: 'heapdump-pipeline.io/namespace', Value: 'shop' }, { Key: 'heapdump-pipeline.io/pod', Value: 'web-1' }];

interface Seen { readonly method: string; readonly url: URL; readonly headers: Record<string, string | string[] | undefined> }

describeCeph('data protection against Ceph RGW', () => {
  let s3: S3Server;
  let client: S3Client;
  let tmp: string;
  let dump: string; // a real HotSpot dump (about 16 MiB): multipart with the part size used here
  let n = 0;
  const fresh = () => {
    n++;
    const root = path.join(tmp, `root-${n}`);
    mkdirSync(root, { recursive: true });
    return { root, node: `node-${n}`, prefix: `dumps/node-${n}/` };
  };
  const place = (root: string, rel: string, from: string) => {
    const file = path.join(root, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    copyFileSync(from, file);
    return file;
  };
  const head = (key: string, bucket = s3.bucket) => client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  const tagsOf = async (key: string, bucket = s3.bucket) =>
    ((await client.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }))).TagSet ?? []).map((t) => ({ Key: t.Key, Value: t.Value }))
      .sort((a, b) => String(a.Key).localeCompare(String(b.Key)));
  const recorder = async () => {
    const seen: Seen[] = [];
    const proxy = await startFaultProxy({ target: s3.endpoint, observe: (r) => seen.push({ method: r.method, url: new URL(r.url, 'http://proxy'), headers: r.headers }) });
    return { seen, proxy };
  };
  const keyOf = (r: Seen) => decodeURIComponent(r.url.pathname).slice(`/${s3.bucket}/`.length);
  /** Requests that create an object: PUT without partNumber (not ?tagging) and POST ?uploads. */
  const creations = (seen: readonly Seen[]) => seen.filter((r) => (r.method === 'PUT' && !r.url.searchParams.has('partNumber') && !r.url.searchParams.has('tagging'))
    || (r.method === 'POST' && r.url.searchParams.has('uploads')));

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'protection-ceph-'));
    [s3, dump] = await Promise.all([
      startS3Server('ceph', { ceph: { kmsKeys: ['testkey-1', 'testkey-2'], lcDebugIntervalSeconds: 10 } }),
      makeHeapDump(path.join(tmp, 'jvm')),
    ]);
    client = s3.client();
  }, 180_000);

  afterAll(async () => {
    client?.destroy();
    await disposeAll();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('SSE-KMS: the dump (one PUT and multipart) and its summaries are requested and stored as aws:kms with the key, tagged, intact', async () => {
    const { root, node, prefix } = fresh();
    const small = path.join(root, 'shop', 'web-1', 'small.hprof');
    mkdirSync(path.dirname(small), { recursive: true });
    await makeLargeHprof(small, 2 * MIB);
    const big = place(root, 'shop/web-1/java_pid1.hprof', dump);
    const keys = [stampedKey(`${prefix}shop/web-1/small.hprof`, statSync(small).mtimeMs), stampedKey(`${prefix}shop/web-1/java_pid1.hprof`, statSync(big).mtimeMs)];
    const digests = [await sha256File(small), await sha256File(big)];
    const { seen, proxy } = await recorder();
    const up = startUploader(testConfig(s3, root, { nodeName: node, afterUpload: 'keep', encryption: KMS, multipartThresholdBytes: 4 * MIB, partSizeBytes: 5 * MIB },
      { endpoint: proxy.endpoint }));
    try {
      await eventually('both dumps verified', () => msgs(up.events, 'uploaded and verified').length === 2, 60_000);
      await eventually('the summaries', () => msgs(up.events, 'dump summary written').length === 2, 30_000);
    } finally {
      await up.stop();
      await proxy.close();
    }
    const objects = (await s3.listKeys(prefix)).sort();
    expect(objects).toEqual(keys.flatMap((k) => [k, `${k}.summary.json`, `${k}.summary.txt`]).sort());

    // On the wire: every object creation asked for aws:kms with testkey-1 and carried the tags; parts carry neither.
    const created = creations(seen);
    expect(created.map(keyOf).sort()).toEqual(objects); // one creation per object: no retry was needed
    for (const r of created) {
      expect({ key: keyOf(r), sse: r.headers['x-amz-server-side-encryption'], kms: r.headers['x-amz-server-side-encryption-aws-kms-key-id'], tagging: r.headers['x-amz-tagging'] })
        .toEqual({ key: keyOf(r), sse: 'aws:kms', kms: 'testkey-1', tagging: SHOP_WEB_1_TAGGING });
    }
    expect(created.filter((r) => r.method === 'POST').map(keyOf)).toEqual([keys[1]]);
    const parts = seen.filter((r) => r.url.searchParams.has('partNumber'));
    expect(parts.length).toBeGreaterThanOrEqual(3);
    for (const p of parts) expect([p.headers['x-amz-server-side-encryption'], p.headers['x-amz-tagging']]).toEqual([undefined, undefined]);

    // In RGW: HEAD shows the encryption and the key, GET gives the original bytes, every object has its two tags.
    for (const key of objects) {
      const h = await head(key);
      expect({ key, sse: h.ServerSideEncryption, kms: h.SSEKMSKeyId }).toEqual({ key, sse: 'aws:kms', kms: 'testkey-1' });
      expect({ key, tags: await tagsOf(key) }).toEqual({ key, tags: SHOP_WEB_1_TAGS });
    }
    for (const [i, key] of keys.entries()) {
      const obj = await getObjectSha256(s3, key);
      expect(obj.sha256).toBe(digests[i]);
      expect(obj.metadata[OBJECT_METADATA.sha256]).toBe(digests[i]);
    }
    // RGW 16 lost the multipart upload's tags (its GetObjectTagging answered an empty 200); the uploader wrote them
    // again for that object only.
    expect(seen.filter((r) => r.method === 'PUT' && r.url.searchParams.has('tagging')).map(keyOf)).toEqual([keys[1]]);
    expect(msgs(up.events, 'object tags were missing after the multipart upload: written with PutObjectTagging').map((e) => e.key)).toEqual([keys[1]]);
  }, 120_000);

  it('SSE-KMS: the same dump already stored in clear, then under another key, is not "already there": written again over it; then a restart skips it', async () => {
    const { root, node, prefix } = fresh();
    const file = place(root, 'shop/web-1/java_pid1.hprof', dump);
    const key = stampedKey(`${prefix}shop/web-1/java_pid1.hprof`, statSync(file).mtimeMs);
    const digest = await sha256File(file);
    const run = async (encryption: ObjectEncryption, until: string) => {
      const up = startUploader(testConfig(s3, root, { nodeName: node, afterUpload: 'keep', analysis: false, encryption }));
      try {
        await eventually(until, () => msgs(up.events, until).length === 1, 60_000);
      } finally {
        await up.stop();
      }
      return up;
    };
    await run({ mode: 'none' }, 'uploaded and verified');
    expect((await head(key)).ServerSideEncryption).toBeUndefined();

    const second = await run({ mode: 'SSE-KMS', kmsKeyId: 'testkey-2' }, 'uploaded and verified');
    expect(msgs(second.events, 'this dump is in S3 without the required encryption: uploading it again over that object')[0])
      .toMatchObject({ key, stored: 'stored as none, not SSE-KMS (key testkey-2)', required: 'SSE-KMS (key testkey-2)' });
    expect([(await head(key)).ServerSideEncryption, (await head(key)).SSEKMSKeyId]).toEqual(['aws:kms', 'testkey-2']);

    const third = await run(KMS, 'uploaded and verified');
    expect(msgs(third.events, 'this dump is in S3 without the required encryption: uploading it again over that object')[0])
      .toMatchObject({ key, stored: 'stored as aws:kms (key testkey-2), not SSE-KMS (key testkey-1)' });
    expect([(await head(key)).ServerSideEncryption, (await head(key)).SSEKMSKeyId]).toEqual(['aws:kms', 'testkey-1']);

    await run(KMS, 'already in S3: skipped');
    // One object all along (never a content-suffixed second one), holding the dump's bytes.
    expect(await s3.listKeys(prefix)).toEqual([key]);
    expect((await getObjectSha256(s3, key)).sha256).toBe(digest);
  }, 180_000);

  it('SSE-S3 on RGW 16: AES256 is sent and accepted but the object is stored in clear; the verifying HEAD refuses it, the dump stays and is retried over the same key', async () => {
    const { root, node, prefix } = fresh();
    const small = path.join(root, 'shop', 'web-1', 'small.hprof');
    mkdirSync(path.dirname(small), { recursive: true });
    await makeLargeHprof(small, 2 * MIB);
    const big = place(root, 'shop/web-1/java_pid1.hprof', dump);
    const { seen, proxy } = await recorder();
    const up = startUploader(testConfig(s3, root, { nodeName: node, encryption: { mode: 'SSE-S3' }, multipartThresholdBytes: 4 * MIB, partSizeBytes: 5 * MIB },
      { endpoint: proxy.endpoint }));
    try {
      // each dump at least twice: refused, retried (over the same key), refused again
      await eventually('two refusals per dump', async () => (await up.metric('heapdump_uploader_file_errors_total', { reason: 'ENOTENCRYPTED' }) ?? 0) >= 4, 60_000);
      expect(msgs(up.events, 'uploaded and verified')).toEqual([]);
      const refusal = msgs(up.events, 'S3 refused an upload (local file kept)');
      expect(refusal).toHaveLength(1); // said once per cause
      expect(refusal[0]).toMatchObject({ cause: 'ENOTENCRYPTED', error: expect.stringMatching(/was stored as none, not SSE-S3 \(AES256\): SSE-S3 is required$/) });
      expect(up.isReady()).toBe(true); // the bucket is reachable: a configuration problem of the objects, not readiness
    } finally {
      await up.stop();
      await proxy.close();
    }
    const created = creations(seen);
    expect(created.length).toBeGreaterThanOrEqual(4);
    for (const r of created) {
      expect([r.headers['x-amz-server-side-encryption'], r.headers['x-amz-server-side-encryption-aws-kms-key-id']]).toEqual(['AES256', undefined]);
    }
    // The same two keys written again and again (overwritten, never a suffixed copy), no summary (nothing verified);
    // the local files stay where they were.
    expect(new Set(created.map(keyOf))).toEqual(new Set(await s3.listKeys(prefix)));
    expect(await s3.listKeys(prefix)).toHaveLength(2);
    expect([existsSync(small), existsSync(big)]).toEqual([true, true]);
    for (const key of await s3.listKeys(prefix)) expect((await head(key)).ServerSideEncryption).toBeUndefined();
  }, 120_000);

  describe('lifecycle', () => {
    const LC_BUCKET = 'lc-bucket';
    const DENIED_BUCKET = 'lc-denied';
    const config = (dir: string, bucket: string, prefix: string) => {
      const file = path.join(dir, 'pipeline.config.json');
      writeFileSync(file, JSON.stringify({ agentImage: 'registry.example.com/x/heapdump-agent:1', uploader: { bucket, prefix, endpoint: s3.endpoint, retentionDays: 1 } }));
      return file;
    };
    const lifecycleCli = async (args: string[], configFile: string) => runTracked(await node24Binary(), [repoPath('scripts', 'run-ts.cjs'), repoPath('scripts', 'bucket-lifecycle.ts'), ...args], {
      cwd: path.dirname(configFile),
      env: { PATH: process.env.PATH, HOME: tmp, PIPELINE_CONFIG: configFile, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_DEFAULT_REGION: s3.region },
      timeoutMs: 60_000,
    });
    beforeAll(async () => {
      await s3.createBucket(LC_BUCKET);
      await s3.createBucket(DENIED_BUCKET);
    });

    it('no rule: a warning and lifecycle_ok 0, still ready; --apply adds the rule (keeping another): 1; the rule really expires the dump and its summaries, nothing else', async () => {
      const { root, node } = fresh();
      const prefix = 'expiring/';
      const cfgFile = config(root, LC_BUCKET, prefix);
      // a rule of the bucket's own, outside our prefix, that --apply must keep
      const theirs = { ID: 'theirs', Status: 'Enabled', Filter: { Prefix: 'other-team/' }, Expiration: { Days: 400 } };
      const put = await runTracked('/usr/bin/aws', ['--endpoint-url', s3.endpoint, 's3api', 'put-bucket-lifecycle-configuration', '--bucket', LC_BUCKET,
        '--lifecycle-configuration', JSON.stringify({ Rules: [theirs] })], {
        env: { PATH: process.env.PATH, HOME: tmp, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_DEFAULT_REGION: s3.region, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_EC2_METADATA_DISABLED: 'true', ...(process.env.AWS_CA_BUNDLE ? { AWS_CA_BUNDLE: process.env.AWS_CA_BUNDLE } : {}) },
        timeoutMs: 60_000,
      });
      expect({ code: put.code, stderr: put.stderr }).toEqual({ code: 0, stderr: '' });
      const keep = `other-team/keep.txt`;
      await client.send(new PutObjectCommand({ Bucket: LC_BUCKET, Key: keep, Body: 'kept' }));

      const cfg = testConfig(s3, root, { nodeName: node, retentionDays: 1 }, { bucket: LC_BUCKET, prefix });
      const up = startUploader(cfg, { ...FAST_RETRY, lifecycleIntervalMs: 500 });
      try {
        await eventually('the warning', () => msgs(up.events, 'no bucket lifecycle rule expires the dumps: they stay in S3 until someone deletes them').length === 1);
        expect(await up.metric('heapdump_uploader_bucket_lifecycle_ok')).toBe(0);
        expect(msgs(up.events, 'no bucket lifecycle rule expires the dumps: they stay in S3 until someone deletes them')[0])
          .toMatchObject({ bucket: LC_BUCKET, keyPrefix: `${prefix}${node}/`, retentionDays: 1, rules: 1 });
        expect(up.isReady()).toBe(true);

        const check = await lifecycleCli(['--check'], cfgFile);
        expect(check.code).toBe(1);
        expect(check.stdout.trim()).toBe('missing: no enabled rule expires s3://lc-bucket/expiring/ within 1 days (1 rule(s): theirs (Enabled, prefix "other-team/", expire after 400 days)); run --apply');
        const apply = await lifecycleCli(['--apply'], cfgFile);
        expect({ code: apply.code, stdout: apply.stdout.trim(), stderr: apply.stderr }).toEqual({
          code: 0, stdout: 'applied: heapdump-pipeline-retention (Enabled, prefix "expiring/", expire after 1 days) on s3://lc-bucket; 1 other rule(s) kept', stderr: '',
        });
        await eventually('lifecycle_ok 1', async () => (await up.metric('heapdump_uploader_bucket_lifecycle_ok')) === 1, 10_000);
        expect(msgs(up.events, 'bucket lifecycle rule expires the dumps')[0]).toMatchObject({ rule: 'heapdump-pipeline-retention', expireDays: 1 });
        expect((await lifecycleCli(['--check'], cfgFile)).code).toBe(0);

        // a dump now: with a "day" of 10 s, RGW's lifecycle thread deletes it and its summaries soon after
        place(root, 'shop/web-1/java_pid1.hprof', dump);
        await eventually('verified with its summary', () => msgs(up.events, 'dump summary written').length === 1, 60_000);
      } finally {
        await up.stop();
      }
      const listLc = async (p: string) => ((await client.send(new ListObjectsV2Command({ Bucket: LC_BUCKET, Prefix: p }))).Contents ?? []).map((o) => o.Key);
      expect(await listLc(prefix)).toHaveLength(3);
      await eventually('the dump and its summaries expired', async () => (await listLc(prefix)).length === 0, 120_000, 2000);
      expect(await listLc('other-team/')).toEqual([keep]);
    }, 300_000);

    it('GetBucketLifecycleConfiguration denied by a bucket policy: one warning naming the permission, lifecycle_ok 0, still ready, dumps still verified', async () => {
      const { root, node } = fresh();
      await client.send(new PutBucketPolicyCommand({
        Bucket: DENIED_BUCKET,
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Deny', Principal: { AWS: ['*'] }, Action: ['s3:GetLifecycleConfiguration'], Resource: [`arn:aws:s3:::${DENIED_BUCKET}`] }],
        }),
      }));
      try {
        place(root, 'shop/web-1/java_pid1.hprof', dump);
        const up = startUploader(testConfig(s3, root, { nodeName: node, retentionDays: 30, analysis: false }, { bucket: DENIED_BUCKET }), { ...FAST_RETRY, lifecycleIntervalMs: 500 });
        try {
          await eventually('verified', () => msgs(up.events, 'uploaded and verified').length === 1, 60_000);
          await eventually('the warning', () => msgs(up.events, 'cannot read the bucket\'s lifecycle configuration: dump expiry is not checked').length === 1);
          await new Promise((r) => setTimeout(r, 1500)); // three more checks: still one line
          const warning = msgs(up.events, 'cannot read the bucket\'s lifecycle configuration: dump expiry is not checked');
          expect(warning).toHaveLength(1);
          expect(warning[0]).toMatchObject({ cause: 'AccessDenied', bucket: DENIED_BUCKET, hint: expect.stringContaining('s3:GetLifecycleConfiguration') });
          expect(await up.metric('heapdump_uploader_bucket_lifecycle_ok')).toBe(0);
          expect(up.isReady()).toBe(true);
          expect(up.readiness.every((r) => r.ready)).toBe(true);
        } finally {
          await up.stop();
        }
      } finally {
        await client.send(new DeleteBucketPolicyCommand({ Bucket: DENIED_BUCKET }));
      }
    }, 120_000);
  });

  it('a team-scoped bucket policy on the namespace tag: the team\'s reader gets its dumps (one PUT, multipart) and summaries, not another team\'s', async () => {
    const bucket = 'team-policy';
    await s3.createBucket(bucket);
    const reader = await s3.createUser('team-shop-reader');
    await client.send(new PutBucketPolicyCommand({
      Bucket: bucket,
      Policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{
          Effect: 'Allow', Principal: { AWS: ['arn:aws:iam:::user/team-shop-reader'] }, Action: ['s3:GetObject'], Resource: [`arn:aws:s3:::${bucket}/*`],
          Condition: { StringEquals: { 's3:ExistingObjectTag/heapdump-pipeline.io/namespace': 'shop' } },
        }],
      }),
    }));
    const { root, node, prefix } = fresh();
    const small = path.join(root, 'shop', 'web-1', 'small.hprof');
    mkdirSync(path.dirname(small), { recursive: true });
    await makeLargeHprof(small, 2 * MIB);
    const big = place(root, 'shop/web-1/java_pid1.hprof', dump);
    const theirs = place(root, 'other/web-2/java_pid1.hprof', dump);
    const key = (f: string) => stampedKey(`${prefix}${path.relative(root, f)}`, statSync(f).mtimeMs);
    const [smallKey, bigKey, theirKey] = [key(small), key(big), key(theirs)];
    const up = startUploader(testConfig(s3, root, { nodeName: node, afterUpload: 'keep', multipartThresholdBytes: 4 * MIB, partSizeBytes: 5 * MIB }, { bucket }));
    try {
      await eventually('three dumps and their summaries', () => msgs(up.events, 'dump summary written').length === 3, 90_000);
    } finally {
      await up.stop();
    }
    const asReader = makeS3Client(s3.endpoint, reader.accessKeyId, reader.secretAccessKey);
    const get = async (k: string) => {
      try {
        const out = await asReader.send(new GetObjectCommand({ Bucket: bucket, Key: k }));
        return createHash('sha256').update(Buffer.from(await out.Body!.transformToByteArray())).digest('hex');
      } catch (e) {
        return `${(e as Error).name} ${(e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode}`;
      }
    };
    try {
      expect(await get(smallKey)).toBe(await sha256File(small));
      expect(await get(bigKey)).toBe(await sha256File(big)); // the multipart upload's tags, written again after RGW lost them
      expect(await get(`${bigKey}.summary.json`)).toMatch(/^[0-9a-f]{64}$/);
      expect(await get(theirKey)).toBe('AccessDenied 403');
      expect(await get(`${theirKey}.summary.txt`)).toBe('AccessDenied 403');
    } finally {
      asReader.destroy();
    }
  }, 180_000);

  it('as the manifests run it: the bundled agent on Node 24 with the synthesized ConfigMap (SSE-KMS, 30 days) and NODE_OPTIONS; encrypted, tagged, lifecycle_ok 1 on /metrics', async () => {
    const bucket = 'agent-bucket';
    await s3.createBucket(bucket);
    const { root, node } = fresh();
    const { objects } = synthPipeline({
      agentImage: 'registry.example.com/x/heapdump-agent:1',
      uploader: {
        bucket, prefix: 'agent/', endpoint: s3.endpoint, encryption: KMS, retentionDays: 30, watchIntervalSeconds: 1, fileStableTimeSeconds: 3, completeQuietTimeSeconds: 0.3,
      },
    });
    const data = find(objects, 'ConfigMap', 's3-uploader-config').data as Record<string, string>;
    expect(data).toMatchObject({ S3_SERVER_SIDE_ENCRYPTION: 'SSE-KMS', S3_SSE_KMS_KEY_ID: 'testkey-1', S3_RETENTION_DAYS: '30', S3_OBJECT_TAGS: 'true' });
    const uploader = container(find(objects, 'DaemonSet', 'heap-dump-s3-uploader'), 'uploader');
    const literalEnv = Object.fromEntries((uploader.env as Array<{ name: string; value?: string }>).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
    expect(literalEnv[NODE_OPTIONS_ENV]).toBe(NODE_OPTIONS_BY_COMMAND[COMMANDS.uploader]);

    // the rule first, as the install steps say
    const cfgFile = path.join(root, 'pipeline.config.json');
    writeFileSync(cfgFile, JSON.stringify({ agentImage: 'registry.example.com/x/heapdump-agent:1', uploader: { bucket, prefix: 'agent/', endpoint: s3.endpoint, retentionDays: 30 } }));
    const apply = await runTracked(await node24Binary(), [repoPath('scripts', 'run-ts.cjs'), repoPath('scripts', 'bucket-lifecycle.ts'), '--apply'], {
      cwd: root, env: { PATH: process.env.PATH, HOME: tmp, PIPELINE_CONFIG: cfgFile, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey }, timeoutMs: 60_000,
    });
    expect(apply.code).toBe(0);

    const file = place(root, 'shop/web-1/java_pid1.hprof', dump);
    const key = stampedKey(`agent/${node}/shop/web-1/java_pid1.hprof`, statSync(file).mtimeMs);
    const digest = await sha256File(file);
    const port = await freePort();
    const proc = spawnTracked(await node24Binary(), [AGENT_BUNDLE, COMMANDS.uploader], {
      env: {
        PATH: process.env.PATH, ...data, ...literalEnv,
        [ENV.nodeName]: node, [ENV.dumpRoot]: root, [ENV.httpHost]: '127.0.0.1', [ENV.httpPort]: String(port),
        [ENV.awsAccessKeyId]: s3.accessKeyId, [ENV.awsSecretAccessKey]: s3.secretAccessKey,
      },
      maxLines: 100_000,
    });
    const logged = (msg: string) => proc.stdout.filter((l) => l.includes(`"msg":"${msg}"`));
    try {
      await eventually('verified', () => logged('uploaded and verified').length === 1, 60_000);
      await eventually('lifecycle_ok 1', async () => /^heapdump_uploader_bucket_lifecycle_ok\{[^}]*\} 1$/m.test(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()), 10_000);
      await eventually('the summary', () => logged('dump summary written').length === 1, 30_000);
    } finally {
      await proc.dispose();
    }
    expect(proc.stderr.filter((l) => l !== '' && !/^Warning: disabling flag --expose_wasm/.test(l))).toEqual([]);
    for (const k of [key, `${key}.summary.json`, `${key}.summary.txt`]) {
      const h = await head(k, bucket);
      expect({ k, sse: h.ServerSideEncryption, kms: h.SSEKMSKeyId, tags: await tagsOf(k, bucket) }).toEqual({ k, sse: 'aws:kms', kms: 'testkey-1', tags: SHOP_WEB_1_TAGS });
    }
    const c = s3.client();
    try {
      const out = await c.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      expect(createHash('sha256').update(Buffer.from(await out.Body!.transformToByteArray())).digest('hex')).toBe(digest);
    } finally {
      c.destroy();
    }
  }, 180_000);

  it('object tags off (S3_OBJECT_TAGS=false): no x-amz-tagging, no tags', async () => {
    const { root, node, prefix } = fresh();
    const file = place(root, 'shop/web-1/java_pid1.hprof', dump);
    const key = stampedKey(`${prefix}shop/web-1/java_pid1.hprof`, statSync(file).mtimeMs);
    const { seen, proxy } = await recorder();
    const up = startUploader(testConfig(s3, root, { nodeName: node, analysis: false, objectTags: false }, { endpoint: proxy.endpoint }));
    try {
      await eventually('verified', () => msgs(up.events, 'uploaded and verified').length === 1, 60_000);
    } finally {
      await up.stop();
      await proxy.close();
    }
    expect(creations(seen).map((r) => r.headers['x-amz-tagging'])).toEqual([undefined]);
    expect(seen.filter((r) => r.url.searchParams.has('tagging'))).toEqual([]);
    expect(await tagsOf(key)).toEqual([]);
    expect(readFileSync(path.join(root, '.heapdump-archive', 'shop', 'web-1', key.split('/').pop()!)).length).toBe(statSync(dump).size);
  }, 120_000);
});
