/**
 * `npm run summarize`: the uploader's summary of a local heap dump, from a real JDK dump (the test
 * Leak program keeps 256 KiB byte[] chunks until OutOfMemoryError in main), plain and gzip-compressed.
 */
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { gunzipSync } from 'zlib';
import { SUMMARY_SCHEMA } from '../../agent/src/triage/summary';
import { makeHeapDump } from '../support/jvm';
import { repoPath } from '../support/procs';

const summarize = (...args: string[]) =>
  spawnSync('node', [repoPath('scripts', 'run-ts.cjs'), repoPath('scripts', 'summarize.ts'), ...args], { encoding: 'utf8', timeout: 60_000 });

let tmp: string;
let dump: string;
let gzDump: string;
beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'summarize-test-'));
  dump = await makeHeapDump(tmp);
  gzDump = await makeHeapDump(path.join(tmp, 'gz'), { gzipLevel: 1 });
}, 120_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

test('the text summary: complete, byte[] on top, main\'s OOM frame in Leak.main', () => {
  const r = summarize(dump);
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  expect(r.stdout.split('\n')[0]).toBe(`Heap dump file://${dump}`);
  expect(r.stdout).toMatch(/^ {2}[\d.]+ MiB, complete, sha256 [0-9a-f]{64}$/m);
  expect(r.stdout).toMatch(/^ {3}1 +[\d,]+ +[\d,]+ +[\d.]+ MiB +byte\[\]$/m);
  expect(r.stdout).toMatch(/^"main", \d+ frames\n(?: {4}at .*\n)*? {4}at Leak\.main\(Leak\.java:\d+\)$/m);
}, 60_000);

test('--json: the summary document, hashed from the same read', () => {
  const r = summarize(dump, '--json');
  expect(r.status).toBe(0);
  const doc = JSON.parse(r.stdout) as { schema: string; dump: { sha256: string; size: number; complete: boolean }; heap: { classes: Array<{ name: string }> } };
  const bytes = readFileSync(dump);
  expect(doc.schema).toBe(SUMMARY_SCHEMA);
  expect(doc.dump).toMatchObject({ sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length, complete: true });
  expect(doc.heap.classes[0].name).toBe('byte[]');
}, 60_000);

test('a gzip-compressed dump (-XX:HeapDumpGzipLevel=1): analysed from the decompressed stream, complete', () => {
  expect(gzDump).toMatch(/\.hprof\.gz$/);
  const r = summarize(gzDump, '--json');
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  const doc = JSON.parse(r.stdout) as { dump: { sha256: string; complete: boolean; compression: string; uncompressedSize: number }; heap: { classes: Array<{ name: string }> } };
  expect(doc.dump).toMatchObject({ sha256: createHash('sha256').update(readFileSync(gzDump)).digest('hex'), complete: true, compression: 'gzip' });
  expect(doc.dump.uncompressedSize).toBe(gunzipSync(readFileSync(gzDump)).length);
  expect(doc.heap.classes[0].name).toBe('byte[]');
}, 60_000);

test('a truncated copy: summarized, marked incomplete', () => {
  const cut = path.join(tmp, 'cut.hprof');
  const bytes = readFileSync(dump);
  writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
  const r = summarize(cut, '--json');
  expect(r.status).toBe(0);
  expect((JSON.parse(r.stdout) as { dump: { complete: boolean } }).dump.complete).toBe(false);
}, 60_000);

test.each([
  [[], 2, /^summarize: expected one heap dump file and optionally --json or --leaks, got \[\]$/],
  [['notes.txt'], 2, /^summarize: .*notes\.txt is not named like an HPROF dump; expected \*\.hprof or \*\.hprof\.gz$/],
  [['/nonexistent/x.hprof'], 1, /^summarize: cannot open \/nonexistent\/x\.hprof: ENOENT$/],
])('fails on %j: one line, exit %d, no stack trace', (args, status, line) => {
  const r = summarize(...args);
  expect(r.status).toBe(status);
  expect(r.stdout).toBe('');
  expect(r.stderr.split('\n')[0]).toMatch(line);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}, 60_000);
