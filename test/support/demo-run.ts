/**
 * Runs `npm run demo`'s entry point as CI does (CI=true, no terminal, no stdin) and records what it left
 * behind: every process it starts is in a cgroup v1 `pids` group of its own (the simulated kubelet moves
 * containers into `memory` and `cpu` groups only, so the `pids` membership is inherited by all of them), and its
 * TMPDIR is a fresh directory of the caller's. Both must be empty once the demo exited.
 */
import { spawn } from 'child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { repoPath, sleep } from './procs';

const PIDS_ROOT = '/sys/fs/cgroup/pids';

export interface DemoRunOptions {
  readonly args?: readonly string[];
  readonly env?: Record<string, string>;
  /** Run as this uid/gid (setpriv), e.g. 65534 for the path without root. */
  readonly user?: number;
  /** Send SIGINT to the demo's process group (as Ctrl-C on a terminal does) once its output matches. */
  readonly interruptOn?: RegExp;
  /** @default 120 s (then SIGINT) */
  readonly timeoutMs?: number;
}

export interface DemoRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
  /** PIDs still in the run's pids group after the exit (undefined: no pids cgroup here, not checked). */
  readonly leftPids?: readonly number[];
  /** Entries left in the run's TMPDIR. */
  readonly leftFiles: readonly string[];
}

/** Whether a run's processes can be counted (root and a cgroup v1 pids hierarchy). */
export function pidsCgroupAvailable(): boolean {
  return process.getuid?.() === 0 && existsSync(path.join(PIDS_ROOT, 'cgroup.procs'));
}

let seq = 0;

export async function runDemo(opts: DemoRunOptions = {}): Promise<DemoRun> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'demo-test-'));
  // as /tmp: the containers run as other users and must reach the node's files below it
  chmodSync(tmp, opts.user !== undefined ? 0o777 : 0o755);
  const cgroup = pidsCgroupAvailable() ? path.join(PIDS_ROOT, `demo-test-${process.pid}-${++seq}`) : undefined;
  if (cgroup) mkdirSync(cgroup);
  try {
    const entry = [process.execPath, repoPath('scripts', 'run-ts.cjs'), repoPath('scripts', 'demo', 'demo.ts'), ...(opts.args ?? [])];
    const asUser = opts.user !== undefined ? ['setpriv', `--reuid=${opts.user}`, `--regid=${opts.user}`, '--clear-groups'] : [];
    // the shell joins the group, then becomes the demo
    const argv = cgroup ? ['sh', '-c', `echo $$ > ${cgroup}/cgroup.procs && exec "$@"`, 'sh', ...asUser, ...entry] : [...asUser, ...entry];
    const t0 = Date.now();
    const child = spawn(argv[0], argv.slice(1), {
      cwd: repoPath(),
      stdio: ['ignore', 'pipe', 'pipe'],
      // its own process group, so a Ctrl-C can be sent to all of it as a terminal does
      detached: true,
      env: { ...process.env, CI: 'true', TMPDIR: tmp, HOME: tmp, ...opts.env },
    });
    let stdout = '';
    let stderr = '';
    let interrupted = false;
    const interrupt = () => {
      if (interrupted || child.pid === undefined) return;
      interrupted = true;
      try {
        process.kill(-child.pid, 'SIGINT');
      } catch {
        // already gone
      }
    };
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (opts.interruptOn?.test(stdout)) interrupt();
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(interrupt, opts.timeoutMs ?? 120_000);
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    clearTimeout(timer);
    const ms = Date.now() - t0;
    let leftPids: number[] | undefined;
    if (cgroup) {
      // a process the demo stops may take a moment to be gone after the demo itself exited
      for (let i = 0; i < 20; i++) {
        leftPids = readFileSync(path.join(cgroup, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
        if (leftPids.length === 0) break;
        await sleep(100);
      }
    }
    return { code, stdout, stderr, ms, ...(leftPids ? { leftPids } : {}), leftFiles: readdirSync(tmp) };
  } finally {
    if (cgroup) {
      // anything left is the demo's: stopped by PID, then the group removed
      for (const pid of readFileSync(path.join(cgroup, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // gone
        }
      }
      for (let i = 0; i < 50 && readFileSync(path.join(cgroup, 'cgroup.procs'), 'utf8').trim() !== ''; i++) await sleep(100);
      rmdirSync(cgroup);
    }
    rmSync(tmp, { recursive: true, force: true });
  }
}
