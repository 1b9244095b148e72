/**
 * The analysis within its budgets (agent/src/triage/dump-analysis.ts), in-process, on hostile dumps
 * (test/support/hostile-dumps.ts) and a real one: every per-file cost is bounded, and a summary that was
 * cut says why. The analysis process runs this same code (test/agent/uploader/analysis-process.test.ts).
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'fs';
import { open } from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import { type AnalysisBudgets, analyseDump, type DumpAnalysis } from '../../../agent/src/triage/dump-analysis';
import { collidingClassesHprof, recordBomb, recordBombGz } from '../../support/hostile-dumps';
import { makeHeapDump } from '../../support/jvm';
import { disposeAll } from '../../support/procs';

const BUDGETS: AnalysisBudgets = { cpuSeconds: 10, inflateMaxRatio: 100, inflateMaxBytes: 64 * 2 ** 30 };
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const bufferRead = (b: Buffer) => async (buf: Buffer, off: number, len: number, pos: number) => b.copy(buf, off, pos, Math.min(b.length, pos + len));

async function analyseFile(file: string, kind: 'hprof' | 'hprof-gzip', budgets = BUDGETS, cpuSeconds = cpu): Promise<DumpAnalysis & { ms: number }> {
  const fh = await open(file, 'r');
  try {
    const t = Date.now();
    const r = await analyseDump(async (b, o, l, p) => (await fh.read(b, o, l, p)).bytesRead, { kind, size: (await fh.stat()).size, budgets, cpuSeconds });
    return { ...r, ms: Date.now() - t };
  } finally {
    await fh.close();
  }
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'dump-analysis-'));
});
afterAll(async () => {
  await disposeAll();
  rmSync(tmp, { recursive: true, force: true });
});

describe('analyseDump within its budgets', () => {
  it('a real dump: analysed to its end, nothing stopped', async () => {
    const dump = await makeHeapDump(path.join(tmp, 'jvm'));
    const r = await analyseFile(dump, 'hprof');
    expect(r.stopped).toBeUndefined();
    expect(r.heap.complete).toBe(true);
    expect(r.streamBytes).toBe(statSync(dump).size);
    expect(r.heap.classes[0].name).toBe('byte[]');
  }, 60_000);

  it('issue 20 attack 1: 160,000 instances of classes whose ids collide in the former hash: linear, every object counted', async () => {
    const bytes = collidingClassesHprof(160_000);
    expect(bytes.length).toBeLessThan(5 * 2 ** 20);
    const t = Date.now();
    const r = await analyseDump(bufferRead(bytes), { kind: 'hprof', size: bytes.length, budgets: BUDGETS, cpuSeconds: cpu });
    expect(Date.now() - t).toBeLessThan(10_000);
    expect(r.stopped).toBeUndefined();
    expect(r.heap.totals.objects).toBe(160_000);
    expect(r.heap.totals.instances).toBe(160_000);
    // 100,000 classes get a row (maxClasses), the rest are counted together and the summary says so
    expect(r.heap.issues.join('\n')).toMatch(/class table full \(maxClasses 100000\): 60000 objects of further classes/);
  }, 30_000);

  it('issue 20 attack 3: a .hprof.gz of 20 million empty records: the record budget stops the analysis, the inflate budget the decompression', async () => {
    const file = path.join(tmp, 'bomb.hprof.gz');
    const size = await recordBombGz(file, 20_000_000);
    expect(size).toBeLessThan(400_000);
    const r = await analyseFile(file, 'hprof-gzip');
    expect(r.ms).toBeLessThan(20_000);
    expect(r.heap.complete).toBe(false);
    // 64 MiB (the inflate floor: 100 x the file is less) of the 180 MB it inflates to
    expect(r.streamBytes).toBe(64 * 2 ** 20);
    expect(r.stopped).toMatch(/^the inflate budget \(at most 100 times the file's \d+ bytes and at most 68719476736 bytes\) stopped the decompression after 67108864 bytes$/);
    const issues = r.heap.issues.join('\n');
    expect(issues).toMatch(/^analysis stopped: the inflate budget/);
    expect(issues).toMatch(/more than 5000000 records \(the record budget\): the analysis stopped at offset \d+/);
  }, 60_000);

  it('a plain HPROF of 6 million empty records: the record budget stops the analysis', async () => {
    const bytes = recordBomb(6_000_000);
    const t = Date.now();
    const r = await analyseDump(bufferRead(bytes), { kind: 'hprof', size: bytes.length, budgets: BUDGETS, cpuSeconds: cpu });
    expect(Date.now() - t).toBeLessThan(20_000);
    expect(r.heap.issues.join('\n')).toMatch(/more than 5000000 records \(the record budget\)/);
    expect(r.heap.complete).toBe(false);
  }, 60_000);

  it('the CPU budget: past it the analysis stops after the chunk at hand, with a partial summary that says why', async () => {
    const dump = await makeHeapDump(path.join(tmp, 'jvm2'));
    // a clock that charges 4 CPU s per look: the budget (10 s + 10 s per GiB) runs out at the third look
    let t = 0;
    const r = await analyseFile(dump, 'hprof', BUDGETS, () => (t += 4));
    expect(r.stopped).toMatch(/^the CPU budget \(10 s plus 10 s per GiB\) ran out after 12\.0 CPU s, at byte 2097152 of the HPROF stream/);
    expect(r.streamBytes).toBe(2 * 2 ** 20);
    expect(r.heap.complete).toBe(false);
    expect(r.heap.issues[0]).toBe(`analysis stopped: ${r.stopped}`);
    expect(statSync(dump).size).toBeGreaterThan(r.streamBytes);
  }, 60_000);

  it('a gzip stream of junk: ends quietly, not an HPROF', async () => {
    const junk = path.join(tmp, 'junk.hprof.gz');
    const { writeFileSync } = await import('fs');
    const { gzipSync } = await import('zlib');
    writeFileSync(junk, gzipSync(readFileSync(__filename)));
    const r = await analyseFile(junk, 'hprof-gzip');
    expect(r.heap.format).toBeNull();
    expect(r.heap.complete).toBe(false);
  });
});
