/**
 * Fairness between namespaces: the scheduler's picks (which dump goes next, how many at once) and the
 * max-min shares of the node-wide bound. Expected orders are written out here, not derived from the code.
 */
import { FairScheduler } from '../../../agent/src/uploader/scheduler';
import { fairShares } from '../../../agent/src/uploader/scan-rules';
import type { Tracked } from '../../../agent/src/uploader/tracker';

function tracked(id: string, mtimeMs: number): Tracked {
  const segments = id.split('/').map((s) => Buffer.from(s));
  const state = { dev: 1n, ino: BigInt(mtimeMs), size: 1, mtimeNs: BigInt(mtimeMs) * 1_000_000n, ctimeNs: 0n };
  return { id, file: { id, segments, state, uid: 1000 }, obs: { state, mtimeMs, firstSeenAt: 0 }, phase: 'pending', attempt: 0, nextAttemptAt: 0 };
}

/** Runs the scheduler with `slots`, every job ending in the order it started; returns the ids in start order. */
function order(due: Tracked[], slots: number): string[] {
  const s = new FairScheduler(slots);
  const left = [...due];
  const started: string[] = [];
  const running: string[] = [];
  while (left.length > 0 || running.length > 0) {
    for (let t = s.pick(left); t; t = s.pick(left)) {
      s.start(t);
      started.push(t.id);
      running.push(t.id);
      left.splice(left.indexOf(t), 1);
    }
    s.finish(running.shift() as string);
  }
  return started;
}

describe('FairScheduler', () => {
  it('a namespace that set its files\' mtimes to 1970 does not go first: namespaces take turns', () => {
    const attacker = Array.from({ length: 5 }, (_, i) => tracked(`evil/pod/bomb${i}.hprof`, i)); // mtimes 1970
    const victim = tracked('shop/web-1/java_pid1.hprof', Date.UTC(2026, 11, 7));
    const other = tracked('pay/api-1/java_pid1.hprof', Date.UTC(2026, 11, 7, 1));
    const seq = order([...attacker, victim, other], 1);
    expect(seq.slice(0, 3).map((id) => id.split('/')[0]).sort()).toEqual(['evil', 'pay', 'shop']);
    expect(seq.slice(3)).toEqual(['evil/pod/bomb1.hprof', 'evil/pod/bomb2.hprof', 'evil/pod/bomb3.hprof', 'evil/pod/bomb4.hprof']);
  });

  it('within a namespace, the oldest modification first', () => {
    const a = [tracked('ns/p/c.hprof', 30), tracked('ns/p/a.hprof', 10), tracked('ns/p/b.hprof', 20)];
    expect(order(a, 2)).toEqual(['ns/p/a.hprof', 'ns/p/b.hprof', 'ns/p/c.hprof']);
  });

  it('two slots, never two jobs of one namespace: while one namespace\'s big upload runs, the other namespace goes', () => {
    const s = new FairScheduler(2);
    const big = tracked('big/pod/huge.hprof', 1);
    const more = tracked('big/pod/more.hprof', 2);
    const small = tracked('small/pod/java_pid1.hprof', 3);
    const first = s.pick([big, more, small]);
    s.start(first as Tracked);
    const second = s.pick([big, more, small].filter((t) => t !== first));
    expect([first?.id, second?.id].sort()).toEqual(['big/pod/huge.hprof', 'small/pod/java_pid1.hprof']);
    s.start(second as Tracked);
    expect(s.free).toBe(0);
    expect(s.pick([more])).toBeUndefined(); // no free slot
    s.finish('small/pod/java_pid1.hprof');
    expect(s.pick([more])).toBeUndefined(); // a free slot, but its namespace has a job running
    expect(s.busy('big/pod/huge.hprof')).toBe(true);
  });
});

describe('fairShares (max-min)', () => {
  it('gives small groups all they have and cuts only the largest', () => {
    expect(Object.fromEntries(fairShares(new Map([['evil', 400_000], ['shop', 3], ['pay', 1]]), 10_000))).toEqual({ evil: 9_996, shop: 3, pay: 1 });
    expect(Object.fromEntries(fairShares(new Map([['a', 100], ['b', 100], ['c', 100]]), 10))).toEqual({ a: 3, b: 3, c: 4 });
    expect(Object.fromEntries(fairShares(new Map([['a', 2], ['b', 5]]), 100))).toEqual({ a: 2, b: 5 });
  });
});
