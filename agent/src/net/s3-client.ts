/**
 * The S3 client every command that talks to S3 uses (the uploader, the heapdumps API server). Checksum mode
 * WHEN_REQUIRED (default) keeps stream bodies free of aws-chunked framing that S3-compatible servers reject;
 * no static keys = the SDK default chain (IRSA, web identity, instance roles). Our own loops retry, so the SDK
 * retries little; timeouts make a hung server an ordinary (retried) failure instead of a stuck request. The
 * agents add the extra CAs (S3_CA_BUNDLE_FILE) and the proxy (HTTPS_PROXY / HTTP_PROXY / NO_PROXY), which
 * the SDK ignores by itself. `directGets`: GETs of object bytes are read by DirectGetHandler (the heapdumps API's
 * downloads; direct-get.ts).
 */
import { S3Client } from '@aws-sdk/client-s3';
import type { S3Config } from '../config';
import type { Logger } from '../runtime/logger';
import { DirectGetHandler } from './direct-get';
import { createAgents } from './proxy';

const CONNECTION_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 120_000;

export function createS3Client(s3: S3Config, maxSockets = 16, logger?: Logger, o: { directGets?: boolean } = {}): S3Client {
  const agentOpts = { keepAlive: true, maxSockets };
  // The SDK writes some warnings straight to console (e.g. "error in a non-retryable streaming
  // request", which our own retry handles): route them into the JSON log at debug; drop its chatty info.
  const sdkLog = (...args: unknown[]) => logger?.debug('aws sdk', { detail: args.map((a) => (typeof a === 'string' ? a : (a as Error)?.message ?? typeof a)).join(' ') });
  const agents = createAgents({ ...agentOpts, caPem: s3.caBundle?.pem, proxy: s3.proxy });
  const config = {
    logger: { trace: () => undefined, debug: () => undefined, info: () => undefined, warn: sdkLog, error: sdkLog },
    region: s3.region,
    ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
    forcePathStyle: s3.forcePathStyle,
    requestChecksumCalculation: s3.checksumMode,
    responseChecksumValidation: s3.checksumMode,
    ...(s3.credentials ? { credentials: { accessKeyId: s3.credentials.accessKeyId, secretAccessKey: s3.credentials.secretAccessKey } } : {}),
    maxAttempts: 2,
    requestHandler: { connectionTimeout: CONNECTION_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, ...agents },
  };
  const client = new S3Client(config);
  if (!o.directGets) return client;
  // The SDK's own handler, built from the same options, takes every request DirectGetHandler does not.
  const direct = new DirectGetHandler(client.config.requestHandler, { ...agents, connectionTimeoutMs: CONNECTION_TIMEOUT_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS });
  return new S3Client({ ...config, requestHandler: direct });
}
