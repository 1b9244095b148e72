/**
 * Leak reports of real HotSpot dumps (the installed JDK 17) of programs with known leaks, checked against
 * an independent reader and dominator computation (test/support/heap-check.ts), never against the code
 * under test: a static map leak with a random payload size (plain and -XX:HeapDumpGzipLevel), a large array
 * in a local variable of a thread with a random name, and ThreadLocal values of a named thread.
 * Expected: the holder's class and field (or the thread's name), the suspect's id and retained bytes, the
 * reachable heap, the accumulation point, and exact instance counts of what accumulates.
 */
import { mkdtempSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { analyzeFile, type LeaksDocument } from '../../../agent/src/leaks';
import { type CheckObject, HeapCheck, hexId } from '../../support/heap-check';
import { leakProgramDump } from '../../support/heap-programs';
import { disposeAll } from '../../support/procs';

const work = mkdtempSync(path.join(os.tmpdir(), 'leaks-real-'));
afterAll(async () => {
  await disposeAll();
  rmSync(work, { recursive: true, force: true });
});

const JVM = ['-Xmx40m', '-XX:+UseSerialGC'];
const randInt = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));

/** The percent the report gives: of the reachable heap, one decimal. */
const percent = (part: number, whole: number) => Math.round((1000 * part) / whole) / 10;

function checked(file: string): HeapCheck {
  const c = new HeapCheck(file);
  c.dominators();
  return c;
}

/** The common checks: one suspect, the reachable heap's figures as the checker counts them. */
function expectHeap(doc: LeaksDocument, c: HeapCheck): void {
  expect(doc.status).toBe('analyzed');
  expect(doc.heap!.complete).toBe(true);
  expect(doc.heap!.reachableBytes).toBe(c.reachableBytes());
  expect(doc.heap!.reachableObjects).toBe(c.idom.size);
  expect(doc.heap!.objects).toBe(c.objects.size);
  expect(doc.suspects).toHaveLength(1);
  expect(doc.headline).toBe(doc.suspects[0].headline);
}

/** Dominated children of `v` of the given class. */
const childrenOf = (c: HeapCheck, v: bigint, className: string): CheckObject[] =>
  (c.children.get(v) ?? []).map((x) => c.objects.get(x)!).filter((o) => c.className(o) === className);

describe.each([
  ['plain', [] as string[]],
  ['gzip-compressed (-XX:HeapDumpGzipLevel=1)', ['-XX:HeapDumpGzipLevel=1']],
])('static map leak, %s dump', (_label, gz) => {
  const payload = randInt(600, 4000);
  it(`MapLeak.CACHE with byte[${payload}] values: holder, retained bytes, accumulation and exact counts`, async () => {
    const file = await leakProgramDump(path.join(work, `map-${gz.length}`), 'MapLeak', [...JVM, ...gz], [String(payload)]);
    expect(file.endsWith(gz.length ? '.hprof.gz' : '.hprof')).toBe(true);
    const c = checked(file);
    const mapId = c.classNamed('MapLeak').statics.get('CACHE')!;
    const map = c.objects.get(mapId)!;
    const tableId = map.fieldRefs!.get('table')!;
    const nodes = childrenOf(c, tableId, 'java.util.HashMap$Node');
    const values = nodes.flatMap((n) => childrenOf(c, n.id, 'byte[]')).filter((b) => b.length === payload);
    expect(values.length).toBeGreaterThan(1000);

    const doc = await analyzeFile(file);
    expectHeap(doc, c);
    const s = doc.suspects[0];
    expect(s).toMatchObject({ kind: 'object', className: 'java.util.HashMap', objectId: hexId(mapId, c.idSize), retainedBytes: c.retained.get(mapId) });
    expect(s.retainedPercent).toBe(percent(c.retained.get(mapId)!, c.reachableBytes()));
    expect(s.heldBy).toMatchObject({ kind: 'static-field', className: 'MapLeak', field: 'CACHE', text: 'static field MapLeak.CACHE' });
    expect(s.accumulation.objectId).toBe(hexId(tableId, c.idSize));
    expect(s.accumulation.className).toBe('java.util.HashMap$Node[]');
    expect(s.accumulation.retainedBytes).toBe(c.retained.get(tableId));
    expect(s.accumulation.accumulated).toEqual({ className: 'byte[]', instances: values.length, retainedBytes: values.reduce((a, b) => a + c.retained.get(b.id)!, 0) });
    expect(s.accumulation.via).toEqual({ className: 'java.util.HashMap$Node', instances: nodes.length, retainedBytes: nodes.reduce((a, n) => a + c.retained.get(n.id)!, 0) });
    expect(s.pathFromGcRoot[s.pathFromGcRoot.length - 1]).toMatchObject({ className: 'java.util.HashMap', objectId: hexId(mapId, c.idSize), field: null });
    const mib = (c.retained.get(mapId)! / 2 ** 20).toFixed(1);
    const grouped = values.length.toLocaleString('en-US');
    expect(doc.headline).toBe(`Leak suspect: static field MapLeak.CACHE (java.util.HashMap) retains ${mib} MiB (${Math.round(s.retainedPercent)} %): ${grouped} × byte[]`);
  }, 120_000);
});

