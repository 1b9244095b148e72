/**
 * Writing `<key>.summary.json` and `<key>.summary.txt` next to a verified dump, once its analysis is
 * done (analyses.ts), then telling the team (onVerified). Never blocks or fails the dump: the upload
 * is finished before this starts. Transient S3 errors are retried a few times with backoff; then a
 * failure is logged and counted. Until a summary is written, the journal (analysis-journal.ts) owes
 * it, so a restart still writes one ("not analysed: the uploader restarted").
 */
import { OBJECT_METADATA } from '../contract';
import type { Clock } from '../runtime/clock';
import type { Logger } from '../runtime/logger';
import type { HeapSummary } from '../triage/summary';
import { notAnalysed } from './analyses';
import type { AnalysisJournal } from './analysis-journal';
import { metadataValue } from './keys';
import { podTags } from './object-tags';
import type { UploaderMetrics } from './metrics';
import { backoffDelay, type BackoffPolicy, classifyFailure } from './retry';
import type { S3Store } from './s3-store';
import { triageOutcome } from './triage';
import type { TriageOutcome, VerifiedDump } from './upload-job';

/** Attempts to write a dump's summary objects (transient errors only are retried). */
const SUMMARY_ATTEMPTS = 4;

export type VerifiedListener = (dump: VerifiedDump, triage: TriageOutcome | undefined) => void;

export interface SummariesDeps {
  readonly store: S3Store;
  readonly journal: AnalysisJournal;
  readonly nodeName: string;
  readonly backoff: BackoffPolicy;
  readonly clock: Clock;
  readonly signal: AbortSignal;
  readonly log: Logger;
  readonly metrics: UploaderMetrics;
  /** The leak analyzer is deployed: summaries name its report. @default false */
  readonly leakReports?: boolean;
  readonly onVerified?: VerifiedListener;
}

export class Summaries {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly deps: SummariesDeps) {}

  /**
   * The dump of file version `version` is verified: its summary follows when `analysis` resolves,
   * then the team is told; without an analysis (not an HPROF, DUMP_ANALYSIS off) the team is told now.
   */
  verified(version: string, dump: VerifiedDump, analysis: Promise<HeapSummary> | undefined): void {
    if (!analysis || !dump.summaryKeys) {
      this.deps.onVerified?.(dump, undefined);
      return;
    }
    const { seconds: _seconds, ...kept } = dump;
    void this.deps.journal.owe(version, kept);
    this.track(analysis.then((h) => this.write(version, dump, h)));
  }

  /** Summaries the previous process owed (it stopped before writing them). */
  writeOwed(owed: ReadonlyArray<{ readonly dump: Omit<VerifiedDump, 'seconds'>; readonly reason: string }>): void {
    for (const o of owed) this.track(this.write(undefined, { ...o.dump, seconds: 0 }, notAnalysed(o.reason)));
  }

  /** Resolves once every summary started so far is written or given up. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private track(p: Promise<void>): void {
    const t = p.catch((error: Error) => this.deps.log.warn('dump summary failed', { error })).finally(() => this.inFlight.delete(t));
    this.inFlight.add(t);
  }

  private async write(version: string | undefined, dump: VerifiedDump, heap: HeapSummary): Promise<void> {
    const { store, log, metrics } = this.deps;
    const keys = dump.summaryKeys;
    const triage = triageOutcome(heap, this.deps.nodeName, this.deps.leakReports ?? false);
    if (!keys) {
      this.deps.onVerified?.(dump, triage);
      return;
    }
    const { json, text } = triage.render(dump);
    // header values must be printable ASCII (a dump's name need not be)
    const metadata = { [OBJECT_METADATA.node]: metadataValue(this.deps.nodeName), dump: metadataValue(keys.json.slice(0, -'.summary.json'.length).split('/').pop() ?? '') };
    const tags = podTags(dump.namespace, dump.pod);
    for (let attempt = 0; ; attempt++) {
      try {
        await store.putSmall(keys.json, Buffer.from(json), 'application/json', metadata, this.deps.signal, tags);
        await store.putSmall(keys.text, Buffer.from(text), 'text/plain; charset=utf-8', metadata, this.deps.signal, tags);
        metrics.summaries.inc({ result: 'written' });
        log.info('dump summary written', { key: keys.json });
        if (version !== undefined) await this.deps.journal.remove(version);
        break;
      } catch (error) {
        const transient = classifyFailure(error).kind === 'transient';
        if (transient && attempt + 1 < SUMMARY_ATTEMPTS && !this.deps.signal.aborted) {
          await this.deps.clock.sleep(Math.max(100, backoffDelay(attempt, this.deps.backoff)), this.deps.signal).catch(() => undefined);
          continue;
        }
        metrics.summaries.inc({ result: 'failed' });
        log.warn('dump summary not written (the dump itself is safe in S3)', { key: keys.json, attempts: attempt + 1, error: error as Error });
        if (this.deps.signal.aborted) return; // owed: the next start writes it
        if (version !== undefined) await this.deps.journal.remove(version);
        break;
      }
    }
    this.deps.onVerified?.(dump, triage);
  }
}
