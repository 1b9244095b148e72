/**
 * Crafted dumps against the leak analysis (issue 20's rules apply to it too): it never throws anything but
 * its two "not analysable" answers, never hangs (each case bounded far below a hang), and respects its
 * memory, time and inflate budgets with a reason that says which one.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { gzipSync } from 'zlib';
import { analyzeFile, analyzeLeaks, BudgetExceeded, type LeaksDocument, NotAnalyzable } from '../../../agent/src/leaks';
import { bufferNameReader } from '../../../agent/src/triage/name-readers';
import { HprofWriter, T } from '../../support/hprof-writer';

const work = mkdtempSync(path.join(os.tmpdir(), 'leaks-hostile-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Analyses `bytes` in chunks of `chunk`; the outcome: a report, or the reason it was not analysable. */
async function outcome(bytes: Buffer, opts: { chunk?: number; memory?: number; deadline?: number } = {}): Promise<{ ok: boolean; reason?: string; suspects?: number }> {
  const chunk = opts.chunk ?? 64 * 1024;
  try {
    const f = await analyzeLeaks({
      read: bufferNameReader(bytes),
      async stream(onChunk) {
        for (let p = 0; p < bytes.length; p += chunk) onChunk(bytes.subarray(p, p + chunk));
      },
    }, { memoryBudgetBytes: opts.memory, deadline: opts.deadline });
    return { ok: true, suspects: f.suspects.length };
  } catch (error) {
    if (error instanceof BudgetExceeded || error instanceof NotAnalyzable) return { ok: false, reason: error.message };
    throw error;
  }
}

/** A small valid dump: a class with one reference field, `n` instances in a chain, a root, a static. */
function chainDump(n: number, idOf: (i: number) => bigint = (i) => 0x100000n + BigInt(i) * 16n): Buffer {
  const w = new HprofWriter(8);
  w.utf8(1n, 'Holder').utf8(2n, 'next').utf8(3n, 'ROOT').loadClass(1, 0x10n, 1n).heapSegment();
  w.classDump(0x10n, 0n, 8, [{ name: 2n, type: T.object }], [{ name: 3n, type: T.object, value: w.id(idOf(0)) }]);
  w.rootStickyClass(0x10n);
  for (let i = 0; i < n; i++) w.instance(idOf(i), 0x10n, w.id(i + 1 < n ? idOf(i + 1) : 0n));
  return w.end().toBuffer();
}

