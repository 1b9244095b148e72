/**
 * The ready marker on the node's dump root: a directory every tenant may write (root-owned 01777).
 *
 * Writing (the guard, root): a new file under an unpredictable hidden name, created exclusively
 * (O_CREAT|O_EXCL|O_NOFOLLOW) in the pinned directory, written and flushed, then renamed onto the
 * marker name in the same directory. Nothing is ever written INTO an existing entry, so a symlink or
 * hard link planted at any of our names cannot make us overwrite another file, and a FIFO cannot block us.
 *
 * Why a tenant cannot keep the guard from writing it:
 * - once our marker (root-owned, regular) is in place, no tenant can remove, rename or replace it:
 *   the root has the sticky bit. Every rewrite is an atomic rename over it, so the name is never free;
 * - the name is free only before the first write (fresh node directory) or after the guard removed
 *   the marker (failure, shutdown). Something planted there then that a rename cannot replace (a
 *   directory) or that is not a root-owned regular file is moved aside to an unpredictable hidden
 *   name (never followed, never deleted recursively). Between that move and our rename a tenant
 *   could plant again, so both happen while the root is closed to everyone but root (mode 01755 for
 *   those two renames, then 01777 again): Node has no renameat2(RENAME_EXCHANGE), which would swap
 *   the two entries atomically, and the image has no tool that calls it.
 *
 * Reading (wait-ready, the application's uid): no-follow, non-blocking, regular file only, owned by
 * uid 0, at most MARKER_MAX_BYTES; then the content must name this node and be fresh.
 */
import { randomBytes } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { MARKER_MAX_BYTES, MARKER_STALE_INTERVALS, MARKER_STALE_MARGIN_MS, type ReadyMarker } from '../contract';
import { type EntryKind, identityOf, kindOf, type PinnedDir, sameFile } from '../fs/pinned-dir';

/** The dump root's mode while the guard swaps a planted object for its marker: nobody but root can add or rename entries. */
export const LOCKED_ROOT_MODE = 0o1755;

/** What the guard found at one of its names and moved aside. */
export interface Planted {
  /** Where it was (display path). */
  readonly path: string;
  /** Its new, hidden name in the same directory. */
  readonly aside: string;
  readonly kind: EntryKind;
  readonly uid: number;
  readonly mode: string;
}

/** The guard's own marker: a regular file owned by root with a single link. Anything else at the name was planted. */
export function isOwnMarker(st: BigIntStats): boolean {
  return st.isFile() && st.uid === 0n && st.nlink === 1n;
}

/** `0644`, `01777`: a mode for messages. */
export function modeString(mode: bigint | number): string {
  return '0' + (Number(mode) & 0o7777).toString(8);
}

/** An unpredictable hidden name beside the marker (hidden: the uploader and the namespace adoption skip it). */
export function hiddenName(markerName: string, what: 'tmp' | 'aside'): string {
  return `.${markerName}.${randomBytes(12).toString('hex')}.${what}`;
}

/** Renames whatever is at `name` to an unpredictable hidden name (the entry itself: a symlink is never followed). */
export async function moveAside(dir: PinnedDir, name: string, st: BigIntStats): Promise<Planted> {
  const aside = hiddenName(name.replace(/^\.+/, ''), 'aside');
  await dir.renameTo(name, dir, aside);
  return { path: dir.describe(name), aside, kind: kindOf(st), uid: Number(st.uid), mode: modeString(st.mode) };
}

const BLOCKED_RENAME = new Set(['EISDIR', 'ENOTDIR', 'ENOTEMPTY', 'EEXIST', 'EPERM', 'EACCES']);

/**
 * Writes `content` as `dir/<name>` (see the module comment). `openMode` is the directory's normal
 * mode, restored after a locked swap. Returns what was found planted at the name and moved aside.
 * Throws when the volume does not take the write (EROFS, ENOSPC, EIO, ...): the write is the probe.
 */
export async function writeMarker(dir: PinnedDir, name: string, content: string, openMode: number): Promise<Planted[]> {
  const tmp = await createTemp(dir, name);
  const planted: Planted[] = [];
  let renamed = false;
  try {
    try {
      await tmp.fh.writeFile(content);
      await tmp.fh.chmod(0o644); // not what the umask left
    } finally {
      await tmp.fh.close(); // NFS reports failed write-back here (close-to-open)
    }
    const present = await dir.lstat(name);
    if (!present || isOwnMarker(present)) {
      try {
        await dir.renameTo(tmp.name, dir, name);
        renamed = true;
      } catch (error) {
        if (!BLOCKED_RENAME.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
      }
    }
    if (!renamed) {
      await withRootLocked(dir, openMode, async () => {
        const st = await dir.lstat(name);
        if (st && !isOwnMarker(st)) planted.push(await moveAside(dir, name, st));
        await dir.renameTo(tmp.name, dir, name);
        renamed = true;
      });
    }
    const now = await dir.lstat(name);
    if (!now || !sameFile(identityOf(now), tmp.id)) throw new Error(`marker ${dir.describe(name)} is not the file just written`);
    return planted;
  } finally {
    if (!renamed) await dir.unlink(tmp.name).catch(() => undefined);
  }
}

/** A new file at an unpredictable name; retried on the (astronomically unlikely) EEXIST. */
async function createTemp(dir: PinnedDir, markerName: string) {
  for (let attempt = 0; ; attempt++) {
    const name = hiddenName(markerName, 'tmp');
    try {
      const fh = await dir.createFile(name, 0o600);
      const id = identityOf(await fh.stat({ bigint: true }));
      return { name, fh, id };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 5) throw error;
    }
  }
}

