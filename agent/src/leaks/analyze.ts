/**
 * One leak analysis: records -> graph -> dominators -> suspects (each step its own module), then the
 * report's names and ids read back (describe.ts). The dump is read once as a stream; names and the
 * few objects the report shows are read again by position at the end through `input.read`.
 *
 *   const findings = await analyzeLeaks({ stream: (onChunk) => ..., read: fileNameReader(fh) }, { thresholdPercent: 10 });
 */
import type { NameReader } from '../triage/name-index';
import type { WindowReader } from './reread';
import { Budget, BudgetExceeded } from './budget';
import { describeFindings, type Findings } from './describe';
import { computeDominators } from './dominators';
import { buildGraph } from './graph';
import { HprofStream } from './hprof-stream';
import { GraphRecorder } from './records';
import { findSuspects } from './suspects';

export interface LeakOptions {
  /** Share of the reachable heap (percent) from which an object or class group is a suspect. @default 10 */
  readonly thresholdPercent?: number;
  /** Top dominators listed. @default 20 */
  readonly topDominators?: number;
  /** Bytes the analysis' arrays may take at once. @default no limit */
  readonly memoryBudgetBytes?: number;
  /** Wall-clock deadline, ms since the epoch. @default none */
  readonly deadline?: number;
}

export interface DumpInput {
  /** Feeds the whole HPROF stream (a `.hprof.gz` decompressed), in order, to `onChunk`. */
  stream(onChunk: (chunk: Buffer) => void): Promise<void>;
  /** Reads ranges of that stream (names). */
  readonly read: NameReader;
  /** Streams ranges of that stream (the objects read again). @default windowsOf(read) */
  readonly windows?: WindowReader;
}

/** A dump the analysis cannot make a graph of (not an HPROF, no heap): the reason goes into a not-analyzed report. */
export class NotAnalyzable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotAnalyzable';
  }
}

export { BudgetExceeded, type Findings };

export async function analyzeLeaks(input: DumpInput, options: LeakOptions = {}): Promise<Findings> {
  const started = Date.now();
  const thresholdPercent = options.thresholdPercent ?? 10;
  const budget = new Budget(options.memoryBudgetBytes ?? Infinity, options.deadline ?? Infinity);
  let stream: HprofStream | undefined;
  const recorder = new GraphRecorder(budget, () => stream!.segmentEnd);
  stream = new HprofStream(recorder);
  await input.stream((chunk) => {
    budget.check();
    stream!.update(chunk);
  });
  if (stream.idSize === 0) throw new NotAnalyzable(stream.issues[0] ?? 'not an HPROF stream');
  if (recorder.nodes === 0) throw new NotAnalyzable('the dump holds no heap objects');
  const issues = [...stream.issues];
  if (stream.issueCount > stream.issues.length) issues.push(`... and ${stream.issueCount - stream.issues.length} more problems`);
  if (!stream.complete) issues.push(`incomplete dump: ${stream.incompleteReason}`);
  if (recorder.unknownLayout > 0) issues.push(`${recorder.unknownLayout} instances came before their class's CLASS DUMP: their references are missing`);
  const read = { bytes: stream.bytes, complete: stream.complete && stream.issueCount === 0, version: stream.version };

  const graph = buildGraph(recorder, budget);
  if (graph.dangling > 0) issues.push(`${graph.dangling} references to objects not in the dump were left out`);
  if (graph.duplicateIds > 0) issues.push(`${graph.duplicateIds} objects share an id with another object (only the first is referenced)`);
  if (graph.unknownRoots > 0) issues.push(`${graph.unknownRoots} GC roots name objects not in the dump`);
  // a thread's name String -> its value array (String's one reference field), while the edges are here
  const threadValue = new Map<number, number>();
  for (const [, s] of graph.threadNames) {
    const start = s === 0 ? 0 : graph.refEnd![s - 1];
    if (graph.refEnd![s] > start) threadValue.set(s, graph.refs![start]);
  }
  const totalEdges = graph.refEnd!.length > 0 ? graph.refEnd![graph.nodes - 1] : 0;

  const doms = computeDominators(graph, budget);
  const found = findSuspects(graph, doms, budget, { threshold: thresholdPercent / 100, topDominators: options.topDominators ?? 20 });
  budget.check();

  return describeFindings({
    input, budget, recorder, graph, doms, found, issues, read, threadValue, totalEdges, thresholdPercent, started,
  });
}
