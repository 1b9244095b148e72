/**
 * Directory handles for trees that untrusted tenants can write (the node's dump tree).
 *
 * Every application pod may create, rename, swap and link anything in its own folder at any moment,
 * racing the root-privileged agents. So an agent never acts through a path string that a tenant can
 * change: it holds a directory open (pins it by a file descriptor) and names ONE entry of it at a
 * time through the kernel's magic link `/proc/self/fd/<fd>/<name>`.
 *
 * - `/proc/self/fd/<fd>` resolves to the open directory itself (the kernel follows the descriptor,
 *   not a path), so renaming or swapping any ancestor after the directory was pinned changes nothing;
 * - `<name>` has no slash, so the only component a tenant controls is the last one, and that one is
 *   never followed: files and directories are opened with O_NOFOLLOW (a symlink fails with ELOOP),
 *   `lstat`/`unlink`/`rename` act on the entry itself;
 * - files are opened O_NONBLOCK (a FIFO swapped in cannot block the open) and checked with fstat: only
 *   regular files are handed out; identity (device, inode) is compared with what was decided on.
 *
 * Why not a native helper with openat(2)/unlinkat(2): the magic-link form gives the same guarantees
 * with Node's own fs calls, needs no compiler in the image and no native code in a root process, and
 * /proc is always mounted in a container. What it cannot do (renameat2 flags, linkat AT_EMPTY_PATH)
 * the agents do not need: they only ever rename into directories no tenant can write.
 */
import * as fs from 'fs';
import { constants as fsc, promises as fsp, type BigIntStats } from 'fs';
import type { FileHandle } from 'fs/promises';
import { promisify } from 'util';

const openFd = promisify(fs.open);
const fstatFd = promisify(fs.fstat) as (fd: number, opts: { bigint: true }) => Promise<BigIntStats>;
const closeFd = promisify(fs.close);
const fchmodFd = promisify(fs.fchmod);
const fchownFd = promisify(fs.fchown);

/** An entry name: bytes (Linux names need not be UTF-8) or a string. */
export type Name = Buffer | string;

const SLASH = 0x2f;

/** A name that is not a single directory entry (contains '/', is empty, '.' or '..', or has a NUL). */
export class UnsafeNameError extends Error {
  readonly code = 'EUNSAFENAME';
  constructor(name: Buffer) {
    super(`not a single directory entry name: ${JSON.stringify(name.toString('latin1'))}`);
    this.name = 'UnsafeNameError';
  }
}

/** The name as bytes, or UnsafeNameError when it could name anything but one entry of the directory. */
export function entryName(name: Name): Buffer {
  const b = typeof name === 'string' ? Buffer.from(name) : name;
  if (b.length === 0 || b.includes(SLASH) || b.includes(0) || (b.length <= 2 && /^\.\.?$/.test(b.toString('latin1')))) {
    throw new UnsafeNameError(b);
  }
  return b;
}

/** What is found at a name: a regular file, a directory, or something the agents never touch. */
export type EntryKind = 'file' | 'dir' | 'symlink' | 'fifo' | 'socket' | 'device' | 'other';

export function kindOf(st: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean; isFIFO(): boolean; isSocket(): boolean; isBlockDevice(): boolean; isCharacterDevice(): boolean }): EntryKind {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isBlockDevice() || st.isCharacterDevice()) return 'device';
  return 'other';
}

/**
 * Everything that identifies one version of one file. `ctimeNs` cannot be set by a user (unlike
 * mtime, which `touch -d` restores): any write, truncate, chmod, link or rename moves it, so an
 * unchanged ctime means the file was not touched in between.
 */
export interface FileIdentity {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: number;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
}

export function identityOf(st: BigIntStats): FileIdentity {
  return { dev: st.dev, ino: st.ino, size: Number(st.size), mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs };
}

export function sameFile(a: Pick<FileIdentity, 'dev' | 'ino'>, b: Pick<FileIdentity, 'dev' | 'ino'>): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

