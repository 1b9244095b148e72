/**
 * The repo's cdk8s app: read pipeline.config.json, build the pipeline, synthesize to dist/.
 * All validation lives in the constructs; this file only reads the file and reports.
 */
import * as fs from 'fs';
import * as path from 'path';
import { buildPipelineApp } from './lib/synth';
import { collectWarnings } from './lib/warnings';
import { HeapDumpPipelineProps } from './lib/pipeline';
import { PipelinePropsError } from './lib/validation';

const CONFIG_FILE = process.env.PIPELINE_CONFIG ?? path.join(process.cwd(), 'pipeline.config.json');

function readConfig(file: string): HeapDumpPipelineProps {
  const config = JSON.parse(fs.readFileSync(file, 'utf8')) as HeapDumpPipelineProps;
  // A config file is committed: static keys never belong in it (create the Secret out of band).
  if (config.uploader?.credentials?.secretValues !== undefined) {
    throw new PipelinePropsError('uploader.credentials.secretValues', '<redacted>',
      'no credentials in a config file; create the Secret with `oc create secret generic s3-credentials ...`');
  }
  return config;
}

try {
  const { app, pipeline } = buildPipelineApp(readConfig(CONFIG_FILE));
  for (const warning of collectWarnings(pipeline)) console.warn(`WARNING ${warning}`);
  app.synth();
} catch (err) {
  const message = err instanceof PipelinePropsError || err instanceof SyntaxError ? err.message : String((err as Error).stack ?? err);
  console.error(`${path.basename(CONFIG_FILE)}: ${message}`);
  process.exit(1);
}
