/**
 * Finding dump files below the dump root, in a tree that tenants write.
 *
 * The walk goes breadth-first through pinned directories (agent/src/fs/pinned-dir.ts): each level is
 * opened O_DIRECTORY|O_NOFOLLOW relative to its parent's descriptor, each entry is lstat'ed, never
 * followed. Raw (Buffer) names, so any file name can be keyed. Hidden entries (which include the
 * ready marker and the archive) and the configured marker name are skipped. Everything is bounded:
 * depth, directories, files; what is left out is counted, never silently dropped.
 *
 * A match that is not a plain, dense, singly-linked regular file is reported as skipped with its
 * reason instead of becoming a candidate:
 *  - FIFOs, sockets, devices, symlinks: nothing to upload, and opening some of them could block;
 *  - hard links (nlink > 1): HotSpot never writes one; a tenant can hard-link its own files to make
 *    one dump look like many (or, where uids are shared, someone else's file into its folder);
 *  - sparse files (allocated blocks far below the size): a 64 GiB hole costs nothing to make and
 *    would cost an hour of upload; a real dump is written densely.
 */
import type { BigIntStats } from 'fs';
import { type FileIdentity, identityOf, kindOf, openPath, type PinnedDir } from '../fs/pinned-dir';

export interface DumpFile {
  /** Raw names from the root down to the file. */
  readonly segments: readonly Buffer[];
  /** Stable id of the path (segments joined with '/', latin1: one char per byte). */
  readonly id: string;
  /** The version seen by the scan. */
  readonly state: FileIdentity;
  readonly uid: number;
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
  /** Directories visited per scan. @default 20000 */
  readonly maxDirs: number;
  /** Dump files reported per scan (the first found, breadth first). @default 10000 */
  readonly maxFiles: number;
}

export const DEFAULT_SCAN_LIMITS: ScanLimits = { maxDepth: 8, maxDirs: 20_000, maxFiles: 10_000 };

export interface ScanResult {
  readonly files: DumpFile[];
  readonly skipped: SkippedFile[];
  /** Directories that could not be read (permissions, vanished, swapped for a symlink). */
  readonly errors: Array<{ path: string; error: NodeJS.ErrnoException }>;
  /** Directories visited (root included). */
  readonly dirCount: number;
  /** What the limits left out. */
  readonly truncated: { readonly dirs: boolean; readonly files: boolean; readonly depth: boolean };
}

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

export interface ScanOptions {
  readonly patterns: readonly string[];
  readonly markerName: string;
  readonly limits?: ScanLimits;
  /** Called with every directory while it is pinned (the event watcher watches it through the descriptor). */
  readonly onDir?: (dir: PinnedDir, segments: readonly Buffer[]) => void;
}

/** Walks `root` (pinned by the caller, left open). Never throws for what it finds in the tree. */
export async function scanDumps(root: PinnedDir, opts: ScanOptions): Promise<ScanResult> {
  const limits = opts.limits ?? DEFAULT_SCAN_LIMITS;
  const matches = makeMatcher(opts.patterns);
  const result = {
    files: [] as DumpFile[],
    skipped: [] as SkippedFile[],
    errors: [] as ScanResult['errors'],
    dirCount: 0,
    truncated: { dirs: false, files: false, depth: false },
  };
  // Breadth first: the namespace and pod folders (where dumps are written) come before anything a
  // tenant nests deeper, so limits cut the least interesting part.
  let level: Array<{ segments: Buffer[] }> = [{ segments: [] }];
  for (let depth = 0; level.length > 0; depth++) {
    const next: Array<{ segments: Buffer[] }> = [];
    for (const { segments } of level) {
      if (result.dirCount >= limits.maxDirs) {
        result.truncated.dirs = true;
        break;
      }
      let dir: PinnedDir;
      try {
        dir = segments.length === 0 ? await root.reopen() : await openPath(root, segments);
      } catch (error) {
        result.errors.push({ path: describe(root, segments), error: error as NodeJS.ErrnoException });
        continue;
      }
      try {
        result.dirCount++;
        opts.onDir?.(dir, segments);
        let names: Buffer[];
        try {
          names = await dir.list();
        } catch (error) {
          result.errors.push({ path: describe(root, segments), error: error as NodeJS.ErrnoException });
          continue;
        }
        for (const name of names) {
          if (isIgnoredName(name, opts.markerName)) continue;
          let st: BigIntStats | undefined;
          try {
            st = await dir.lstat(name);
          } catch {
            continue; // vanished or unreadable between list and lstat
          }
          if (!st) continue;
          const childSegments = [...segments, name];
          if (st.isDirectory()) {
            if (depth + 1 > limits.maxDepth) result.truncated.depth = true;
            else next.push({ segments: childSegments });
            continue;
          }
          if (!matches(name.toString('utf8'))) continue;
          const id = idOf(childSegments);
          const reason = skipReason(st);
          if (reason !== undefined) {
            result.skipped.push({ id, segments: childSegments, reason, size: Number(st.size) });
            continue;
          }
          if (result.files.length >= limits.maxFiles) {
            result.truncated.files = true;
            continue;
          }
          result.files.push({ segments: childSegments, id, state: identityOf(st), uid: Number(st.uid) });
        }
      } finally {
        await dir.close();
      }
    }
    level = next;
  }
  return result;
}

function describe(root: PinnedDir, segments: readonly Buffer[]): string {
  return [root.display, ...segments.map((s) => s.toString())].join('/');
}
