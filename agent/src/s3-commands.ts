/**
 * The two commands that use S3 (and so the AWS SDK): one module, embedded in the bundle as text and
 * compiled only by the process that runs one of them (scripts/bundle-agent.ts), so the SDK is in the
 * bundle once and the mount guard, wait-ready and the webhook never parse it.
 */
export { runUploader } from './uploader/command';
export { runAnalyzer } from './analyzer/command';
