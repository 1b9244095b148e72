/**
 * Data protection on the wire, against s3rver behind a recording proxy (Ceph RGW, which really encrypts:
 * protection.ceph.test.ts). s3rver takes neither server-side encryption nor x-amz-tagging on a PUT: it stores the
 * object plainly and untagged (it does implement PutObjectTagging / GetObjectTagging). So:
 *  - SSE-S3 as s3rver is: the HEAD shows no encryption and the dump is never verified;
 *  - SSE-S3 with the proxy answering HEAD as a server that stored the object with SSE-S3 (AWS S3 does; the
 *    header is the server's word and unsigned): verified. The exact request headers are checked in both.
 */
import { GetObjectTaggingCommand } from '@aws-sdk/client-s3';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { startFaultProxy } from '../../support/fault-proxy';
import { makeLargeHprof } from '../../support/jvm';
import { disposeAll, type S3Server, startS3Server } from '../../support/s3';
import { eventually, msgs, stampedKey, startUploader, testConfig } from './harness';

const MIB = 2 ** 20;
const TAGGING = 'heapdump-pipeline.io%2Fnamespace=team-orders&heapdump-pipeline.io%2Fpod=orders-api-6f7c9d8b5-x7k2p';

interface Seen { readonly method: string; readonly url: URL; readonly headers: Record<string, string | string[] | undefined> }

let s3: S3Server;
let tmp: string;
let n = 0;
beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'protection-'));
  s3 = await startS3Server('s3rver');
}, 60_000);
afterAll(async () => {
  await disposeAll();
  rmSync(tmp, { recursive: true, force: true });
});

/** A root with a one-PUT dump and a multipart dump (5 MiB parts above 4 MiB) of pod team-orders/orders-api-...; their keys. */
async function dumps(): Promise<{ root: string; node: string; keys: string[] }> {
  n++;
  const root = path.join(tmp, `root-${n}`);
  const dir = path.join(root, 'team-orders', 'orders-api-6f7c9d8b5-x7k2p');
  mkdirSync(dir, { recursive: true });
  const files = [path.join(dir, 'small.hprof'), path.join(dir, 'java_pid1.hprof')];
  await makeLargeHprof(files[0], 2 * MIB);
  await makeLargeHprof(files[1], 11 * MIB);
  const node = `node-${n}`;
  return { root, node, keys: files.map((f) => stampedKey(`dumps/${node}/${path.relative(root, f)}`, statSync(f).mtimeMs)) };
}

async function run(headAnswer: Record<string, string> | undefined, until: (up: ReturnType<typeof startUploader>) => Promise<boolean> | boolean) {
  const { root, node, keys } = await dumps();
  const seen: Seen[] = [];
  const proxy = await startFaultProxy({
    target: s3.endpoint,
    observe: (r) => seen.push({ method: r.method, url: new URL(r.url, 'http://proxy'), headers: r.headers }),
    responseHeaders: (r) => (r.method === 'HEAD' && !r.url.includes('?') ? headAnswer : undefined),
  });
  const up = startUploader(testConfig(s3, root, { nodeName: node, afterUpload: 'keep', encryption: { mode: 'SSE-S3' }, multipartThresholdBytes: 4 * MIB, partSizeBytes: 5 * MIB },
    { endpoint: proxy.endpoint }));
  try {
    await eventually('the outcome', () => until(up), 60_000);
  } finally {
    await up.stop();
    await proxy.close();
  }
  const keyOf = (r: Seen) => decodeURIComponent(r.url.pathname).slice(`/${s3.bucket}/`.length);
  const created = seen.filter((r) => (r.method === 'PUT' && !r.url.searchParams.has('partNumber') && !r.url.searchParams.has('tagging'))
    || (r.method === 'POST' && r.url.searchParams.has('uploads')));
  return { up, keys, seen, created, keyOf };
}

test('SSE-S3 where the server stores it so: PUT and CreateMultipartUpload (dumps and summaries) carry AES256, no KMS key, the tags; verified', async () => {
  const { up, keys, seen, created, keyOf } = await run({ 'x-amz-server-side-encryption': 'AES256' },
    (up) => msgs(up.events, 'uploaded and verified').length === 2 && msgs(up.events, 'dump summary written').length === 2);
  expect(created.map((r) => `${r.method} ${keyOf(r)}`).sort()).toEqual([
    `POST ${keys[1]}`, `PUT ${keys[0]}`, `PUT ${keys[0]}.summary.json`, `PUT ${keys[0]}.summary.txt`, `PUT ${keys[1]}.summary.json`, `PUT ${keys[1]}.summary.txt`,
  ].sort());
  for (const r of created) {
    expect({ what: `${r.method} ${keyOf(r)}`, sse: r.headers['x-amz-server-side-encryption'], kms: r.headers['x-amz-server-side-encryption-aws-kms-key-id'], tagging: r.headers['x-amz-tagging'] })
      .toEqual({ what: `${r.method} ${keyOf(r)}`, sse: 'AES256', kms: undefined, tagging: TAGGING });
  }
  // UploadPart carries neither (S3 takes them at CreateMultipartUpload only)
  const parts = seen.filter((r) => r.url.searchParams.has('partNumber'));
  expect(parts).toHaveLength(3);
  for (const p of parts) expect([p.headers['x-amz-server-side-encryption'], p.headers['x-amz-tagging']]).toEqual([undefined, undefined]);
  // s3rver dropped the tags of both; the multipart upload's were read back and written with PutObjectTagging
  // (the one-PUT dump's are not read back: a server that honours x-amz-tagging on PUT is the norm).
  const client = s3.client();
  try {
    const tags = async (key: string) => (await client.send(new GetObjectTaggingCommand({ Bucket: s3.bucket, Key: key }))).TagSet ?? [];
    expect(await tags(keys[1])).toEqual([
      { Key: 'heapdump-pipeline.io/namespace', Value: 'team-orders' }, { Key: 'heapdump-pipeline.io/pod', Value: 'orders-api-6f7c9d8b5-x7k2p' },
    ]);
    expect(await tags(keys[0])).toEqual([]);
  } finally {
    client.destroy();
  }
  expect(msgs(up.events, 'object tags were missing after the multipart upload: written with PutObjectTagging').map((e) => e.key)).toEqual([keys[1]]);
}, 120_000);

test('SSE-S3 where the server ignores it (s3rver as it is): the verifying HEAD shows no encryption: never verified, retried over the same keys', async () => {
  // two attempts of each dump at least (the retry after the first refusal)
  const { up, keys, created, keyOf } = await run(undefined, async (u) => (await u.metric('heapdump_uploader_file_errors_total', { reason: 'ENOTENCRYPTED' }) ?? 0) >= 4);
  expect(msgs(up.events, 'uploaded and verified')).toEqual([]);
  const refusals = msgs(up.events, 'S3 refused an upload (local file kept)');
  expect(refusals).toHaveLength(1); // once per cause, not per attempt
  expect(refusals[0]).toMatchObject({ cause: 'ENOTENCRYPTED', error: expect.stringMatching(/was stored as none, not SSE-S3 \(AES256\): SSE-S3 is required$/) });
  expect(created.length).toBeGreaterThanOrEqual(4);
  expect(new Set(created.map(keyOf))).toEqual(new Set(keys));
  for (const r of created) expect(r.headers['x-amz-server-side-encryption']).toBe('AES256');
}, 120_000);
