/**
 * What every fuzz case (hprof-fuzz.ts) must satisfy, checked against a reference walk of the HPROF
 * records written here from the format's definition:
 *  - the three completeness checks agree with the reference (the positioned walk of a plain .hprof,
 *    the stream walker fed in odd chunks, the read pass's gzip decode of a .hprof.gz): a dump is
 *    "complete" exactly when its record walk ends on HEAP DUMP END, within the record budget;
 *  - the analysis (as the analysis process runs it) never throws, never claims a complete dump that
 *    is not, keeps its state under its caps, and takes time linear in the bytes (a generous per-byte
 *    bound: a quadratic path shows up as seconds on these sizes).
 * Returns the problems found (empty: the case passed).
 */
import { gunzipSync } from 'zlib';
import { HprofAnalyzer } from '../../agent/src/triage/analyzer';
import { analyseDump } from '../../agent/src/triage/dump-analysis';
import { RECORD_BUDGET } from '../../agent/src/triage/hprof-format';
import { checkHprof, HprofStreamWalker } from '../../agent/src/uploader/hprof';
import { readPass } from '../../agent/src/uploader/read-pass';
import type { FuzzCase } from './hprof-fuzz';

const MAGICS = ['JAVA PROFILE 1.0.2', 'JAVA PROFILE 1.0.1'];

/** The reference: is `b` an HPROF stream whose record walk ends exactly after HEAP DUMP END? */
export function referenceWalk(b: Buffer): { complete: boolean; records: number } {
  const nul = b.subarray(0, 65).indexOf(0);
  if (nul < 0 || !MAGICS.includes(b.toString('latin1', 0, nul))) return { complete: false, records: 0 };
  let p = nul + 1 + 12;
  if (p > b.length) return { complete: false, records: 0 };
  let records = 0;
  let lastTag = -1;
  let lastLen = -1;
  while (p < b.length) {
    if (p + 9 > b.length) return { complete: false, records };
    lastTag = b[p];
    lastLen = b.readUInt32BE(p + 5);
    p += 9 + lastLen;
    records++;
  }
  return { complete: p === b.length && records > 0 && lastTag === 0x2c && lastLen === 0, records };
}

/** Positioned reads of a buffer: (buffer, position, length), as the uploader's checks take them... */
const positioned = (b: Buffer) => async (buf: Buffer, pos: number, len: number) => b.copy(buf, 0, Math.min(pos, b.length), Math.min(b.length, pos + len));
/** ...and (buffer, offset, length, position), as the analysis takes them. */
const ranged = (b: Buffer) => async (buf: Buffer, off: number, len: number, pos: number) => b.copy(buf, off, Math.min(pos, b.length), Math.min(b.length, pos + len));

function* chunked(b: Buffer, sizes: readonly number[]): Generator<Buffer> {
  // tiny chunks only for small inputs: the walkers are linear, the test's time is not unlimited
  const floor = Math.ceil(b.length / 20_000);
  for (let p = 0, i = 0; p < b.length; i++) {
    const n = Math.max(floor, sizes[i % sizes.length]);
    yield b.subarray(p, p + n);
    p += n;
  }
}

export async function checkCase(c: FuzzCase): Promise<string[]> {
  const problems: string[] = [];
  const say = (what: string) => problems.push(`${c.generator} seed ${c.seed}: ${what}`);
  let stream: Buffer | undefined;
  let gzipWhole = true;
  if (c.gzip) {
    try {
      stream = gunzipSync(c.bytes);
    } catch {
      gzipWhole = false;
      stream = undefined;
    }
  } else {
    stream = c.bytes;
  }
  const ref = stream ? referenceWalk(stream) : { complete: false, records: 0 };
  const judged = ref.records <= RECORD_BUDGET;
  const expected = gzipWhole && ref.complete;

  if (!c.gzip) {
    const verdict = await checkHprof(positioned(c.bytes), c.bytes.length);
    if (judged && (verdict.kind === 'complete') !== expected) say(`checkHprof says ${verdict.kind}, the reference ${expected}`);
    const walker = new HprofStreamWalker();
    for (const chunk of chunked(c.bytes, c.chunks)) walker.update(chunk);
    if (judged && walker.structure().complete !== expected) say(`the stream walker says ${walker.structure().complete}, the reference ${expected}`);
  } else {
    const pass = await readPass(positioned(c.bytes), { size: c.bytes.length, gzipHprof: true, inflateLimit: 2 ** 40 }, { readTimeoutMs: 60_000 });
    if (judged && (pass.decoded?.complete ?? false) !== expected) say(`the read pass's decode says ${pass.decoded?.complete}, the reference ${expected}`);
  }

  const budgets = { cpuSeconds: 10, inflateMaxRatio: 100, inflateMaxBytes: 2 ** 30 };
  const cpu = () => (process.cpuUsage().user + process.cpuUsage().system) / 1e6;
  const t0 = Date.now();
  try {
    const r = await analyseDump(ranged(c.bytes), { kind: c.gzip ? 'hprof-gzip' : 'hprof', size: c.bytes.length, budgets, cpuSeconds: cpu });
    JSON.stringify(r.heap);
    if (r.heap.complete && !expected) say('the analysis calls an incomplete dump complete');
    if (![r.heap.totals.objects, r.heap.totals.shallowBytes].every((x) => Number.isFinite(x) && x >= 0)) say(`odd totals ${JSON.stringify(r.heap.totals)}`);
  } catch (error) {
    say(`the analysis threw: ${(error as Error).stack}`);
  }
  const ms = Date.now() - t0;
  const bound = 3000 + (stream?.length ?? c.bytes.length) / 1000;
  if (ms > bound) say(`the analysis took ${ms} ms for ${stream?.length ?? c.bytes.length} bytes (bound ${bound.toFixed(0)} ms)`);

  if (stream) {
    const a = new HprofAnalyzer();
    try {
      for (const chunk of chunked(stream, c.chunks)) a.update(chunk);
      if (a.structure().complete && !ref.complete) say('the analyzer\'s structure() calls an incomplete stream complete');
      if (a.stateBytes() > 64 * 2 ** 20) say(`the analyzer holds ${a.stateBytes()} bytes`);
    } catch (error) {
      say(`update() threw: ${(error as Error).message}`);
    }
  }
  return problems;
}
