/**
 * The S3 client every command that talks to S3 uses (the uploader, the heapdumps API server). Checksum mode
 * WHEN_REQUIRED (default) keeps stream bodies free of aws-chunked framing that S3-compatible servers reject;
 * no static keys = the SDK default chain (IRSA, web identity, instance roles). Our own loops retry, so the SDK
 * retries little; timeouts make a hung server an ordinary (retried) failure instead of a stuck request. The
 * agents add the extra CAs (S3_CA_BUNDLE_FILE) and the proxy (HTTPS_PROXY / HTTP_PROXY / NO_PROXY), which
 * the SDK ignores by itself.
 */
import { S3Client } from '@aws-sdk/client-s3';
import type { S3Config } from '../config';
import type { Logger } from '../runtime/logger';
import { createAgents } from './proxy';

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
