/**
 * The analyses of verified (or about to be verified) dumps: one analysis process at a time (each
 * costs ~60-70 MiB while it runs; two would not fit beside two uploads in 256 MiB), taken in turn
 * across namespaces (the namespace served least recently goes next), each within its budgets
 * (analysis-process.ts). Uploads never wait for an analysis: a job asks for one when it starts its
 * read pass (if nothing else is being analysed it runs alongside, reading the same pages), and the
 * summary is written whenever its analysis is done.
 *
 * Every request gets a summary: the analysis's, a partial one that says which budget stopped it, or
 * one that says why the dump was not analysed (its analysis was running when the uploader last
 * stopped, the process failed, too many dumps of its namespace wait already). Each request holds a
 * descriptor of its own on the exact file version, so the dump may be archived or deleted meanwhile.
 */
import type { FileHandle } from 'fs/promises';
import { open } from 'fs/promises';
import { constants as fsc } from 'fs';
import { type FileIdentity, identityOf, sameFile } from '../fs/pinned-dir';
import type { Logger } from '../runtime/logger';
import type { AnalysedKind, AnalysisBudgets } from '../triage/dump-analysis';
import type { HeapSummary } from '../triage/summary';
import type { AnalysisJournal } from './analysis-journal';
import { runAnalysisProcess } from './analysis-process';
import type { UploaderMetrics } from './metrics';
import { shownId } from './scan-rules';

export interface AnalysesSettings {
  /** Node binary and the agent's script (the analysis process runs it). */
  readonly command: readonly string[];
  readonly budgets: AnalysisBudgets;
  readonly maxRssBytes: number;
}

export interface AnalysisOrder {
  /** The file version (analysis-journal.ts versionKey). */
  readonly version: string;
  /** The file's id below the root (for logs). */
  readonly id: string;
  /** Whose turn it counts against: the namespace. */
  readonly tenant: string;
  readonly kind: AnalysedKind;
  readonly state: FileIdentity;
  /** An open handle on the file; the queue reopens it for itself (the caller may close its own). */
  readonly fh: FileHandle;
}

/** Waiting analyses per namespace, and in all; beyond, a dump gets a "not analysed" summary. */
const MAX_WAITING_PER_TENANT = 8;
const MAX_WAITING = 64;
/** Results kept for versions not settled yet (a retried upload reuses its version's analysis). */
const MAX_RESULTS = 1024;

interface Waiting {
  readonly order: AnalysisOrder;
  readonly fh: FileHandle;
  resolve(heap: HeapSummary): void;
}

export class Analyses {
  private readonly results = new Map<string, Promise<HeapSummary>>();
  private readonly waiting = new Map<string, Waiting[]>();
  private readonly served = new Map<string, number>();
  private waitingCount = 0;
  private running = false;
  private turn = 0;

  constructor(
    private readonly settings: AnalysesSettings,
    private readonly journal: AnalysisJournal,
    private readonly interrupted: ReadonlyMap<string, string>,
    private readonly deps: { readonly log: Logger; readonly metrics: UploaderMetrics; readonly signal: AbortSignal },
  ) {
    deps.signal.addEventListener('abort', () => this.dropWaiting(), { once: true });
  }

  /** Shutdown: what waits gets a "not analysed" summary at once (the running one is stopped by the signal). */
  private dropWaiting(): void {
    for (const queue of this.waiting.values()) {
      for (const w of queue) {
        void w.fh.close().catch(() => undefined);
        w.resolve(notAnalysed('the uploader was shutting down'));
      }
    }
    this.waiting.clear();
    this.waitingCount = 0;
  }

  /** The summary of this file version (the same promise for every request of one version). */
  request(order: AnalysisOrder): Promise<HeapSummary> {
    let result = this.results.get(order.version);
    if (!result) {
      result = this.enqueue(order);
      this.results.set(order.version, result);
      // versions a tenant rewrote and never settled must not pile up
      while (this.results.size > MAX_RESULTS) this.results.delete(this.results.keys().next().value as string);
    }
    return result;
  }

  /** The version is settled (uploaded, or gone): its result is no longer needed here. */
  forget(version: string): void {
    this.results.delete(version);
    void this.journal.release(version);
  }

  /** Analyses waiting or running. */
  get pending(): number {
    return this.waitingCount + (this.running ? 1 : 0);
  }

