/**
 * The triage analysis of one dump file, within budgets: what the uploader's analysis process runs
 * (agent/src/triage/child.ts), and what `npm run summarize` runs in-process.
 *
 * A tenant chooses every byte of its dump, so every per-file cost is bounded:
 *  - CPU: at most `cpuSeconds` plus `cpuSeconds` per GiB of HPROF stream read (checked after every
 *    chunk; HotSpot's dumps need well under a tenth of that with V8's JIT, see docs/performance.md);
 *  - inflation (`.hprof.gz`): at most `inflateMaxRatio` times the file's size (but 64 MiB whatever
 *    the ratio) and `inflateMaxBytes` of HPROF stream (a 349 KB file can inflate to 180 MB of records);
 *  - records: RECORD_BUDGET top-level records (the analyzer stops there itself);
 *  - hash tables that cannot be driven quadratic (id-table.ts) and the analyzer's caps on memory.
 * Whatever stops it, the result is a summary of what was read, and `stopped` (also in the summary's
 * issues) says why; it never throws for what the file holds.
 */
import { createGunzip } from 'zlib';
import { HprofAnalyzer } from './analyzer';
import { gzipReaderNameReader, type RangeRead, readerNameReader } from './name-readers';
import type { HeapSummary } from './summary';

export type AnalysedKind = 'hprof' | 'hprof-gzip';

export interface AnalysisBudgets {
  /** CPU seconds allowed, plus as many again per GiB of HPROF stream. */
  readonly cpuSeconds: number;
  /** Decompressed bytes of a `.hprof.gz` allowed per byte of the file. */
  readonly inflateMaxRatio: number;
  /** Decompressed bytes of a `.hprof.gz` allowed at most. */
  readonly inflateMaxBytes: number;
}

export interface DumpAnalysis {
  readonly heap: HeapSummary;
  /** Bytes of HPROF stream analysed (decompressed bytes for a `.hprof.gz`). */
  readonly streamBytes: number;
  /** Why the analysis stopped before the end of the dump, if a budget stopped it. */
  readonly stopped?: string;
}

const GIB = 2 ** 30;
const CHUNK = 1024 * 1024;

/** CPU seconds the analysis may have used once it has read `streamBytes`. */
export function cpuBudget(budgets: AnalysisBudgets, streamBytes: number): number {
  return budgets.cpuSeconds * (1 + streamBytes / GIB);
}

/** Decompressed bytes every `.hprof.gz` may inflate to, whatever its ratio (a small dump is cheap either way). */
export const INFLATE_FLOOR = 64 * 2 ** 20;

/** Decompressed bytes a `.hprof.gz` of `size` bytes may inflate to. */
export function inflateLimit(budgets: Pick<AnalysisBudgets, 'inflateMaxRatio' | 'inflateMaxBytes'>, size: number): number {
  return Math.min(budgets.inflateMaxBytes, Math.max(INFLATE_FLOOR, size * budgets.inflateMaxRatio));
}

/** The most HPROF stream bytes an analysis of a file of `size` bytes can read. */
export function maxStreamBytes(kind: AnalysedKind, size: number, budgets: AnalysisBudgets): number {
  return kind === 'hprof' ? size : inflateLimit(budgets, size);
}

export interface AnalyseOptions {
  readonly kind: AnalysedKind;
  /** Bytes of the file to read. */
  readonly size: number;
  readonly budgets: AnalysisBudgets;
  /** CPU seconds used so far by whatever runs the analysis (process.cpuUsage in the analysis process). */
  readonly cpuSeconds: () => number;
}