describe('leak held by a thread', () => {
  it('a long[] in a local variable of a thread with a random name', async () => {
    const name = `leaky-worker-${randInt(1000, 9999)}`;
    const longs = randInt(2_000_000, 3_500_000);
    const file = await leakProgramDump(path.join(work, 'thread'), 'ThreadLeak', JVM, [name, String(longs)]);
    const c = checked(file);
    const arrays = [...c.objects.values()].filter((o) => o.kind === 'primitive-array' && o.type === 11 && o.length === longs);
    expect(arrays).toHaveLength(1);
    const big = arrays[0];
    expect(c.rootKinds.get(big.id)).toContain(0x03); // a Java frame root

    const doc = await analyzeFile(file);
    expectHeap(doc, c);
    const s = doc.suspects[0];
    expect(s).toMatchObject({ kind: 'object', className: 'long[]', objectId: hexId(big.id, c.idSize), retainedBytes: c.retained.get(big.id) });
    expect(s.retainedBytes).toBe(longs * 8 + 2 * c.idSize + 4);
    expect(s.heldBy).toMatchObject({ kind: 'thread', thread: name, root: 'Java frame' });
    expect(s.heldBy.frame).toMatch(/^ThreadLeak\.hold\(ThreadLeak\.java:\d+\)$/);
    expect(s.pathFromGcRoot).toEqual([{ className: 'long[]', objectId: hexId(big.id, c.idSize), field: null, gcRoot: ['Java frame'] }]);
    expect(s.accumulation).toMatchObject({ objectId: hexId(big.id, c.idSize), accumulated: { className: 'long[]', instances: 1 } });
    expect(doc.headline).toBe(`Leak suspect: local variable of thread "${name}" (long[]) retains ${(s.retainedBytes / 2 ** 20).toFixed(1)} MiB (${Math.round(s.retainedPercent)} %)`);
  }, 120_000);

  it('ThreadLocal values of a named thread: the thread, its values counted exactly', async () => {
    const name = `tl-worker-${randInt(100, 999)}`;
    const count = randInt(20, 60);
    const size = randInt(200_000, 400_000);
    const file = await leakProgramDump(path.join(work, 'threadlocal'), 'ThreadLocalLeak', JVM, [name, String(count), String(size)]);
    const c = checked(file);
    const values = [...c.objects.values()].filter((o) => o.kind === 'primitive-array' && o.type === 8 && o.length === size);
    expect(values).toHaveLength(count);
    // the top-level dominator above the values: the thread
    let top = values[0].id;
    while (c.idom.get(top) !== null) top = c.idom.get(top)!;
    const thread = c.objects.get(top)!;
    expect(c.className(thread)).toBe('java.lang.Thread');
    expect(c.rootKinds.get(top)).toContain(0x08); // the thread object root

    const doc = await analyzeFile(file);
    expectHeap(doc, c);
    const s = doc.suspects[0];
    expect(s).toMatchObject({ kind: 'object', className: 'java.lang.Thread', objectId: hexId(top, c.idSize), retainedBytes: c.retained.get(top) });
    expect(s.heldBy).toMatchObject({ kind: 'thread', thread: name, root: 'thread object' });
    expect(s.accumulation.className).toBe('java.lang.ThreadLocal$ThreadLocalMap$Entry[]');
    expect(s.accumulation.accumulated).toEqual({ className: 'byte[]', instances: count, retainedBytes: values.reduce((a, v) => a + c.retained.get(v.id)!, 0) });
    expect(s.accumulation.via).toMatchObject({ className: 'java.lang.ThreadLocal$ThreadLocalMap$Entry', instances: count });
  }, 120_000);
});
