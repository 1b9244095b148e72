/**
 * `wait-ready`, run by init containers: wait until the mount guard's marker is visible through
 * this container's dump root AND that root is a mount point here, then optionally create the
 * pod's folder. Inside a real consumer the root is always a mount point (the kubelet's hostPath
 * bind), so the marker's content (node, source) is the real proof: it lives on the PVC and is
 * visible only through the guard's bind mount.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { WaitReadyConfig } from '../config';
import { EXIT, type ReadyMarker } from '../contract';
import { parseMountinfo, mountAt } from '../mount-guard/mountinfo';
import type { CommandContext } from '../runtime/context';

export interface WaitReadyDeps {
  /** @default /proc/self/mountinfo */
  readonly mountinfoPath?: string;
  /** @default 1000 */
  readonly pollMs?: number;
  /** How often a "still waiting" line is logged. @default 5000 */
  readonly reportMs?: number;
}

/** What is still missing, or undefined when ready. */
export async function missing(config: WaitReadyConfig, mountinfoPath: string): Promise<string | undefined> {
  const problems: string[] = [];
  const root = await fs.realpath(config.dumpRoot).catch(() => undefined);
  if (root === undefined) return `${config.dumpRoot} does not exist`;
  const entries = parseMountinfo(await fs.readFile(mountinfoPath, 'utf8'));
  if (!mountAt(entries, root)) problems.push(`${config.dumpRoot} is not a mount point`);
  const markerPath = path.join(config.dumpRoot, config.markerName);
  let marker: Partial<ReadyMarker> | undefined;
  try {
    marker = JSON.parse(await fs.readFile(markerPath, 'utf8')) as Partial<ReadyMarker>;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    problems.push(code === 'ENOENT' ? `marker ${markerPath} is missing` : `marker ${markerPath} is unreadable or not JSON`);
  }
  if (marker) {
    if (marker.node !== config.nodeName) problems.push(`marker names node "${String(marker.node)}", expected "${config.nodeName}"`);
    if (typeof marker.source !== 'string' || !marker.source.endsWith(`/${config.nodeName}`)) {
      problems.push(`marker source "${String(marker.source)}" does not end with /${config.nodeName}`);
    }
  }
  return problems.length ? problems.join('; ') : undefined;
}

/**
 * Namespace level (first path segment): 01777 like the node directory, because pods of the same
 * namespace may run under different UIDs on restart; the sticky bit protects each pod's folder.
 * Pod folder (deeper levels): 0755, owned by the init container's UID, which is the app's UID on
 * OpenShift (same pod, same SCC-assigned UID); the uploader reads with DAC_READ_SEARCH anyway.
 */
async function createSubdir(dumpRoot: string, subdir: string): Promise<string> {
  const parts = subdir.split('/');
  let current = dumpRoot;
  for (let i = 0; i < parts.length; i++) {
    current = path.join(current, parts[i]);
    const mode = i === 0 && parts.length > 1 ? 0o1777 : 0o755;
    try {
      await fs.mkdir(current);
      await fs.chmod(current, mode); // mkdir's mode is filtered by the umask
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  return current;
}

/** Resolves with the exit code: EXIT.ok once ready (and the folder made), EXIT.failure on timeout or abort. */
export async function runWaitReady(config: WaitReadyConfig, ctx: CommandContext, deps: WaitReadyDeps = {}): Promise<number> {
  const mountinfoPath = deps.mountinfoPath ?? '/proc/self/mountinfo';
  const pollMs = deps.pollMs ?? 1000;
  const reportMs = deps.reportMs ?? 5000;
  const started = ctx.clock.now();
  let lastReport = -Infinity;
  ctx.logger.info('waiting for the mount guard', { dumpRoot: config.dumpRoot, timeoutMs: config.timeoutMs });
  for (;;) {
    const problem = await missing(config, mountinfoPath);
    const elapsed = ctx.clock.now() - started;
    if (problem === undefined) break;
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
  ctx.logger.info('mount guard ready', { dumpRoot: config.dumpRoot });
  if (config.createSubdir !== undefined) {
    const dir = await createSubdir(config.dumpRoot, config.createSubdir);
    ctx.logger.info('dump folder ready', { path: dir });
  }
  return EXIT.ok;
}
