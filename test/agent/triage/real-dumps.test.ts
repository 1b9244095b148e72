/**
 * The analysis on real HotSpot dumps from the installed JDK (17): Census (test/support/java/Census.java)
 * holds exactly N instances of Census$Item and M arrays Census$Item[L] and a long[BIG], then runs out
 * of memory with -XX:+HeapDumpOnOutOfMemoryError. Two JVM option sets (heap size, GC, compressed
 * oops) and one dump per set. Expected sizes are computed here: Census prints its instance field types
 * (own and inherited) by reflection, the identifier size comes from the dump's header, and the header
 * rule is written out below (instance: 2 x id size; array: 2 x id size + 4).
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'fs';
import { open } from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import { fileNameReader, HeapSummary, HprofAnalyzer, AnalyzerOptions } from '../../../agent/src/triage';
import { censusDump, CensusSpec, censusLine } from '../../support/heap-programs';
import { truncatedCopy } from '../../support/jvm';
import { disposeAll } from '../../support/procs';

const FIELD_BYTES: Record<string, number> = { boolean: 1, byte: 1, char: 2, short: 2, int: 4, float: 4, long: 8, double: 8 };

/** Reads `file` in chunks of the given sizes (cycled) into an analyzer; finish() with positioned name reads. */
async function analyseFile(file: string, chunks: number[] = [1 << 20], options: AnalyzerOptions = { topClasses: 100_000 }): Promise<HeapSummary> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const a = new HprofAnalyzer(options);
    const buf = Buffer.alloc(Math.max(...chunks));
    for (let pos = 0, k = 0; pos < size; k++) {
      const want = Math.min(chunks[k % chunks.length], size - pos);
      const { bytesRead } = await fh.read(buf, 0, want, pos);
      a.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    return await a.finish(fileNameReader(fh));
  } finally {
    await fh.close();
  }
}

function idSizeOf(file: string): number {
  const head = readFileSync(file).subarray(0, 64);
  return head.readUInt32BE(head.indexOf(0) + 1);
}

const OPTION_SETS: Array<[string, CensusSpec]> = [
  ['-Xmx40m, serial GC, compressed oops', { items: 12_345, arrays: 7, arrayLength: 1_000, bigLongs: 500_000, jvm: ['-Xmx40m', '-XX:+UseSerialGC'] }],
  [
    '-Xmx56m, parallel GC, compressed oops off',
    { items: 7_777, arrays: 3, arrayLength: 4_321, bigLongs: 900_000, jvm: ['-Xmx56m', '-XX:+UseParallelGC', '-XX:-UseCompressedOops'] },
  ],
];

const work = mkdtempSync(path.join(os.tmpdir(), 'triage-real-'));
afterAll(async () => {
  await disposeAll();
  rmSync(work, { recursive: true, force: true });
});

/** One JVM run per option set, shared by the tests. */
const dumps = new Map<string, ReturnType<typeof censusDump>>();
const dumpOf = ([label, spec]: [string, CensusSpec]) => {
  if (!dumps.has(label)) dumps.set(label, censusDump(path.join(work, label.replace(/\W+/g, '-')), spec));
  return dumps.get(label) as ReturnType<typeof censusDump>;
};

