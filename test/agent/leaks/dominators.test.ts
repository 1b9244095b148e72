/**
 * The dominator tree against definitions computed here, never by the code under test:
 *  - random small object graphs, written as synthetic HPROF (test/support/hprof-writer.ts) and fed in
 *    random chunk sizes: for every reachable object w, the engine's immediate dominator must be the one
 *    the naive definition gives (v dominates w iff removing v disconnects w from the GC roots; the
 *    immediate dominator is the dominator every other dominator dominates), and unreachable objects
 *    must be left out;
 *  - a real HotSpot dump of the demo: every reachable object's immediate dominator and retained size
 *    equal an independent reader's with the Cooper-Harvey-Kennedy algorithm (test/support/heap-check.ts).
 */
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { HeapCheck } from '../../support/heap-check';
import { demoAppDump } from '../../support/heap-programs';
import { HprofWriter, T } from '../../support/hprof-writer';
import { disposeAll } from '../../support/procs';
import { engineTree } from './engine-support';

/** A deterministic generator (the seed is printed on failure). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    s ^= s >>> 13;
    return (s >>> 0) / 4294967296;
  };
}

interface RandomGraph {
  bytes: Buffer;
  /** id -> outgoing ids (as the engine should see them: non-null, existing). */
  edges: Map<bigint, bigint[]>;
  roots: Set<bigint>;
}

/** A class with 3 reference fields (and an int), N instances, a few object arrays, a class object with one static reference. */
function randomGraph(seed: number, idSize: 4 | 8): RandomGraph {
  const r = rng(seed);
  const pick = <X>(xs: X[]): X => xs[Math.floor(r() * xs.length)];
  const w = new HprofWriter(idSize);
  const nameBase = 0x100n;
  ['Node', 'a', 'b', 'c', 'n', 'S', '[LNode;'].forEach((s, i) => w.utf8(nameBase + BigInt(i), s));
  const classId = 0x1000n;
  const arrayClassId = 0x1010n;
  w.loadClass(1, classId, nameBase).loadClass(2, arrayClassId, nameBase + 6n);
  const n = 3 + Math.floor(r() * 30);
  const arrays = Math.floor(r() * 4);
  // ids spaced like addresses, in a random order of the dump
  const objIds = Array.from({ length: n + arrays }, (_, i) => 0x10000n + BigInt(i) * 24n);
  const targets = [...objIds, classId];
  const edges = new Map<bigint, bigint[]>();
  const ref = () => (r() < 0.25 ? 0n : r() < 0.03 ? 0xdead0n : pick(targets)); // null, dangling, or an object
  const staticRef = ref();
  edges.set(classId, [staticRef].filter((x) => x !== 0n && x !== 0xdead0n));
  edges.set(arrayClassId, []);
  w.heapSegment();
  w.classDump(classId, 0n, 3 * idSize + 4, [{ name: nameBase + 1n, type: T.object }, { name: nameBase + 4n, type: T.int }, { name: nameBase + 2n, type: T.object }, { name: nameBase + 3n, type: T.object }],
    [{ name: nameBase + 5n, type: T.object, value: w.id(staticRef) }]);
  w.classDump(arrayClassId, 0n, 0, []);
  const order = objIds.map((id, i) => ({ id, i })).sort(() => r() - 0.5);
  for (const { id, i } of order) {
    if (i < n) {
      const a = ref();
      const b = ref();
      const c = ref();
      w.instance(id, classId, Buffer.concat([w.id(a), HprofWriter.u4(i), w.id(b), w.id(c)]));
      edges.set(id, [a, b, c].filter((x) => x !== 0n && x !== 0xdead0n));
    } else {
      const els = Array.from({ length: Math.floor(r() * 5) }, ref);
      w.objectArray(id, arrayClassId, els);
      edges.set(id, els.filter((x) => x !== 0n && x !== 0xdead0n));
    }
  }
  const roots = new Set<bigint>();
  const rootCount = 1 + Math.floor(r() * 3);
  for (let k = 0; k < rootCount; k++) {
    const t = r() < 0.3 ? classId : pick(objIds);
    roots.add(t);
    // JNI global: tag, object id, global ref id
    w.sub(Buffer.concat([HprofWriter.u1(0x01), w.id(t), w.id(0x77n + BigInt(k))]));
  }
  w.end();
  return { bytes: w.toBuffer(), edges, roots };
}