export function sameVersion(a: FileIdentity, b: FileIdentity): boolean {
  return sameFile(a, b) && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

/** An error with an errno-style code, as Node's own fs errors have. */
export function fsError(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

const DIR_FLAGS = fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK;
const FILE_FLAGS = fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK | fsc.O_NOCTTY;

/**
 * A directory held open by a descriptor; every operation names one entry of it and never follows a
 * symlink. A raw descriptor (not a FileHandle): the scanner walks tens of thousands of directories
 * with the `...Sync` variants, which cost a tenth of a thread-pool round trip each (see scanner.ts).
 */
export class PinnedDir {
  private closed = false;

  private cachedStat?: BigIntStats;

  private constructor(
    private readonly dirFd: number,
    /** For logs and errors only: where the directory was when it was pinned. Never used for access. */
    readonly display: string,
  ) {}

  /**
   * Pins a directory named by a trusted path (configuration, e.g. the dump root): every component
   * but the last is the agent's own (a mount point, /proc). `followLast: false` refuses a symlink there too.
   * O_DIRECTORY makes the kernel refuse anything but a directory (ENOTDIR).
   */
  static async open(path: string, opts: { followLast?: boolean } = {}): Promise<PinnedDir> {
    const flags = opts.followLast === false ? DIR_FLAGS : DIR_FLAGS & ~fsc.O_NOFOLLOW;
    return new PinnedDir(await openFd(path, flags), path);
  }

  static openSync(path: string, opts: { followLast?: boolean } = {}): PinnedDir {
    const flags = opts.followLast === false ? DIR_FLAGS : DIR_FLAGS & ~fsc.O_NOFOLLOW;
    return new PinnedDir(fs.openSync(path, flags), path);
  }

  /** fstat of the directory when it was first asked for (its identity: device, inode). */
  get stat(): BigIntStats {
    this.cachedStat ??= fs.fstatSync(this.dirFd, { bigint: true });
    return this.cachedStat;
  }

  /** A second, independent handle on the same directory (through the descriptor, not a path). */
  async reopen(): Promise<PinnedDir> {
    return new PinnedDir(await openFd(this.selfPath(), DIR_FLAGS & ~fsc.O_NOFOLLOW), this.display);
  }

  reopenSync(): PinnedDir {
    return new PinnedDir(fs.openSync(this.selfPath(), DIR_FLAGS & ~fsc.O_NOFOLLOW), this.display);
  }

  get fd(): number {
    return this.dirFd;
  }

  private selfPath(): string {
    if (this.closed) throw fsError('EBADF', `directory ${this.display} is closed`);
    return `/proc/self/fd/${this.dirFd}`;
  }

  /** The magic-link path of one entry: `/proc/self/fd/<fd>/<name>`. */
  entryPath(name: Name): Buffer {
    return Buffer.concat([Buffer.from(`${this.selfPath()}/`), entryName(name)]);
  }

  /** For messages: display path of an entry (bytes shown as latin1 where not UTF-8). */
  describe(name: Name): string {
    return `${this.display}/${typeof name === 'string' ? name : name.toString()}`;
  }

  /** The entries' raw names ('.' and '..' excluded). */
  async list(): Promise<Buffer[]> {
    return fsp.readdir(this.selfPath(), { encoding: 'buffer' });
  }

  listSync(): Buffer[] {
    return fs.readdirSync(this.selfPath(), { encoding: 'buffer' });
  }

  /** lstat of one entry (never follows), or undefined when there is none. */
  async lstat(name: Name): Promise<BigIntStats | undefined> {
    try {
      return await fsp.lstat(this.entryPath(name), { bigint: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  lstatSync(name: Name): BigIntStats | undefined {
    return fs.lstatSync(this.entryPath(name), { bigint: true, throwIfNoEntry: false });
  }

  /** Pins a subdirectory. A symlink there fails (ELOOP), anything but a directory fails (ENOTDIR). */
  async openDir(name: Name): Promise<PinnedDir> {
    return new PinnedDir(await openFd(this.entryPath(name), DIR_FLAGS), this.describe(name));
  }

  openDirSync(name: Name): PinnedDir {
    return new PinnedDir(fs.openSync(this.entryPath(name), DIR_FLAGS), this.describe(name));
  }

  /** The entries with the kernel's type from readdir (no lstat), for a walk that only needs names and types. */
  listTypedSync(): fs.Dirent<Buffer>[] {
    return fs.readdirSync(this.selfPath(), { encoding: 'buffer', withFileTypes: true }) as unknown as fs.Dirent<Buffer>[];
  }

  /**
   * Opens a regular file for reading: never follows a symlink, never blocks on a FIFO, and refuses
   * anything that fstat does not call a regular file (code ENOTREG), so no read ever waits on a
   * pipe, a socket or a device. `expect` (device + inode) makes it refuse a different file (ESWAPPED).
   */
  async openFile(name: Name, expect?: Pick<FileIdentity, 'dev' | 'ino'>): Promise<{ fh: FileHandle; stat: BigIntStats }> {
    const fh = await fsp.open(this.entryPath(name), FILE_FLAGS);
    try {
      const stat = await fh.stat({ bigint: true });
      if (!stat.isFile()) throw fsError('ENOTREG', `${this.describe(name)} is a ${kindOf(stat)}, not a regular file`);
      if (expect && !sameFile(identityOf(stat), expect)) throw fsError('ESWAPPED', `${this.describe(name)} was replaced by another file`);
      return { fh, stat };
    } catch (error) {
      await fh.close().catch(() => undefined);
      throw error;
    }
  }

  /** Creates a new file exclusively (O_CREAT|O_EXCL|O_NOFOLLOW): an entry planted at the name makes it fail (EEXIST). */
  async createFile(name: Name, mode: number): Promise<FileHandle> {
    return fsp.open(this.entryPath(name), fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW | fsc.O_NONBLOCK, mode);
  }

  /**
   * Creates a subdirectory and returns it pinned, with exactly `mode` (set through the descriptor:
   * mkdir's mode is filtered by the umask, and a chmod by name could be redirected). EEXIST if
   * anything is there already.
   */
  async mkdir(name: Name, mode: number): Promise<PinnedDir> {
    await fsp.mkdir(this.entryPath(name), { mode: mode & 0o777 });
    const dir = await this.openDir(name);
    try {
      await dir.chmod(mode);
      return dir;
    } catch (error) {
      await dir.close();
      throw error;
    }
  }

  /** fchmod of this directory itself. */
  async chmod(mode: number): Promise<void> {
    await fchmodFd(this.dirFd, mode);
  }

  /** fchown of this directory itself. */
  async chown(uid: number, gid: number): Promise<void> {
    await fchownFd(this.dirFd, uid, gid);
  }

  /** Current fstat of this directory (its mode, owner, link count). */
  async fstat(): Promise<BigIntStats> {
    return fstatFd(this.dirFd, { bigint: true });
  }

  /**
   * Removes the entry only if it still is exactly `expected` (same device, inode, size, mtime and
   * ctime): the file that was verified, unchanged. Returns false (and removes nothing) otherwise.
   * Whatever a tenant swaps in after this check stays inside this pinned directory, the tenant's own.
   */
  async unlinkIfSame(name: Name, expected: FileIdentity): Promise<boolean> {
    const st = await this.lstat(name);
    if (!st || !st.isFile() || !sameVersion(identityOf(st), expected)) return false;
    await fsp.unlink(this.entryPath(name));
    return true;
  }

  /** Renames one entry of this directory to `toName` in `to` (same filesystem). Replaces a file there. */
  async renameTo(name: Name, to: PinnedDir, toName: Name): Promise<void> {
    await fsp.rename(this.entryPath(name), to.entryPath(toName));
  }

  /** Removes an empty subdirectory. */
  async rmdir(name: Name): Promise<void> {
    await fsp.rmdir(this.entryPath(name));
  }

  /** Removes a file or symlink entry (never what a symlink points to). */
  async unlink(name: Name): Promise<void> {
    await fsp.unlink(this.entryPath(name));
  }

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await closeFd(this.dirFd).catch(() => undefined);
  }

  closeSync(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      fs.closeSync(this.dirFd);
    } catch {
      // nothing to do: the descriptor is gone either way
    }
  }
}

/**
 * Pins `segments` below `root` one component at a time (each O_DIRECTORY|O_NOFOLLOW), closing the
 * intermediate directories. A symlink or non-directory anywhere on the way fails the walk. The result
 * is always a new handle (the root itself, re-opened, when there are no segments): close it.
 */
export async function openPath(root: PinnedDir, segments: readonly Name[]): Promise<PinnedDir> {
  if (segments.length === 0) return root.reopen();
  let dir = await root.openDir(segments[0]);
  for (const segment of segments.slice(1)) {
    const parent = dir;
    try {
      dir = await parent.openDir(segment);
    } finally {
      await parent.close();
    }
  }
  return dir;
}

/** openPath with synchronous calls (the scanner's walk; see scanner.ts for why). */
export function openPathSync(root: PinnedDir, segments: readonly Name[]): PinnedDir {
  if (segments.length === 0) return root.reopenSync();
  let dir = root.openDirSync(segments[0]);
  for (const segment of segments.slice(1)) {
    const parent = dir;
    try {
      dir = parent.openDirSync(segment);
    } finally {
      parent.closeSync();
    }
  }
  return dir;
}

/** Runs `fn` with a pinned directory and closes it afterwards, whatever happens. */
export async function withDir<T>(open: Promise<PinnedDir>, fn: (dir: PinnedDir) => Promise<T>): Promise<T> {
  const dir = await open;
  try {
    return await fn(dir);
  } finally {
    await dir.close();
  }
}
