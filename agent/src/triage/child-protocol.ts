/**
 * How the uploader talks to its analysis process (agent/src/triage/child.ts): `node agent.js
 * --analysis-process`, the dump file open on descriptor 3, one JSON request line on stdin, one JSON
 * reply line on stdout. A process of its own, not a worker thread, because (measured, docs/performance.md):
 *  - it runs with V8's JIT: the uploader runs `--jitless` (12 MiB less RSS), which makes the analysis of
 *    a dump of small objects ~11x slower (2.0 CPU s against 0.18 s for 375 MiB, Node 24);
 *  - its CPU time (zlib's threads included) and its memory can be measured and capped from outside
 *    (/proc/<pid>/stat, /proc/<pid>/status) and a SIGKILL ends it wherever it is, even inside one
 *    long call; a worker thread's zlib work runs on the shared thread pool, outside any accounting;
 *  - a crash or a runaway allocation ends the analysis, not the uploader: it raises its own
 *    oom_score_adj to 1000, so the kernel's OOM killer, if it ever has to act in the container's
 *    cgroup, picks it first.
 * It costs ~60-70 MiB of RSS while it runs (one at a time) and ~0.1 s to start.
 */
import type { AnalysedKind, AnalysisBudgets, DumpAnalysis } from './dump-analysis';

/** argv[0] of the analysis process (not a command of the CLI: only the uploader starts it). */
export const ANALYSIS_PROCESS_ARG = '--analysis-process';

/** The dump file, as the analysis process sees it. */
export const DUMP_FD = 3;

/**
 * NODE_OPTIONS of the analysis process: the JIT on (the container's `--jitless` is not inherited),
 * a small young generation (the analysis allocates little: typed arrays, a few strings).
 */
export const ANALYSIS_NODE_OPTIONS = '--max-semi-space-size=2';

export interface AnalysisRequest {
  readonly kind: AnalysedKind;
  /** Bytes of the file to analyse (the version that was observed). */
  readonly size: number;
  readonly budgets: AnalysisBudgets;
  /** Device and inode the descriptor must have (decimal strings). */
  readonly expect: { readonly dev: string; readonly ino: string };
}

export type AnalysisReply =
  | { readonly ok: true; readonly analysis: DumpAnalysis; readonly cpuSeconds: number; readonly peakRssBytes: number }
  | { readonly ok: false; readonly error: string };

/** Largest request line read by the analysis process. */
export const MAX_REQUEST_BYTES = 64 * 1024;
