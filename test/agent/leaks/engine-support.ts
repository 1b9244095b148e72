/**
 * Runs the leak engine's first stages (records -> graph -> dominators) on bytes, for the tests that
 * compare its dominator tree with an independent computation: node ids by node index, idom and
 * retained size by id.
 */
import { Budget } from '../../../agent/src/leaks/budget';
import { computeDominators, type Dominators } from '../../../agent/src/leaks/dominators';
import { buildGraph, type Graph } from '../../../agent/src/leaks/graph';
import { HprofStream } from '../../../agent/src/leaks/hprof-stream';
import { GraphRecorder } from '../../../agent/src/leaks/records';

export interface EngineTree {
  readonly ids: bigint[];
  /** Reachable object id -> id of its immediate dominator (null: the virtual root). */
  readonly idom: Map<bigint, bigint | null>;
  readonly retained: Map<bigint, number>;
  readonly graph: Graph;
  readonly doms: Dominators;
  readonly stream: HprofStream;
}

/** Feeds `bytes` in chunks of the sizes `chunk()` returns (default: all at once). */
export function engineTree(bytes: Buffer, chunk: () => number = () => bytes.length, budget = new Budget()): EngineTree {
  let stream: HprofStream | undefined;
  const rec = new GraphRecorder(budget, () => stream!.segmentEnd);
  stream = new HprofStream(rec);
  for (let p = 0; p < bytes.length;) {
    const n = Math.max(1, Math.min(chunk(), bytes.length - p));
    stream.update(bytes.subarray(p, p + n));
    p += n;
  }
  const ids: bigint[] = [];
  for (let i = 0; i < rec.nodes; i++) ids.push((rec.idSize === 8 ? BigInt(rec.idHi.get(i)) << 32n : 0n) | BigInt(rec.idLo.get(i)));
  const graph = buildGraph(rec, budget);
  const doms = computeDominators(graph, budget);
  const idom = new Map<bigint, bigint | null>();
  const retained = new Map<bigint, number>();
  for (let w = 1; w < doms.count; w++) {
    const id = ids[doms.pre2node[w]];
    idom.set(id, doms.idom[w] === 0 ? null : ids[doms.pre2node[doms.idom[w]]]);
    retained.set(id, doms.retained[w]);
  }
  return { ids, idom, retained, graph, doms, stream };
}
