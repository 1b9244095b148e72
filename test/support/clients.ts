/**
 * Independent S3 clients (Debian packages) to read back or write what the agent did:
 * a check by a different implementation than the AWS SDK the agent uses.
 * Credentials go through the environment only, never the command line, so they never show in `ps` or logs.
 */
import type { S3Server } from './s3';
import { runTracked } from './procs';

export interface CliResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

export const AWS_CLI = '/usr/bin/aws'; // an older `aws` may come first in PATH
export const RCLONE_REMOTE = 'x';

/**
 * The parent's env minus anything that would redirect a client to a real AWS account or profile
 * (and the parent's NODE_OPTIONS, which a child node process must not inherit).
 */
export function baseEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (k.startsWith('AWS_') || k.startsWith('RCLONE_') || k === 'NODE_OPTIONS') delete env[k];
  }
  // keep the CA bundle for aws (harmless on http); rclone drops it below
  if (process.env.AWS_CA_BUNDLE) env.AWS_CA_BUNDLE = process.env.AWS_CA_BUNDLE;
  return env;
}

/** Runs `/usr/bin/aws --endpoint-url <server> ...args` with the server's credentials in env. */
export async function awsCli(server: S3Server, args: string[], opts: { timeoutMs?: number } = {}): Promise<CliResult> {
  return runTracked(AWS_CLI, ['--endpoint-url', server.endpoint, ...args], { env: awsCliEnv(server), timeoutMs: opts.timeoutMs });
}

/** The environment `/usr/bin/aws` runs with against this server (credentials by env only). */
export function awsCliEnv(server: S3Server): NodeJS.ProcessEnv {
  return {
    ...baseEnv(),
    AWS_ACCESS_KEY_ID: server.accessKeyId,
    AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
    AWS_DEFAULT_REGION: server.region,
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
  };
}

/**
 * Runs `env -u AWS_CA_BUNDLE rclone ...args` with remote `x:` configured by env for this server
 * (rclone 1.60 fails even on plain http when AWS_CA_BUNDLE is set). Example: rclone(s3, ['cat', `x:${s3.bucket}/key`]).
 */
export async function rclone(server: S3Server, args: string[], opts: { timeoutMs?: number } = {}): Promise<CliResult> {
  return runTracked('env', ['-u', 'AWS_CA_BUNDLE', 'rclone', ...args], { env: rcloneEnv(server), timeoutMs: opts.timeoutMs });
}

/** The environment rclone runs with: remote `x:` configured for this server. */
export function rcloneEnv(server: S3Server): NodeJS.ProcessEnv {
  const r = `RCLONE_CONFIG_${RCLONE_REMOTE.toUpperCase()}_`;
  return {
    ...baseEnv(),
    RCLONE_CONFIG: '/dev/null',
    [`${r}TYPE`]: 's3',
    [`${r}PROVIDER`]: 'Other',
    [`${r}ENDPOINT`]: server.endpoint,
    [`${r}FORCE_PATH_STYLE`]: 'true',
    [`${r}ACCESS_KEY_ID`]: server.accessKeyId,
    [`${r}SECRET_ACCESS_KEY`]: server.secretAccessKey,
    [`${r}REGION`]: server.region,
  };
}
