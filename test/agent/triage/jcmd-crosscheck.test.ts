/**
 * Cross-check with the JDK's own view: a live Census JVM, `jcmd <pid> GC.heap_dump` and
 * `jcmd <pid> GC.class_histogram` taken back to back; the summary's instance counts for the program's
 * own classes agree with the histogram's. The same (small) dump fed one byte at a time gives the same
 * summary as fed at once.
 */
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { bufferNameReader, HeapSummary, HprofAnalyzer } from '../../../agent/src/triage';
import { jcmd, startCensus } from '../../support/heap-programs';
import { disposeAll } from '../../support/procs';

/** Histogram class names (`[LCensus$Item;`, `[B`) as Java writes them (`Census$Item[]`, `byte[]`). */
function javaName(histogramName: string): string {
  const prims: Record<string, string> = { Z: 'boolean', B: 'byte', C: 'char', S: 'short', I: 'int', J: 'long', F: 'float', D: 'double' };
  const dims = /^\[*/.exec(histogramName)?.[0].length ?? 0;
  const rest = histogramName.slice(dims);
  const base = dims === 0 ? rest : rest.startsWith('L') ? rest.slice(1, -1) : prims[rest];
  return base + '[]'.repeat(dims);
}

/** `num: #instances #bytes class-name (module)` lines -> instances by class name. */
function histogram(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^\s*\d+:\s+(\d+)\s+\d+\s+(\S+)/gm)) out.set(javaName(m[2]), Number(m[1]));
  return out;
}

async function analyse(bytes: Buffer, chunk: number): Promise<HeapSummary> {
  const a = new HprofAnalyzer({ topClasses: 100_000 });
  for (let i = 0; i < bytes.length; i += chunk) a.update(bytes.subarray(i, i + chunk));
  return a.finish(bufferNameReader(bytes));
}

const work = mkdtempSync(path.join(os.tmpdir(), 'triage-jcmd-'));
afterAll(async () => {
  await disposeAll();
  rmSync(work, { recursive: true, force: true });
});

describe('a live JVM: jcmd GC.heap_dump and GC.class_histogram', () => {
  let bytes: Buffer;
  let counts: Map<string, number>;
  let heap: HeapSummary;

  beforeAll(async () => {
    const { proc } = await startCensus({ items: 4_321, arrays: 5, arrayLength: 50, bigLongs: 1_000, jvm: ['-Xmx48m', '-XX:+UseSerialGC'] });
    try {
      const file = path.join(work, 'live.hprof');
      await jcmd(proc.pid, 'GC.heap_dump', file);
      counts = histogram(await jcmd(proc.pid, 'GC.class_histogram'));
      bytes = readFileSync(file);
    } finally {
      await proc.dispose();
    }
    heap = await analyse(bytes, 1 << 20);
  }, 120_000);

  it("agrees with the histogram's instance counts for the program's own classes", () => {
    const own = [...counts.keys()].filter((name) => name.startsWith('Census'));
    expect(own).toEqual(expect.arrayContaining(['Census$Item', 'Census$Item[]']));
    expect(counts.get('Census$Item')).toBe(4_321);
    expect(counts.get('Census$Item[]')).toBe(5);
    for (const name of own) {
      expect({ name, instances: heap.classes.find((c) => c.name === name)?.instances }).toEqual({ name, instances: counts.get(name) });
    }
  });

  it('agrees on the JDK classes whose instances do not change between the two commands', () => {
    // java.lang.Class objects are class dumps in HPROF, not instances: they are not compared
    for (const name of ['java.lang.Module', 'java.lang.module.ModuleDescriptor']) {
      expect({ name, instances: heap.classes.find((c) => c.name === name)?.instances }).toEqual({ name, instances: counts.get(name) });
    }
  });

  it('gives the same summary fed one byte at a time', async () => {
    expect(heap.complete).toBe(true);
    expect(JSON.stringify(await analyse(bytes, 1))).toBe(JSON.stringify(heap));
  }, 60_000);
});
