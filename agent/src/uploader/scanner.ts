/**
 * Finding dump files below the dump root, in a tree that tenants write.
 *
 * The walk goes breadth-first through pinned directories (agent/src/fs/pinned-dir.ts): each level is
 * opened O_DIRECTORY|O_NOFOLLOW relative to its parent's descriptor, each matching entry is lstat'ed,
 * never followed. Raw (Buffer) names, so any file name can be keyed. Hidden entries (which include the
 * ready marker and the archive) and the configured marker name are skipped. What counts as a
 * candidate, and the budgets, are in scan-rules.ts.
 *
 * No tenant can make the walk expensive or crowd others out of it:
 *  - a directory is read in batches (opendir, 256 entries per getdents), never listed whole: 400,000
 *    entries in one folder cost the memory of one batch, not 400,000 Dirents (that OOM-killed the
 *    uploader at 256 MiB at every scan);
 *  - each pod folder (with everything below it) has a budget of entries read per scan; when it runs
 *    out the walk leaves the rest of that pod folder alone and says so (`truncatedPods`);
 *  - files reported are bounded per namespace, and the node-wide bound is shared between namespaces
 *    (max-min fair), so one namespace's files never push another's out;
 *  - breadth first: every namespace and pod folder is visited before anything a tenant nests deeper.
 *
 * The walk's metadata calls (open, getdents, lstat, close) are synchronous: each costs ~10 us, against
 * ~100 us for a thread-pool round trip, which made a 20,000-directory tree take 25 s of CPU per scan
 * (measured here). The walk yields to the event loop every few milliseconds, so probes, metrics and
 * signals are still served; a metadata call that hangs (a dead NFS server) stops the loop either way,
 * and the liveness probe restarts the pod. Reading file contents stays asynchronous, with timeouts.
 */
import { type BigIntStats, type Dir, opendirSync } from 'fs';
import { identityOf, openPathSync, type PinnedDir } from '../fs/pinned-dir';
import {
  DEFAULT_SCAN_LIMITS, type DumpFile, fairShares, idOf, isIgnoredName, makeMatcher, podKeyOf, type ScanLimits, type SkippedFile, type SkipReason,
  skipReason, tenantOf,
} from './scan-rules';

export * from './scan-rules';

export interface ScanResult {
  readonly files: DumpFile[];
  /** Matching entries that are not candidates (the first MAX_SKIPPED_LISTED of them; `skippedCount` counts all). */
  readonly skipped: SkippedFile[];
  readonly skippedCount: Readonly<Partial<Record<SkipReason, number>>>;
  /** Skipped entries per pod folder (or folder above that level) and reason, with one example (bounded). */
  readonly skippedFolders: ReadonlyArray<{ readonly folder: string; readonly reason: SkipReason; readonly count: number; readonly example: string }>;
  /** Directories that could not be read (permissions, vanished, swapped for a symlink). */
  readonly errors: Array<{ path: string; error: NodeJS.ErrnoException }>;
  /** Directories visited (root included). */
  readonly dirCount: number;
  /** Time the walk itself ran (its slices), without the turns it gave the event loop. */
  readonly busyMs: number;
  /** Pod folders (`<ns>/<pod>` ids) whose entry budget ran out: the rest of them was not looked at. */
  readonly truncatedPods: string[];
  /** Dump files found but not reported, per namespace (its bound or its share of the node's). */
  readonly unreported: ReadonlyMap<string, number>;
  /** What the limits left out. */
  readonly truncated: { readonly dirs: boolean; readonly files: boolean; readonly depth: boolean };
}

export interface ScanOptions {
  readonly patterns: readonly string[];
  readonly markerName: string;
  readonly limits?: ScanLimits;
  /** Called with every directory while it is pinned (the event watcher watches it through the descriptor). */
  readonly onDir?: (dir: PinnedDir, segments: readonly Buffer[]) => void;
}

