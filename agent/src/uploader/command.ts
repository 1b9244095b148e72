/** `agent uploader`: builds the S3 client from the resolved config and runs the loop until shutdown. */
import type { UploaderConfig } from '../config';
import { createPost } from '../net/http-post';
import { createS3Client } from '../net/s3-client';
import type { CommandContext } from '../runtime/context';
import type { Logger } from '../runtime/logger';
import { tuneV8ForFlatMemory } from './file-source';
import { createNotifier } from '../report/notifier';
import type { DumpReport } from '../report/report';
import { retrievalHint, type RetrievalHintOptions } from '../report/retrieval-hint';
import { Retainer } from './after-upload';
import { Analyses } from './analyses';
import { AnalysisJournal } from './analysis-journal';
import { nodePrefix } from './keys';
import { LifecycleCheck } from './lifecycle';
import { createUploaderMetrics } from './metrics';
import { DEFAULT_BACKOFF } from './retry';
import { Summaries, type VerifiedListener } from './summaries';
import type { TriageOutcome, VerifiedDump } from './upload-job';
import { S3Store } from './s3-store';
import { Uploader, type UploaderOptions } from './uploader';
import { analyzerWaker } from '../analyzer/wake-client';

// The S3 client is shared with the heapdumps API server (agent/src/net/s3-client.ts).
export { createS3Client };

export function createStore(
  config: UploaderConfig,
  ctx: Pick<CommandContext, 'logger'>,
  client = createS3Client(config.s3, config.concurrency + 4, ctx.logger.child('aws-sdk')),
): S3Store {
  return new S3Store(client, {
    bucket: config.s3.bucket,
    storageClass: config.s3.storageClass,
    partSizeBytes: config.partSizeBytes,
    concurrency: config.concurrency,
    multipartThresholdBytes: config.multipartThresholdBytes,
    logger: ctx.logger.child('s3'),
    encryption: config.encryption,
    objectTags: config.objectTags,
  });
}

/** The check that the bucket's lifecycle rule expires this node's dumps (none with S3_RETENTION_DAYS=0). */
export function createLifecycleCheck(
  config: UploaderConfig,
  store: S3Store,
  ctx: Pick<CommandContext, 'logger' | 'clock' | 'registry'>,
  intervalMs?: number,
): LifecycleCheck | undefined {
  if (config.retentionDays === 0) return undefined;
  return new LifecycleCheck(store, {
    keyPrefix: nodePrefix(config.s3.prefix, config.nodeName), retentionDays: config.retentionDays, ...(intervalMs !== undefined ? { intervalMs } : {}),
  }, { clock: ctx.clock, logger: ctx.logger.child('lifecycle'), registry: ctx.registry });
}

/** What happens to verified dumps (AFTER_UPLOAD) and how long archived ones stay (retention). */
export function createRetainer(config: UploaderConfig, store: S3Store, logger: Logger): Retainer {
  return new Retainer({
    afterUpload: config.afterUpload,
    nodeName: config.nodeName,
    prefix: config.s3.prefix,
    retentionMaxAgeMs: config.retentionMaxAgeMs,
    retentionMaxBytes: config.retentionMaxBytes,
  }, store, logger);
}

export async function runUploader(config: UploaderConfig, ctx: CommandContext): Promise<void> {
  tuneV8ForFlatMemory();
  const store = createStore(config, ctx);
  ctx.onShutdown('s3 client', () => store.client.destroy());
  const retainer = createRetainer(config, store, ctx.logger.child('retain'));
  // The webhook trusts what S3 trusts and leaves through the same proxy (a cluster-wide proxy is the way out).
  const post = createPost({ ...(config.s3.caBundle ? { caPem: config.s3.caBundle.pem } : {}), ...(config.s3.proxy ? { proxy: config.s3.proxy } : {}) });
  const notifier = createNotifier(config.notify, config.nodeName, { logger: ctx.logger, clock: ctx.clock, registry: ctx.registry, signal: ctx.signal, post });
  ctx.onShutdown('notifications', () => notifier.close());
  const lifecycle = createLifecycleCheck(config, store, ctx);
  const wakeAnalyzer = config.analyzerWakeUrl !== undefined ? analyzerWaker(config.analyzerWakeUrl, ctx.logger.child('analyzer-wake')) : undefined;
  const opts = await summaryParts(config, store, ctx, (dump, triage) => {
    notifier.dumpUploaded(dumpReport(dump, triage, config.nodeName, config.notify.retrieval));
    wakeAnalyzer?.();
  });
  await new Uploader(config, store, retainer, ctx, { ...opts, ...(lifecycle ? { lifecycle } : {}) }).run();
}

/**
 * The analyses (in their own process, one at a time), the journal that remembers them across a
 * restart, and the summaries written from them; the summaries a previous process owed are written first.
 */
export async function summaryParts(
  config: UploaderConfig,
  store: S3Store,
  ctx: Pick<CommandContext, 'logger' | 'clock' | 'registry' | 'signal' | 'agentCommand'>,
  onVerified: VerifiedListener | undefined,
  backoff = DEFAULT_BACKOFF,
): Promise<Pick<UploaderOptions, 'summaries' | 'analyses'>> {
  const log = ctx.logger.child('analysis');
  const metrics = createUploaderMetrics(ctx.registry);
  const { journal, atStart } = await AnalysisJournal.open(config.stateDir, log);
  const summaries = new Summaries({
    store, journal, nodeName: config.nodeName, backoff, clock: ctx.clock, signal: ctx.signal, log, metrics,
    // the leak analyzer is deployed: the summary names the leak report it writes
    leakReports: config.analyzerWakeUrl !== undefined,
    ...(onVerified ? { onVerified } : {}),
  });
  summaries.writeOwed(atStart.owed);
  if (!config.analysis) return { summaries };
  if (!ctx.agentCommand) throw new Error('the uploader needs the agent\'s own command line to start its analysis process');
  const analyses = new Analyses({
    command: ctx.agentCommand,
    budgets: { cpuSeconds: config.analysisCpuSeconds, inflateMaxRatio: config.inflateMaxRatio, inflateMaxBytes: config.inflateMaxBytes },
    maxRssBytes: config.analysisMaxMemoryBytes,
  }, journal, atStart.interrupted, { log, metrics, signal: ctx.signal });
  return { summaries, analyses };
}

/** What the owning team is told about one verified dump. */
export function dumpReport(dump: VerifiedDump, triage: TriageOutcome | undefined, node: string, retrieval?: RetrievalHintOptions): DumpReport {
  const hint = retrieval !== undefined ? retrievalHint(dump.namespace ?? '', dump.key, retrieval) : undefined;
  return {
    namespace: dump.namespace ?? '',
    pod: dump.pod ?? '',
    node,
    objectUri: `s3://${dump.bucket}/${dump.key}`,
    key: dump.key,
    size: dump.storedSize,
    sha256: dump.sha256,
    complete: dump.complete === 'true',
    summaryKeys: dump.summaryKeys ? [dump.summaryKeys.json, dump.summaryKeys.text] : [],
    topClasses: triage?.topClasses ?? [],
    uploadedAt: Date.parse(dump.uploadedAt),
    ...(hint !== undefined ? { retrieval: hint } : {}),
  };
}
