/**
 * The commands that talk to S3, in one module: main.ts loads it lazily and scripts/bundle-agent.ts embeds it
 * as compressed text, so the AWS SDK is in the bundle once (not once per command) and the mount guard, wait-ready
 * and the injector never parse it.
 */
export { runUploader } from './uploader/command';
export { runApi } from './api/command';
export { runAnalyzer } from './analyzer/command';
