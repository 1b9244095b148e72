/**
 * Paths to an object, breadth-first over the predecessors (dominators.ts lays them out by preorder): the
 * shortest one from a GC root (what a leak report shows), or the shortest from an object of some kind (a
 * class, for a static field that holds a suspect through a few objects). O(reachable objects + edges)
 * per search, iterative, 8 bytes per reachable object while it runs.
 */
import type { Budget } from './budget';
import type { Dominators } from './dominators';
import { NONE } from './id-index';

/**
 * Breadth-first over predecessors from `s` until a vertex that `stop` accepts (or, with `rootStops`, one
 * a GC root references): the path from it to `s`; [] when none within `maxDepth` steps.
 */
export function pathFrom(d: Dominators, budget: Budget, s: number, stop: (v: number) => boolean, rootStops: boolean, maxDepth: number): number[] {
  const R = d.count;
  const { revOff, rev } = d;
  const next = budget.u32(R, 'path search');
  next.fill(NONE);
  const queue = budget.u32(R, 'path search');
  let head = 0;
  let tail = 0;
  queue[tail++] = s;
  next[s] = s;
  let found = NONE;
  let levelEnd = tail;
  let depth = 0;
  while (head < tail && found === NONE && depth <= maxDepth) {
    const w = queue[head++];
    for (let k = revOff[w]; k < revOff[w + 1]; k++) {
      const v = rev[k];
      if (v === 0) {
        if (rootStops) {
          found = w;
          break;
        }
        continue;
      }
      if (next[v] !== NONE) continue;
      next[v] = w;
      if (stop(v)) {
        found = v;
        break;
      }
      queue[tail++] = v;
    }
    if (head === levelEnd) {
      depth++;
      levelEnd = tail;
    }
    if ((head & 0xfffff) === 0) budget.check();
  }
  const path: number[] = [];
  for (let w = found; w !== NONE; w = w === s ? NONE : next[w]) path.push(w);
  budget.free(next);
  budget.free(queue);
  return path;
}
