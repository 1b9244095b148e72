/**
 * Names by id, read at the end: the walk kept only where each UTF8 record's bytes are (records.ts);
 * the few hundred names a report shows are looked up by binary search over the sorted wanted ids (no
 * hash table keyed by dump-chosen numbers) and read in one batch of positioned reads.
 */
import type { NameRange, NameReader } from '../triage/name-index';
import type { Budget } from './budget';
import { U32List } from './u32-list';

/** Where each UTF8 record's bytes are: id -> (offset, length) in the stream, in dump order. */
export class NameLists {
  readonly nameHi: U32List;
  readonly nameLo: U32List;
  readonly nameOffHi: U32List;
  readonly nameOffLo: U32List;
  readonly nameLen: U32List;

  constructor(budget: Budget) {
    const l = () => new U32List(budget, 'name index');
    this.nameHi = l();
    this.nameLo = l();
    this.nameOffHi = l();
    this.nameOffLo = l();
    this.nameLen = l();
  }

  /** Name `hi:lo` is `length` bytes at stream `offset` (lengths are capped at 64 KiB: no report shows more). */
  add(hi: number, lo: number, offset: number, length: number): void {
    this.nameHi.push(hi);
    this.nameLo.push(lo);
    this.nameOffHi.push(Math.floor(offset / 2 ** 32));
    this.nameOffLo.push(offset >>> 0);
    this.nameLen.push(Math.min(length, 65_535));
  }
}

/** `hi:lo`, the key of the resolved names. */
export const nameKey = (hi: number, lo: number): string => `${hi >>> 0}:${lo >>> 0}`;

/** Resolves the names of `wanted` ids (pairs hi, lo); missing ones are absent from the result. */
export async function resolveNames(lists: NameLists, wanted: ReadonlyArray<readonly [number, number]>, read: NameReader): Promise<{ names: Map<string, string>; error?: string }> {
  const names = new Map<string, string>();
  const keys = [...new Map(wanted.filter(([hi, lo]) => hi !== 0 || lo !== 0).map(([hi, lo]) => [nameKey(hi, lo), [hi >>> 0, lo >>> 0] as const])).values()]
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (keys.length === 0) return { names };
  const wHi = Uint32Array.from(keys.map((k) => k[0]));
  const wLo = Uint32Array.from(keys.map((k) => k[1]));
  const taken = new Uint8Array(keys.length);
  const found: Array<NameRange & { slot: number }> = [];
  const n = lists.nameLo.length;
  for (let i = 0; i < n; i++) {
    const hi = lists.nameHi.get(i);
    const lo = lists.nameLo.get(i);
    let a = 0;
    let z = keys.length;
    while (a < z) {
      const m = (a + z) >>> 1;
      if (wHi[m] < hi || (wHi[m] === hi && wLo[m] < lo)) a = m + 1;
      else z = m;
    }
    if (a < keys.length && wHi[a] === hi && wLo[a] === lo && taken[a] === 0) {
      taken[a] = 1;
      found.push({ offset: lists.nameOffHi.get(i) * 2 ** 32 + lists.nameOffLo.get(i), length: lists.nameLen.get(i), slot: a });
    }
  }
  found.sort((x, y) => x.offset - y.offset);
  let buffers: Buffer[];
  try {
    buffers = await read(found.map(({ offset, length }) => ({ offset, length })));
  } catch (error) {
    return { names, error: (error as Error).message };
  }
  found.forEach((f, i) => {
    const b = buffers[i];
    if (b && b.length === f.length) names.set(nameKey(wHi[f.slot], wLo[f.slot]), b.toString('utf8'));
  });
  return { names };
}
