/**
 * The bucket lifecycle rule that expires the pipeline's objects: `npm run -s bucket-lifecycle -- --print | --apply | --check`.
 *
 * Reads `uploader.bucket`, `uploader.prefix` and `uploader.retentionDays` (and `uploader.endpoint`, `uploader.region`,
 * `uploader.forcePathStyle`) from pipeline.config.json (PIPELINE_CONFIG names another file), validated by the settings
 * table as at synth. S3_ENDPOINT_URL, AWS_DEFAULT_REGION / AWS_REGION in the environment win (as the keys of the
 * uploader's Secret do); credentials come from the environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY, or the
 * AWS SDK's default chain (profile, SSO, ...). HTTPS_PROXY / NO_PROXY apply as in the agent.
 *
 *  --print  the lifecycle configuration for `aws s3api put-bucket-lifecycle-configuration --bucket B
 *           --lifecycle-configuration file://lifecycle.json` (which REPLACES the bucket's rules: --apply keeps them);
 *  --apply  reads the bucket's rules, replaces the one with our ID (or adds it), keeps every other rule, writes them,
 *           and reads them back to check;
 *  --check  says whether a rule expires the pipeline's keys within retentionDays (exit 0), or not (exit 1).
 * Exit codes: 0 done, 1 S3 said no (or --check found no rule), 2 bad arguments or configuration.
 */
import { type LifecycleRule, PutBucketLifecycleConfigurationCommand } from '@aws-sdk/client-s3';
import * as path from 'path';
import { CONFIG_FILE_ENV, CONFIG_FILE_NAME, ConfigFileError, displayPath, readPipelineConfig } from '../lib/config-file';
import { optionalProp, prop } from '../lib/props';
import { PipelinePropsError } from '../lib/validation';
import { SETTINGS } from '../agent/src/settings';
import { type S3Config } from '../agent/src/config';
import { createS3Client } from '../agent/src/uploader/command';
import { coveringRule, lifecycleRules, retentionRule, RETENTION_RULE_ID } from '../agent/src/uploader/lifecycle';
import { classifyFailure } from '../agent/src/uploader/retry';

const USAGE = 'usage: npm run -s bucket-lifecycle -- --print | --apply | --check';
const MODES = ['--print', '--apply', '--check'] as const;
type Mode = (typeof MODES)[number];

class UsageError extends Error {}

interface Target {
  readonly bucket: string;
  readonly prefix: string;
  readonly days: number;
  readonly s3: S3Config;
}

/** The bucket, prefix, days and connection, from the config file and the environment; UsageError for bad values. */
function target(env: NodeJS.ProcessEnv): Target {
  const file = path.resolve(env[CONFIG_FILE_ENV] ?? CONFIG_FILE_NAME);
  const shown = displayPath(file);
  try {
    const u = readPipelineConfig(file).uploader ?? {};
    const days = prop(SETTINGS.s3RetentionDays, u.retentionDays, 'uploader.retentionDays');
    if (days === 0) throw new UsageError(`${shown}: uploader.retentionDays is 0 (dumps never expire): there is no rule to write; set a number of days`);
    const nonEmpty = (v: string | undefined) => (v === undefined || v === '' ? undefined : v);
    const endpoint = nonEmpty(env.S3_ENDPOINT_URL) !== undefined
      ? optionalProp(SETTINGS.s3EndpointUrl, env.S3_ENDPOINT_URL, 'S3_ENDPOINT_URL')
      : optionalProp(SETTINGS.s3EndpointUrl, u.endpoint, 'uploader.endpoint');
    const region = nonEmpty(env.AWS_DEFAULT_REGION) ?? nonEmpty(env.AWS_REGION) ?? prop(SETTINGS.awsDefaultRegion, u.region, 'uploader.region');
    const id = nonEmpty(env.AWS_ACCESS_KEY_ID);
    const secret = nonEmpty(env.AWS_SECRET_ACCESS_KEY);
    const httpsProxy = nonEmpty(env.HTTPS_PROXY ?? env.https_proxy);
    const httpProxy = nonEmpty(env.HTTP_PROXY ?? env.http_proxy);
    return {
      bucket: prop(SETTINGS.s3Bucket, u.bucket, 'uploader.bucket'),
      prefix: prop(SETTINGS.s3Prefix, u.prefix, 'uploader.prefix'),
      days,
      s3: {
        bucket: prop(SETTINGS.s3Bucket, u.bucket, 'uploader.bucket'),
        prefix: '',
        region,
        ...(endpoint !== undefined ? { endpoint } : {}),
        forcePathStyle: u.forcePathStyle ?? endpoint !== undefined,
        storageClass: 'STANDARD',
        checksumMode: 'WHEN_REQUIRED',
        ...(id !== undefined && secret !== undefined ? { credentials: { accessKeyId: id, secretAccessKey: secret } } : {}),
        ...(httpsProxy !== undefined || httpProxy !== undefined ? {
          proxy: {
            ...(httpsProxy !== undefined ? { httpsProxy } : {}),
            ...(httpProxy !== undefined ? { httpProxy } : {}),
            noProxy: (env.NO_PROXY ?? env.no_proxy ?? '').split(',').map((s) => s.trim()).filter((s) => s !== ''),
          },
        } : {}),
      },
    };
  } catch (e) {
    if (e instanceof PipelinePropsError || e instanceof ConfigFileError) throw new UsageError(e instanceof PipelinePropsError ? `${shown}: ${e.message}` : e.message);
    throw e;
  }
}

