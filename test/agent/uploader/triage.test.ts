/**
 * The uploader's read pass with the triage analysis, and compressed HotSpot dumps (`.hprof.gz`,
 * -XX:HeapDumpGzipLevel): real JVMs from the installed JDK, a real s3rver, the loop in-process.
 */
import { createHash } from 'crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { gzipSync } from 'zlib';
import { OBJECT_METADATA } from '../../../agent/src/contract';
import { SUMMARY_SCHEMA } from '../../../agent/src/triage';
import { makeHeapDump, truncatedCopy } from '../../support/jvm';
import { disposeAll, getObjectSha256, S3Server, startS3Server } from '../../support/s3';
import { eventually, msgs, stampedKey, startUploader, testConfig } from './harness';
import { note } from '../../support/notes';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let s3: S3Server;
let tmp: string;
let n = 0;
function fresh(): { root: string; node: string; prefix: string } {
  n++;
  const root = path.join(tmp, `root-${n}`);
  mkdirSync(root, { recursive: true });
  return { root, node: `node-${n}`, prefix: `dumps/node-${n}/` };
}

async function getText(key: string): Promise<string> {
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  const out = await s3.client().send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
  return out.Body!.transformToString('utf8');
}

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'uploader-triage-test-'));
  s3 = await startS3Server('s3rver');
}, 60_000);

afterAll(async () => {
  await disposeAll();
  rmSync(tmp, { recursive: true, force: true });
});

describe('summaries next to the dumps', () => {
  it('a real dump gets <key>.summary.json and .txt, written after the dump is verified; the dump\'s metadata points to them', async () => {
    const { root, node, prefix } = fresh();
    const dir = path.join(root, 'shop', 'web-1');
    const dump = await makeHeapDump(path.join(tmp, `jvm-${n}`));
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'java_pid1.hprof');
    copyFileSync(dump, file);
    const key = stampedKey(`${prefix}shop/web-1/java_pid1.hprof`, statSync(file).mtimeMs);
    const up = startUploader(testConfig(s3, root, { nodeName: node }));
    try {
      await eventually('the summary', () => msgs(up.events, 'dump summary written').length === 1, 30_000);
      expect((await s3.listKeys(prefix)).sort()).toEqual([key, `${key}.summary.json`, `${key}.summary.txt`]);
      const verified = up.events.findIndex((e) => e.msg === 'uploaded and verified');
      const written = up.events.findIndex((e) => e.msg === 'dump summary written');
      expect(written).toBeGreaterThan(verified);
      const obj = await getObjectSha256(s3, key);
      expect(obj.metadata[OBJECT_METADATA.summary]).toBe(`${key.split('/').pop()}.summary.json`);
      const doc = JSON.parse(await getText(`${key}.summary.json`));
      expect(doc).toMatchObject({
        schema: SUMMARY_SCHEMA,
        dump: { key, bucket: s3.bucket, uri: `s3://${s3.bucket}/${key}`, sha256: obj.sha256, size: obj.size, node, namespace: 'shop', pod: 'web-1', complete: true },
        heap: { complete: true },
      });
      // the demo Leak keeps 1 MiB byte[] chunks until it runs out: byte[] leads the histogram
      expect(doc.heap.classes[0].name).toBe('byte[]');
      expect(doc.heap.totals.shallowBytes).toBeGreaterThan(obj.size / 2);
      expect(doc.heap.threads.some((t: { frames: Array<{ className: string }> }) => t.frames.some((f) => f.className === 'Leak'))).toBe(true);
      const text = await getText(`${key}.summary.txt`);
      expect(text).toMatch(/byte\[\]/);
      expect(text).toMatch(/Leak\.main\(Leak\.java:\d+\)/);
      expect(await up.metric('heapdump_uploader_summaries_total', { result: 'written' })).toBe(1);
    } finally {
      await up.stop();
    }
  }, 120_000);

  it('DUMP_ANALYSIS=false: the dump alone, no summary, no pointer', async () => {
    const { root, node, prefix } = fresh();
    const dir = path.join(root, 'shop', 'web-2');
    mkdirSync(dir, { recursive: true });
    copyFileSync(await makeHeapDump(path.join(tmp, `jvm-${n}`)), path.join(dir, 'java_pid1.hprof'));
    const up = startUploader(testConfig(s3, root, { nodeName: node, analysis: false }));
    try {
      await eventually('the dump', () => msgs(up.events, 'uploaded and verified').length === 1, 30_000);
      await new Promise((r) => setTimeout(r, 1000));
      const keys = await s3.listKeys(prefix);
      expect(keys).toHaveLength(1);
      expect((await getObjectSha256(s3, keys[0])).metadata[OBJECT_METADATA.summary]).toBeUndefined();
    } finally {
      await up.stop();
    }
  }, 120_000);
});

