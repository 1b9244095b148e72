/**
 * The pod's dump folder `<root>/<namespace>/<pod>`, made by wait-ready as the application's uid
 * (WAIT_CREATE_POD_FOLDER=true) once the mount guard's marker is verified. Every step acts through
 * pinned directory descriptors (fs/pinned-dir.ts): no symlink is ever followed, modes and groups are
 * set on the descriptor (fchmod/fchown), never by path.
 *
 * Rules ("Dump folders" in docs/security.md):
 * - root: the guard's, root-owned with the sticky bit (01777): checked before anything is made in it.
 * - namespace folder: created 01777 when missing (a concurrent creator's EEXIST is fine). It must be
 *   a real directory (a symlink or a file there is refused). Owned by root (the guard adopts every
 *   namespace folder: root:root 01777) with the sticky bit, or by this uid (we made it, and the guard
 *   has not adopted it yet): used. Owned by anyone else: not trusted yet (the owner of a sticky
 *   directory may delete anything in it), so wait-ready waits, bounded by WAIT_TIMEOUT, until the
 *   guard has adopted it, and says so in its "still waiting" line.
 * - pod folder: created 0700 when missing, or with WAIT_FOLDER_GROUP: group-owned by that gid, mode
 *   02770 (so any uid of the pod's group can write its dump, and files inherit the group). If it
 *   exists it must be a real directory owned by this uid, not writable by others, and group-writable
 *   only with the configured group. Anything else (made by another tenant, a symlink, a file) is
 *   refused with one error line naming the folder, its owner and mode, and exit code 1: never used.
 *
 * So tenant A can neither pre-create B's pod folder (B refuses it), nor write into it (0700 or 02770
 * of B's group), nor rename or remove it (the namespace folder is root-owned and sticky, or B's own).
 */
import type { BigIntStats } from 'node:fs';
import type { PodFolderConfig } from '../config';
import { kindOf, type PinnedDir, withDir } from '../fs/pinned-dir';
import { modeString } from '../mount-guard/marker';

export const NAMESPACE_FOLDER_MODE = 0o1777;
export const POD_FOLDER_MODE = 0o700;
export const POD_FOLDER_GROUP_MODE = 0o2770;

const S_ISVTX = 0o1000n;

/** The pod folder exists but is not this pod's: the one line that is logged before exit 1. */
export class FolderRefused extends Error {
  constructor(
    readonly folder: string,
    readonly detail: string,
  ) {
    super(`${folder} ${detail}: refused, not used`);
    this.name = 'FolderRefused';
  }
}

export type FolderResult = { readonly ready: string } | { readonly wait: string };

function owner(st: BigIntStats): string {
  return `owner uid ${st.uid} gid ${st.gid}, mode ${modeString(st.mode)}`;
}

/** Describes what is at `name` (never following it) for a refusal. */
async function describeEntry(dir: PinnedDir, name: string): Promise<string> {
  const st = await dir.lstat(name).catch(() => undefined);
  return st ? `is a ${kindOf(st)} (${owner(st)}), not a directory` : 'is not a directory';
}

/** Pins `dir/<name>`, creating it with `mode` when missing; undefined if it vanished in between. */
async function openOrCreate(dir: PinnedDir, name: string, mode: number, onCreate?: (d: PinnedDir) => Promise<void>): Promise<PinnedDir> {
  try {
    const made = await dir.mkdir(name, mode);
    try {
      if (onCreate) await onCreate(made);
      return made;
    } catch (error) {
      await made.close();
      throw error;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  try {
    return await dir.openDir(name);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOTDIR') throw new FolderRefused(dir.describe(name), await describeEntry(dir, name));
    throw error;
  }
}

/**
 * Makes or checks `<root>/<namespace>/<pod>` for the process's uid (see the module comment).
 * Resolves `{ ready: path }`, or `{ wait: reason }` while the namespace folder is not trusted yet;
 * throws FolderRefused when something at either name must never be used.
 */
export async function preparePodFolder(root: PinnedDir, cfg: PodFolderConfig, uid: number): Promise<FolderResult> {
  const rootStat = await root.fstat();
  if (rootStat.uid !== 0n || (rootStat.mode & S_ISVTX) === 0n) {
    return { wait: `dump root ${root.display} is not root-owned with the sticky bit yet (${owner(rootStat)})` };
  }
  let nsDir: PinnedDir;
  try {
    nsDir = await openOrCreate(root, cfg.namespace, NAMESPACE_FOLDER_MODE);
  } catch (error) {
    // The guard closes the root to everyone but root for an instant while it swaps a planted object.
    if ((error as NodeJS.ErrnoException).code === 'EACCES') return { wait: `cannot create ${root.describe(cfg.namespace)} yet (EACCES)` };
    throw error;
  }
  return withDir(Promise.resolve(nsDir), async (ns) => {
    const st = await ns.fstat();
    if (st.uid === BigInt(uid)) {
      // Ours, not adopted yet: keep it sticky so other pods' folders in it are safe from each other.
      if (Number(st.mode & 0o7777n) !== NAMESPACE_FOLDER_MODE) await ns.chmod(NAMESPACE_FOLDER_MODE);
    } else if (st.uid !== 0n) {
      return { wait: `namespace folder ${ns.display} is owned by uid ${st.uid}, not root or this uid ${uid} (${owner(st)}): waiting for the mount guard to adopt it` };
    } else if ((st.mode & S_ISVTX) === 0n) {
      return { wait: `namespace folder ${ns.display} is root-owned without the sticky bit (${owner(st)}): waiting for the mount guard to adopt it` };
    }
    const group = cfg.group;
    const pod = await openOrCreate(ns, cfg.pod, POD_FOLDER_MODE, group === undefined ? undefined : async (made) => {
      await made.chown(-1, group);
      await made.chmod(POD_FOLDER_GROUP_MODE);
    });
    return withDir(Promise.resolve(pod), async (dir) => {
      const ps = await dir.fstat();
      const problem = podFolderProblem(ps, uid, group);
      if (problem) throw new FolderRefused(dir.display, `${problem} (${owner(ps)})`);
      return { ready: dir.display };
    });
  });
}

/** Why an existing pod folder is not this pod's, or undefined when it is. */
export function podFolderProblem(st: BigIntStats, uid: number, group: number | undefined): string | undefined {
  if (st.uid !== BigInt(uid)) return `is owned by uid ${st.uid}, not by this pod's uid ${uid}`;
  if ((st.mode & 0o002n) !== 0n) return 'is writable by others';
  if ((st.mode & 0o020n) !== 0n && (group === undefined || st.gid !== BigInt(group))) {
    return group === undefined ? 'is group-writable (no WAIT_FOLDER_GROUP configured)' : `is group-writable by gid ${st.gid}, not the configured group ${group}`;
  }
  return undefined;
}