describe.each(OPTION_SETS)('Census dump on OutOfMemoryError (%s)', (label, spec) => {
  let dump: string;
  let fieldTypes: string[];
  let heap: HeapSummary;
  let idSize: number;

  beforeAll(async () => {
    const run = await dumpOf([label, spec]);
    dump = run.path;
    fieldTypes = run.fieldTypes;
    idSize = idSizeOf(dump);
    heap = await analyseFile(dump);
  }, 120_000);

  it('is a complete dump, analysed without problems', () => {
    expect(heap.complete).toBe(true);
    expect(heap.structure).toEqual({ complete: true, bytes: statSync(dump).size });
    expect(heap.issues).toEqual([]);
    expect(heap.format?.idSize).toBe(idSize);
  });

  it('reports exactly N instances of Census$Item and their shallow total', () => {
    expect(fieldTypes).toHaveLength(11); // 9 own + 2 inherited fields (Census.java)
    const fields = fieldTypes.reduce((sum, t) => sum + (t === 'reference' ? idSize : FIELD_BYTES[t]), 0);
    const item = heap.classes.find((c) => c.name === 'Census$Item');
    expect(item).toEqual({ name: 'Census$Item', instances: spec.items, shallowBytes: spec.items * (fields + 2 * idSize) });
  });

  it('reports the M arrays Census$Item[L] with their shallow size, and the long[] as the largest object', () => {
    const arrays = heap.classes.find((c) => c.name === 'Census$Item[]');
    expect(arrays).toEqual({ name: 'Census$Item[]', instances: spec.arrays, shallowBytes: spec.arrays * (spec.arrayLength * idSize + 2 * idSize + 4) });
    expect(heap.largestObjects[0]).toMatchObject({ className: 'long[]', arrayLength: spec.bigLongs, shallowBytes: spec.bigLongs * 8 + 2 * idSize + 4 });
    expect(heap.largestObjects.length).toBe(20);
  });

  it('gives totals that add up', () => {
    expect(heap.totals.objects).toBe(heap.classes.reduce((s, c) => s + c.instances, 0));
    expect(heap.totals.shallowBytes).toBe(heap.classes.reduce((s, c) => s + c.shallowBytes, 0));
    expect(heap.totals.classes).toBe(heap.classes.length);
  });

  it("has the stacks of the program's threads, with method, source file and line, and their names", () => {
    const frame = (method: string, marker: string) => ({ className: 'Census', method, sourceFile: 'Census.java', line: censusLine(marker) });
    const main = heap.threads.find((t) => t.frames.some((f) => f.method === 'exhaust'));
    expect(main?.frames).toContainEqual(frame('exhaust', '// OOM-LINE'));
    expect(main?.name).toBe('main');
    const worker = heap.threads.find((t) => t.name === 'census-worker');
    expect(worker?.frames).toContainEqual(frame('park', '// PARK-LINE'));
    expect(worker?.frames[0]).toMatchObject({ className: 'java.lang.Thread', method: 'sleep', native: true });
    expect(heap.threads.every((t) => t.depth >= t.frames.length)).toBe(true);
  });

  it('gives the same summary for odd-sized and large chunks', async () => {
    const whole = JSON.stringify(heap);
    expect(JSON.stringify(await analyseFile(dump, [4093, 1, 7, 65_539, 13]))).toBe(whole);
    expect(JSON.stringify(await analyseFile(dump, [16 << 20]))).toBe(whole);
  }, 60_000);
});

describe('a truncated dump', () => {
  let dump: string;
  let full: HeapSummary;
  let firstSegment: number;

  beforeAll(async () => {
    dump = (await dumpOf(OPTION_SETS[0])).path;
    full = await analyseFile(dump);
    // first HEAP DUMP SEGMENT record, found by walking record headers (tag, u4 time, u4 length)
    const b = readFileSync(dump);
    let p = b.indexOf(0) + 1 + 12;
    while (b[p] !== 0x1c) p += 9 + b.readUInt32BE(p + 5);
    firstSegment = p;
  }, 120_000);

  it('gives a partial summary marked incomplete, never a throw, wherever it is cut', async () => {
    const size = statSync(dump).size;
    const cuts = {
      'in the header': 10,
      'inside a name record': 1_000,
      'between the names and the heap': firstSegment,
      'inside the first class dump': firstSegment + 9 + 3,
      'inside a class dump, further': firstSegment + 9 + 40,
      'half way (object data)': Math.floor(size / 2),
      'just before HEAP DUMP END': size - 9,
      'inside HEAP DUMP END': size - 1,
    };
    for (const [where, keep] of Object.entries(cuts)) {
      const cut = path.join(work, 'cut.hprof');
      await truncatedCopy(dump, cut, keep);
      const heap = await analyseFile(cut);
      const context = `${where} (${keep} of ${size} bytes)`;
      expect({ context, complete: heap.complete, structure: heap.structure.complete }).toEqual({ context, complete: false, structure: false });
      expect(heap.structure.reason).toBeTruthy();
      expect(heap.totals.objects).toBeLessThanOrEqual(full.totals.objects);
      if (keep >= firstSegment) {
        // the stacks come before the heap: all there, with their frames
        expect(heap.threads.map((t) => t.frames)).toEqual(full.threads.map((t) => t.frames));
      }
      if (keep === size - 1) {
        expect(heap.classes).toEqual(full.classes);
        expect(heap.threads).toEqual(full.threads);
      }
    }
  }, 60_000);
});