/** Runs `fn` while only root may add or rename entries in `dir`; restores `openMode` whatever happens. */
async function withRootLocked<T>(dir: PinnedDir, openMode: number, fn: () => Promise<T>): Promise<T> {
  await dir.chmod(LOCKED_ROOT_MODE);
  try {
    return await fn();
  } finally {
    await dir.chmod(openMode);
  }
}

/**
 * Flushes the marker to the volume (fdatasync): a volume that takes writes into the page cache but
 * fails to store them says so here. Only our own file is opened (regular, root-owned, no-follow).
 */
export async function flushMarker(dir: PinnedDir, name: string): Promise<void> {
  const { fh, stat } = await dir.openFile(name);
  try {
    if (!isOwnMarker(stat)) throw new Error(`marker ${dir.describe(name)} is not the guard's file`);
    await fh.datasync();
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/**
 * Removes the marker at `dir/<name>` if it is ours (a root-owned regular file); anything else there is
 * moved aside, never deleted. Returns what was moved aside, if anything.
 */
export async function removeMarker(dir: PinnedDir, name: string): Promise<Planted | undefined> {
  const st = await dir.lstat(name);
  if (!st) return undefined;
  if (isOwnMarker(st)) {
    // Root-owned in a sticky directory: no tenant can have swapped it since the lstat.
    await dir.unlink(name).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    return undefined;
  }
  return moveAside(dir, name, st);
}

export type MarkerRead = { readonly marker: Partial<ReadyMarker> } | { readonly problem: string };

/**
 * Reads the marker as a consumer must: never through a symlink, never blocking on a FIFO, only a
 * regular file owned by uid 0 (no tenant can create one), at most MARKER_MAX_BYTES.
 */
export async function readMarker(dir: PinnedDir, name: string): Promise<MarkerRead> {
  const where = `marker ${dir.describe(name)}`;
  let opened;
  try {
    opened = await dir.openFile(name);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { problem: `${where} is missing` };
    if (code === 'ELOOP') return { problem: `${where} is a symlink, not the guard's file` };
    if (code === 'ENOTREG') return { problem: `${where} is not a regular file` };
    return { problem: `${where} is unreadable (${code ?? (error as Error).message})` };
  }
  const { fh, stat } = opened;
  try {
    if (stat.uid !== 0n) return { problem: `${where} is owned by uid ${stat.uid}, not by root (not the guard's file)` };
    if (stat.size > BigInt(MARKER_MAX_BYTES)) return { problem: `${where} is ${stat.size} bytes, more than ${MARKER_MAX_BYTES}` };
    const buf = Buffer.alloc(MARKER_MAX_BYTES + 1);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    if (bytesRead > MARKER_MAX_BYTES) return { problem: `${where} is more than ${MARKER_MAX_BYTES} bytes` };
    try {
      const parsed = JSON.parse(buf.subarray(0, bytesRead).toString('utf8')) as unknown;
      if (typeof parsed !== 'object' || parsed === null) return { problem: `${where} is not a JSON object` };
      return { marker: parsed as Partial<ReadyMarker> };
    } catch {
      return { problem: `${where} is not JSON` };
    }
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** How old a marker may be: MARKER_STALE_INTERVALS check intervals plus a margin. */
export function markerMaxAgeMs(checkIntervalMs: number): number {
  return MARKER_STALE_INTERVALS * checkIntervalMs + MARKER_STALE_MARGIN_MS;
}

/** What is wrong with a marker's content for this node at `nowMs` (empty when it is right and fresh). */
export function markerProblems(marker: Partial<ReadyMarker>, nodeName: string, nowMs: number): string[] {
  const problems: string[] = [];
  if (marker.node !== nodeName) problems.push(`marker names node "${String(marker.node)}", expected "${nodeName}"`);
  if (typeof marker.source !== 'string' || !marker.source.endsWith(`/${nodeName}`)) {
    problems.push(`marker source "${String(marker.source)}" does not end with /${nodeName}`);
  }
  const checked = typeof marker.checkedAt === 'string' ? Date.parse(marker.checkedAt) : NaN;
  const interval = marker.checkIntervalMs;
  if (!Number.isFinite(checked) || typeof interval !== 'number' || !Number.isFinite(interval) || interval <= 0) {
    problems.push('marker has no last check time and interval (checkedAt, checkIntervalMs): written by an older mount guard?');
    return problems;
  }
  const age = nowMs - checked;
  const maxAge = markerMaxAgeMs(interval);
  if (age > maxAge) {
    problems.push(`marker is stale: the guard's last check was ${Math.round(age / 1000)} s ago (more than ${Math.round(maxAge / 1000)} s): the guard is not running or its volume does not take writes`);
  } else if (age < -MARKER_STALE_MARGIN_MS) {
    problems.push(`marker's last check ${marker.checkedAt} lies in the future`);
  }
  return problems;
}