/** The walk gives the event loop a turn after this long. */
const SLICE_MS = 5;
/** Entries per getdents (opendir's buffer). */
const BATCH = 256;
/** Skipped entries listed per scan (the rest only counted). */
const MAX_SKIPPED_LISTED = 1000;
/** Folders (pod folders and the levels above) whose skipped entries are summed up per scan. */
const MAX_SKIPPED_FOLDERS = 1000;

/** Walks `root` (pinned by the caller, left open). Never throws for what it finds in the tree. */
export async function scanDumps(root: PinnedDir, opts: ScanOptions): Promise<ScanResult> {
  const limits = { ...DEFAULT_SCAN_LIMITS, ...(opts.limits ?? {}) };
  const matches = makeMatcher(opts.patterns);
  const files: DumpFile[] = [];
  const skipped: SkippedFile[] = [];
  const skippedCount: Partial<Record<SkipReason, number>> = {};
  const skippedFolders = new Map<string, { folder: string; reason: SkipReason; count: number; example: string }>();
  const errors: ScanResult['errors'] = [];
  const truncated = { dirs: false, files: false, depth: false };
  const podEntries = new Map<string, number>();
  const truncatedPods = new Set<string>();
  const perTenant = new Map<string, number>();
  const unreported = new Map<string, number>();
  let dirCount = 0;
  const opener = new SiblingOpener(root);
  let sliceStart = Date.now();
  let busyMs = 0;
  const maybeYield = async () => {
    const now = Date.now();
    if (now - sliceStart < SLICE_MS) return;
    busyMs += now - sliceStart;
    await new Promise((resolve) => setImmediate(resolve));
    sliceStart = Date.now();
  };
  // per skipped entry only counters; names are built for the few listed (10,000 symlinks stay cheap)
  const skip = (segments: readonly Buffer[], folder: string, name: Buffer, reason: SkipReason, size: number) => {
    skippedCount[reason] = (skippedCount[reason] ?? 0) + 1;
    if (skipped.length < MAX_SKIPPED_LISTED) skipped.push({ id: idOf([...segments, name]), segments: [...segments, name], reason, size });
    const seen = skippedFolders.get(`${reason} ${folder}`);
    if (seen) seen.count++;
    else if (skippedFolders.size < MAX_SKIPPED_FOLDERS) skippedFolders.set(`${reason} ${folder}`, { folder, reason, count: 1, example: idOf([...segments, name]) });
  };

  // Breadth first: the namespace and pod folders (where dumps are written) come before anything a
  // tenant nests deeper, so limits cut the least interesting part.
  let level: Buffer[][] = [[]];
  try {
    for (let depth = 0; level.length > 0; depth++) {
      const next: Buffer[][] = [];
      for (const segments of level) {
        const pod = podKeyOf(segments);
        if (pod !== undefined && truncatedPods.has(pod)) continue;
        if (dirCount >= limits.maxDirs) {
          truncated.dirs = true;
          break;
        }
        await maybeYield();
        let dir: PinnedDir;
        try {
          dir = opener.open(segments);
        } catch (error) {
          errors.push({ path: describe(root, segments), error: error as NodeJS.ErrnoException });
          continue;
        }
        let reader: Dir | undefined;
        // the same for every entry of this directory
        const tenant = segments.length > 0 ? segments[0].toString('latin1') : '';
        const folder = pod ?? idOf(segments);
        try {
          dirCount++;
          opts.onDir?.(dir, segments);
          reader = opendirSync(`/proc/self/fd/${dir.fd}`, { encoding: 'buffer' as BufferEncoding, bufferSize: BATCH });
          for (let n = 0; ; n++) {
            if ((n & 63) === 63) await maybeYield();
            const entry = reader.readSync();
            if (entry === null) break;
            const name = entry.name as unknown as Buffer;
            if (pod !== undefined) {
              const used = (podEntries.get(pod) ?? 0) + 1;
              podEntries.set(pod, used);
              if (used > limits.maxEntriesPerPod) {
                truncatedPods.add(pod);
                break;
              }
            }
            if (isIgnoredName(name, opts.markerName)) continue;
            // The type comes from getdents; a directory swapped for a symlink afterwards fails the
            // O_NOFOLLOW open of the next level, so no lstat is needed for the walk itself.
            if (entry.isDirectory()) {
              if (depth + 1 > limits.maxDepth) truncated.depth = true;
              else next.push([...segments, name]);
              continue;
            }
            const matching = matches(name.toString('utf8'));
            // What getdents says the entry is: a symlink, FIFO, socket or device is skipped without an
            // lstat (10,000 symlinks cost no syscall each); only regular files and unknown types are looked at.
            const typed = typeOf(entry);
            if (!matching && typed !== 'unknown') continue;
            if (matching && typed !== 'unknown' && typed !== 'file') {
              skip(segments, folder, name, typed, 0);
              continue;
            }
            if (matching && typed === 'file' && (perTenant.get(tenant) ?? 0) >= limits.maxFilesPerNamespace) {
              // past its namespace's bound: counted, not looked at
              truncated.files = true;
              unreported.set(tenant, (unreported.get(tenant) ?? 0) + 1);
              continue;
            }
            let st: BigIntStats | undefined;
            try {
              st = dir.lstatSync(name);
            } catch {
              continue; // vanished or unreadable between getdents and lstat
            }
            if (!st) continue;
            const childSegments = [...segments, name];
            if (st.isDirectory()) {
              // a filesystem that does not report types in getdents
              if (depth + 1 > limits.maxDepth) truncated.depth = true;
              else next.push(childSegments);
              continue;
            }
            if (!matching) continue;
            const reason = skipReason(st);
            if (reason !== undefined) {
              skip(segments, folder, name, reason, Number(st.size));
              continue;
            }
            const id = idOf(childSegments);
            const had = perTenant.get(tenant) ?? 0;
            if (had >= limits.maxFilesPerNamespace) {
              truncated.files = true;
              unreported.set(tenant, (unreported.get(tenant) ?? 0) + 1);
              continue;
            }
            perTenant.set(tenant, had + 1);
            files.push({ segments: childSegments, id, state: identityOf(st), uid: Number(st.uid) });
          }
        } catch (error) {
          errors.push({ path: describe(root, segments), error: error as NodeJS.ErrnoException });
        } finally {
          try {
            reader?.closeSync();
          } catch {
            // already closed
          }
          dir.closeSync();
        }
      }
      level = next;
    }
  } finally {
    opener.close();
  }
  busyMs += Date.now() - sliceStart;
  return {
    files: fairlyBounded(files, perTenant, limits.maxFiles, unreported, truncated),
    skipped, skippedCount, skippedFolders: [...skippedFolders.values()], errors, dirCount, busyMs, truncatedPods: [...truncatedPods], unreported, truncated,
  };
}

