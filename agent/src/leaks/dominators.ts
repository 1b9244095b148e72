/**
 * Graph -> dominator tree and retained sizes.
 *
 * A virtual root (preorder 0) points at every GC root. An iterative depth-first search numbers the
 * reachable nodes in preorder (unreachable objects are garbage and left out, as MAT does), the
 * predecessors are laid out in CSR form by preorder, then Lengauer-Tarjan (the "simple" version with
 * path compression: O(m log n) whatever the graph; semi-NCA can be quadratic on crafted graphs)
 * computes the immediate dominators. Path compression walks the ancestor chain by pointer reversal,
 * so nothing recurses and no stack grows with the depth (a 10-million-element linked list is one
 * long chain). A vertex is "linked" iff its preorder number is >= `L`, the last vertex linked (they are
 * linked in decreasing order), so the forest's ancestor array starts as the DFS parent array. The
 * bucket lists are threaded through `idom` (a vertex's idom is only set when it leaves its bucket).
 *
 * Retained size of v = its shallow size + the retained sizes of the vertices it immediately dominates
 * (summed in decreasing preorder: a dominator always has a smaller number).
 *
 * Memory per reachable object at the peak: the graph's class and size (8), preorder -> node (4),
 * predecessor offsets (4), ancestor, semi, label, idom, bucket heads (20): 36 bytes, plus 4 per edge.
 */
import type { Budget } from './budget';
import { type Graph, shallowOf } from './graph';
import { NONE } from './id-index';

export interface Dominators {
  /** Reachable objects + 1 (the virtual root, preorder 0). */
  readonly count: number;
  /** preorder -> node (index 0: NONE, the virtual root). */
  readonly pre2node: Uint32Array;
  /** preorder -> preorder of the immediate dominator (index 0: NONE). */
  readonly idom: Uint32Array;
  /** preorder -> retained bytes (index 0: the whole reachable heap). */
  readonly retained: Float64Array;
  /** Predecessors of preorder w: rev[revOff[w] .. revOff[w + 1]] (preorder numbers; 0 = the virtual root). */
  readonly revOff: Uint32Array;
  readonly rev: Uint32Array;
  /** Per GC root entry (graph.roots order): its preorder number. */
  readonly rootPre: Uint32Array;
  /** Forward edges seen from reachable objects. */
  readonly edges: number;
}

/**
 * Dominators of `g`; frees the graph's forward edges (g.refs, g.refEnd) on the way. Each phase is its own
 * function, so the arrays it gives back are unreachable (collectable) as soon as it returns: the budget
 * counts what is really held.
 */
export function computeDominators(g: Graph, budget: Budget): Dominators {
  const search = depthFirst(g, budget);
  const preds = predecessors(g, search, budget);
  const idom = lengauerTarjan(search.count, search.ancestor, preds.revOff, preds.rev, budget);
  // 4. retained sizes
  const R = search.count;
  const { pre2node } = search;
  const retained = budget.f64(R, 'retained sizes');
  for (let w = 1; w < R; w++) retained[w] = shallowOf(g, pre2node[w]);
  for (let w = R - 1; w > 0; w--) retained[idom[w]] += retained[w];
  return { count: R, pre2node, idom, retained, revOff: preds.revOff, rev: preds.rev, rootPre: preds.rootPre, edges: preds.edges };
}

interface Search {
  readonly count: number;
  readonly pre2node: Uint32Array;
  /** The DFS parent by preorder: Lengauer-Tarjan's ancestor array from the start. */
  readonly ancestor: Uint32Array;
  node2pre: Uint32Array | null;
}

/** 1. Depth-first search from the virtual root: preorder numbers and parents. */
function depthFirst(g: Graph, budget: Budget): Search {
  const n = g.nodes;
  const refs = g.refs as Uint32Array;
  const refEnd = g.refEnd as Uint32Array;
  const roots = g.roots;
  const node2pre = budget.u32(n, 'preorder');
  node2pre.fill(NONE);
  const pre2node = budget.u32(n + 1, 'preorder');
  const ancestor = budget.u32(n + 1, 'dominators');
  const stack = budget.u32(n + 1, 'search stack');
  const iter = budget.u32(n + 1, 'search stack');
  pre2node[0] = NONE;
  ancestor[0] = NONE;
  let count = 1;
  let sp = 0;
  stack[sp++] = 0;
  let steps = 0;
  while (sp > 0) {
    const w = stack[sp - 1];
    let t: number;
    if (w === 0) {
      let k = iter[0];
      while (k < roots.count && node2pre[roots.node[k]] !== NONE) k++;
      if (k >= roots.count) {
        sp--;
        continue;
      }
      iter[0] = k + 1;
      t = roots.node[k];
    } else {
      const end = refEnd[pre2node[w]];
      let k = iter[w];
      while (k < end && node2pre[refs[k]] !== NONE) k++;
      if (k >= end) {
        sp--;
        continue;
      }
      iter[w] = k + 1;
      t = refs[k];
    }
    const pt = count++;
    node2pre[t] = pt;
    pre2node[pt] = t;
    ancestor[pt] = w;
    iter[pt] = t === 0 ? 0 : refEnd[t - 1];
    stack[sp++] = pt;
    if ((++steps & 0xfffff) === 0) budget.check();
  }
  budget.free(stack);
  budget.free(iter);
  return { count, pre2node, ancestor, node2pre };
}

