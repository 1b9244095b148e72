/**
 * The mount guard: keeps `<target>` a bind mount of `<sourceRoot>/<node>` and the ready marker
 * on it. DESIGN.md "Mount guard": clean a stale mount at start, create the node directory,
 * bind, verify via mountinfo, write the marker through the mount; then check every interval and
 * repair; on shutdown remove the marker first, then unmount.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Counter, Gauge } from '../runtime/prom';
import type { MountGuardConfig } from '../config';
import type { ReadyMarker } from '../contract';
import type { CommandContext } from '../runtime/context';
import type { Logger } from '../runtime/logger';
import { runLoop } from '../runtime/loop';
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

/** Stacked mounts removed at most per repair (a loop bound, not an expected count). */
const MAX_STACKED = 16;

interface GuardMetrics {
  readonly remounts: Counter;
  readonly failures: Counter;
  readonly mounted: Gauge;
}

function createMetrics(ctx: CommandContext): GuardMetrics {
  const registers = [ctx.registry];
  return {
    remounts: new Counter({ name: 'heapdump_mount_guard_remounts_total', help: 'Bind mounts re-made after the mount was lost or wrong', registers }),
    failures: new Counter({ name: 'heapdump_mount_guard_failures_total', help: 'Attempts to make the bind mount that failed', registers }),
    mounted: new Gauge({ name: 'heapdump_mount_guard_mounted', help: '1 while the target is verified as a bind of the node directory and the marker is written', registers }),
  };
}

export class MountGuard {
  private source = '';
  private target = '';
  private since = '';
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
    const sourceRoot = await realpathOrExplain(this.config.sourceRoot, 'MOUNT_SOURCE_ROOT (the PVC mount)');
    // The target lies below the node's /mnt (see PATHS.hostDumpParent): create it on a fresh node.
    await fs.mkdir(this.config.target, { recursive: true }).catch(() => undefined);
    this.target = await realpathOrExplain(this.config.target, 'MOUNT_TARGET (the node directory)');
    this.source = path.join(sourceRoot, this.config.nodeName);
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

  /** One check: healthy -> keep (rewrite a missing marker); lost or wrong -> repair. */
  async check(): Promise<void> {
    const verdict = verifyBind(await this.mounts(), this.source, this.target);
    if (verdict.ok) {
      try {
        if (!(await this.markerIsCurrent())) {
          this.log.warn('marker missing or wrong, rewriting', { marker: this.markerPath() });
          await this.writeMarker();
        }
      } catch (error) {
        // Mounted but the marker cannot be written (e.g. the volume is full or read-only):
        // consumers must not start on it.
        await this.markFailed('marker write failed', error as Error);
        return;
      }
      this.markReady();
      return;
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
    await this.removeMarker();
    this.ctx.setReady(false, `${what}: ${error.message}`);
    this.log.error(what, { error });
  }

  /** Remove the marker wherever a consumer or the PVC could still show it. Never throws. */
  async removeMarker(): Promise<void> {
    if (!this.target) return; // start() failed before the paths were known
    const paths = [this.markerPath(), path.join(this.source, this.config.markerName)];
    for (const p of new Set(paths)) {
      await fs.rm(p, { force: true }).catch((error) => this.log.warn('marker removal failed', { path: p, error }));
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
    await fs.mkdir(this.source, { recursive: true });
    await fs.chmod(this.source, NODE_DIR_MODE); // mkdir's mode is filtered by the umask
    await this.deps.mounter.bind(this.source, this.target);
    const verdict = verifyBind(await this.mounts(), this.source, this.target);
    if (!verdict.ok) throw new Error(`bind mount not verified: ${verdict.reason}`);
    this.since = new Date(this.ctx.clock.now()).toISOString();
    await this.writeMarker();
    this.markReady();
  }

  private markReady(): void {
    this.metrics.mounted.set(1);
    this.ctx.setReady(true);
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

  private markerPath(): string {
    return path.join(this.target, this.config.markerName);
  }

  private marker(): ReadyMarker {
    return { node: this.config.nodeName, source: this.source, target: this.target, since: this.since };
  }

  /** Written through the mount (so it lives on the PVC), atomically: temp file, then rename. */
  private async writeMarker(): Promise<void> {
    const tmp = path.join(this.target, `.${this.config.markerName}.${process.pid}.tmp`);
    await fs.writeFile(tmp, JSON.stringify(this.marker()) + '\n', { mode: 0o644 });
    await fs.rename(tmp, this.markerPath());
  }

  private async markerIsCurrent(): Promise<boolean> {
    try {
      const m = JSON.parse(await fs.readFile(this.markerPath(), 'utf8')) as Partial<ReadyMarker>;
      return m.node === this.config.nodeName && m.source === this.source && m.target === this.target;
    } catch {
      return false;
    }
  }
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
