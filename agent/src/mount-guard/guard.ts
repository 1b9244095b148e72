/**
 * The mount guard: keeps `<target>` a bind mount of `<sourceRoot>/<node>` and the ready marker
 * on it: clean a stale mount at start, create the node directory,
 * bind, verify via mountinfo, write the marker through the mount; then check every interval and
 * repair; on shutdown remove the marker first, then unmount.
 *
 * Everything below the node directory is writable by every application pod, so the guard (root,
 * privileged) acts there only through pinned directory descriptors (fs/pinned-dir.ts):
 * - the node directory and the target are opened O_DIRECTORY|O_NOFOLLOW (a symlink or a file there
 *   is refused, never mounted, chmod-ed or followed), made root:root 01777 through the descriptor
 *   (fchown/fchmod), and the bind is made from those very descriptors (mounter.ts);
 * - the marker is rewritten at every check (marker.ts): new file, exclusive, unpredictable name,
 *   renamed onto the marker. That write is the probe that the volume still takes writes: when it
 *   fails (read-only, full, failing) the guard is not ready until it works again;
 * - namespace folders (the entries directly below the root) are adopted at every check: made
 *   root:root 01777 through a descriptor opened O_DIRECTORY|O_NOFOLLOW, so no tenant owns a folder
 *   that others' pod folders live in (the owner of a sticky directory may delete anything in it).
 *   Hidden entries belong to the agents (`.heapdump-archive`, the marker); symlinks and other
 *   non-directories are left alone.
 */
import { type BigIntStats, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Counter, Gauge } from '../runtime/prom';
import type { MountGuardConfig } from '../config';
import type { ReadyMarker } from '../contract';
import { type FileIdentity, identityOf, kindOf, PinnedDir, sameFile, withDir } from '../fs/pinned-dir';
import type { CommandContext } from '../runtime/context';
import type { Logger } from '../runtime/logger';
import { runLoop } from '../runtime/loop';
import { flushMarker, modeString, type Planted, removeMarker, writeMarker } from './marker';
import type { Mounter } from './mounter';
import { type MountEntry, mountsAt, parseMountinfo, verifyBind } from './mountinfo';

export interface MountGuardDeps {
  readonly mounter: Mounter;
  /** @default /proc/self/mountinfo */
  readonly mountinfoPath?: string;
}

/**
 * Mode of the node directory: world-writable with the sticky bit, like /tmp. On OpenShift every
 * namespace runs under its own arbitrary UID, and the applications' init containers must be able
 * to create their namespace/pod folders here; the sticky bit keeps one UID from deleting or
 * renaming another's entries.
 */
export const NODE_DIR_MODE = 0o1777;
/** Mode of an adopted namespace folder (owned by root:root): same reasons. */
export const NAMESPACE_DIR_MODE = 0o1777;

/** Stacked mounts removed at most per repair (a loop bound, not an expected count). */
const MAX_STACKED = 16;
/** Distinct "could not adopt" warnings remembered (so each is logged once, with bounded memory). */
const MAX_REMEMBERED_WARNINGS = 1000;

interface GuardMetrics {
  readonly remounts: Counter;
  readonly failures: Counter;
  readonly mounted: Gauge;
  readonly writable: Gauge;
  readonly planted: Counter<'kind'>;
  readonly adopted: Counter;
}

function createMetrics(ctx: CommandContext): GuardMetrics {
  const registers = [ctx.registry];
  return {
    remounts: new Counter({ name: 'heapdump_mount_guard_remounts_total', help: 'Bind mounts re-made after the mount was lost or wrong', registers }),
    failures: new Counter({ name: 'heapdump_mount_guard_failures_total', help: 'Attempts to make the bind mount or to write the marker that failed', registers }),
    mounted: new Gauge({ name: 'heapdump_mount_guard_mounted', help: '1 while the target is verified as a bind of the node directory and the marker is written', registers }),
    writable: new Gauge({ name: 'heapdump_mount_guard_volume_writable', help: '1 when the last marker rewrite (the write probe of every check) succeeded, 0 when it failed (volume read-only, full or failing)', registers }),
    planted: new Counter({ name: 'heapdump_mount_guard_planted_total', help: 'Objects found at the marker name that were not the guard\'s file (directory, symlink, FIFO, foreign file), moved aside', labelNames: ['kind'] as const, registers }),
    adopted: new Counter({ name: 'heapdump_mount_guard_folders_adopted_total', help: 'Namespace folders made root:root 01777 (they were created by an application\'s wait-ready or planted)', registers }),
  };
}