describe('crafted dumps', () => {
  it('200,000 objects sharing one id: counted, one of them referenced, no slowdown', async () => {
    const t0 = Date.now();
    const r = await outcome(chainDump(200_000, () => 0x4242n));
    expect(r.ok).toBe(true);
    expect(Date.now() - t0).toBeLessThan(30_000);
  }, 60_000);

  it('ids crafted to share one index bucket (one far outlier): lookups stay logarithmic', async () => {
    const n = 200_000;
    const t0 = Date.now();
    // all ids within a few MB, one at 2^62: every id but that one lands in the index's first bucket
    const r = await outcome(chainDump(n, (i) => (i === n - 1 ? 1n << 62n : 0x1000n + BigInt(i) * 8n)));
    expect(r).toEqual({ ok: true, suspects: 1 });
    expect(Date.now() - t0).toBeLessThan(30_000);
  }, 60_000);

  it('50,000 classes whose ids agree in every low bit (a fixed hash would collide): linear time', async () => {
    const w = new HprofWriter(8);
    w.utf8(1n, 'C').heapSegment();
    for (let i = 0; i < 50_000; i++) w.classDump(BigInt(i + 1) << 40n, 0n, 0, []);
    for (let i = 0; i < 50_000; i++) w.instance(0x9000000n + BigInt(i) * 16n, BigInt(i + 1) << 40n, Buffer.alloc(0));
    w.sub(Buffer.concat([HprofWriter.u1(0x01), w.id(0x9000000n), w.id(1n)]));
    const t0 = Date.now();
    expect((await outcome(w.end().toBuffer())).ok).toBe(true);
    expect(Date.now() - t0).toBeLessThan(30_000);
  }, 60_000);

  it('huge counts in a small file: an object array of 4,294,967,295 elements, a 16 GiB long[], a 65,535-field class, a 4 GiB record', async () => {
    const w = new HprofWriter(8);
    w.utf8(1n, 'X').loadClass(1, 0x10n, 1n).heapSegment();
    w.classDump(0x10n, 0n, 8, [{ name: 1n, type: T.object }]);
    w.instance(0x100n, 0x10n, w.id(0x200n));
    w.sub(Buffer.concat([HprofWriter.u1(0x23), w.id(0x200n), HprofWriter.u4(0), HprofWriter.u4(0x7fffffff), HprofWriter.u1(T.long)]));
    w.sub(Buffer.concat([HprofWriter.u1(0x01), w.id(0x100n), w.id(1n)]));
    w.heapSegment();
    w.sub(Buffer.concat([HprofWriter.u1(0x22), w.id(0x300n), HprofWriter.u4(0), HprofWriter.u4(0xffffffff), w.id(0x10n), w.id(0x100n)]));
    w.heapSegment();
    w.sub(Buffer.concat([HprofWriter.u1(0x20), w.id(0x400n), HprofWriter.u4(0), Buffer.alloc(6 * 8), HprofWriter.u4(0), HprofWriter.u2(0), HprofWriter.u2(0), HprofWriter.u2(65535)]));
    w.raw(HprofWriter.recordHeader(0x1c, 0xffffffff));
    const bytes = w.toBuffer();
    for (const chunk of [7, 4096, bytes.length]) {
      const r = await outcome(bytes, { chunk });
      expect(r.ok).toBe(true);
    }
  });

  it('cycles, self references and references to objects not in the dump', async () => {
    const w = new HprofWriter(4);
    w.utf8(1n, 'N').utf8(2n, 'a').utf8(3n, 'b').loadClass(1, 0x10n, 1n).heapSegment();
    w.classDump(0x10n, 0n, 8, [{ name: 2n, type: T.object }, { name: 3n, type: T.object }]);
    const ids = [0x100n, 0x110n, 0x120n, 0x130n];
    ids.forEach((id, i) => w.instance(id, 0x10n, Buffer.concat([w.id(ids[(i + 1) % 4]), w.id(i % 2 ? id : 0xdeadbeefn)])));
    w.sub(Buffer.concat([HprofWriter.u1(0x01), w.id(0x120n), w.id(1n)]));
    const r = await outcome(w.end().toBuffer());
    expect(r.ok).toBe(true);
  });

  it('a small dump cut at every offset, and 2,000 randomly mutated copies: a report or a reason, never an error', async () => {
    const base = chainDump(40);
    for (let cut = 0; cut < base.length; cut++) await outcome(base.subarray(0, cut), { chunk: 1 + (cut % 13) });
    let seed = 12345;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let k = 0; k < 2000; k++) {
      const m = Buffer.from(base);
      for (let j = 0; j < 1 + Math.floor(rnd() * 8); j++) m[Math.floor(rnd() * m.length)] = Math.floor(rnd() * 256);
      await outcome(m, { chunk: 1 + Math.floor(rnd() * 64) });
    }
  }, 120_000);
});

describe('budgets', () => {
  it('a memory budget too small for the dump: not analysed, the reason names the budget', async () => {
    const r = await outcome(chainDump(300_000), { memory: 8 * 2 ** 20 });
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/more than its memory budget of 8 MiB/);
  });

  it('a deadline that passes during the analysis: not analysed, out of time', async () => {
    const r = await outcome(chainDump(50_000), { deadline: Date.now() - 1 });
    expect(r).toEqual({ ok: false, reason: 'the analysis ran out of its time budget' });
  });

  it('a .hprof.gz bomb (20 million empty records in 40 KB): stopped by the inflate budget', async () => {
    const header = Buffer.concat([Buffer.from('JAVA PROFILE 1.0.2\0', 'latin1'), HprofWriter.u4(8), Buffer.alloc(8)]);
    const empty = Buffer.alloc(9 * 1_000_000); // tag 0 records of length 0
    const file = path.join(work, 'bomb.hprof.gz');
    writeFileSync(file, gzipSync(Buffer.concat([header, ...Array.from({ length: 20 }, () => empty)]), { level: 9 }));
    const doc: LeaksDocument = await analyzeFile(file);
    expect(doc.status).toBe('not-analyzed');
    expect(doc.reason).toMatch(/inflates to more than .* bytes \(the inflate budget/);
  });

  it('a file that is no HPROF: not analysed, with what it is not', async () => {
    const file = path.join(work, 'not.hprof');
    writeFileSync(file, 'PK\u0003\u0004 a zip file, say');
    const doc = await analyzeFile(file);
    expect(doc).toMatchObject({ status: 'not-analyzed', reason: expect.stringMatching(/not an HPROF stream/), headline: null, suspects: [] });
  });
});
