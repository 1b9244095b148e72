/**
 * Leak reports (issue 21): the whole object graph of a heap dump, its dominator tree, retained sizes
 * and leak suspects. records -> graph -> dominators -> suspects -> render, each its own module.
 *
 *   const doc = await analyzeFile('/dumps/java_pid1.hprof', { thresholdPercent: 10 });
 *   process.stdout.write(renderLeaksText(doc));
 */
import { open } from 'fs/promises';
import * as path from 'path';
import { pathToFileURL } from 'url';
import { analyzeLeaks, type LeakOptions, NotAnalyzable } from './analyze';
import { BudgetExceeded } from './budget';
import { type LeakDumpRef, LEAKS_SCHEMA, type LeaksDocument, notAnalyzed } from './document';
import type { Findings } from './describe';
import { fileInput, type InflateLimits } from './file-input';

export { analyzeLeaks, NotAnalyzable, BudgetExceeded, type LeakOptions, type Findings };
export * from './document';
export { headlineOf, renderLeaksText, bytesText, countText } from './render';
export { fileInput } from './file-input';

/** The report document from an analysis' findings. */
export function leaksDocument(dump: LeakDumpRef, f: Findings, memoryBudgetBytes: number | null, now = new Date()): LeaksDocument {
  return {
    schema: LEAKS_SCHEMA,
    status: 'analyzed',
    headline: f.suspects[0]?.headline ?? null,
    dump,
    generatedAt: now.toISOString(),
    heap: f.heap,
    suspects: f.suspects,
    topDominators: f.topDominators,
    analysis: { thresholdPercent: f.thresholdPercent, durationMs: f.durationMs, peakAnalysisBytes: f.peakAnalysisBytes, memoryBudgetBytes },
  };
}

/** Whether a file name is a dump this analysis reads: `*.hprof` or `*.hprof.gz`. */
export function dumpKindOf(name: string): 'hprof' | 'hprof-gzip' | undefined {
  if (name.endsWith('.hprof')) return 'hprof';
  if (name.endsWith('.hprof.gz')) return 'hprof-gzip';
  return undefined;
}

/**
 * Analyses a local dump file. Budgets exceeded and dumps that are no HPROF give a not-analyzed document
 * (with the reason); other errors (the file cannot be read) are thrown.
 */
export async function analyzeFile(file: string, options: LeakOptions & InflateLimits & { dump?: Partial<LeakDumpRef> } = {}): Promise<LeaksDocument> {
  const kind = dumpKindOf(path.basename(file));
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const input = fileInput(fh, size, kind === 'hprof-gzip', options);
    const dump: LeakDumpRef = {
      bucket: '',
      key: file,
      uri: pathToFileURL(file).href,
      size,
      ...(kind === 'hprof-gzip' ? { compression: 'gzip' as const } : {}),
      ...options.dump,
    };
    try {
      const findings = await analyzeLeaks(input, options);
      const withSize = kind === 'hprof-gzip' ? { ...dump, uncompressedSize: input.inflated() } : dump;
      return leaksDocument(withSize, findings, options.memoryBudgetBytes ?? null);
    } catch (error) {
      if (error instanceof BudgetExceeded || error instanceof NotAnalyzable) return notAnalyzed(dump, error.message);
      throw error;
    }
  } finally {
    await fh.close();
  }
}
