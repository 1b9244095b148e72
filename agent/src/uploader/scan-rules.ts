/**
 * What the scan reports and by which rules (scanner.ts walks): which names match, which entries are
 * not candidates and why, whose budget an entry counts against, and how the node-wide bound is shared.
 *
 * A match that is not a plain, dense, singly-linked regular file is reported as skipped with its
 * reason instead of becoming a candidate:
 *  - FIFOs, sockets, devices, symlinks: nothing to upload, and opening some of them could block;
 *  - hard links (nlink > 1): HotSpot never writes one; a tenant can hard-link its own files to make
 *    one dump look like many (or, where uids are shared, someone else's file into its folder);
 *  - sparse files (allocated blocks far below the size): a 64 GiB hole costs nothing to make and
 *    would cost an hour of upload; a real dump is written densely.
 * Skipped entries are counted per scan and never remembered: they hold no slot anywhere.
 */
import type { BigIntStats } from 'fs';
import { type FileIdentity, kindOf } from '../fs/pinned-dir';

export interface DumpFile {
  /** Raw names from the root down to the file. */
  readonly segments: readonly Buffer[];
  /** Stable id of the path (segments joined with '/', latin1: one char per byte). */
  readonly id: string;
  /** The version seen by the scan. */
  readonly state: FileIdentity;
  readonly uid: number;
}

/** What a dump file is, by its name. */
export type DumpKind = 'hprof' | 'hprof-gzip' | 'other';

export function kindOfName(name: Buffer): DumpKind {
  const s = name.toString('latin1');
  if (s.endsWith('.hprof')) return 'hprof';
  if (s.endsWith('.hprof.gz')) return 'hprof-gzip';
  return 'other';
}

export type SkipReason = 'fifo' | 'socket' | 'device' | 'symlink' | 'other' | 'hardlink' | 'sparse';

export interface SkippedFile {
  readonly id: string;
  readonly segments: readonly Buffer[];
  readonly reason: SkipReason;
  readonly size: number;
}

export interface ScanLimits {
  /** Directory levels below the root that are walked (root = 0; `<ns>/<pod>` = 2). @default 8 */
  readonly maxDepth: number;
  /** Directories visited per scan. @default 50000 */
  readonly maxDirs: number;
  /** Dump files reported per scan, shared fairly between namespaces (a memory bound). @default 10000 */
  readonly maxFiles: number;
  /** Dump files reported per namespace (the first found, breadth first). @default 100 */
  readonly maxFilesPerNamespace?: number;
  /** Entries read per pod folder, its subfolders included; the rest of that folder is not looked at. @default 10000 */
  readonly maxEntriesPerPod?: number;
}

export const DEFAULT_SCAN_LIMITS: Required<ScanLimits> = { maxDepth: 8, maxDirs: 50_000, maxFiles: 10_000, maxFilesPerNamespace: 100, maxEntriesPerPod: 10_000 };

/** `*` and `?` glob over a base name; anything else is literal. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 's');
}

export function makeMatcher(patterns: readonly string[]): (name: string) => boolean {
  const res = patterns.map(globToRegExp);
  return (name) => res.some((re) => re.test(name));
}

export function isIgnoredName(name: Buffer, markerName: string): boolean {
  return name[0] === 0x2e /* '.' */ || name.equals(Buffer.from(markerName));
}

export function idOf(segments: readonly Buffer[]): string {
  return segments.map((s) => s.toString('latin1')).join('/');
}

/**
 * An id (latin1: one char per byte of the raw names) as text: decoded as UTF-8 (bytes that are not show as
 * U+FFFD). For log lines: the logger escapes every string it writes (a tenant chose these names).
 */
export function shownId(id: string): string {
  return Buffer.from(id, 'latin1').toString('utf8');
}

/** The tenant a path belongs to: its namespace folder (the first segment), '' at the root. */
export function tenantOf(segments: readonly Buffer[]): string {
  return segments.length > 1 ? segments[0].toString('latin1') : '';
}

/** The pod folder a directory belongs to (`<ns>/<pod>` and everything below it), or undefined above that level. */
export function podKeyOf(dirSegments: readonly Buffer[]): string | undefined {
  return dirSegments.length >= 2 ? idOf(dirSegments.slice(0, 2)) : undefined;
}

/** Allocated bytes below 1/16 of the size (and the file at least 1 MiB): mostly holes. */
export function isSparse(st: Pick<BigIntStats, 'size' | 'blocks'>): boolean {
  const size = Number(st.size);
  return size >= 2 ** 20 && Number(st.blocks) * 512 < size / 16;
}

/** Why a matching entry is not a candidate, or undefined when it is one. */
export function skipReason(st: BigIntStats): SkipReason | undefined {
  const kind = kindOf(st);
  if (kind !== 'file') return kind === 'dir' ? 'other' : kind;
  if (st.nlink > 1n) return 'hardlink';
  if (isSparse(st)) return 'sparse';
  return undefined;
}

/**
 * Max-min fair shares of `total` between groups of `counts` items: every group gets what it has, up to
 * one level that the largest groups are cut to (water-filling). A tenant with many files can only take
 * what the others leave.
 */
export function fairShares(counts: ReadonlyMap<string, number>, total: number): Map<string, number> {
  const shares = new Map<string, number>();
  const groups = [...counts].sort((a, b) => a[1] - b[1]);
  let left = total;
  for (let i = 0; i < groups.length; i++) {
    const [group, count] = groups[i];
    const level = Math.floor(left / (groups.length - i));
    const share = Math.min(count, level);
    shares.set(group, share);
    left -= share;
  }
  return shares;
}