function reachable(g: RandomGraph, removed?: bigint): Set<bigint> {
  const seen = new Set<bigint>();
  const todo = [...g.roots].filter((x) => x !== removed);
  while (todo.length) {
    const v = todo.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    for (const t of g.edges.get(v) ?? []) if (t !== removed && !seen.has(t)) todo.push(t);
  }
  return seen;
}

/** Immediate dominators by the definition (null = only the virtual root dominates). */
function naiveIdom(g: RandomGraph): Map<bigint, bigint | null> {
  const all = reachable(g);
  const doms = new Map<bigint, Set<bigint>>([...all].map((w) => [w, new Set<bigint>()]));
  for (const v of all) {
    const without = reachable(g, v);
    for (const w of all) if (w !== v && !without.has(w)) doms.get(w)!.add(v);
  }
  const idom = new Map<bigint, bigint | null>();
  for (const [w, ds] of doms) {
    // the dominator that all other dominators of w dominate: the one with the most dominators itself
    let best: bigint | null = null;
    for (const d of ds) if (best === null || doms.get(d)!.size > doms.get(best)!.size) best = d;
    idom.set(w, best);
  }
  return idom;
}

describe('dominator tree', () => {
  it('equals the naive definition on 400 random object graphs (4- and 8-byte ids, random chunking)', () => {
    for (let seed = 1; seed <= 400; seed++) {
      const idSize = seed % 2 === 0 ? 8 : 4;
      const g = randomGraph(seed, idSize);
      const r = rng(seed * 7919);
      const engine = engineTree(g.bytes, () => 1 + Math.floor(r() * 40));
      const expected = naiveIdom(g);
      try {
        expect(new Map([...engine.idom].sort((a, b) => (a[0] < b[0] ? -1 : 1)))).toEqual(new Map([...expected].sort((a, b) => (a[0] < b[0] ? -1 : 1))));
        expect(engine.stream.complete).toBe(true);
      } catch (error) {
        throw new Error(`seed ${seed} (id size ${idSize}): ${(error as Error).message}`);
      }
    }
  });

  it('handles a chain of 300,000 objects (no recursion) and a cycle back to its head', () => {
    const w = new HprofWriter(8);
    w.utf8(1n, 'N').utf8(2n, 'next').loadClass(1, 0x10n, 1n).heapSegment();
    w.classDump(0x10n, 0n, 8, [{ name: 2n, type: T.object }]);
    const n = 300_000;
    const id = (i: number) => 0x100000n + BigInt(i) * 16n;
    for (let i = 0; i < n; i++) w.instance(id(i), 0x10n, w.id(id((i + 1) % n)));
    w.sub(Buffer.concat([HprofWriter.u1(0x01), w.id(id(0)), w.id(1n)]));
    w.end();
    const e = engineTree(w.toBuffer(), () => 65_536);
    expect(e.idom.size).toBe(n + 0); // the class object is not referenced by anything: garbage
    expect(e.idom.get(id(0))).toBeNull();
    expect(e.idom.get(id(n - 1))).toBe(id(n - 2));
    expect(e.retained.get(id(0))).toBe(n * 24);
    expect(e.retained.get(id(n - 1))).toBe(24);
  });
});

describe('dominator tree of a real dump', () => {
  const work = mkdtempSync(path.join(os.tmpdir(), 'leaks-dom-'));
  afterAll(async () => {
    await disposeAll();
    rmSync(work, { recursive: true, force: true });
  });

  it('every reachable object of a demo dump: immediate dominator and retained size equal the independent checker\'s', async () => {
    const file = await demoAppDump(work, '48m');
    const check = new HeapCheck(file);
    check.dominators();
    const e = engineTree(readFileSync(file), () => 1024 * 1024);
    expect(e.stream.complete).toBe(true);
    expect(e.idom.size).toBe(check.idom.size);
    let compared = 0;
    for (const [id, d] of check.idom) {
      expect([id, e.idom.get(id)]).toEqual([id, d]);
      expect([id, e.retained.get(id)]).toEqual([id, check.retained.get(id)]);
      compared++;
    }
    expect(compared).toBeGreaterThan(40_000);
  }, 180_000);
});
