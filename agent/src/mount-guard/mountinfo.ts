/**
 * /proc/<pid>/mountinfo parsing and bind verification (pure functions; see `man 5 proc`).
 *
 * Line format:
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 *   id parent major:minor root mount-point options [optional...] - fstype source super-options
 * The kernel escapes space, tab, newline and backslash in paths as octal (\040 \011 \012 \134).
 */
import * as path from 'node:path';

export interface MountEntry {
  readonly id: number;
  readonly parentId: number;
  readonly major: number;
  readonly minor: number;
  /** Path within the filesystem that forms the root of this mount (a bind of a subdir has that subdir). */
  readonly root: string;
  readonly mountPoint: string;
  readonly options: string;
  readonly fsType: string;
  readonly source: string;
}

export function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parse one line; throws with the line when it does not have the documented shape. */
export function parseMountinfoLine(line: string): MountEntry {
  const fields = line.split(' ');
  const sep = fields.indexOf('-', 6);
  const dev = /^(\d+):(\d+)$/.exec(fields[2] ?? '');
  if (fields.length < 10 || sep < 0 || sep + 3 > fields.length || !dev) {
    throw new Error(`mountinfo line is malformed: expected "id parent major:minor root mount-point options ... - fstype source options", got "${line}"`);
  }
  return {
    id: Number(fields[0]),
    parentId: Number(fields[1]),
    major: Number(dev[1]),
    minor: Number(dev[2]),
    root: unescapeMountPath(fields[3]),
    mountPoint: unescapeMountPath(fields[4]),
    options: fields[5],
    fsType: unescapeMountPath(fields[sep + 1]),
    source: unescapeMountPath(fields[sep + 2]),
  };
}

export function parseMountinfo(text: string): MountEntry[] {
  return text.split('\n').filter((l) => l.trim() !== '').map(parseMountinfoLine);
}

/** The mount whose mount point is exactly `mountPoint`; mounts stack, so the last one wins. */
export function mountAt(entries: readonly MountEntry[], mountPoint: string): MountEntry | undefined {
  let found: MountEntry | undefined;
  for (const e of entries) if (e.mountPoint === mountPoint) found = e;
  return found;
}

/** Every stacked mount exactly at `mountPoint`. */
export function mountsAt(entries: readonly MountEntry[], mountPoint: string): MountEntry[] {
  return entries.filter((e) => e.mountPoint === mountPoint);
}

function isWithin(p: string, dir: string): boolean {
  return dir === '/' || p === dir || p.startsWith(dir + '/');
}

/** The mount that holds `p`: longest mount point that is `p` or an ancestor (last wins on ties). */
export function mountContaining(entries: readonly MountEntry[], p: string): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const e of entries) {
    if (isWithin(p, e.mountPoint) && (!best || e.mountPoint.length >= best.mountPoint.length)) best = e;
  }
  return best;
}

/** Device and in-filesystem root that a bind mount of `source` (an absolute, resolved path) must show. */
export function expectedBindOf(entries: readonly MountEntry[], source: string): { major: number; minor: number; root: string } | undefined {
  const holder = mountContaining(entries, source);
  if (!holder) return undefined;
  const below = path.posix.relative(holder.mountPoint, source);
  return { major: holder.major, minor: holder.minor, root: path.posix.join(holder.root, below) };
}

export type BindVerdict = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/**
 * Is `target` a bind mount of `source`? Not merely "some mount point": the target's top mount must
 * show the same device and the same root path within that filesystem as the source has.
 * Both paths must be absolute and resolved (no symlinks).
 */
export function verifyBind(entries: readonly MountEntry[], source: string, target: string): BindVerdict {
  const top = mountAt(entries, target);
  if (!top) return { ok: false, reason: `${target} is not a mount point` };
  const expected = expectedBindOf(entries, source);
  if (!expected) return { ok: false, reason: `no mount holds ${source}` };
  if (top.major !== expected.major || top.minor !== expected.minor) {
    return { ok: false, reason: `${target} is device ${top.major}:${top.minor} (${top.fsType} ${top.source}), expected ${expected.major}:${expected.minor}` };
  }
  if (top.root !== expected.root) {
    return { ok: false, reason: `${target} shows ${top.root} of its filesystem, expected ${expected.root}` };
  }
  return { ok: true };
}
