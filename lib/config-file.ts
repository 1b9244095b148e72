/**
 * Reading `pipeline.config.json` (main.ts, the tests, the end-to-end suite): the file, its JSON
 * (syntax errors with line and column), the `$schema` key editors use, and the refusal of credentials
 * in a committed file. The values themselves are validated by the constructs (the settings table).
 */
import * as fs from 'fs';
import * as path from 'path';
import { JsonSyntaxError, parseJsonText } from './json-text';
import type { HeapDumpPipelineProps } from './pipeline';
import { PipelinePropsError, REDACTED } from './validation';

/** The config file's name in the working directory; the environment variable PIPELINE_CONFIG names another. */
export const CONFIG_FILE_NAME = 'pipeline.config.json';
export const CONFIG_FILE_ENV = 'PIPELINE_CONFIG';
/** Where `$schema` points in the repository's own config file. */
export const CONFIG_SCHEMA_FILE_NAME = 'pipeline.config.schema.json';

const EXPECTED_OBJECT = 'a JSON object with the pipeline settings, at least {"agentImage": "registry.example.com/team/heapdump-agent:0.1.0"}';

/** The file could not be read or is not JSON. `message` is one line and names the file (and line:column). */
export class ConfigFileError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'ConfigFileError';
  }
}

/** How messages name a file: relative to the working directory when inside it. */
export function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), path.resolve(file));
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : path.resolve(file);
}

function readText(file: string, shown: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'not found' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code ?? (err as Error).message})`;
    throw new ConfigFileError(`${shown}: ${why} (expected ${EXPECTED_OBJECT}; ${CONFIG_FILE_ENV} names another file)`);
  }
}

/**
 * The props in `file`, ready for HeapDumpPipeline: JSON checked, `$schema` removed, no credentials.
 * Throws ConfigFileError (file, JSON) or PipelinePropsError (a value; main.ts prefixes the file).
 */
export function readPipelineConfig(file: string): HeapDumpPipelineProps {
  const shown = displayPath(file);
  const text = readText(file, shown);
  let config: unknown;
  try {
    config = parseJsonText(text);
  } catch (err) {
    if (!(err instanceof JsonSyntaxError)) throw err;
    throw new ConfigFileError(`${shown}:${err.line}:${err.column}: JSON syntax error: ${err.message}`);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new PipelinePropsError('configuration', config, EXPECTED_OBJECT);
  }
  const { $schema: schema, ...props } = config as Record<string, unknown>;
  if (schema !== undefined && typeof schema !== 'string') {
    throw new PipelinePropsError('$schema', schema, `a string: the path or URL of the JSON Schema, e.g. "./${CONFIG_SCHEMA_FILE_NAME}"`);
  }
  // A config file is committed: static keys never belong in it (create the Secret out of band).
  const credentials = (props.uploader as { credentials?: { secretValues?: unknown } } | undefined)?.credentials;
  if (typeof credentials === 'object' && credentials !== null && credentials.secretValues !== undefined) {
    throw new PipelinePropsError('uploader.credentials.secretValues', REDACTED,
      'no credentials in a config file; create the Secret with `oc create secret generic s3-credentials ...`');
  }
  return props as unknown as HeapDumpPipelineProps;
}
