/**
 * Process helpers for tests: spawn children whose output we keep, stop everything by PID.
 *
 * Every process or server a test starts registers a cleanup here. Tests call `disposeAll()` in
 * `afterAll` (the S3 helpers re-export it); a `process.on('exit')` hook SIGKILLs any PID still
 * registered as a last resort (e.g. when a test file throws before its afterAll ran).
 * Processes are only ever stopped by their own PID, never by name.
 */
import { spawn, ChildProcess, SpawnOptions } from 'child_process';
import { existsSync, readFileSync } from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as path from 'path';

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface TrackedProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Lines written so far (kept up to `maxLines`, oldest dropped first). */
  readonly stdout: string[];
  readonly stderr: string[];
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;
  /** The exit info once exited, undefined while running. */
  exitInfo(): ExitInfo | undefined;
  /** Sends a signal by PID (no-op once exited). */
  signal(sig: NodeJS.Signals): void;
  /** Stops the process: SIGTERM, then SIGKILL after `graceMs` (default 5 s). Idempotent. */
  dispose(graceMs?: number): Promise<ExitInfo>;
  /** stdout and stderr joined, for error messages. */
  output(): string;
}

export interface SpawnTrackedOptions extends SpawnOptions {
  /** Lines kept per stream (default 2000). */
  readonly maxLines?: number;
  /** Register for cleanup by disposeAll()/exit hook (default true). */
  readonly register?: boolean;
  /** Also SIGKILL it from a detached watchdog if this process dies without cleanup (servers; default false). */
  readonly watchdog?: boolean;
}

type Cleanup = () => Promise<void>;

/**
 * A path inside the repo: relative to this file, or to the cwd when this code is bundled elsewhere
 * (benchmark scripts run from the repo root).
 */
export function repoPath(...parts: string[]): string {
  const beside = path.resolve(__dirname, '..', '..', ...parts);
  if (existsSync(beside)) return beside;
  const fromCwd = path.resolve(...parts);
  if (existsSync(fromCwd)) return fromCwd;
  throw new Error(`repoPath: ${parts.join('/')} not found under ${path.resolve(__dirname, '..', '..')} nor ${process.cwd()}`);
}

/** Cleanups to run in disposeAll(), newest first. */
const cleanups = new Set<Cleanup>();
/** PIDs to SIGKILL if the process exits with them still running. */
const livePids = new Set<number>();

