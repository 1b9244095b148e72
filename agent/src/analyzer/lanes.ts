/**
 * Which dump each lane analyses next (pure). Two lanes run side by side: one for small dumps, one for
 * the others, so a tenant's multi-GiB dump (minutes) never holds up another team's small one (seconds).
 * Within a lane, namespaces take turns (round-robin, in name order, after the one served last) and each
 * namespace's dumps go oldest first: every dump is reached, in order of arrival per team, and no
 * tenant can keep another one waiting by writing many dumps.
 */
import type { PendingDump } from './bucket';

export type LaneName = 'small' | 'large';

export interface LaneState {
  /** The namespace whose dump the lane started last ('' before the first). */
  lastNamespace: string;
}

/** The lane a dump belongs to, by the bytes its analysis reads (an estimate for compressed dumps). */
export function laneOf(analysisBytes: number, smallDumpBytes: number): LaneName {
  return analysisBytes <= smallDumpBytes ? 'small' : 'large';
}

/** Bytes the analysis will read: the stored size, times a typical ratio for a `.hprof.gz` whose metadata is not read yet. */
export function analysisBytesOf(d: Pick<PendingDump, 'key' | 'size'>): number {
  return d.key.endsWith('.gz') ? d.size * 4 : d.size;
}

/**
 * The next dump for `lane` among `pending` (not in `busy`, not `waiting` for a retry), or undefined.
 * Round-robin across namespaces, oldest first within one.
 */
export function nextDump(
  pending: readonly PendingDump[],
  lane: LaneName,
  state: LaneState,
  smallDumpBytes: number,
  skip: (key: string) => boolean,
): PendingDump | undefined {
  const byNamespace = new Map<string, PendingDump[]>();
  for (const d of pending) {
    if (skip(d.key) || laneOf(analysisBytesOf(d), smallDumpBytes) !== lane) continue;
    const list = byNamespace.get(d.namespace) ?? [];
    list.push(d);
    byNamespace.set(d.namespace, list);
  }
  if (byNamespace.size === 0) return undefined;
  const names = [...byNamespace.keys()].sort();
  const after = names.find((n) => n > state.lastNamespace) ?? names[0];
  const list = byNamespace.get(after)!;
  list.sort((a, b) => a.arrivedAt - b.arrivedAt || (a.key < b.key ? -1 : 1));
  return list[0];
}