/** The rules with ours in place of any earlier version of it (same ID), the others unchanged and in order. */
export function withRetentionRule(rules: readonly LifecycleRule[], ours: LifecycleRule): LifecycleRule[] {
  const others = rules.filter((r) => r.ID !== RETENTION_RULE_ID);
  return [...others, ours];
}

function describe(r: LifecycleRule): string {
  const f = r.Filter;
  const scope = f?.Prefix !== undefined ? `prefix "${f.Prefix}"` : f === undefined ? `prefix "${r.Prefix ?? ''}"` : 'a filter';
  return `${r.ID ?? '(no id)'} (${r.Status}, ${scope}${r.Expiration?.Days !== undefined ? `, expire after ${r.Expiration.Days} days` : ''})`;
}

async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  if (argv.length !== 1 || !(MODES as readonly string[]).includes(argv[0])) {
    throw new UsageError(`expected one of ${MODES.join(', ')}, got ${JSON.stringify(argv)}\n${USAGE}`);
  }
  const mode = argv[0] as Mode;
  const t = target(env);
  const ours = retentionRule(t.prefix, t.days);
  if (mode === '--print') {
    process.stdout.write(`${JSON.stringify({ Rules: [ours] }, null, 2)}\n`);
    return 0;
  }
  const client = createS3Client(t.s3, 4);
  try {
    const where = `s3://${t.bucket}/${t.prefix}`;
    const before = await lifecycleRules(client, t.bucket);
    if (mode === '--check') {
      const rule = coveringRule(before, t.prefix, t.days);
      if (rule) {
        process.stdout.write(`ok: rule ${describe(rule)} expires ${where} within ${t.days} days\n`);
        return 0;
      }
      process.stdout.write(`missing: no enabled rule expires ${where} within ${t.days} days (${before.length} rule(s): ${before.map(describe).join('; ') || 'none'}); run --apply\n`);
      return 1;
    }
    const rules = withRetentionRule(before, ours);
    await client.send(new PutBucketLifecycleConfigurationCommand({ Bucket: t.bucket, LifecycleConfiguration: { Rules: rules } }));
    const after = await lifecycleRules(client, t.bucket);
    if (!coveringRule(after, t.prefix, t.days)) {
      process.stderr.write(`bucket-lifecycle: the bucket accepted the rule but does not show it when read back: ${after.map(describe).join('; ')}\n`);
      return 1;
    }
    const kept = rules.length - 1;
    const replaced = before.length - kept;
    process.stdout.write(`applied: ${describe(ours)} on s3://${t.bucket}; ${replaced > 0 ? 'replaced the earlier version, ' : ''}${kept} other rule(s) kept\n`);
    return 0;
  } finally {
    client.destroy();
  }
}

if (require.main === module) {
  main(process.argv.slice(2), process.env).then((code) => process.exit(code), (e: Error) => {
    if (e instanceof UsageError) {
      process.stderr.write(`bucket-lifecycle: ${e.message}\n`);
      process.exit(2);
    }
    const f = classifyFailure(e);
    const hint = f.cause === 'AccessDenied' ? ' (the caller needs s3:GetLifecycleConfiguration and s3:PutLifecycleConfiguration on the bucket)'
      : /NotImplemented/.test(f.cause) ? ' (this S3 server does not implement bucket lifecycle)' : '';
    process.stderr.write(`bucket-lifecycle: S3 said ${f.cause}: ${f.message}${hint}\n`);
    process.exit(1);
  });
}
