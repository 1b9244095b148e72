/** `agent uploader`: builds the S3 client from the resolved config and runs the loop until shutdown. */
import { S3Client } from '@aws-sdk/client-s3';
import type { S3Config, UploaderConfig } from '../config';
import { createPost } from '../net/http-post';
import { createAgents } from '../net/proxy';
import type { CommandContext } from '../runtime/context';
import type { Logger } from '../runtime/logger';
import { tuneV8ForFlatMemory } from './file-source';
import { createNotifier } from '../report/notifier';
import type { DumpReport } from '../report/report';
import { Retainer } from './after-upload';
import { nodePrefix } from './keys';
import { LifecycleCheck } from './lifecycle';
import { hprofTriage } from './triage';
import type { TriageOutcome, VerifiedDump } from './upload-job';
import { S3Store } from './s3-store';
import { Uploader } from './uploader';

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
  await new Uploader(config, store, retainer, ctx, {
    ...(config.analysis ? { triage: (kind) => hprofTriage(kind, config.nodeName) } : {}),
    ...(lifecycle ? { lifecycle } : {}),
    onVerified: (dump, triage) => notifier.dumpUploaded(dumpReport(dump, triage, config.nodeName)),
  }).run();
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