/** The target does not show the node directory that was bound (same path, another directory). */
class WrongDirectory extends Error {}

export class MountGuard {
  private sourceRoot = '';
  private source = '';
  private target = '';
  private since = '';
  /** The node directory that was bound, by device and inode. */
  private bound?: Pick<FileIdentity, 'dev' | 'ino'>;
  /** The failure last logged (logged again only when it changes, or after a recovery). */
  private lastFailure?: string;
  private readonly warned = new Set<string>();
  private readonly log: Logger;
  private readonly metrics: GuardMetrics;
  private readonly mountinfoPath: string;

  constructor(
    private readonly config: MountGuardConfig,
    private readonly ctx: CommandContext,
    private readonly deps: MountGuardDeps,
  ) {
    this.log = ctx.logger;
    this.metrics = createMetrics(ctx);
    this.mountinfoPath = deps.mountinfoPath ?? '/proc/self/mountinfo';
  }

  /** Resolve paths, remove a stale mount, mount, verify, write the marker. Throws if that fails. */
  async start(): Promise<void> {
    // mountinfo shows resolved paths: compare against resolved paths, or a symlink looks "wrong".
    this.sourceRoot = await realpathOrExplain(this.config.sourceRoot, 'MOUNT_SOURCE_ROOT (the PVC mount)');
    // The target lies below the node's /mnt (see PATHS.hostDumpParent): create it on a fresh node.
    await fs.mkdir(this.config.target, { recursive: true }).catch(() => undefined);
    // Only the parent is resolved: the target itself must be a real directory, never a symlink to follow.
    const targetParent = await realpathOrExplain(path.dirname(this.config.target), 'the parent of MOUNT_TARGET (the node\'s /mnt)');
    this.target = path.join(targetParent, path.basename(this.config.target));
    this.source = path.join(this.sourceRoot, this.config.nodeName);
    this.log.info('starting', { source: this.source, target: this.target, intervalMs: this.config.checkIntervalMs });
    const stale = await this.clearTarget();
    if (stale > 0) this.log.warn('stale mount removed at start', { target: this.target, mounts: stale });
    try {
      await this.mountAndMark();
    } catch (error) {
      this.metrics.failures.inc();
      this.metrics.mounted.set(0);
      await this.removeMarker();
      throw error;
    }
    this.log.info('mounted', { source: this.source, target: this.target });
  }

  /** One check: healthy -> rewrite the marker (the write probe) and adopt namespace folders; lost or wrong -> repair. */
  async check(): Promise<void> {
    let verdict = verifyBind(await this.mounts(), this.source, this.target);
    if (verdict.ok) {
      try {
        await this.throughMount();
        this.markReady();
        return;
      } catch (error) {
        if (!(error instanceof WrongDirectory)) {
          // Mounted but the marker cannot be written (the volume is read-only, full or failing):
          // consumers must not start on it.
          this.metrics.writable.set(0);
          await this.markFailed('marker write failed', error as Error);
          return;
        }
        verdict = { ok: false, reason: error.message };
      }
    }
    this.log.warn('mount lost or wrong, remounting', { reason: verdict.reason });
    try {
      await this.clearTarget();
      await this.mountAndMark();
      this.metrics.remounts.inc();
      this.log.info('remounted', { source: this.source, target: this.target });
    } catch (error) {
      await this.markFailed('remount failed', error as Error);
    }
  }

