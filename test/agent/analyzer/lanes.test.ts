/**
 * The analyzer's scheduling (pure): which lane a dump takes, round-robin across namespaces with each
 * namespace's dumps oldest first, and the memory budget of each lane from the container's limit.
 */
import type { PendingDump } from '../../../agent/src/analyzer/bucket';
import { CHILD_OVERHEAD_BYTES, GARBAGE_MARGIN, laneBudgets, PARENT_RESERVE_BYTES } from '../../../agent/src/analyzer/command';
import { nextDump, type LaneState } from '../../../agent/src/analyzer/lanes';

const MiB = 2 ** 20;
const dump = (key: string, namespace: string, size: number, arrivedAt: number): PendingDump => ({ key, namespace, size, arrivedAt, attempted: false, summary: false, readable: true });

describe('lanes', () => {
  const pending = [
    dump('p/n1/a/x/1.hprof', 'a', 10 * MiB, 5),
    dump('p/n1/a/x/2.hprof', 'a', 20 * MiB, 1),
    dump('p/n1/a/x/3.hprof', 'a', 20 * MiB, 2),
    dump('p/n1/b/y/1.hprof', 'b', 30 * MiB, 9),
    dump('p/n1/c/z/1.hprof', 'c', 5 * MiB, 3),
    dump('p/n1/a/big/1.hprof', 'a', 4096 * MiB, 0),
    dump('p/n1/b/big/1.hprof.gz', 'b', 100 * MiB, 4), // 4 x as the stream: a large-lane dump
  ];
  const none = () => false;

  it('takes namespaces in turn, each one\'s dumps oldest first, in the lane of their size', () => {
    const state: LaneState = { lastNamespace: '' };
    const served: string[] = [];
    const done = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const d = nextDump(pending, 'small', state, 256 * MiB, (k) => done.has(k))!;
      served.push(d.key);
      done.add(d.key);
      state.lastNamespace = d.namespace;
    }
    expect(served).toEqual(['p/n1/a/x/2.hprof', 'p/n1/b/y/1.hprof', 'p/n1/c/z/1.hprof', 'p/n1/a/x/3.hprof', 'p/n1/a/x/1.hprof']);
    expect(nextDump(pending, 'small', state, 256 * MiB, (k) => done.has(k))).toBeUndefined();
  });

  it('a tenant with many dumps gets one turn per round, not the whole lane', () => {
    const many = [...Array.from({ length: 50 }, (_, i) => dump(`p/n/noisy/p/${i}.hprof`, 'noisy', MiB, i)), dump('p/n/quiet/p/0.hprof', 'quiet', MiB, 1000)];
    const state: LaneState = { lastNamespace: '' };
    const first = nextDump(many, 'small', state, 256 * MiB, none)!;
    state.lastNamespace = first.namespace;
    expect(first.namespace).toBe('noisy');
    expect(nextDump(many, 'small', state, 256 * MiB, (k) => k === first.key)!.namespace).toBe('quiet');
  });

  it('large dumps (and compressed ones by their stream) go to the other lane; busy and waiting dumps are skipped', () => {
    const state: LaneState = { lastNamespace: '' };
    expect(nextDump(pending, 'large', state, 256 * MiB, none)!.key).toBe('p/n1/a/big/1.hprof');
    expect(nextDump(pending, 'large', { lastNamespace: 'a' }, 256 * MiB, none)!.key).toBe('p/n1/b/big/1.hprof.gz');
    expect(nextDump(pending, 'large', state, 256 * MiB, (k) => k.includes('/big/'))).toBeUndefined();
  });

  it('memory budgets: the small lane twice the small-dump size, the large lane the rest; one lane when the limit is small', () => {
    expect(laneBudgets(8192 * MiB, 256 * MiB)).toEqual({ small: 512 * MiB, large: Math.floor((8192 * MiB - PARENT_RESERVE_BYTES - 2 * CHILD_OVERHEAD_BYTES - 512 * MiB) / GARBAGE_MARGIN) });
    expect(Math.floor((laneBudgets(8192 * MiB, 256 * MiB) as { large: number }).large / MiB)).toBe(6581);
    expect(laneBudgets(1024 * MiB, 256 * MiB)).toEqual({ single: Math.floor((1024 * MiB - PARENT_RESERVE_BYTES - CHILD_OVERHEAD_BYTES) / GARBAGE_MARGIN) });
  });
});
