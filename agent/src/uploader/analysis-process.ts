/**
 * Runs one analysis in the analysis process (agent/src/triage/child-protocol.ts) and watches it from
 * outside: its CPU time (/proc/<pid>/stat: every thread, zlib's included), its resident memory
 * (/proc/<pid>/status) and its wall time. Past a limit it gets SIGKILL, wherever it is. The child
 * enforces the same CPU budget itself (and so ends with a partial summary); the watch here is the
 * backstop for what the child cannot notice (one call that never returns, memory that grows inside
 * one chunk). Never throws: the outcome says what happened.
 */
import { type ChildProcess, spawn } from 'child_process';
import { readFile } from 'fs/promises';
import { ANALYSIS_NODE_OPTIONS, ANALYSIS_PROCESS_ARG, type AnalysisReply, type AnalysisRequest } from '../triage/child-protocol';
import { cpuBudget, type DumpAnalysis, maxStreamBytes } from '../triage/dump-analysis';

export interface AnalysisProcessOptions {
  /** Node binary and the agent's script. */
  readonly command: readonly string[];
  /** Resident memory allowed to the analysis process. */
  readonly maxRssBytes: number;
  /** @default 200 ms */
  readonly pollMs?: number;
  readonly signal?: AbortSignal;
}

export type AnalysisProcessOutcome =
  | { readonly ok: true; readonly analysis: DumpAnalysis; readonly cpuSeconds: number; readonly peakRssBytes: number }
  | { readonly ok: false; readonly reason: string; readonly cpuSeconds: number; readonly peakRssBytes: number };

/** CPU seconds on top of the budget before the hard stop (start-up, the summary at the end). */
const CPU_GRACE_S = 5;
/** Linux's USER_HZ: /proc/<pid>/stat counts in these ticks (fixed at 100 for user space). */
const TICKS_PER_S = 100;
const MAX_REPLY_BYTES = 64 * 2 ** 20;

export async function runAnalysisProcess(fd: number, req: AnalysisRequest, o: AnalysisProcessOptions): Promise<AnalysisProcessOutcome> {
  const hardCpu = cpuBudget(req.budgets, maxStreamBytes(req.kind, req.size, req.budgets)) + CPU_GRACE_S;
  // the container's CPU limit is shared with the uploads: the wall clock gets a wide margin
  const maxWallMs = Math.max(60, 4 * hardCpu) * 1000;
  let child: ChildProcess;
  try {
    child = spawn(o.command[0], [...o.command.slice(1), ANALYSIS_PROCESS_ARG], {
      stdio: ['pipe', 'pipe', 'pipe', fd],
      env: { NODE_OPTIONS: ANALYSIS_NODE_OPTIONS },
    });
  } catch (error) {
    return { ok: false, reason: `the analysis process could not start: ${(error as Error).message}`, cpuSeconds: 0, peakRssBytes: 0 };
  }
  let killedFor: string | undefined;
  let cpu = 0;
  let peakRss = 0;
  const kill = (why: string) => {
    killedFor ??= why;
    child.kill('SIGKILL');
  };
  const out: Buffer[] = [];
  let outBytes = 0;
  let errText = '';
  child.stdout?.on('data', (d: Buffer) => {
    outBytes += d.length;
    if (outBytes > MAX_REPLY_BYTES) kill(`its reply was longer than ${MAX_REPLY_BYTES} bytes`);
    else out.push(d);
  });
  child.stderr?.on('data', (d: Buffer) => (errText = (errText + d.toString()).slice(-2000)));
  child.stdin?.on('error', () => undefined); // the child may exit before reading (start-up failure)
  child.stdin?.end(JSON.stringify(req));

  const started = Date.now();
  let polling = false;
  const poll = async () => {
    if (polling || child.pid === undefined) return;
    polling = true;
    try {
      const usage = await usageOf(child.pid);
      if (usage) {
        cpu = Math.max(cpu, usage.cpuSeconds);
        peakRss = Math.max(peakRss, usage.rssBytes);
        if (usage.cpuSeconds > hardCpu) kill(`it used more than ${hardCpu.toFixed(0)} CPU s (its budget for this dump)`);
        else if (usage.rssBytes > o.maxRssBytes) kill(`it needed more than ${Math.round(o.maxRssBytes / 2 ** 20)} MiB of memory (DUMP_ANALYSIS_MAX_MEMORY)`);
      }
      if (Date.now() - started > maxWallMs) kill(`it did not finish within ${Math.round(maxWallMs / 1000)} s`);
    } finally {
      polling = false;
    }
  };
  const timer = setInterval(() => void poll(), o.pollMs ?? 200);
  const onAbort = () => kill('the uploader is shutting down');
  o.signal?.addEventListener('abort', onAbort, { once: true });
  if (o.signal?.aborted) onAbort();

  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  clearInterval(timer);
  o.signal?.removeEventListener('abort', onAbort);

  const fail = (reason: string): AnalysisProcessOutcome => ({ ok: false, reason, cpuSeconds: cpu, peakRssBytes: peakRss });
  if (killedFor !== undefined) return fail(`the analysis process was stopped: ${killedFor}`);
  if (exit.error) return fail(`the analysis process could not start: ${exit.error.message}`);
  let reply: AnalysisReply | undefined;
  try {
    reply = JSON.parse(Buffer.concat(out).toString('utf8')) as AnalysisReply;
  } catch {
    reply = undefined;
  }
  if (reply?.ok) return { ok: true, analysis: reply.analysis, cpuSeconds: Math.max(cpu, reply.cpuSeconds), peakRssBytes: Math.max(peakRss, reply.peakRssBytes) };
  if (reply && !reply.ok) return fail(`the analysis failed: ${reply.error}`);
  const how = exit.signal ? `was killed by ${exit.signal}${exit.signal === 'SIGKILL' ? ' (out of memory?)' : ''}` : `exited with code ${exit.code}`;
  return fail(`the analysis process ${how}${errText.trim() ? `: ${lastLine(errText)}` : ''}`);
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return lines[lines.length - 1].slice(0, 300);
}

/** CPU seconds (all threads) and resident bytes of a process, or undefined once it is gone. */
export async function usageOf(pid: number): Promise<{ cpuSeconds: number; rssBytes: number } | undefined> {
  try {
    const [stat, status] = await Promise.all([readFile(`/proc/${pid}/stat`, 'utf8'), readFile(`/proc/${pid}/status`, 'utf8')]);
    // fields after the command name (which may hold spaces and parentheses): state is field 3, utime 14, stime 15
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]);
    const rss = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    return { cpuSeconds: ticks / TICKS_PER_S, rssBytes: rss ? Number(rss[1]) * 1024 : 0 };
  } catch {
    return undefined;
  }
}
