/**
 * Dominator tree -> leak suspects, as Eclipse MAT's Leak Suspects report defines them (from memory of
 * its FindLeaksQuery): the top-level dominators (objects whose immediate dominator is the virtual
 * root) that retain at least `threshold` of the reachable heap are single-object suspects; the other
 * top-level dominators are grouped by class, and a class whose instances together retain at least
 * the threshold is a class-group suspect. Nothing below the threshold is called a suspect.
 *
 * One refinement over MAT, so that the suspect is what a team fixes and not the class loader above it:
 * below a suspect top-level dominator, every dominator-tree path of objects that each retain at least
 * the threshold is followed to its end, and the suspect is the deepest object on it that something
 * holds: a GC root of a thread, JNI or monitor kind, or an object whose immediate dominator is a class
 * (a static field). Without one, the top-level dominator itself is the suspect (as MAT says "the class
 * loader X occupies ...").
 *
 * The accumulation point: from the suspect, down the dominator tree to the biggest child while that
 * child still retains at least BIG_DROP of its parent; there the retained size drops. The accumulated
 * objects are the point's dominated children of the class retaining most (counted exactly); when those
 * are only entries (a map's nodes, retaining four times their own size or more), the class of the
 * entries' own biggest children is reported, through them.
 *
 * Everything here works on preorder numbers (dominators.ts), iteratively, in O(reachable objects).
 */
import type { Budget } from './budget';
import { CLASS_NODE } from './classes';
import type { Dominators } from './dominators';
import { type Graph, shallowOf } from './graph';
import { NONE } from './id-index';
import { pathFrom } from './paths';
import { SUB } from '../triage/hprof-format';

/** MAT's "big drop" (from memory): the accumulation chain stops where a child retains less than this share of its parent. */
export const BIG_DROP = 0.7;
/** A walk through at least this many objects of one class in a row is a chain (a linked list): reported as such. */
export const CHAIN_MIN = 64;
/** Deepest path searched from a class's static field to a suspect. */
const STATIC_DEPTH = 16;
/** An entry class retains at least this many times its own shallow size to be looked through. */
const ENTRY_RATIO = 4;

export interface Accumulation {
  /** The accumulation point (preorder). */
  readonly point: number;
  /** Class row (graph cls value) of the accumulated objects, their count and retained bytes. */
  readonly cls: number;
  readonly instances: number;
  readonly retained: number;
  /** When looked through entries: their class, count and retained bytes. */
  readonly via?: { readonly cls: number; readonly instances: number; readonly retained: number };
  /** The accumulated objects are a chain (each dominates the next), starting at the point. */
  readonly chain?: boolean;
}

export interface SuspectCore {
  readonly kind: 'object' | 'class-group';
  /** The suspect object (preorder); for a class group its biggest member. */
  readonly pre: number;
  readonly cls: number;
  readonly retained: number;
  /** Class group: number of top-level dominators of the class. */
  readonly instances: number;
  /** Preorder numbers from a GC root to `pre`, shortest. */
  path: readonly number[];
  /**
   * The shortest path from a class object to `pre` that does not start at a GC root's reference (a
   * static field holding it, maybe through a few objects), when there is one within STATIC_DEPTH steps.
   */
  staticPath?: readonly number[];
  readonly accumulation: Accumulation;
}

export interface SuspectOptions {
  /** Share of the reachable heap, 0..1. */
  readonly threshold: number;
  readonly topDominators: number;
}

export interface SuspectResult {
  readonly suspects: SuspectCore[];
  /** Top-level dominators, biggest first (capped). */
  readonly top: number[];
  readonly topLevelCount: number;
}

/** Whether each preorder vertex is a GC root that holds what it refers to (not a sticky class). */
function holdingRoots(g: Graph, d: Dominators): Uint8Array {
  const held = new Uint8Array(d.count);
  for (let k = 0; k < g.roots.count; k++) if (g.roots.kind[k] !== SUB.rootStickyClass) held[d.rootPre[k]] = 1;
  return held;
}

