/**
 * The uploader loop against a real s3rver on loopback, real heap dumps from the JDK, real files.
 * Objects are read back and compared by sha256; one check reads them with the aws CLI.
 */
import { createHash } from 'crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { gunzipSync } from 'zlib';
import { OBJECT_METADATA, PATHS } from '../../../agent/src/contract';
import { awsCli } from '../../support/clients';
import { mtimeNs, restoreMtime } from '../../support/files';
import { makeHeapDump, makeLargeHprof, slowCopy, truncatedCopy } from '../../support/jvm';
import { disposeAll, getObjectSha256, S3Server, sha256File, startS3Server } from '../../support/s3';
import { eventually, FAST_RETRY, msgs, stampedKey, startUploader, testConfig } from './harness';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let s3: S3Server;
let tmp: string;
let dump: string; // a real, complete HotSpot dump
let n = 0;
/** A fresh dump root and node name per test: tests never see each other's objects. */
function fresh(): { root: string; node: string; prefix: string } {
  n++;
  const root = path.join(tmp, `root-${n}`);
  mkdirSync(root, { recursive: true });
  return { root, node: `node-${n}`, prefix: `dumps/node-${n}/` };
}

/** The dumps' keys (the summary objects next to them left out: they have tests of their own in triage.test.ts). */
async function dumpKeys(prefix: string): Promise<string[]> {
  return (await s3.listKeys(prefix)).filter((k) => !/\.summary\.(json|txt)$/.test(k));
}

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'uploader-test-'));
  [s3, dump] = await Promise.all([startS3Server('s3rver'), makeHeapDump(path.join(tmp, 'jvm'))]);
}, 120_000);

// a test that fails while the server is stopped must not take the following tests down with it
let s3Down = false;
async function stopS3(): Promise<void> {
  s3Down = true;
  await s3.stop();
}
async function startS3(): Promise<void> {
  await s3.start();
  s3Down = false;
}
afterEach(async () => {
  if (s3Down) await startS3();
});

afterAll(async () => {
  await disposeAll();
  rmSync(tmp, { recursive: true, force: true });
});