  private async markFailed(what: string, error: Error): Promise<void> {
    this.metrics.failures.inc();
    this.metrics.mounted.set(0);
    await this.removeMarker({ quiet: true });
    this.ctx.setReady(false, `${what}: ${error.message}`);
    // Once per failure, not at every check while it lasts.
    const key = `${what}: ${(error as NodeJS.ErrnoException).code ?? error.message}`;
    if (key !== this.lastFailure) this.log.error(what, { error });
    else this.log.debug(what, { error });
    this.lastFailure = key;
  }

  private markReady(): void {
    this.metrics.mounted.set(1);
    this.ctx.setReady(true);
    if (this.lastFailure !== undefined) this.log.info('recovered', { after: this.lastFailure });
    this.lastFailure = undefined;
  }

  /**
   * Remove our marker wherever a consumer or the PVC could still show it (through the target, and
   * in the node directory itself); anything else found there is moved aside. Never throws.
   */
  async removeMarker(opts: { quiet?: boolean } = {}): Promise<void> {
    if (!this.target) return; // start() failed before the paths were known
    const seen: Array<Pick<FileIdentity, 'dev' | 'ino'>> = [];
    const places: Array<[string, () => Promise<PinnedDir>]> = [
      [this.target, () => this.pinTarget()],
      [this.source, () => this.pinNodeDir({ create: false })],
    ];
    for (const [where, open] of places) {
      try {
        await withDir(open(), async (dir) => {
          const id = identityOf(dir.stat);
          if (seen.some((s) => sameFile(s, id))) return; // the same directory, already done
          const planted = await removeMarker(dir, this.config.markerName);
          seen.push(id);
          if (planted) this.reportPlanted(planted);
        });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') continue;
        // A read-only volume cannot lose its marker either: the marker's age tells consumers.
        if (opts.quiet) this.log.debug('marker removal failed', { path: where, error: error as Error });
        else this.log.warn('marker removal failed', { path: where, error: error as Error });
      }
    }
  }

  /** Shutdown: unmount the target if it is our bind (never someone else's mount). */
  async unmountOwn(): Promise<void> {
    if (!this.target) return;
    const verdict = verifyBind(await this.mounts(), this.source, this.target);
    if (!verdict.ok) {
      this.log.info('nothing to unmount', { reason: verdict.reason });
      return;
    }
    const how = await this.deps.mounter.unmount(this.target);
    this.metrics.mounted.set(0);
    this.log.info('unmounted', { target: this.target, how });
  }

  private async mountAndMark(): Promise<void> {
    await withDir(this.pinNodeDir({ create: true }), async (node) => {
      this.bound = identityOf(node.stat);
      await withDir(this.pinTarget(), (target) => this.deps.mounter.bind(node, target));
    });
    const verdict = verifyBind(await this.mounts(), this.source, this.target);
    if (!verdict.ok) throw new Error(`bind mount not verified: ${verdict.reason}`);
    this.since = new Date(this.ctx.clock.now()).toISOString();
    await this.throughMount();
    this.markReady();
  }

  /**
   * At start and at every check. Through the mount: the target shows the bound directory, the root is
   * root:root 01777, the marker is rewritten (the write probe). Then through the PVC's node directory
   * (the same directory, pinned on the guard's own PVC mount): the marker is flushed (fdatasync: a
   * volume that fails write-back says so there) and the namespace folders are adopted. The target is
   * held open only for the rewrite: an open descriptor on it would make the mount busy.
   */
  private async throughMount(): Promise<void> {
    await withDir(this.pinTarget(), async (root) => {
      if (this.bound && !sameFile(identityOf(root.stat), this.bound)) {
        throw new WrongDirectory(`${this.target} shows another directory than the bound ${this.source}`);
      }
      await this.ensureRootDir(root, this.target);
      const planted = await writeMarker(root, this.config.markerName, JSON.stringify(this.marker()) + '\n', NODE_DIR_MODE);
      for (const p of planted) this.reportPlanted(p);
    });
    await withDir(this.pinNodeDir({ create: false }), async (node) => {
      if (this.bound && !sameFile(identityOf(node.stat), this.bound)) {
        throw new WrongDirectory(`${this.source} is another directory than the one bound`);
      }
      await flushMarker(node, this.config.markerName);
      this.metrics.writable.set(1);
      // Adoption problems are logged, not a readiness matter: the volume took the write.
      await this.adoptNamespaceFolders(node).catch((error: unknown) => {
        this.warnOnce(`list:${(error as NodeJS.ErrnoException).code}`, 'namespace folders not listed', { path: this.source, error: error as Error });
      });
    });
  }

