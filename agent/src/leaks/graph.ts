/**
 * Raw graph -> compact graph: nodes keep their dump order; every reference id becomes a node index
 * through the IdIndex (id-index.ts), references to ids that are not in the dump (and ids shared by
 * several objects, but the first) are dropped and counted, and the edges stay in CSR form (the edges
 * of node v are refs[refEnd[v-1] .. refEnd[v]]). GC roots become node indices with their kind.
 *
 * Memory: the raw references (8 bytes each with 8-byte ids) are converted chunk by chunk in place, so
 * the peak is the raw references plus the id index, then 4 bytes per reference.
 */
import type { Budget } from './budget';
import { IdIndex, NONE } from './id-index';
import type { GraphRecorder } from './records';
import { CHUNK } from './u32-list';

/** GC roots (one entry per root sub-record whose object is in the dump), as parallel arrays. */
export interface GcRoots {
  readonly count: number;
  readonly node: Uint32Array;
  /** HPROF root sub-record tag (SUB.root*). */
  readonly kind: Uint32Array;
  /** Thread serial (JNI local, Java frame, native stack, thread block, thread object), else 0. */
  readonly serial: Uint32Array;
  /** Frame depth (JNI local, Java frame), the stack trace serial (thread object), else 0xffffffff. */
  readonly frame: Uint32Array;
}

export interface Graph {
  readonly nodes: number;
  /** Class row per node (with CLASS_NODE for class objects). */
  readonly cls: Uint32Array;
  /** Shallow size per node (0xffffffff: see bigSizes). */
  readonly size: Uint32Array;
  readonly bigSizes: ReadonlyMap<number, number>;
  refEnd: Uint32Array | null;
  refs: Uint32Array | null;
  readonly roots: GcRoots;
  /** Edges to ids not in the dump, left out. */
  readonly dangling: number;
  readonly duplicateIds: number;
  /** Roots whose object is not in the dump. */
  readonly unknownRoots: number;
  /** Thread object node -> its name String node (when both are in the dump). */
  readonly threadNames: ReadonlyMap<number, number>;
}

export function shallowOf(g: Pick<Graph, 'size' | 'bigSizes'>, node: number): number {
  const s = g.size[node];
  return s === 0xffffffff ? (g.bigSizes.get(node) ?? s) : s;
}

/** Builds the graph and empties the recorder's lists. */
export function buildGraph(rec: GraphRecorder, budget: Budget): Graph {
  rec.finish();
  const n = rec.nodes;
  const { dangling, duplicateIds, unknownRoots, roots, threadNames } = resolveIds(rec, budget);
  // compact: drop the references that went nowhere
  const refs = rec.refLo.toArray();
  const refEnd = rec.refEnd.toArray();
  if (dangling > 0) {
    let w = 0;
    let k = 0;
    for (let v = 0; v < n; v++) {
      const end = refEnd[v];
      for (; k < end; k++) if (refs[k] !== NONE) refs[w++] = refs[k];
      refEnd[v] = w;
    }
  }
  const cls = rec.cls.toArray();
  const size = rec.size.toArray();
  return { nodes: n, cls, size, bigSizes: rec.bigSizes, refEnd, refs, roots, dangling, duplicateIds, unknownRoots, threadNames };
}

/**
 * Ids -> nodes: the references (in place, chunk by chunk), the GC roots and the thread names. The id index
 * lives only inside this function: when it returns, its memory can be collected.
 */
function resolveIds(rec: GraphRecorder, budget: Budget): Pick<Graph, 'dangling' | 'duplicateIds' | 'unknownRoots' | 'roots' | 'threadNames'> {
  const index = IdIndex.build(rec.idSize === 8 ? rec.idHi.toArray() : null, rec.idLo.toArray(), budget);
  let dangling = 0;
  const loChunks = rec.refLo.chunks;
  const hiChunks = rec.refHi.chunks;
  const m = rec.refLo.length;
  for (let c = 0; c < loChunks.length; c++) {
    budget.check();
    const lo = loChunks[c];
    const hi = rec.idSize === 8 ? hiChunks[c] : null;
    const take = Math.min(lo.length, m - c * CHUNK);
    for (let k = 0; k < take; k++) {
      const t = index.lookup(hi === null ? 0 : hi[k], lo[k]);
      if (t === NONE) dangling++;
      lo[k] = t;
    }
    if (hi !== null) {
      budget.free(hi);
      (hiChunks as (Uint32Array | undefined)[])[c] = undefined;
    }
  }
  rec.refHi.clear();

  const rr = rec.roots;
  const nr = rr.length;
  const roots = { count: 0, node: budget.u32(nr, 'GC roots'), kind: budget.u32(nr, 'GC roots'), serial: budget.u32(nr, 'GC roots'), frame: budget.u32(nr, 'GC roots') };
  let unknownRoots = 0;
  for (let i = 0; i < nr; i++) {
    const node = index.lookup(rr.hi.get(i), rr.lo.get(i));
    if (node === NONE) {
      unknownRoots++;
      continue;
    }
    const k = roots.count++;
    roots.node[k] = node;
    roots.kind[k] = rr.kind.get(i);
    roots.serial[k] = rr.serial.get(i);
    roots.frame[k] = rr.frame.get(i);
  }
  rr.clear();

  const threadNames = new Map<number, number>();
  const threads = rec.top.threads;
  for (let i = 0; i < threads.threadLo.length; i++) {
    const t = index.lookup(threads.threadHi[i], threads.threadLo[i]);
    const s = index.lookup(threads.nameHi[i], threads.nameLo[i]);
    if (t !== NONE && s !== NONE) threadNames.set(t, s);
  }
  const duplicateIds = index.duplicates;
  index.dispose();
  return { dangling, duplicateIds, unknownRoots, roots, threadNames };
}