describe('compressed HotSpot dumps (-XX:HeapDumpGzipLevel)', () => {
  it.each([1, 6])('level %i: recognised complete by decoding it, in S3 within 5 s of the JVM\'s exit, marked complete, summarised from the decompressed bytes', async (level) => {
    const { root, node, prefix } = fresh();
    const dir = path.join(root, 'shop', `gz-${level}`);
    mkdirSync(dir, { recursive: true });
    // long full window: only a proof of completeness lets it go early
    const up = startUploader(testConfig(s3, root, { nodeName: node, fileStableTimeMs: 120_000, gzip: true }));
    try {
      const written = await makeHeapDump(dir, { gzipLevel: level });
      const exited = Date.now();
      expect(written.endsWith('.hprof.gz')).toBe(true);
      const bytes = readFileSync(written);
      const rel = path.relative(root, written);
      const key = stampedKey(`${prefix}${rel}`, statSync(written).mtimeMs);
      await eventually('the compressed dump', () => msgs(up.events, 'uploaded and verified').length === 1, 15_000);
      expect(Date.now() - exited).toBeLessThan(5_000);
      const obj = await getObjectSha256(s3, key); // the plain key: UPLOAD_GZIP never compresses a .gz again
      expect(obj.sha256).toBe(sha(bytes));
      expect(obj.size).toBe(bytes.length);
      expect(obj.metadata[OBJECT_METADATA.complete]).toBe('true');
      expect(obj.metadata[OBJECT_METADATA.encoding]).toBeUndefined();
      const uncompressed = Number(obj.metadata[OBJECT_METADATA.uncompressedSize]);
      expect(uncompressed).toBeGreaterThan(bytes.length);
      await eventually('the summary', () => msgs(up.events, 'dump summary written').length === 1, 15_000);
      const doc = JSON.parse(await getText(`${key}.summary.json`));
      expect(doc.dump).toMatchObject({ complete: true, compression: 'gzip', uncompressedSize: uncompressed });
      expect(doc.heap.complete).toBe(true);
      expect(doc.heap.structure.bytes).toBe(uncompressed);
      expect(doc.heap.classes[0].name).toBe('byte[]');
      note(`gzip level ${level}: ${bytes.length} bytes compressed, ${uncompressed} decompressed, in S3 ${Date.now() - exited} ms after the JVM exited`);
    } finally {
      await up.stop();
    }
  }, 120_000);

  it('a cut-off compressed dump waits the full stability window and is marked complete=false, never unknown', async () => {
    const { root, node, prefix } = fresh();
    const whole = await makeHeapDump(path.join(tmp, `jvm-${n}`), { gzipLevel: 1 });
    const dir = path.join(root, 'shop', 'cut');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'java_pid1.hprof.gz');
    await truncatedCopy(whole, file, Math.floor(statSync(whole).size * 0.7));
    const lastWrite = statSync(file).mtimeMs;
    const up = startUploader(testConfig(s3, root, { nodeName: node, fileStableTimeMs: 4000 }));
    try {
      await eventually('the upload', () => msgs(up.events, 'uploaded and verified').length === 1, 20_000);
      expect(Date.parse(String(msgs(up.events, 'uploading')[0].time))).toBeGreaterThanOrEqual(lastWrite + 4000);
      const obj = await getObjectSha256(s3, stampedKey(`${prefix}shop/cut/java_pid1.hprof.gz`, lastWrite));
      expect(obj.metadata[OBJECT_METADATA.complete]).toBe('false');
      expect(obj.metadata[OBJECT_METADATA.uncompressedSize]).toBeUndefined();
      expect(msgs(up.events, 'dump is not structurally complete: uploading it marked incomplete')[0].reason).toMatch(/gzip stream is not complete/);
    } finally {
      await up.stop();
    }
  }, 120_000);

  it('a .hprof.gz that is not an HPROF keeps the stability rule', async () => {
    const { root, node, prefix } = fresh();
    const dir = path.join(root, 'shop', 'notes');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'notes.hprof.gz');
    writeFileSync(file + '.tmp', gzipSync(Buffer.from('these are not the bytes of a heap dump\n'.repeat(1000))));
    renameSync(file + '.tmp', file);
    const lastWrite = statSync(file).mtimeMs;
    const up = startUploader(testConfig(s3, root, { nodeName: node, fileStableTimeMs: 3000 }));
    try {
      await eventually('the upload', () => msgs(up.events, 'uploaded and verified').length === 1, 20_000);
      expect(Date.parse(String(msgs(up.events, 'uploading')[0].time))).toBeGreaterThanOrEqual(lastWrite + 3000);
      const obj = await getObjectSha256(s3, stampedKey(`${prefix}shop/notes/notes.hprof.gz`, lastWrite));
      expect(obj.metadata[OBJECT_METADATA.complete]).toBe('false');
      expect(existsSync(file)).toBe(false); // archived like any verified dump
    } finally {
      await up.stop();
    }
  });
});
