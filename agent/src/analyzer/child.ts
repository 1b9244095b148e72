/**
 * One analysis in a child process: `node agent.js analyze --json FILE` (agent/src/leaks/cli.ts) with the
 * parent's own Node binary and flags, so the work a tenant's bytes make slow never runs on the thread
 * that answers the probes. Budgets:
 *  - memory: `--memory-budget` (the analysis charges its arrays against it and reports "not analyzed"
 *    instead of exceeding it), plus a cap on the child's V8 heap; the child offers itself first to the
 *    kernel's OOM killer (oom_score_adj 1000), so an OOM kill takes the analysis, not the analyzer;
 *  - time: `--time-budget` inside, and a SIGKILL by PID from here a little after it;
 *  - CPU: its user + system time (all threads, /proc/<pid>/stat), SIGKILL by PID past the budget.
 */
import { spawn } from 'child_process';
import { readFileSync, writeFileSync } from 'fs';

/** How an analysis ended. */
export type ChildResult =
  | { readonly kind: 'report'; readonly json: string }
  | { readonly kind: 'budget'; readonly reason: string }
  | { readonly kind: 'crashed'; readonly reason: string }
  /** Stopped because the analyzer shuts down: it does not count against the dump. */
  | { readonly kind: 'interrupted'; readonly reason: string };

export interface ChildOptions {
  readonly file: string;
  readonly thresholdPercent: number;
  readonly memoryBudgetBytes: number;
  readonly timeBudgetMs: number;
  readonly cpuBudgetMs: number;
  /** The agent's entry script (process.argv[1]) and Node (process.execPath) with its flags. */
  readonly node: string;
  readonly script: string;
  readonly execArgv: readonly string[];
  readonly signal?: AbortSignal;
  /** Called with the child's PID once it runs (tests, logs). */
  readonly onStart?: (pid: number) => void;
}

/** Largest report accepted on the child's stdout (a report is tens of KiB). */
const MAX_STDOUT = 32 * 1024 * 1024;
const MAX_STDERR = 8192;
/** The child's own V8 heap: its big arrays are outside it; names and the report inside. */
const CHILD_HEAP_MB = 384;
/** Linux's USER_HZ (clock ticks in /proc/<pid>/stat): 100 on every architecture Kubernetes runs. */
const TICKS_PER_SECOND = 100;

/** CPU ms used so far by process `pid` (user + system, all its threads); undefined once it is gone. */
export function cpuMsOf(pid: number, read: (p: string) => string = (p) => readFileSync(p, 'utf8')): number | undefined {
  try {
    const stat = read(`/proc/${pid}/stat`);
    // the command name is in parentheses and may hold spaces: fields are counted after the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

export function runAnalysisChild(o: ChildOptions): Promise<ChildResult> {
  return new Promise((resolve) => {
    const args = [
      ...o.execArgv.filter((a) => !a.startsWith('--max-old-space-size')),
      `--max-old-space-size=${CHILD_HEAP_MB}`,
      // the analysis asks for a collection after freeing big arrays, so its memory follows its budget
      '--expose-gc',
      o.script, 'analyze', '--json',
      '--threshold', String(o.thresholdPercent),
      '--memory-budget', String(Math.max(2 ** 20, Math.floor(o.memoryBudgetBytes))),
      '--time-budget', String(Math.max(1, Math.ceil(o.timeBudgetMs / 1000))),
      o.file,
    ];
    const child = spawn(o.node, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const pid = child.pid;
    let stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = '';
    let stopped: { kind: 'budget' | 'crashed' | 'interrupted'; why: string } | undefined;
    const kill = (kind: 'budget' | 'crashed' | 'interrupted', why: string) => {
      stopped ??= { kind, why };
      if (pid !== undefined) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    };
    child.stdout.on('data', (c: Buffer) => {
      stdoutBytes += c.length;
      if (stdoutBytes > MAX_STDOUT) kill('crashed', `its report was larger than ${MAX_STDOUT} bytes`);
      else stdout.push(c);
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString('utf8')).slice(-MAX_STDERR);
    });
    if (pid !== undefined) {
      try {
        writeFileSync(`/proc/${pid}/oom_score_adj`, '1000');
      } catch {
        // not permitted here: the memory budget still holds
      }
      o.onStart?.(pid);
    }
    const started = Date.now();
    // the child stops itself at its time budget; this is the backstop (and the CPU budget)
    const watch = setInterval(() => {
      if (pid === undefined) return;
      if (Date.now() - started > o.timeBudgetMs + 10_000) kill('budget', `it ran out of its time budget (${o.timeBudgetMs / 1000} s)`);
      const cpu = cpuMsOf(pid);
      if (cpu !== undefined && cpu > o.cpuBudgetMs) kill('budget', `it used more than its CPU budget (${o.cpuBudgetMs / 1000} CPU s)`);
    }, 1000);
    const onAbort = () => kill('interrupted', 'the analyzer is shutting down');
    o.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (error) => {
      stopped ??= { kind: 'crashed', why: `it could not be started: ${error.message}` };
    });
    child.on('close', (code, sig) => {
      clearInterval(watch);
      o.signal?.removeEventListener('abort', onAbort);
      const out = Buffer.concat(stdout).toString('utf8');
      stdout = [];
      if (stopped !== undefined) return resolve({ kind: stopped.kind, reason: `the analysis was stopped: ${stopped.why}` });
      if (code === 0 && out.trim().startsWith('{')) return resolve({ kind: 'report', json: out });
      const how = sig !== null ? `was killed by ${sig}${sig === 'SIGKILL' ? ' (out of memory?)' : ''}` : `exited with code ${code}`;
      const last = stderr.trim().split('\n').filter(Boolean).pop();
      resolve({ kind: 'crashed', reason: `the analysis ${how}${last ? `: ${last.slice(0, 300)}` : ''}` });
    });
  });
}
