/**
 * The download path against Ceph RGW (the real S3 implementation, not s3rver): a multipart object as the
 * uploader stores dumps above 1 GiB, streamed byte-identically through the aggregation layer, resumed with Range
 * at and across part boundaries, a suffix range, and a 503 while RGW is down.
 */
import { Upload } from '@aws-sdk/lib-storage';
import { createHash, randomBytes } from 'crypto';
import { dumpName } from '../../../agent/src/dump-name';
import { apiEnv, freePort, request, startApiInProcess, startWorld, type World } from '../../support/api-world';
import { cephAvailable, disposeAll, type S3Server, startS3Server } from '../../support/s3';

const describeCeph = cephAvailable() ? describe : describe.skip;
const PART = 5 * 1024 * 1024;

describeCeph('heapdumps API against Ceph RGW', () => {
  let s3: S3Server;
  let world: World;
  let body: Buffer;
  let key: string;

  beforeAll(async () => {
    s3 = await startS3Server('ceph');
    world = await startWorld();
    world.kube.users.set('alice-token', { username: 'alice' });
    world.kube.rules = [{ user: 'alice', namespace: 'team-a', verbs: ['get', 'list'], resources: ['heapdumps', 'heapdumps/download'] }];
    body = randomBytes(3 * PART + 12_345);
    key = 'rgw/worker-1/team-a/orders-1/java_pid1.2026-11-30T01-02-03.456Z.hprof';
    const client = s3.client();
    try {
      // multipart, as the uploader stores large dumps: the object's ETag is not an MD5, the sha256 metadata is what counts
      await new Upload({ client, partSize: PART, params: { Bucket: s3.bucket, Key: key, Body: body, Metadata: { sha256: createHash('sha256').update(body).digest('hex'), complete: 'true' } } }).done();
    } finally {
      client.destroy();
    }
    const api = await startApiInProcess(apiEnv({ s3, prefix: 'rgw/', kube: world.kube, pki: world.pki, credentials: world.credentials, httpsPort: await freePort() }));
    world.backendUrl = api.url;
  }, 240_000);

  afterAll(disposeAll, 120_000);

  const get = (headers: Record<string, string> = {}) => request(world.aggregator.url, `/apis/heapdump-pipeline.io/v1alpha1/namespaces/team-a/heapdumps/${dumpName(key)}/download`, { token: 'alice-token', headers, ca: world.pki.servingCa.certPem });

  test('a multipart object streams byte-identically with its sha256 as Digest and ETag', async () => {
    const r = await get();
    expect(r.status).toBe(200);
    expect(r.body.equals(body)).toBe(true);
    expect(r.headers.digest).toBe(`sha-256=${createHash('sha256').update(body).digest('base64')}`);
    expect(r.headers.etag).toBe(`"sha256-${createHash('sha256').update(body).digest('hex')}"`);
  }, 60_000);

  test('Range at and across part boundaries, a suffix, resume pieces that join to the whole', async () => {
    for (const [from, to] of [[PART, 2 * PART - 1], [PART - 10, PART + 10], [3 * PART, body.length - 1]] as const) {
      const r = await get({ range: `bytes=${from}-${to}` });
      expect({ from, status: r.status, range: r.headers['content-range'], same: r.body.equals(body.subarray(from, to + 1)) })
        .toEqual({ from, status: 206, range: `bytes ${from}-${to}/${body.length}`, same: true });
    }
    const head = await get({ range: `bytes=0-${PART + 99}` });
    const rest = await get({ range: `bytes=${PART + 100}-` });
    expect(Buffer.concat([head.body, rest.body]).equals(body)).toBe(true);
    const tail = await get({ range: 'bytes=-1000' });
    expect(tail.body.equals(body.subarray(-1000))).toBe(true);
  }, 60_000);

  test('RGW down: 503 with the reason, and the download works again once it is back', async () => {
    await s3.stop();
    try {
      const r = await get();
      expect([r.status, r.json<{ reason: string }>().reason]).toEqual([503, 'ServiceUnavailable']);
    } finally {
      await s3.start();
    }
    expect((await get({ range: 'bytes=0-99' })).body.equals(body.subarray(0, 100))).toBe(true);
  }, 120_000);
});