/** The node-wide bound, shared max-min fairly between namespaces (the first found of each are kept). */
function fairlyBounded(files: DumpFile[], perTenant: Map<string, number>, maxFiles: number, unreported: Map<string, number>, truncated: { files: boolean }): DumpFile[] {
  if (files.length <= maxFiles) return files;
  truncated.files = true;
  const shares = fairShares(perTenant, maxFiles);
  const kept: DumpFile[] = [];
  const taken = new Map<string, number>();
  for (const f of files) {
    const tenant = tenantOf(f.segments);
    const n = taken.get(tenant) ?? 0;
    if (n < (shares.get(tenant) ?? 0)) {
      taken.set(tenant, n + 1);
      kept.push(f);
    } else {
      unreported.set(tenant, (unreported.get(tenant) ?? 0) + 1);
    }
  }
  return kept;
}

/** An entry's type as getdents reports it ('unknown' on file systems that do not). */
function typeOf(e: { isFile(): boolean; isSymbolicLink(): boolean; isFIFO(): boolean; isSocket(): boolean; isBlockDevice(): boolean; isCharacterDevice(): boolean }): 'file' | SkipReason | 'unknown' {
  if (e.isFile()) return 'file';
  if (e.isSymbolicLink()) return 'symlink';
  if (e.isFIFO()) return 'fifo';
  if (e.isSocket()) return 'socket';
  if (e.isBlockDevice() || e.isCharacterDevice()) return 'device';
  return 'unknown';
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