export async function analyseDump(read: RangeRead, o: AnalyseOptions): Promise<DumpAnalysis> {
  const analyzer = new HprofAnalyzer();
  const cpu0 = o.cpuSeconds();
  let streamBytes = 0;
  let stopped: string | undefined;
  const overCpu = (): boolean => {
    const used = o.cpuSeconds() - cpu0;
    const allowed = cpuBudget(o.budgets, streamBytes);
    if (used <= allowed) return false;
    stopped ??= `the CPU budget (${o.budgets.cpuSeconds} s plus ${o.budgets.cpuSeconds} s per GiB) ran out after ${used.toFixed(1)} CPU s, `
      + `at byte ${streamBytes} of the HPROF stream: what follows is what was read until then`;
    return true;
  };
  const feed = (chunk: Buffer): void => {
    analyzer.update(chunk);
    streamBytes += chunk.length;
  };

  if (o.kind === 'hprof') {
    const buf = Buffer.allocUnsafe(CHUNK);
    for (let pos = 0; pos < o.size && !overCpu(); ) {
      const n = await read(buf, 0, Math.min(CHUNK, o.size - pos), pos);
      if (n === 0) break;
      feed(n === buf.length ? buf : buf.subarray(0, n));
      pos += n;
    }
  } else {
    const inflateStop = await inflateInto(read, o, feed, overCpu);
    stopped ??= inflateStop;
  }
  const names = o.kind === 'hprof-gzip' ? gzipReaderNameReader(read) : readerNameReader(read);
  const heap = await analyzer.finish(names);
  if (stopped === undefined) return { heap, streamBytes };
  return { heap: { ...heap, complete: false, issues: [`analysis stopped: ${stopped}`, ...heap.issues] }, streamBytes, stopped };
}

/**
 * Inflates the file (every gzip member) into `feed`, within the inflate budget and while `overCpu`
 * says no (it records its own reason). Returns why the inflate budget stopped it, if it did; a
 * damaged or cut stream just ends (the summary then says the dump is cut).
 */
async function inflateInto(read: RangeRead, o: AnalyseOptions, feed: (b: Buffer) => void, overCpu: () => boolean): Promise<string | undefined> {
  const limit = inflateLimit(o.budgets, o.size);
  const gz = createGunzip();
  let inflated = 0;
  let nextCheck = CHUNK;
  let stopped: string | undefined;
  let cpuOut = false;
  let failed = false;
  gz.on('data', (out: Buffer) => {
    if (stopped !== undefined || cpuOut) return;
    if (inflated >= nextCheck) {
      nextCheck = inflated + CHUNK;
      if (overCpu()) {
        cpuOut = true;
        gz.destroy(); // zlib would go on inflating what it holds
        return;
      }
    }
    const room = limit - inflated;
    const take = out.length <= room ? out : out.subarray(0, Math.max(0, room));
    inflated += take.length;
    if (take.length > 0) feed(take);
    if (take.length < out.length) {
      stopped = `the inflate budget (at most ${o.budgets.inflateMaxRatio} times the file's ${o.size} bytes and at most ${o.budgets.inflateMaxBytes} bytes) `
        + `stopped the decompression after ${inflated} bytes`;
      gz.destroy();
    }
  });
  const ended = new Promise<void>((resolve) => {
    gz.once('end', resolve);
    gz.once('close', resolve);
    gz.once('error', () => {
      failed = true;
      resolve();
    });
  });
  const buf = Buffer.allocUnsafe(CHUNK);
  for (let pos = 0; pos < o.size; ) {
    if (stopped !== undefined || failed || cpuOut || overCpu()) {
      cpuOut ||= stopped === undefined && !failed;
      break;
    }
    const n = await read(buf, 0, Math.min(CHUNK, o.size - pos), pos);
    if (n === 0) break;
    pos += n;
    // a copy: zlib may still hold the buffer when the next read fills it
    if (!gz.write(Buffer.from(buf.subarray(0, n)))) await drained(gz);
  }
  if (stopped !== undefined || failed || cpuOut) {
    gz.destroy();
    return stopped;
  }
  gz.end();
  await ended;
  gz.destroy();
  return stopped;
}

function drained(gz: ReturnType<typeof createGunzip>): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      gz.off('drain', done);
      gz.off('error', done);
      gz.off('close', done);
      resolve();
    };
    gz.once('drain', done);
    gz.once('error', done);
    gz.once('close', done);
  });
}
