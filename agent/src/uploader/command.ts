/** `agent uploader`: builds the S3 client from the resolved config and runs the loop until shutdown. */
import { S3Client } from '@aws-sdk/client-s3';
import type { S3Config, UploaderConfig } from '../config';
import { createAgents } from '../net/proxy';
import type { CommandContext } from '../runtime/context';
import type { Logger } from '../runtime/logger';
import { tuneV8ForFlatMemory } from './file-source';
import { createNotifier } from '../report/notifier';
import type { DumpReport } from '../report/report';
import { Retainer } from './after-upload';
import { Analyses } from './analyses';
import { AnalysisJournal } from './analysis-journal';
import { createUploaderMetrics } from './metrics';
import { DEFAULT_BACKOFF } from './retry';
import { Summaries, type VerifiedListener } from './summaries';
import type { TriageOutcome, VerifiedDump } from './upload-job';
import { S3Store } from './s3-store';
import { Uploader, type UploaderOptions } from './uploader';

/**
 * The S3 client. Checksum mode WHEN_REQUIRED (default) keeps stream bodies free of aws-chunked
 * framing that S3-compatible servers reject; no static keys = the SDK default chain (IRSA, web
 * identity, instance roles). Our own loop retries uploads, so the SDK retries little; timeouts make a
 * hung server an ordinary (retried) failure instead of a stuck upload. The agents add the extra CAs
 * (S3_CA_BUNDLE_FILE) and the proxy (HTTPS_PROXY / HTTP_PROXY / NO_PROXY), which the SDK ignores by itself.
 */
export function createS3Client(s3: S3Config, maxSockets = 16, logger?: Logger): S3Client {
  const agentOpts = { keepAlive: true, maxSockets };
  // The SDK writes some warnings straight to console (e.g. "error in a non-retryable streaming
  // request", which our own retry handles): route them into the JSON log at debug; drop its chatty info.
  const sdkLog = (...args: unknown[]) => logger?.debug('aws sdk', { detail: args.map((a) => (typeof a === 'string' ? a : (a as Error)?.message ?? typeof a)).join(' ') });
  return new S3Client({
    logger: { trace: () => undefined, debug: () => undefined, info: () => undefined, warn: sdkLog, error: sdkLog },
    region: s3.region,
    ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
    forcePathStyle: s3.forcePathStyle,
    requestChecksumCalculation: s3.checksumMode,
    responseChecksumValidation: s3.checksumMode,
    ...(s3.credentials ? { credentials: { accessKeyId: s3.credentials.accessKeyId, secretAccessKey: s3.credentials.secretAccessKey } } : {}),
    maxAttempts: 2,
    requestHandler: {
      connectionTimeout: 5_000,
      requestTimeout: 120_000,
      ...createAgents({ ...agentOpts, caPem: s3.caBundle?.pem, proxy: s3.proxy }),
    },
  });
}

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
  });
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
  const notifier = createNotifier(config.notify, config.nodeName, { logger: ctx.logger, clock: ctx.clock, registry: ctx.registry, signal: ctx.signal });
  ctx.onShutdown('notifications', () => notifier.close());
  const opts = await summaryParts(config, store, ctx, (dump, triage) => notifier.dumpUploaded(dumpReport(dump, triage, config.nodeName)));
  await new Uploader(config, store, retainer, ctx, opts).run();
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
  const summaries = new Summaries({ store, journal, nodeName: config.nodeName, backoff, clock: ctx.clock, signal: ctx.signal, log, metrics, ...(onVerified ? { onVerified } : {}) });
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
export function dumpReport(dump: VerifiedDump, triage: TriageOutcome | undefined, node: string): DumpReport {
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
  };
}
