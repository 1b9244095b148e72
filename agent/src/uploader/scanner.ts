/**
 * Finding dump files below the dump root, in a tree that tenants write.
 *
 * The walk goes breadth-first through pinned directories (agent/src/fs/pinned-dir.ts): each level is
 * opened O_DIRECTORY|O_NOFOLLOW relative to its parent's descriptor, each entry is lstat'ed, never
 * followed. Raw (Buffer) names, so any file name can be keyed. Hidden entries (which include the
 * ready marker and the archive) and the configured marker name are skipped. Everything is bounded:
 * depth, directories, files; what is left out is counted, never silently dropped.
 *
 * The walk's metadata calls (open, readdir, lstat, close) are synchronous: each costs ~10 us, against
 * ~100 us for a thread-pool round trip, which made a 20,000-directory tree take 25 s of CPU per scan
 * (measured here). The walk yields to the event loop every few milliseconds, so probes, metrics and
 * signals are still served; a metadata call that hangs (a dead NFS server) stops the loop either way,
 * and the liveness probe restarts the pod. Reading file contents stays asynchronous, with timeouts.
 *
 * A match that is not a plain, dense, singly-linked regular file is reported as skipped with its
 * reason instead of becoming a candidate:
 *  - FIFOs, sockets, devices, symlinks: nothing to upload, and opening some of them could block;
 *  - hard links (nlink > 1): HotSpot never writes one; a tenant can hard-link its own files to make
 *    one dump look like many (or, where uids are shared, someone else's file into its folder);
 *  - sparse files (allocated blocks far below the size): a 64 GiB hole costs nothing to make and
 *    would cost an hour of upload; a real dump is written densely.
 */
import type { BigIntStats, Dirent } from 'fs';
import { type FileIdentity, identityOf, kindOf, openPathSync, type PinnedDir } from '../fs/pinned-dir';

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
  /** Directories visited per scan. @default 50000 */
  readonly maxDirs: number;
  /** Dump files reported per scan (the first found, breadth first). @default 10000 */
  readonly maxFiles: number;
}

export const DEFAULT_SCAN_LIMITS: ScanLimits = { maxDepth: 8, maxDirs: 50_000, maxFiles: 10_000 };

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
/** The walk gives the event loop a turn after this long. */
const SLICE_MS = 5;

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
  const opener = new SiblingOpener(root);
  // Breadth first: the namespace and pod folders (where dumps are written) come before anything a
  // tenant nests deeper, so limits cut the least interesting part.
  let level: Buffer[][] = [[]];
  let sliceStart = Date.now();
  try {
    for (let depth = 0; level.length > 0; depth++) {
      const next: Buffer[][] = [];
      for (const segments of level) {
        if (result.dirCount >= limits.maxDirs) {
          result.truncated.dirs = true;
          break;
        }
        if (Date.now() - sliceStart >= SLICE_MS) {
          await new Promise((resolve) => setImmediate(resolve));
          sliceStart = Date.now();
        }
        let dir: PinnedDir;
        try {
          dir = opener.open(segments);
        } catch (error) {
          result.errors.push({ path: describe(root, segments), error: error as NodeJS.ErrnoException });
          continue;
        }
        try {
          result.dirCount++;
          opts.onDir?.(dir, segments);
          let entries: Dirent<Buffer>[];
          try {
            entries = dir.listTypedSync();
          } catch (error) {
            result.errors.push({ path: describe(root, segments), error: error as NodeJS.ErrnoException });
            continue;
          }
          for (const entry of entries) {
            const name = entry.name;
            if (isIgnoredName(name, opts.markerName)) continue;
            // The type comes from readdir; a directory swapped for a symlink afterwards fails the
            // O_NOFOLLOW open of the next level, so no lstat is needed for the walk itself.
            if (entry.isDirectory()) {
              if (depth + 1 > limits.maxDepth) result.truncated.depth = true;
              else next.push([...segments, name]);
              continue;
            }
            const unknownType = !entry.isFile() && !entry.isSymbolicLink() && !entry.isFIFO() && !entry.isSocket()
              && !entry.isBlockDevice() && !entry.isCharacterDevice();
            if (!matches(name.toString('utf8'))) {
              if (!unknownType) continue;
            }
            let st: BigIntStats | undefined;
            try {
              st = dir.lstatSync(name);
            } catch {
              continue; // vanished or unreadable between readdir and lstat
            }
            if (!st) continue;
            const childSegments = [...segments, name];
            if (st.isDirectory()) {
              // a filesystem that does not report types in readdir
              if (depth + 1 > limits.maxDepth) result.truncated.depth = true;
              else next.push(childSegments);
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
          dir.closeSync();
        }
      }
      level = next;
    }
  } finally {
    opener.close();
  }
  return result;
}

/**
 * Opens directories by their segments below the root, keeping the last parent open: siblings come
 * one after the other in a breadth-first level, so most opens are one call relative to that parent
 * instead of a walk from the root. Every component is still opened O_DIRECTORY|O_NOFOLLOW.
 */
class SiblingOpener {
  private parent?: { key: string; dir: PinnedDir };

  constructor(private readonly root: PinnedDir) {}

  open(segments: readonly Buffer[]): PinnedDir {
    if (segments.length === 0) return this.root.reopenSync();
    const parentSegments = segments.slice(0, -1);
    const key = idOf(parentSegments);
    if (this.parent?.key !== key) {
      this.parent?.dir.closeSync();
      this.parent = undefined;
      this.parent = { key, dir: openPathSync(this.root, parentSegments) };
    }
    return this.parent.dir.openDirSync(segments[segments.length - 1]);
  }

  close(): void {
    this.parent?.dir.closeSync();
    this.parent = undefined;
  }
}

function describe(root: PinnedDir, segments: readonly Buffer[]): string {
  return [root.display, ...segments.map((s) => s.toString())].join('/');
}