  private async enqueue(order: AnalysisOrder): Promise<HeapSummary> {
    const since = this.interrupted.get(order.version);
    if (since !== undefined) {
      return this.skipped(order, `its analysis was running when the uploader stopped (${since}); it is not analysed again, so that a dump cannot keep the uploader restarting`);
    }
    const queue = this.waiting.get(order.tenant) ?? [];
    if (queue.length >= MAX_WAITING_PER_TENANT || this.waitingCount >= MAX_WAITING) {
      return this.skipped(order, `${queue.length >= MAX_WAITING_PER_TENANT ? `${queue.length} dumps of its namespace` : `${this.waitingCount} dumps`} were already waiting for analysis`);
    }
    let fh: FileHandle;
    try {
      fh = await reopen(order.fh, order.state);
    } catch (error) {
      return this.skipped(order, `the file could not be opened for the analysis: ${(error as Error).message}`);
    }
    await this.journal.add(order.version, order.id);
    return new Promise<HeapSummary>((resolve) => {
      queue.push({ order, fh, resolve });
      this.waiting.set(order.tenant, queue);
      this.waitingCount++;
      this.deps.metrics.analysisQueue.set(this.pending);
      this.next();
    });
  }

  private skipped(order: AnalysisOrder, reason: string): HeapSummary {
    this.deps.metrics.analyses.inc({ result: 'skipped' });
    this.deps.log.warn('dump not analysed', { path: shownId(order.id), reason });
    return notAnalysed(reason);
  }

  /** Starts the next analysis if none runs: the namespace served least recently first. */
  private next(): void {
    if (this.running) return;
    let pick: string | undefined;
    for (const [tenant, queue] of this.waiting) {
      if (queue.length === 0) continue;
      if (pick === undefined || (this.served.get(tenant) ?? -1) < (this.served.get(pick) ?? -1)) pick = tenant;
    }
    if (pick === undefined) return;
    const queue = this.waiting.get(pick) as Waiting[];
    const w = queue.shift() as Waiting;
    if (queue.length === 0) this.waiting.delete(pick);
    this.waitingCount--;
    this.served.set(pick, ++this.turn);
    this.running = true;
    void this.run(w).finally(() => {
      this.running = false;
      this.deps.metrics.analysisQueue.set(this.pending);
      this.next();
    });
  }

  private async run(w: Waiting): Promise<void> {
    const { order, fh } = w;
    let heap: HeapSummary;
    try {
      if (this.deps.signal.aborted) {
        heap = notAnalysed('the uploader was shutting down');
      } else {
        await this.journal.started(order.version);
        const out = await runAnalysisProcess(fh.fd, {
          kind: order.kind, size: order.state.size, budgets: this.settings.budgets,
          expect: { dev: String(order.state.dev), ino: String(order.state.ino) },
        }, { command: this.settings.command, maxRssBytes: this.settings.maxRssBytes, signal: this.deps.signal });
        const fields = { path: shownId(order.id), cpuSeconds: Number(out.cpuSeconds.toFixed(2)), peakRssMiB: Number((out.peakRssBytes / 2 ** 20).toFixed(1)) };
        if (out.ok) {
          heap = out.analysis.heap;
          this.deps.metrics.analyses.inc({ result: out.analysis.stopped ? 'stopped' : 'complete' });
          if (out.analysis.stopped) this.deps.log.warn('dump analysis stopped by its budget: the summary is partial', { ...fields, reason: out.analysis.stopped });
          else this.deps.log.info('dump analysed', fields);
        } else {
          heap = notAnalysed(out.reason);
          this.deps.metrics.analyses.inc({ result: 'failed' });
          this.deps.log.warn('dump analysis failed: the summary says why', { ...fields, reason: out.reason });
        }
      }
    } catch (error) {
      heap = notAnalysed(`the analysis failed: ${(error as Error).message}`);
    } finally {
      await fh.close().catch(() => undefined);
    }
    w.resolve(heap);
  }
}

/** A summary with nothing analysed, saying why. */
export function notAnalysed(reason: string): HeapSummary {
  return {
    complete: false,
    structure: { complete: false, reason: 'not analysed', bytes: 0 },
    issues: [`not analysed: ${reason}`],
    format: null,
    headerBytes: null,
    totals: { objects: 0, shallowBytes: 0, instances: 0, arrays: 0, classes: 0 },
    classes: [],
    largestObjects: [],
    threads: [],
  };
}

/** A second, independent descriptor on the same open file (through /proc: the file, not a path), checked to be it. */
async function reopen(fh: FileHandle, state: FileIdentity): Promise<FileHandle> {
  const again = await open(`/proc/self/fd/${fh.fd}`, fsc.O_RDONLY | fsc.O_NONBLOCK | fsc.O_NOCTTY);
  try {
    const st = await again.stat({ bigint: true });
    if (!st.isFile() || !sameFile(identityOf(st), state)) throw new Error('the descriptor no longer shows the same file');
    return again;
  } catch (error) {
    await again.close().catch(() => undefined);
    throw error;
  }
}
