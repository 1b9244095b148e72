/**
 * `wait-ready`, run by init containers (as the application's uid): wait until the mount guard's
 * marker is visible through this container's dump root AND that root is a mount point here, then
 * optionally make the pod's dump folder (pod-folder.ts). Inside a real consumer the root is always a
 * mount point (the kubelet's hostPath bind), so the marker is the real proof: it lives on the PVC and
 * is visible only through the guard's bind mount.
 *
 * The marker is accepted only if it is a regular file owned by uid 0 (read without following a
 * symlink, without blocking, at most MARKER_MAX_BYTES: mount-guard/marker.ts), names this node, its
 * source ends with /<node>, and its last check is fresh (younger than 3 check intervals plus a
 * margin): a stale marker means the guard is gone or its volume no longer takes writes.
 */
import { promises as fs } from 'node:fs';
import type { WaitReadyConfig } from '../config';
import { EXIT } from '../contract';
import { PinnedDir, withDir } from '../fs/pinned-dir';
import { markerProblems, readMarker } from '../mount-guard/marker';
import { parseMountinfo, mountAt } from '../mount-guard/mountinfo';
import type { CommandContext } from '../runtime/context';
import { FolderRefused, preparePodFolder } from './pod-folder';

export interface WaitReadyDeps {
  /** @default /proc/self/mountinfo */
  readonly mountinfoPath?: string;
  /** @default 1000 */
  readonly pollMs?: number;
  /** How often a "still waiting" line is logged. @default 5000 */
  readonly reportMs?: number;
  /** The uid the pod folder must belong to. @default process.geteuid() */
  readonly uid?: number;
}

/** What is still missing, or undefined when ready. */
export async function missing(config: WaitReadyConfig, mountinfoPath: string, nowMs: number): Promise<string | undefined> {
  const problems: string[] = [];
  const root = await fs.realpath(config.dumpRoot).catch(() => undefined);
  if (root === undefined) return `${config.dumpRoot} does not exist`;
  const entries = parseMountinfo(await fs.readFile(mountinfoPath, 'utf8'));
  if (!mountAt(entries, root)) problems.push(`${config.dumpRoot} is not a mount point`);
  const read = await withDir(PinnedDir.open(config.dumpRoot), (dir) => readMarker(dir, config.markerName)).catch((error: NodeJS.ErrnoException) => ({
    problem: `${config.dumpRoot} cannot be opened (${error.code ?? error.message})`,
  }));
  if ('problem' in read) problems.push(read.problem);
  else problems.push(...markerProblems(read.marker, config.nodeName, nowMs));
  return problems.length ? problems.join('; ') : undefined;
}

/** Resolves with the exit code: EXIT.ok once ready (and the folder made), EXIT.failure on timeout, abort or a refused folder. */
export async function runWaitReady(config: WaitReadyConfig, ctx: CommandContext, deps: WaitReadyDeps = {}): Promise<number> {
  const mountinfoPath = deps.mountinfoPath ?? '/proc/self/mountinfo';
  const pollMs = deps.pollMs ?? 1000;
  const reportMs = deps.reportMs ?? 5000;
  const uid = deps.uid ?? process.geteuid?.() ?? 0;
  const started = ctx.clock.now();
  let lastReport = -Infinity;
  let markerReady = false;
  ctx.logger.info('waiting for the mount guard', { dumpRoot: config.dumpRoot, timeoutMs: config.timeoutMs });
  for (;;) {
    let problem = await missing(config, mountinfoPath, ctx.clock.now());
    if (problem === undefined && !markerReady) {
      markerReady = true;
      ctx.logger.info('mount guard ready', { dumpRoot: config.dumpRoot });
    }
    if (problem === undefined && config.podFolder) {
      try {
        const folder = await withDir(PinnedDir.open(config.dumpRoot), (root) => preparePodFolder(root, config.podFolder!, uid));
        if ('ready' in folder) {
          ctx.logger.info('dump folder ready', { path: folder.ready });
        } else {
          problem = folder.wait;
        }
      } catch (error) {
        if (!(error instanceof FolderRefused)) throw error;
        ctx.logger.error('dump folder refused', { folder: error.folder, problem: error.message });
        return EXIT.failure;
      }
    }
    if (problem === undefined) break;
    const elapsed = ctx.clock.now() - started;
    if (ctx.signal.aborted) {
      ctx.logger.error('stopped while waiting', { missing: problem });
      return EXIT.failure;
    }
    if (config.timeoutMs > 0 && elapsed >= config.timeoutMs) {
      ctx.logger.error('timed out waiting for the mount guard', { missing: problem, waitedMs: elapsed });
      return EXIT.failure;
    }
    if (elapsed - lastReport >= reportMs) {
      ctx.logger.info('still waiting for the mount guard', { missing: problem, waitedMs: elapsed });
      lastReport = elapsed;
    }
    await ctx.clock.sleep(pollMs, ctx.signal);
  }
  ctx.setReady(true);
  return EXIT.ok;
}