describe('uploader against s3rver', () => {
  it('uploads a complete HPROF within seconds (not the full window), with metadata; the aws CLI reads the same bytes', async () => {
    const { root, node, prefix } = fresh();
    const cfg = testConfig(s3, root, { nodeName: node, fileStableTimeMs: 60_000 });
    const up = startUploader(cfg);
    try {
      const dir = path.join(root, 'shop', 'web-1');
      mkdirSync(dir, { recursive: true });
      const file = path.join(dir, 'java_pid1.hprof');
      copyFileSync(dump, file);
      const written = Date.now();
      const { mtimeMs, size } = statSync(file);
      const key = stampedKey(`${prefix}shop/web-1/java_pid1.hprof`, mtimeMs);
      await eventually('the object', async () => (await dumpKeys(prefix)).includes(key) && msgs(up.events, 'uploaded and verified').length > 0, 15_000);
      // far below the 60 s window: the structural check let it go early
      expect(Date.now() - written).toBeLessThan(15_000);
      const obj = await getObjectSha256(s3, key);
      expect(obj.sha256).toBe(await sha256File(dump));
      expect(obj.size).toBe(size);
      expect(obj.metadata).toMatchObject({
        [OBJECT_METADATA.node]: node,
        [OBJECT_METADATA.namespace]: 'shop',
        [OBJECT_METADATA.pod]: 'web-1',
        [OBJECT_METADATA.originalSize]: String(size),
        [OBJECT_METADATA.sha256]: obj.sha256,
        [OBJECT_METADATA.complete]: 'true',
        [OBJECT_METADATA.md5]: createHash('md5').update(readFileSync(dump)).digest('hex'),
        [OBJECT_METADATA.modifiedTime]: new Date(Math.floor(mtimeMs)).toISOString(),
      });
      expect(Date.parse(obj.metadata[OBJECT_METADATA.uploadTime])).toBeGreaterThanOrEqual(written - 1000);
      expect(obj.storageClass ?? 'STANDARD').toBe('STANDARD');
      const cli = path.join(tmp, `cli-${n}.hprof`);
      const r = await awsCli(s3, ['s3', 'cp', `s3://${s3.bucket}/${key}`, cli, '--only-show-errors']);
      expect(r.code).toBe(0);
      expect(await sha256File(cli)).toBe(obj.sha256);
      expect(up.isReady()).toBe(true);
      expect(await up.metric('heapdump_uploader_files_uploaded_total')).toBe(1);
      expect(await up.metric('heapdump_uploader_bytes_uploaded_total')).toBe(obj.size);
      expect(await up.metric('heapdump_uploader_backlog_files')).toBe(0);
      expect(await up.metric('heapdump_uploader_last_success_timestamp_seconds')).toBeGreaterThan(written / 1000 - 1);
      // by default the verified dump leaves the application's folder for the node's archive, unchanged
      const archived = path.join(root, PATHS.archiveDir, 'shop', 'web-1', key.split('/').pop()!);
      await eventually('the dump archived', () => !existsSync(file) && existsSync(archived));
      expect(await sha256File(archived)).toBe(obj.sha256);
      expect(statSync(archived).mtimeMs).toBe(mtimeMs);
      expect(statSync(path.join(root, PATHS.archiveDir)).mode & 0o7777).toBe(0o700);
      expect(await up.metric('heapdump_uploader_local_files_settled_total', { action: 'archived' })).toBe(1);
    } finally {
      await up.stop();
    }
  });

  it('the loop keeps /healthz healthy by its heartbeat; a stopped loop turns it unhealthy', async () => {
    const { root, node } = fresh();
    mkdirSync(root, { recursive: true });
    const up = startUploader(testConfig(s3, root, { nodeName: node }), { ...FAST_RETRY, heartbeatMaxSilenceMs: 1500 });
    let stopped = false;
    try {
      await eventually('the first beat', () => up.health().healthy);
      await new Promise((r) => setTimeout(r, 3000)); // twice the silence limit: only renewed beats keep it healthy
      expect(up.health()).toEqual({ healthy: true });
      await up.stop();
      stopped = true;
      await new Promise((r) => setTimeout(r, 1700));
      expect(up.health()).toMatchObject({ healthy: false, reason: expect.stringContaining('loop uploader silent') });
    } finally {
      if (!stopped) await up.stop();
    }
  });

  it('never uploads a growing file early (slow writer), then uploads it whole', async () => {
    const { root, node, prefix } = fresh();
    const up = startUploader(testConfig(s3, root, { nodeName: node }));
    try {
      const file = path.join(root, 'ns', 'pod', 'java_pid1.hprof');
      mkdirSync(path.dirname(file), { recursive: true });
      const size = statSync(dump).size;
      const chunkBytes = Math.ceil(size / 30);
      const writing = slowCopy(dump, file, { chunkBytes, delayMs: 150 }); // ~4.5 s, pauses shorter than every window
      let sawKeyWhileWriting = false;
      let done = false;
      void writing.then(() => (done = true));
      while (!done) {
        if ((await dumpKeys(prefix)).length > 0 && !done) sawKeyWhileWriting = true;
        await new Promise((r) => setTimeout(r, 100));
      }
      await writing;
      expect(sawKeyWhileWriting).toBe(false);
      const key = stampedKey(`${prefix}ns/pod/java_pid1.hprof`, statSync(file).mtimeMs);
      await eventually('the object after the write finished', async () => msgs(up.events, 'uploaded and verified').length === 1, 15_000);
      const obj = await getObjectSha256(s3, key);
      expect(obj.sha256).toBe(await sha256File(dump));
      expect(obj.metadata[OBJECT_METADATA.complete]).toBe('true');
    } finally {
      await up.stop();
    }
  });

  it('uploads a truncated dump only after the full window, marked complete=false', async () => {
    const { root, node, prefix } = fresh();
    const file = path.join(root, 'ns', 'pod', 'java_pid1.hprof');
    mkdirSync(path.dirname(file), { recursive: true });
    await truncatedCopy(dump, file, Math.floor(statSync(dump).size * 0.6));
    const lastWrite = statSync(file).mtimeMs;
    const digest = await sha256File(file);
    const up = startUploader(testConfig(s3, root, { nodeName: node, fileStableTimeMs: 4000 }));
    try {
      await eventually('the uploading log', () => msgs(up.events, 'uploading').length === 1, 20_000);
      // not before the full window since the last write (the short path is for complete dumps only)
      expect(Date.parse(String(msgs(up.events, 'uploading')[0].time))).toBeGreaterThanOrEqual(lastWrite + 4000);
      await eventually('the truncated dump', async () => msgs(up.events, 'uploaded and verified').length === 1, 20_000);
      const obj = await getObjectSha256(s3, stampedKey(`${prefix}ns/pod/java_pid1.hprof`, lastWrite));
      expect(obj.sha256).toBe(digest);
      expect(obj.metadata[OBJECT_METADATA.complete]).toBe('false');
      expect(msgs(up.events, 'dump is not structurally complete: uploading it marked incomplete')).toHaveLength(1);
    } finally {
      await up.stop();
    }
  });

  it('a restarted uploader uploads nothing twice (S3 is the only state)', async () => {
    const { root, node, prefix } = fresh();
    const keys: Record<string, string> = {};
    for (const pod of ['a', 'b']) {
      mkdirSync(path.join(root, 'ns', pod), { recursive: true });
      const file = path.join(root, 'ns', pod, 'java_pid1.hprof');
      copyFileSync(dump, file);
      keys[pod] = stampedKey(`${prefix}ns/${pod}/java_pid1.hprof`, statSync(file).mtimeMs);
    }
    // files left in place (as after a crash between verification and the move): S3 alone says they are done
    const cfg = testConfig(s3, root, { nodeName: node, afterUpload: 'keep' });
    const first = startUploader(cfg);
    await eventually('two uploads', () => msgs(first.events, 'uploaded and verified').length === 2);
    await first.stop();
    const times = await Promise.all(['a', 'b'].map(async (p) => (await getObjectSha256(s3, keys[p])).metadata[OBJECT_METADATA.uploadTime]));

    const second = startUploader(cfg);
    try {
      await eventually('two duplicates', () => msgs(second.events, 'already in S3: skipped').length === 2);
      expect(msgs(second.events, 'uploaded and verified')).toHaveLength(0);
      // the job logs the skip; the loop counts it when the job has returned, a moment later
      await eventually('both skips counted', async () => (await second.metric('heapdump_uploader_files_skipped_duplicate_total')) === 2);
      expect(await second.metric('heapdump_uploader_files_skipped_duplicate_total')).toBe(2);
      const again = await Promise.all(['a', 'b'].map(async (p) => (await getObjectSha256(s3, keys[p])).metadata[OBJECT_METADATA.uploadTime]));
      expect(again).toEqual(times);
      expect((await dumpKeys(prefix)).sort()).toEqual([keys.a, keys.b].sort());
    } finally {
      await second.stop();
    }
  });

  it('two nodes with the same relative path give two objects', async () => {
    const a = fresh();
    const b = fresh();
    const rel = path.join('ns', 'pod', 'java_pid1.hprof');
    // same relative path on both nodes, different content (node b's dump is cut short)
    for (const r of [a.root, b.root]) mkdirSync(path.join(r, 'ns', 'pod'), { recursive: true });
    copyFileSync(dump, path.join(a.root, rel));
    await truncatedCopy(dump, path.join(b.root, rel), 5000);
    const [shaA, shaB] = await Promise.all([sha256File(path.join(a.root, rel)), sha256File(path.join(b.root, rel))]);
    const keyA = stampedKey(`shared/${a.node}/ns/pod/java_pid1.hprof`, statSync(path.join(a.root, rel)).mtimeMs);
    const keyB = stampedKey(`shared/${b.node}/ns/pod/java_pid1.hprof`, statSync(path.join(b.root, rel)).mtimeMs);
    const upA = startUploader(testConfig(s3, a.root, { nodeName: a.node }, { prefix: 'shared/' }));
    const upB = startUploader(testConfig(s3, b.root, { nodeName: b.node }, { prefix: 'shared/' }));
    try {
      await eventually('both uploads', () =>
        msgs(upA.events, 'uploaded and verified').length === 1 && msgs(upB.events, 'uploaded and verified').length === 1);
      const objA = await getObjectSha256(s3, keyA);
      const objB = await getObjectSha256(s3, keyB);
      expect(objA.sha256).toBe(shaA);
      expect(objB.sha256).toBe(shaB);
      expect(objA.sha256).not.toBe(objB.sha256);
      expect(objA.metadata[OBJECT_METADATA.node]).toBe(a.node);
      expect(objB.metadata[OBJECT_METADATA.node]).toBe(b.node);
    } finally {
      await Promise.all([upA.stop(), upB.stop()]);
    }
  });

  it('odd file names give valid, distinct keys; a symlink pointing outside the root is ignored', async () => {
    const { root, node, prefix } = fresh();
    const dir = path.join(root, 'name space', 'pöd €');
    mkdirSync(dir, { recursive: true });
    const names: Array<[Buffer, string]> = [
      [Buffer.from('with space.hprof'), 'with space.hprof'],
      [Buffer.from('ünïcødé 日本.hprof'), 'ünïcødé 日本.hprof'],
      [Buffer.from('new\nline.hprof'), 'new%0Aline.hprof'],
      [Buffer.from('100%.hprof'), '100%25.hprof'],
      [Buffer.concat([Buffer.from('latin1-'), Buffer.from([0xe9]), Buffer.from('.hprof')]), 'latin1-%E9.hprof'],
    ];
    const contents = new Map<string, string>();
    names.forEach(([raw, key], i) => {
      const body = Buffer.concat([readFileSync(dump).subarray(0, 2000), Buffer.from([i])]);
      const file = Buffer.concat([Buffer.from(dir + '/'), raw]);
      writeFileSync(file, body);
      contents.set(stampedKey(`${prefix}name space/pöd €/${key}`, statSync(file).mtimeMs), sha(body));
    });
    const outside = path.join(tmp, `outside-${n}`);
    mkdirSync(outside);
    copyFileSync(dump, path.join(outside, 'secret.hprof'));
    symlinkSync(path.join(outside, 'secret.hprof'), path.join(root, 'link.hprof'));
    symlinkSync(outside, path.join(root, 'linked-dir'));
    const up = startUploader(testConfig(s3, root, { nodeName: node, fileStableTimeMs: 1500 }));
    try {
      await eventually('all odd names', () => msgs(up.events, 'uploaded and verified').length === names.length);
      await new Promise((r) => setTimeout(r, 2000)); // a few more scans: the symlinks must still be ignored
      const keys = (await dumpKeys(prefix)).sort();
      expect(keys).toEqual([...contents.keys()].sort());
      for (const [key, digest] of contents) expect((await getObjectSha256(s3, key)).sha256).toBe(digest);
      expect((await getObjectSha256(s3, [...contents.keys()][0])).metadata[OBJECT_METADATA.namespace]).toBe('name space');
      expect((await getObjectSha256(s3, [...contents.keys()][0])).metadata[OBJECT_METADATA.pod]).toBe(encodeURIComponent('pöd €'));
    } finally {
      await up.stop();
    }
  });

  it('every occurrence of the same name gets its own key; content rewritten under a restored mtime gets a content-suffixed one', async () => {
    const { root, node, prefix } = fresh();
    const file = path.join(root, 'ns', 'pod', 'java_pid1.hprof');
    mkdirSync(path.dirname(file), { recursive: true });
    // a container that runs out of memory three times: each dump is moved out of its way once verified
    const keys: string[] = [];
    const up = startUploader(testConfig(s3, root, { nodeName: node }));
    try {
      for (let i = 0; i < 3; i++) {
        const body = Buffer.concat([readFileSync(dump).subarray(0, 4000 + i), Buffer.from(`occurrence ${i}`)]);
        writeFileSync(file, body);
        utimes(file, 60 - i); // distinct mtimes, as three OOMs seconds apart have
        keys.push(stampedKey(`${prefix}ns/pod/java_pid1.hprof`, statSync(file).mtimeMs));
        await eventually(`occurrence ${i} archived`, () => !existsSync(file) && msgs(up.events, 'uploaded and verified').length === i + 1);
        expect((await getObjectSha256(s3, keys[i])).sha256).toBe(sha(body));
      }
      expect((await dumpKeys(prefix)).sort()).toEqual([...keys].sort());
    } finally {
      await up.stop();
    }
    // kept in place and rewritten in place with its mtime put back: the key is taken by other content
    const keep = startUploader(testConfig(s3, root, { nodeName: node, afterUpload: 'keep' }));
    try {
      const first = Buffer.concat([readFileSync(dump).subarray(0, 5000), Buffer.from('first')]);
      writeFileSync(file, first);
      const mtime = mtimeNs(file);
      const key = stampedKey(`${prefix}ns/pod/java_pid1.hprof`, statSync(file).mtimeMs);
      await eventually('first upload', () => msgs(keep.events, 'uploaded and verified').length === 1);
      const second = Buffer.concat([readFileSync(dump).subarray(0, 5000), Buffer.from('other')]);
      writeFileSync(file, second);
      restoreMtime(file, mtime);
      await eventually('second upload', () => msgs(keep.events, 'uploaded and verified').length === 2);
      const suffixed = key.replace(/\.hprof$/, `.${sha(second).slice(0, 12)}.hprof`);
      expect((await getObjectSha256(s3, key)).sha256).toBe(sha(first));
      expect((await getObjectSha256(s3, suffixed)).sha256).toBe(sha(second));
    } finally {
      await keep.stop();
    }
  });

  it('a file deleted while it is being uploaded is not committed; the loop goes on', async () => {
    const { root, node, prefix } = fresh();
    const big = path.join(root, 'ns', 'pod', 'big.hprof');
    mkdirSync(path.dirname(big), { recursive: true });
    await makeLargeHprof(big, 400 * 2 ** 20);
    // multipart in small sequential parts: slow enough to delete the file in the middle
    const up = startUploader(testConfig(s3, root, { nodeName: node, multipartThresholdBytes: 8 * 2 ** 20, concurrency: 1 }));
    try {
      await eventually('upload progress', () => msgs(up.events, 'upload progress').length > 0);
      unlinkSync(big);
      await eventually('the vanished log', () => msgs(up.events, 'dump vanished before it was uploaded').length === 1);
      expect(await dumpKeys(prefix)).toEqual([]);
      // the loop still works
      const next = path.join(root, 'ns', 'pod', 'java_pid1.hprof');
      copyFileSync(dump, next);
      const nextKey = stampedKey(`${prefix}ns/pod/java_pid1.hprof`, statSync(next).mtimeMs);
      await eventually('the next dump', () => msgs(up.events, 'uploaded and verified').length === 1);
      expect(await dumpKeys(prefix)).toEqual([nextKey]);
    } finally {
      await up.stop();
    }
  });

  it('S3 down at start and during an upload: everything arrives once, local files intact, ready again', async () => {
    const { root, node, prefix } = fresh();
    const small = path.join(root, 'ns', 'a', 'java_pid1.hprof');
    mkdirSync(path.dirname(small), { recursive: true });
    copyFileSync(dump, small);
    const smallKey = stampedKey(`${prefix}ns/a/java_pid1.hprof`, statSync(small).mtimeMs);
    await stopS3();
    // readiness re-checked only every minute: getting ready again must come from the verified upload
    const up = startUploader(testConfig(s3, root, { nodeName: node, multipartThresholdBytes: 8 * 2 ** 20, concurrency: 2, afterUpload: 'keep' }),
      { ...FAST_RETRY, readinessIntervalMs: 60_000 });
    try {
      await eventually('not ready while S3 is down', () => up.readiness.some((r) => !r.ready));
      await new Promise((r) => setTimeout(r, 1500)); // the dump is stable now: uploads are attempted and fail
      expect(msgs(up.events, 'uploaded and verified')).toHaveLength(0);
      await startS3();
      await eventually('the first dump after S3 came back', () => msgs(up.events, 'uploaded and verified').length === 1);
      // a verified upload makes the loop check the bucket at once (not at its next interval)
      await eventually('ready once a dump got through', () => up.isReady(), 2000);

      const big = path.join(root, 'ns', 'b', 'big.hprof');
      mkdirSync(path.dirname(big), { recursive: true });
      await makeLargeHprof(big, 300 * 2 ** 20);
      const bigSha = await sha256File(big);
      const bigKey = stampedKey(`${prefix}ns/b/big.hprof`, statSync(big).mtimeMs);
      await eventually('upload progress on the big dump', () => msgs(up.events, 'upload progress').length > 0);
      await stopS3();
      await new Promise((r) => setTimeout(r, 1000));
      await startS3();
      await eventually('the big dump', () => msgs(up.events, 'uploaded and verified').length === 2, 60_000);
      expect(msgs(up.events, 'upload failed (local file kept), retrying with backoff').length + msgs(up.events, 'upload failed again (local file kept)').length).toBeGreaterThan(0);
      expect((await dumpKeys(prefix)).sort()).toEqual([smallKey, bigKey].sort());
      expect((await getObjectSha256(s3, bigKey)).sha256).toBe(bigSha);
      expect((await getObjectSha256(s3, smallKey)).sha256).toBe(await sha256File(dump));
      expect(await sha256File(big)).toBe(bigSha); // local file intact
      expect(await up.metric('heapdump_uploader_retries_total')).toBeGreaterThan(0);
      await eventually('ready again', () => up.isReady());
    } finally {
      await up.stop();
    }
  });

  it.each([
    // a HEAD has no error body: s3rver's 403 for an unknown key id is reported as AccessDenied
    ['wrong credentials', {}, { credentials: { accessKeyId: 'WRONGKEY', secretAccessKey: 'WRONGSECRET' } }, /^(AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch)$/],
    ['a missing bucket', {}, { bucket: 'no-such-bucket' }, /^NoSuchBucket$/],
  ])('%s: one clear error line, not ready, no crash, files kept', async (_what, over, s3Over, cause) => {
    const { root, node } = fresh();
    const file = path.join(root, 'ns', 'pod', 'java_pid1.hprof');
    mkdirSync(path.dirname(file), { recursive: true });
    copyFileSync(dump, file);
    const up = startUploader(testConfig(s3, root, { nodeName: node, ...over }, s3Over));
    let settled = false;
    void up.done.finally(() => (settled = true));
    try {
      await new Promise((r) => setTimeout(r, 4000)); // several readiness checks and upload attempts
      const errors = up.events.filter((e) => e.level === 'error' && e.msg === 'S3 check failed');
      expect(errors).toHaveLength(1);
      expect(String(errors[0].cause)).toMatch(cause);
      expect(String(errors[0].hint)).toMatch(/bucket name, endpoint, credentials and permissions/);
      // uploads refused for the same reason say so once more at most, never per attempt
      expect(up.events.filter((e) => e.level === 'error').length).toBeLessThanOrEqual(2);
      expect(up.isReady()).toBe(false);
      expect(up.readiness.every((r) => !r.ready)).toBe(true);
      expect(settled).toBe(false);
      expect(existsSync(file)).toBe(true);
      expect(msgs(up.events, 'uploaded and verified')).toHaveLength(0);
    } finally {
      await up.stop();
    }
  });

  it('AFTER_UPLOAD=delete removes a local dump only after its object is verified (not while S3 is down)', async () => {
    const { root, node, prefix } = fresh();
    const file = path.join(root, 'ns', 'pod', 'java_pid1.hprof');
    mkdirSync(path.dirname(file), { recursive: true });
    copyFileSync(dump, file);
    const digest = await sha256File(file);
    const key = stampedKey(`${prefix}ns/pod/java_pid1.hprof`, statSync(file).mtimeMs);
    await stopS3();
    const up = startUploader(testConfig(s3, root, { nodeName: node, afterUpload: 'delete' }));
    try {
      await eventually('failed attempts while S3 is down', () => msgs(up.events, 'upload failed (local file kept), retrying with backoff').length > 0);
      await new Promise((r) => setTimeout(r, 1000));
      expect(existsSync(file)).toBe(true);
      await startS3();
      await eventually('the local dump deleted', () => !existsSync(file));
      expect((await getObjectSha256(s3, key)).sha256).toBe(digest);
      const verified = up.events.findIndex((e) => e.msg === 'uploaded and verified');
      const deleted = up.events.findIndex((e) => e.msg === 'verified dump deleted');
      expect(verified).toBeGreaterThanOrEqual(0);
      expect(deleted).toBeGreaterThan(verified);
      expect(await up.metric('heapdump_uploader_local_files_settled_total', { action: 'deleted' })).toBe(1);
      expect(existsSync(path.join(root, PATHS.archiveDir))).toBe(false);
    } finally {
      await up.stop();
    }
  });

  it('retention trims the archive: oldest verified dumps first, beyond the byte cap; never a dump not in S3', async () => {
    const { root, node, prefix } = fresh();
    const dir = path.join(root, 'ns', 'pod');
    mkdirSync(dir, { recursive: true });
    const size = statSync(dump).size;
    const old1 = path.join(dir, 'old1.hprof');
    const old2 = path.join(dir, 'old2.hprof');
    copyFileSync(dump, old1);
    writeFileSync(old2, Buffer.concat([readFileSync(dump).subarray(0, 3000), Buffer.from('x')]));
    utimes(old1, 3600);
    utimes(old2, 1800);
    const key1 = stampedKey(`${prefix}ns/pod/old1.hprof`, statSync(old1).mtimeMs);
    const key2 = stampedKey(`${prefix}ns/pod/old2.hprof`, statSync(old2).mtimeMs);
    const archived = (key: string) => path.join(root, PATHS.archiveDir, 'ns', 'pod', key.split('/').pop()!);
    // pending: a truncated dump that stays inside its (long) full window, so it is never uploaded here
    const pending = path.join(dir, 'pending.hprof');
    await truncatedCopy(dump, pending, Math.floor(size / 2));
    const cap = Math.floor(size / 2) + 3001 + 10; // room for pending + old2, not for old1 too
    const opts = { ...FAST_RETRY, housekeepingIntervalMs: 300 };
    const up = startUploader(testConfig(s3, root, { nodeName: node, fileStableTimeMs: 60_000, retentionMaxBytes: cap }), opts);
    try {
      await eventually('both archived', () => msgs(up.events, 'verified dump moved to the archive').length === 2);
      await eventually('the oldest archived dump removed', () => !existsSync(archived(key1)));
      await new Promise((r) => setTimeout(r, 1500));
      expect(existsSync(archived(key2))).toBe(true); // under the cap once old1 went
      expect(existsSync(pending)).toBe(true);
      expect((await dumpKeys(prefix)).sort()).toEqual([key1, key2].sort());
      expect(await up.metric('heapdump_uploader_local_files_settled_total', { action: 'expired' })).toBe(1);
      expect(await up.metric('heapdump_uploader_backlog_files')).toBe(1);
      expect(await up.metric('heapdump_uploader_local_dump_bytes', { state: 'archived' })).toBe(3001);
      expect(await up.metric('heapdump_uploader_volume_capacity_bytes')).toBeGreaterThan(0);
    } finally {
      await up.stop();
    }
    // even a zero-ish cap never touches the pending dump
    const up2 = startUploader(testConfig(s3, root, { nodeName: node, fileStableTimeMs: 60_000, retentionMaxBytes: 1 }), opts);
    try {
      await eventually('old2 removed too', () => !existsSync(archived(key2)));
      await new Promise((r) => setTimeout(r, 1500));
      expect(existsSync(pending)).toBe(true);
    } finally {
      await up2.stop();
    }
  });

  it('gzip on the fly: key gets .gz, content decompresses to the original, metadata says so', async () => {
    const { root, node, prefix } = fresh();
    const file = path.join(root, 'ns', 'pod', 'big.hprof');
    mkdirSync(path.dirname(file), { recursive: true });
    await makeLargeHprof(file, 40 * 2 ** 20); // several 8 MiB gzip parts
    const digest = await sha256File(file);
    const { size, mtimeMs } = statSync(file);
    const up = startUploader(testConfig(s3, root, { nodeName: node, gzip: true, afterUpload: 'keep' }));
    try {
      await eventually('the gzip upload', () => msgs(up.events, 'uploaded and verified').length === 1, 30_000);
      const key = stampedKey(`${prefix}ns/pod/big.hprof`, mtimeMs) + '.gz';
      expect(await dumpKeys(prefix)).toEqual([key]);
      const cli = path.join(tmp, `gz-${n}.hprof.gz`);
      const r = await awsCli(s3, ['s3', 'cp', `s3://${s3.bucket}/${key}`, cli, '--only-show-errors']);
      expect(r.code).toBe(0);
      const raw = gunzipSync(readFileSync(cli));
      expect(sha(raw)).toBe(digest);
      const obj = await getObjectSha256(s3, key);
      expect(obj.size).toBeLessThan(size);
      expect(obj.metadata).toMatchObject({
        [OBJECT_METADATA.sha256]: digest,
        [OBJECT_METADATA.originalSize]: String(size),
        [OBJECT_METADATA.encoding]: 'gzip',
        [OBJECT_METADATA.complete]: 'true',
      });
    } finally {
      await up.stop();
    }
    // a restart recognises the gzip object as done
    const again = startUploader(testConfig(s3, root, { nodeName: node, gzip: true, afterUpload: 'keep' }));
    try {
      await eventually('duplicate', () => msgs(again.events, 'already in S3: skipped').length === 1);
      expect(msgs(again.events, 'uploaded and verified')).toHaveLength(0);
    } finally {
      await again.stop();
    }
  });
});

function utimes(file: string, agoSeconds: number): void {
  const t = new Date(Date.now() - agoSeconds * 1000);
  utimesSync(file, t, t);
}