  /** Something that was not our marker was moved aside: one warning and one count per occurrence. */
  private reportPlanted(p: Planted): void {
    this.metrics.planted.inc({ kind: p.kind });
    this.log.warn('foreign object at the marker name moved aside', { path: p.path, movedTo: p.aside, kind: p.kind, uid: p.uid, mode: p.mode });
  }

  /** The node root must be root:root 01777: fixed through the descriptor when it is not. */
  private async ensureRootDir(dir: PinnedDir, where: string): Promise<void> {
    const st = await dir.fstat();
    if (st.uid === 0n && st.gid === 0n && Number(st.mode & 0o7777n) === NODE_DIR_MODE) return;
    await dir.chown(0, 0);
    await dir.chmod(NODE_DIR_MODE);
    this.log.warn('dump root owner or mode fixed', { path: where, uid: Number(st.uid), gid: Number(st.gid), mode: modeString(st.mode) });
  }

  /** Every directory directly below the root that is not hidden becomes root:root 01777 (see the module comment). */
  private async adoptNamespaceFolders(root: PinnedDir): Promise<void> {
    for (const name of await root.list()) {
      if (name[0] === 0x2e /* '.' */) continue;
      const shown = root.describe(name);
      const st = await root.lstat(name).catch(() => undefined);
      if (!st) continue;
      if (!st.isDirectory()) {
        this.log.debug('not a folder below the dump root, left alone', { path: shown, kind: kindOf(st) });
        continue;
      }
      if (st.uid === 0n && st.gid === 0n && Number(st.mode & 0o7777n) === NAMESPACE_DIR_MODE) continue;
      try {
        // By descriptor (O_DIRECTORY|O_NOFOLLOW): whatever is at the name now, only a directory is changed.
        await withDir(root.openDir(name), async (dir) => {
          const was = await dir.fstat();
          await dir.chown(0, 0);
          await dir.chmod(NAMESPACE_DIR_MODE);
          this.metrics.adopted.inc();
          this.log.info('namespace folder adopted', { path: shown, uid: Number(was.uid), gid: Number(was.gid), mode: modeString(was.mode) });
        });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? 'error';
        if (code === 'ENOENT' || code === 'ELOOP' || code === 'ENOTDIR') continue; // removed or swapped since the lstat
        this.warnOnce(`${shown}:${code}`, 'namespace folder not adopted', { path: shown, error: error as Error });
      }
    }
  }

  private warnOnce(key: string, msg: string, fields: Record<string, unknown>): void {
    if (this.warned.has(key)) return;
    if (this.warned.size >= MAX_REMEMBERED_WARNINGS) this.warned.clear();
    this.warned.add(key);
    this.log.warn(msg, fields);
  }