export function findSuspects(g: Graph, d: Dominators, budget: Budget, opts: SuspectOptions): SuspectResult {
  const R = d.count;
  const { idom, retained, pre2node } = d;
  const total = retained[0];
  const thr = Math.max(1, total * opts.threshold);

  // dominator tree children, CSR
  let childOff = budget.u32(R + 1, 'dominator tree');
  for (let w = 1; w < R; w++) childOff[idom[w] + 1]++;
  for (let w = 1; w <= R; w++) childOff[w] += childOff[w - 1];
  let children = budget.u32(Math.max(1, R - 1), 'dominator tree');
  for (let w = 1; w < R; w++) children[childOff[idom[w]]++] = w;
  for (let w = R; w > 0; w--) childOff[w] = childOff[w - 1];
  childOff[0] = 0;
  const clsOf = (w: number) => g.cls[pre2node[w]];
  const isClass = (w: number) => (clsOf(w) & CLASS_NODE) !== 0;
  const rootHeld = holdingRoots(g, d);
  const held = (w: number) => rootHeld[w] === 1 || (idom[w] !== 0 && isClass(idom[w]));

  const top = Array.from(children.subarray(childOff[0], childOff[1])).sort((a, b) => retained[b] - retained[a] || a - b);
  const suspects: SuspectCore[] = [];
  const used = new Set<number>();
  for (const t of top) {
    if (retained[t] < thr) break;
    used.add(t);
    for (const s of heldBelow(t)) suspects.push(objectSuspect(s));
  }
  // class groups of the remaining top-level dominators
  const groups = new Map<number, { retained: number; count: number; biggest: number }>();
  for (const t of top) {
    if (used.has(t)) continue;
    const c = clsOf(t);
    const grp = groups.get(c) ?? { retained: 0, count: 0, biggest: t };
    grp.retained += retained[t];
    grp.count++;
    groups.set(c, grp);
  }
  for (const [c, grp] of [...groups].sort((a, b) => b[1].retained - a[1].retained)) {
    if (grp.retained < thr) break;
    suspects.push({ kind: 'class-group', pre: grp.biggest, cls: c, retained: grp.retained, instances: grp.count, path: [], accumulation: accumulate(grp.biggest) });
  }
  // the paths need the predecessors, not the tree's children: their search runs after those are given back
  budget.free(childOff);
  budget.free(children);
  childOff = children = new Uint32Array(0); // the closures below must not keep them alive
  for (const s of suspects) {
    s.path = pathFrom(d, budget, s.pre, () => false, true, Infinity);
    const sp = pathFrom(d, budget, s.pre, (v) => v !== s.pre && (clsOf(v) & CLASS_NODE) !== 0, false, STATIC_DEPTH);
    if (sp.length > 0) s.staticPath = sp;
  }
  return { suspects, top: top.slice(0, opts.topDominators), topLevelCount: top.length };

  function objectSuspect(s: number): SuspectCore {
    return { kind: 'object', pre: s, cls: clsOf(s), retained: retained[s], instances: 1, path: [], accumulation: accumulate(s) };
  }

  /** The held objects found by following every path of objects retaining >= thr from t (t itself when none). */
  function heldBelow(t: number): number[] {
    const found: number[] = [];
    // stack of (vertex, deepest held vertex on the way so far)
    const stack: number[] = [t, held(t) ? t : NONE];
    while (stack.length > 0) {
      const best = stack.pop() as number;
      const v = stack.pop() as number;
      let leaf = true;
      for (let k = childOff[v]; k < childOff[v + 1]; k++) {
        const c = children[k];
        if (retained[c] < thr) continue;
        leaf = false;
        stack.push(c, held(c) ? c : best);
      }
      if (leaf && best !== NONE && !found.includes(best)) found.push(best);
    }
    return found.length > 0 ? found : [t];
  }

  function biggestChild(v: number): number {
    let best = NONE;
    for (let k = childOff[v]; k < childOff[v + 1]; k++) if (best === NONE || retained[children[k]] > retained[best]) best = children[k];
    return best;
  }

  function accumulate(s: number): Accumulation {
    let point = s;
    // the longest run of one class along the walk (a linked list is a dominator chain)
    let runStart = s;
    let runLen = 1;
    let bestStart = s;
    let bestLen = 1;
    let steps = 0;
    for (; ; steps++) {
      const c = biggestChild(point);
      if (c === NONE || retained[c] < BIG_DROP * retained[point]) break;
      if (clsOf(c) === clsOf(point)) runLen++;
      else {
        runStart = c;
        runLen = 1;
      }
      if (runLen > bestLen) {
        bestLen = runLen;
        bestStart = runStart;
      }
      point = c;
      if ((steps & 0xfffff) === 0) budget.check();
    }
    if (bestLen >= CHAIN_MIN && 2 * bestLen >= steps + 1) {
      // a chain is counted to its end: the drop rule stops the walk a step or two before the tail
      let length = bestLen;
      if (bestStart === runStart) {
        for (let end = point, c = biggestChild(end); c !== NONE && clsOf(c) === clsOf(end); end = c, c = biggestChild(end)) length++;
      }
      return { point: bestStart, cls: clsOf(bestStart), instances: length, retained: retained[bestStart], chain: true };
    }
    const group = dominantGroup((f) => forChildren(point, f));
    if (group === undefined) return { point, cls: clsOf(point), instances: 1, retained: retained[point] };
    if (group.shallow * ENTRY_RATIO <= group.retained) {
      // entries (a map's nodes): what their own children are
      const inner = dominantGroup((f) => forChildren(point, (c) => {
        if (clsOf(c) === group.cls) forChildren(c, f);
      }));
      if (inner !== undefined && inner.retained * 2 >= group.retained) {
        return { point, cls: inner.cls, instances: inner.count, retained: inner.retained, via: { cls: group.cls, instances: group.count, retained: group.retained } };
      }
    }
    return { point, cls: group.cls, instances: group.count, retained: group.retained };
  }

  function forChildren(p: number, f: (c: number) => void): void {
    for (let k = childOff[p]; k < childOff[p + 1]; k++) f(children[k]);
  }

  /** The class retaining most among the objects `visit` names, with exact counts (nothing is collected into arrays). */
  function dominantGroup(visit: (f: (c: number) => void) => void): { cls: number; count: number; retained: number; shallow: number } | undefined {
    const by = new Map<number, { count: number; retained: number; shallow: number }>();
    visit((c) => {
      const key = clsOf(c);
      let e = by.get(key);
      if (e === undefined) {
        e = { count: 0, retained: 0, shallow: 0 };
        by.set(key, e);
      }
      e.count++;
      e.retained += retained[c];
      e.shallow += shallowOf(g, pre2node[c]);
    });
    let bestCls = -1;
    for (const [c, e] of by) if (bestCls < 0 || e.retained > by.get(bestCls)!.retained) bestCls = c;
    if (bestCls < 0) return undefined;
    const e = by.get(bestCls)!;
    return { cls: bestCls, count: e.count, retained: e.retained, shallow: e.shallow };
  }
}