/** 2. Predecessors by preorder, scanning the edges in node order (sequential); frees the forward edges and node -> preorder. */
function predecessors(g: Graph, search: Search, budget: Budget): { revOff: Uint32Array; rev: Uint32Array; rootPre: Uint32Array; edges: number } {
  const n = g.nodes;
  const refs = g.refs as Uint32Array;
  const refEnd = g.refEnd as Uint32Array;
  const node2pre = search.node2pre as Uint32Array;
  const roots = g.roots;
  const R = search.count;
  const revOff = budget.u32(R + 1, 'predecessors');
  for (let k = 0; k < roots.count; k++) revOff[node2pre[roots.node[k]] + 1]++;
  let start = 0;
  for (let v = 0; v < n; v++) {
    const end = refEnd[v];
    if (node2pre[v] !== NONE) {
      for (let k = start; k < end; k++) {
        const t = node2pre[refs[k]];
        refs[k] = t; // each edge becomes a preorder number on the way
        revOff[t + 1]++;
      }
    }
    start = end;
    if ((v & 0xfffff) === 0) budget.check();
  }
  for (let w = 1; w <= R; w++) revOff[w] += revOff[w - 1];
  const edges = revOff[R] - roots.count;
  const rev = budget.u32(revOff[R], 'predecessors');
  for (let k = 0; k < roots.count; k++) rev[revOff[node2pre[roots.node[k]]]++] = 0;
  start = 0;
  for (let v = 0; v < n; v++) {
    const end = refEnd[v];
    const w = node2pre[v];
    if (w !== NONE) for (let k = start; k < end; k++) rev[revOff[refs[k]]++] = w;
    start = end;
  }
  for (let w = R; w > 0; w--) revOff[w] = revOff[w - 1];
  revOff[0] = 0;
  const rootPre = budget.u32(roots.count, 'GC roots');
  for (let k = 0; k < roots.count; k++) rootPre[k] = node2pre[roots.node[k]];
  budget.free(refs);
  budget.free(refEnd);
  budget.free(node2pre);
  g.refs = null;
  g.refEnd = null;
  search.node2pre = null;
  return { revOff, rev, rootPre, edges };
}

/** 3. Lengauer-Tarjan over preorder numbers; `ancestor` starts as the DFS parents (and is used up). Returns idom. */
function lengauerTarjan(R: number, ancestor: Uint32Array, revOff: Uint32Array, rev: Uint32Array, budget: Budget): Uint32Array {
  const semi = budget.u32(R, 'dominators');
  const label = budget.u32(R, 'dominators');
  const idom = budget.u32(R, 'dominators');
  const bucket = budget.u32(R, 'dominators');
  for (let w = 0; w < R; w++) {
    semi[w] = w;
    label[w] = w;
  }
  bucket.fill(NONE);
  let L = R;
  const evaluate = (v: number): number => {
    if (ancestor[v] < L) return label[v]; // its ancestor is a forest root: nothing to compress
    // pointer reversal up to the vertex below the forest root, then back down compressing
    let prev = NONE;
    let cur = v;
    for (;;) {
      const a = ancestor[cur];
      if (a < L) break;
      ancestor[cur] = prev;
      prev = cur;
      cur = a;
    }
    while (prev !== NONE) {
      const next = ancestor[prev];
      if (semi[label[cur]] < semi[label[prev]]) label[prev] = label[cur];
      ancestor[prev] = ancestor[cur];
      cur = prev;
      prev = next;
    }
    return label[v];
  };
  for (let w = R - 1; w > 0; w--) {
    let s = w;
    for (let k = revOff[w], end = revOff[w + 1]; k < end; k++) {
      const v = rev[k];
      const u = v < L ? v : evaluate(v);
      if (semi[u] < s) s = semi[u];
    }
    semi[w] = s;
    idom[w] = bucket[s];
    bucket[s] = w;
    const p = ancestor[w];
    L = w;
    let v = bucket[p];
    bucket[p] = NONE;
    while (v !== NONE) {
      const next = idom[v];
      const u = evaluate(v);
      idom[v] = semi[u] < semi[v] ? u : p;
      v = next;
    }
    if ((w & 0xfffff) === 0) budget.check();
  }
  for (let w = 1; w < R; w++) if (idom[w] !== semi[w]) idom[w] = idom[idom[w]];
  idom[0] = NONE;
  for (const a of [semi, label, bucket, ancestor]) budget.free(a);
  return idom;
}