  /**
   * The PVC's node subdirectory, pinned: created 01777 when missing; a symlink or non-directory there
   * is refused; made root:root 01777 through the descriptor when it is not.
   */
  private async pinNodeDir(opts: { create: boolean }): Promise<PinnedDir> {
    return withDir(PinnedDir.open(this.sourceRoot), async (pvc) => {
      const name = this.config.nodeName;
      const refuse = async (error: unknown) => refusal(error, this.source, 'the node directory on the PVC', await pvc.lstat(name).catch(() => undefined));
      let dir: PinnedDir;
      try {
        dir = opts.create ? await pvc.mkdir(name, NODE_DIR_MODE) : await pvc.openDir(name);
      } catch (error) {
        if (!opts.create || (error as NodeJS.ErrnoException).code !== 'EEXIST') throw await refuse(error);
        try {
          dir = await pvc.openDir(name);
        } catch (e) {
          throw await refuse(e);
        }
      }
      if (!opts.create) return dir;
      try {
        await this.ensureRootDir(dir, this.source);
        return dir;
      } catch (error) {
        await dir.close();
        throw error;
      }
    });
  }

  /** The target, pinned O_DIRECTORY|O_NOFOLLOW: a symlink or a file there is refused. */
  private async pinTarget(): Promise<PinnedDir> {
    try {
      return await PinnedDir.open(this.target, { followLast: false });
    } catch (error) {
      // lstat by path only to word the message: the refusal itself came from the open.
      throw refusal(error, this.target, 'MOUNT_TARGET (the node directory)', await fs.lstat(this.target, { bigint: true }).catch(() => undefined));
    }
  }

  /** Unmount everything stacked on the target; returns how many mounts were removed. */
  private async clearTarget(): Promise<number> {
    let removed = 0;
    while (removed < MAX_STACKED && mountsAt(await this.mounts(), this.target).length > 0) {
      const how = await this.deps.mounter.unmount(this.target);
      removed++;
      this.log.info('unmounted', { target: this.target, how });
    }
    return removed;
  }

  private async mounts(): Promise<MountEntry[]> {
    return parseMountinfo(await fs.readFile(this.mountinfoPath, 'utf8'));
  }

  private marker(): ReadyMarker {
    return {
      node: this.config.nodeName,
      source: this.source,
      target: this.target,
      since: this.since,
      checkedAt: new Date(this.ctx.clock.now()).toISOString(),
      checkIntervalMs: this.config.checkIntervalMs,
    };
  }
}

/**
 * An error naming the path and what is wrong with it: a symlink or a non-directory is refused, never
 * followed (opening O_DIRECTORY|O_NOFOLLOW fails with ENOTDIR on a symlink, ELOOP without O_DIRECTORY).
 */
function refusal(error: unknown, where: string, what: string, st: BigIntStats | undefined): Error {
  const code = (error as NodeJS.ErrnoException).code;
  let why = `is not usable: ${(error as Error).message}`;
  if (code === 'ELOOP' || code === 'ENOTDIR') {
    why = st?.isSymbolicLink() || code === 'ELOOP' ? 'is a symlink (refused: never followed)' : `is a ${st ? kindOf(st) : 'non-directory'}, not a directory`;
  }
  return Object.assign(new Error(`${what} ${where} ${why}`), { code });
}

async function realpathOrExplain(p: string, what: string): Promise<string> {
  try {
    return await fs.realpath(p);
  } catch (error) {
    throw new Error(`${what} ${p} is not usable: ${(error as Error).message}`);
  }
}

/** The `mount-guard` command: resolves once the loop stopped after ctx.signal aborted. */
export async function runMountGuard(config: MountGuardConfig, ctx: CommandContext, deps: MountGuardDeps): Promise<void> {
  const guard = new MountGuard(config, ctx, deps);
  // Registered before start: a start that fails half-way still leaves no marker or mount behind.
  ctx.onShutdown('remove marker', () => guard.removeMarker());
  ctx.onShutdown('unmount', () => guard.unmountOwn());
  await guard.start();
  // Liveness: three missed intervals plus time for a slow mount/umount (their timeout is 30 s).
  const maxSilenceMs = 3 * config.checkIntervalMs + 60_000;
  await runLoop({ intervalMs: config.checkIntervalMs, signal: ctx.signal, clock: ctx.clock, logger: ctx.logger }, async () => {
    await guard.check();
    ctx.heartbeat?.('mount-guard', maxSilenceMs);
  });
}