function killLivePidsOnExit(): void {
  for (const pid of livePids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * The exit hook is installed while any PID is tracked and removed when none is: jest loads this module
 * once per test file in the same worker, and permanent listeners would pile up (MaxListenersExceeded).
 */
let exitHooked = false;
function addLivePid(pid: number): void {
  livePids.add(pid);
  if (!exitHooked) {
    process.on('exit', killLivePidsOnExit);
    exitHooked = true;
  }
}
function removeLivePid(pid: number): void {
  livePids.delete(pid);
  if (exitHooked && livePids.size === 0) {
    process.off('exit', killLivePidsOnExit);
    exitHooked = false;
  }
}

/**
 * Starts a detached shell that runs `onDeath` (e.g. `kill -9 PID`, `ceph-down.sh DIR`) if this process dies
 * without cleaning up (a jest worker killed by a timeout runs no exit hook). Returns a cancel function that
 * stops the watchdog by its PID.
 */
export function startWatchdog(onDeath: string): () => void {
  const script = `while kill -0 ${process.pid} 2>/dev/null && [ "$(awk '{print $3}' /proc/${process.pid}/stat 2>/dev/null)" != Z ]; do sleep 1; done; ${onDeath}`;
  const child = spawn('bash', ['-c', script], { detached: true, stdio: 'ignore' });
  child.on('error', () => undefined);
  child.unref();
  return () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
}

/** Registers a cleanup for disposeAll(); returns a function that unregisters it. */
export function registerCleanup(fn: Cleanup): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

/** Marks a PID (e.g. a daemon started by a script) for the last-resort SIGKILL at exit. */
export function trackPid(pid: number): void {
  addLivePid(pid);
}

export function untrackPid(pid: number): void {
  removeLivePid(pid);
}

/** Runs every registered cleanup (newest first), collecting errors; call from afterAll. */
export async function disposeAll(): Promise<void> {
  const errors: unknown[] = [];
  for (const fn of [...cleanups].reverse()) {
    cleanups.delete(fn);
    try {
      await fn();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length > 0) {
    throw new Error(`disposeAll: ${errors.length} cleanup(s) failed: ${errors.map(String).join('; ')}`);
  }
}

/** True while PID exists and is not a zombie (PID 1 here may not reap orphans). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // state is the field after the parenthesised command name
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Stops a PID that is not our child: SIGTERM, poll, SIGKILL after graceMs. */
export async function stopPid(pid: number, graceMs = 5000, sig: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  try {
    process.kill(pid, sig);
  } catch {
    untrackPid(pid);
    return;
  }
  const deadline = Date.now() + graceMs;
  while (pidAlive(pid) && Date.now() < deadline) await sleep(50);
  if (pidAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone in between
    }
    while (pidAlive(pid)) await sleep(20);
  }
  untrackPid(pid);
}

/** A free TCP port on 127.0.0.1 (bind port 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error(`freePort: unexpected address ${String(addr)}`));
        return;
      }
      srv.close(() => resolve(addr.port));
    });
  });
}

function collectLines(stream: NodeJS.ReadableStream | null, into: string[], maxLines: number): void {
  if (!stream) return;
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    into.push(...parts);
    if (into.length > maxLines) into.splice(0, into.length - maxLines);
  });
  stream.on('end', () => {
    if (partial) into.push(partial);
  });
}

/** Spawns a child, keeps its output lines, registers it for cleanup by PID. */
export function spawnTracked(cmd: string, args: string[], opts: SpawnTrackedOptions = {}): TrackedProcess {
  const { maxLines = 2000, register = true, watchdog = false, ...spawnOpts } = opts;
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOpts });
  if (child.pid === undefined) {
    // ENOENT etc. arrive later as an 'error' event: swallow that and throw one clear error now
    child.on('error', () => undefined);
    throw new Error(`spawnTracked: could not start '${cmd}' (not found or not executable); args: ${args.join(' ')}`);
  }
  const pid = child.pid;
  const stdout: string[] = [];
  const stderr: string[] = [];
  collectLines(child.stdout, stdout, maxLines);
  collectLines(child.stderr, stderr, maxLines);
  let info: ExitInfo | undefined;
  const cancelWatchdog = watchdog ? startWatchdog(`kill -9 ${pid} 2>/dev/null`) : () => undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    // 'close' (not 'exit') so that all output lines are collected when this resolves
    child.on('close', (code, signal) => {
      info = { code, signal };
      removeLivePid(pid);
      cancelWatchdog();
      resolve(info);
    });
    child.on('error', () => {
      if (info === undefined && child.exitCode === null && child.signalCode === null && !pidAlive(pid)) {
        info = { code: null, signal: null };
        removeLivePid(pid);
        cancelWatchdog();
        resolve(info);
      }
    });
  });
  addLivePid(pid);

  let unregister: () => void = () => undefined;
  const proc: TrackedProcess = {
    pid,
    child,
    stdout,
    stderr,
    exited,
    exitInfo: () => info,
    signal(sig) {
      if (info === undefined) {
        try {
          process.kill(pid, sig);
        } catch {
          // already gone
        }
      }
    },
    async dispose(graceMs = 5000) {
      unregister();
      if (info !== undefined) return info;
      proc.signal('SIGTERM');
      const timer = setTimeout(() => proc.signal('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
    output: () => `stdout:\n${stdout.join('\n')}\nstderr:\n${stderr.join('\n')}`,
  };
  if (register) unregister = registerCleanup(async () => void (await proc.dispose()));
  return proc;
}

/** Runs a command to completion (tracked while it runs); never rejects on a non-zero exit. */
export async function runTracked(
  cmd: string,
  args: string[],
  opts: SpawnTrackedOptions & { timeoutMs?: number } = {},
): Promise<{ stdout: string; stderr: string; code: number }> {
  const { timeoutMs = 120_000, ...rest } = opts;
  const p = spawnTracked(cmd, args, { maxLines: 1_000_000, ...rest });
  const timer = setTimeout(() => void p.dispose(2000), timeoutMs);
  const { code, signal } = await p.exited;
  clearTimeout(timer);
  await p.dispose();
  return { stdout: p.stdout.join('\n'), stderr: p.stderr.join('\n'), code: code ?? (signal ? 128 : 1) };
}

/** Resolves true once anything answers HTTP on the port (any status). */
function answersHttp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', timeout: 1000, agent: false }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
  });
}

/** Polls until the port answers HTTP; fails early if the process exited. */
export async function waitForHttp(port: number, timeoutMs: number, exited?: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await answersHttp(port)) return;
    if (exited?.()) throw new Error(`server on port ${port} exited before answering HTTP`);
    await sleep(50);
  }
  throw new Error(`nothing answered HTTP on 127.0.0.1:${port} within ${timeoutMs} ms`);
}
