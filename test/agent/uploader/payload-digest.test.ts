/**
 * The sha256 payload digest (`UPLOAD_CHECKSUM=sha256`, what `auto` picks on AWS S3) on the wire: every
 * PUT and every part carries x-amz-checksum-sha256 of exactly the bytes it sends, and no Content-MD5.
 * A recording proxy on loopback sits in front of a real s3rver (and Ceph RGW when installed), which
 * store what they receive; the objects are read back and compared by sha256.
 * (Neither server checks this header, so its rejection of a wrong one is AWS's to show, not ours here.)
 */
import { createHash } from 'crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { OBJECT_METADATA } from '../../../agent/src/contract';
import { startFaultProxy } from '../../support/fault-proxy';
import { makeLargeHprof } from '../../support/jvm';
import { cephAvailable, disposeAll, getObjectSha256, type S3Server, startS3Server } from '../../support/s3';
import { eventually, msgs, stampedKey, startUploader, testConfig } from './harness';

const MIB = 1024 * 1024;
const b64sha = (b: Buffer) => createHash('sha256').update(b).digest('base64');

interface Seen { readonly method: string; readonly url: URL; readonly headers: Record<string, string | string[] | undefined> }

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'payload-digest-'));
});
afterAll(async () => {
  await disposeAll();
  rmSync(tmp, { recursive: true, force: true });
});

const servers: Array<['s3rver' | 'ceph', boolean]> = [['s3rver', true], ['ceph', cephAvailable()]];

describe.each(servers)('x-amz-checksum-sha256 on every request body (%s)', (kind, available) => {
  const maybe = available ? it : it.skip;
  maybe('one PUT and a 3-part upload: each body carries the sha256 of its own bytes, no Content-MD5; objects verified', async () => {
    const s3: S3Server = await startS3Server(kind);
    const seen: Seen[] = [];
    const proxy = await startFaultProxy({
      target: s3.endpoint,
      observe: (r) => seen.push({ method: r.method, url: new URL(r.url, 'http://proxy'), headers: r.headers }),
    });
    const root = path.join(tmp, kind);
    const files = { small: path.join(root, 'ns', 'pod-a', 'java_pid1.hprof'), big: path.join(root, 'ns', 'pod-b', 'java_pid1.hprof') };
    for (const f of Object.values(files)) mkdirSync(path.dirname(f), { recursive: true });
    await makeLargeHprof(files.small, 2 * MIB);
    await makeLargeHprof(files.big, 12 * MIB + 4321); // parts of 5, 5 and 2 MiB + 4321 bytes
    // read now: once verified, the dumps are moved into the node's archive (the default after-upload action)
    const small = readFileSync(files.small);
    const big = readFileSync(files.big);
    const keys = new Map(Object.values(files).map((f) => [f, stampedKey(`dumps/node-a/${path.relative(root, f)}`, statSync(f).mtimeMs)]));
    const keyOf = (f: string) => keys.get(f)!;
    const up = startUploader(testConfig(s3, root, { digest: 'sha256', partSizeBytes: 5 * MIB, multipartThresholdBytes: 4 * MIB }, { endpoint: proxy.endpoint }));
    try {
      await eventually('both dumps verified', () => msgs(up.events, 'uploaded and verified').length === 2, 60_000);
    } finally {
      await up.stop();
      await proxy.close();
    }

    const bodies = seen.filter((r) => r.method === 'PUT' && decodeURIComponent(r.url.pathname).includes('java_pid1'));

    // the one PUT: the whole file's sha256 (which is also its metadata)
    const puts = bodies.filter((r) => decodeURIComponent(r.url.pathname).endsWith(keyOf(files.small)) && !r.url.searchParams.has('partNumber'));
    expect(puts).toHaveLength(1);
    expect(puts[0].headers['x-amz-checksum-sha256']).toBe(b64sha(small));
    expect(puts[0].headers['content-md5']).toBeUndefined();

    // the multipart upload: declared SHA256 at creation, and each part the sha256 of its own range
    const creates = seen.filter((r) => r.method === 'POST' && r.url.searchParams.has('uploads') && decodeURIComponent(r.url.pathname).endsWith(keyOf(files.big)));
    expect(creates).toHaveLength(1);
    expect(creates[0].headers['x-amz-checksum-algorithm']).toBe('SHA256');
    const parts = bodies.filter((r) => r.url.searchParams.has('partNumber')).sort((a, b) => Number(a.url.searchParams.get('partNumber')) - Number(b.url.searchParams.get('partNumber')));
    expect(parts.map((p) => p.url.searchParams.get('partNumber'))).toEqual(['1', '2', '3']);
    parts.forEach((p, i) => {
      expect(p.headers['x-amz-checksum-sha256']).toBe(b64sha(big.subarray(i * 5 * MIB, Math.min(big.length, (i + 1) * 5 * MIB))));
      expect(p.headers['content-md5']).toBeUndefined();
    });

    for (const [f, bytes] of [[files.small, small], [files.big, big]] as const) {
      const obj = await getObjectSha256(s3, keyOf(f));
      expect(obj.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(obj.metadata[OBJECT_METADATA.sha256]).toBe(obj.sha256);
      // no MD5 metadata: nothing was sent with Content-MD5
      expect(obj.metadata[OBJECT_METADATA.md5]).toBeUndefined();
    }
  }, 240_000);
});
