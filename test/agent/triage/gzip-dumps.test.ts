/**
 * Compressed dumps (-XX:HeapDumpGzipLevel=1, JDK 17: many gzip members): the analysis of the
 * decompressed stream, structure() on it, and the gzip name reader, which re-inflates only the start
 * of the file (where HotSpot writes the names) and never the heap.
 */
import { createReadStream, mkdtempSync, rmSync, statSync } from 'fs';
import { FileHandle, open, truncate, copyFile } from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import { pipeline } from 'stream/promises';
import { createGunzip } from 'zlib';
import { createWriteStream } from 'fs';
import { fileNameReader, gzipFileNameReader, HeapSummary, HprofAnalyzer, StructureVerdict } from '../../../agent/src/triage';
import { censusDump } from '../../support/heap-programs';
import { disposeAll } from '../../support/procs';

const work = mkdtempSync(path.join(os.tmpdir(), 'triage-gzip-'));
afterAll(async () => {
  await disposeAll();
  rmSync(work, { recursive: true, force: true });
});

/** Inflates `file` into an analyzer (stops quietly where a truncated file ends). */
async function analyseGzip(file: string): Promise<{ a: HprofAnalyzer; inflateError?: string }> {
  const a = new HprofAnalyzer();
  try {
    for await (const chunk of createReadStream(file).pipe(createGunzip())) a.update(chunk as Buffer);
    return { a };
  } catch (error) {
    return { a, inflateError: (error as Error).message };
  }
}

/** A FileHandle whose reads are counted. */
function counting(fh: FileHandle): { fh: FileHandle; bytes: () => number } {
  let bytes = 0;
  const wrapped = {
    read: async (buffer: Buffer, offset: number, length: number, position: number) => {
      const r = await fh.read(buffer, offset, length, position);
      bytes += r.bytesRead;
      return r;
    },
  } as unknown as FileHandle;
  return { fh: wrapped, bytes: () => bytes };
}

describe('a -XX:HeapDumpGzipLevel=1 dump', () => {
  let gz: string;
  let plain: string;
  let structure: StructureVerdict;
  let heap: HeapSummary;
  let readCompressed: number;

  beforeAll(async () => {
    gz = (await censusDump(work, { items: 2_222, arrays: 2, arrayLength: 10, bigLongs: 300_000, jvm: ['-Xmx40m', '-XX:+UseSerialGC', '-XX:HeapDumpGzipLevel=1'] })).path;
    plain = path.join(work, 'plain.hprof');
    await pipeline(createReadStream(gz), createGunzip(), createWriteStream(plain));
    const { a } = await analyseGzip(gz);
    structure = a.structure();
    const fh = await open(gz, 'r');
    try {
      const c = counting(fh);
      heap = await a.finish(gzipFileNameReader(c.fh));
      readCompressed = c.bytes();
    } finally {
      await fh.close();
    }
  }, 120_000);

  it('is recognised as a complete HPROF stream once inflated', () => {
    expect(gz).toMatch(/\.hprof\.gz$/);
    expect(structure).toEqual({ complete: true, bytes: statSync(plain).size, format: 'hprof' });
    expect(heap.complete).toBe(true);
  });

  it('gets its names by re-inflating only the start of the file', () => {
    expect(heap.classes.find((c) => c.name === 'Census$Item')?.instances).toBe(2_222);
    expect(heap.threads.some((t) => t.frames.some((f) => f.className === 'Census' && f.method === 'exhaust'))).toBe(true);
    expect(readCompressed).toBeGreaterThan(0);
    expect(readCompressed).toBeLessThan(statSync(gz).size / 4);
  });

  it('gives the summary of the uncompressed dump (names found in the walk alike)', async () => {
    const fh = await open(plain, 'r');
    let fromPlain: HeapSummary;
    try {
      const a = new HprofAnalyzer();
      for await (const chunk of createReadStream(plain)) a.update(chunk as Buffer);
      fromPlain = await a.finish(fileNameReader(fh));
    } finally {
      await fh.close();
    }
    expect(heap.classes).toEqual(fromPlain.classes);
    expect(heap.largestObjects).toEqual(fromPlain.largestObjects);
    expect(heap.totals).toEqual(fromPlain.totals);
    expect(heap.threads.map((t) => t.frames)).toEqual(fromPlain.threads.map((t) => t.frames));
    // the gzip reader does not re-read the heap for names the walk missed; the file reader may
    heap.threads.forEach((t, i) => {
      if (t.name !== null) expect(t.name).toBe(fromPlain.threads[i].name);
    });
  });

  it('is incomplete when the file is cut, with names still read from what remains', async () => {
    const cut = path.join(work, 'cut.hprof.gz');
    await copyFile(gz, cut);
    await truncate(cut, Math.floor(statSync(gz).size * 0.6));
    const { a, inflateError } = await analyseGzip(cut);
    expect(inflateError).toBeDefined();
    expect(a.structure().complete).toBe(false);
    const fh = await open(cut, 'r');
    try {
      const partial = await a.finish(gzipFileNameReader(fh));
      expect(partial.complete).toBe(false);
      expect(partial.threads.some((t) => t.frames.some((f) => f.className === 'Census' && f.method === 'exhaust'))).toBe(true);
    } finally {
      await fh.close();
    }
  });
});
