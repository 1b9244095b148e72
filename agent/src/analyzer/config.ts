/**
 * Environment -> the analyzer's config. Its S3 and notification settings are the uploader's (the same
 * entries of the settings table, same ConfigMap): it reads the bucket the uploader writes, writes its
 * reports with the same encryption and tags, and tells the same channels. A bad value is a ConfigError (one line), as for every command.
 */
import { readFileSync } from 'fs';
import { totalmem } from 'os';
import type { CommonConfig, Env, S3Config } from '../config';
import { encryption, optional, required } from '../config';
import type { NotifyConfig } from '../report/config';
import { SETTINGS } from '../settings';
import type { ObjectEncryption } from '../uploader/encryption';

export interface AnalyzerConfig extends CommonConfig {
  readonly s3: S3Config;
  readonly notify: NotifyConfig;
  /** The uploader's server-side encryption and object tags, for the reports too. */
  readonly encryption: ObjectEncryption;
  readonly objectTags: boolean;
  readonly thresholdPercent: number;
  readonly intervalMs: number;
  readonly timeBudgetMs: number;
  readonly cpuBudgetMs: number;
  readonly smallDumpBytes: number;
  readonly maxAttempts: number;
  /** The container's memory limit (bytes): budgets derive from it. */
  readonly memoryLimitBytes: number;
  readonly workDir: string;
  /** Largest stored dump downloaded; undefined: the work dir's free space decides. */
  readonly workDirBytes?: number;
}

/** The cgroup's memory limit (v2, then v1), or the machine's memory. */
export function detectMemoryLimit(read: (path: string) => string = (p) => readFileSync(p, 'utf8')): number {
  for (const file of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    try {
      const v = read(file).trim();
      const n = Number(v);
      if (v !== 'max' && Number.isSafeInteger(n) && n > 0 && n < totalmem()) return n;
    } catch {
      // not this cgroup version
    }
  }
  return totalmem();
}

export function resolveAnalyzerConfig(env: Env, common: CommonConfig, s3: S3Config, notify: NotifyConfig): AnalyzerConfig {
  const workDirBytes = optional(env, SETTINGS.analyzerWorkDirBytes);
  return {
    ...common,
    s3,
    notify,
    encryption: encryption(env),
    objectTags: required(env, SETTINGS.s3ObjectTags),
    thresholdPercent: required(env, SETTINGS.analyzerThreshold),
    intervalMs: required(env, SETTINGS.analyzerInterval),
    timeBudgetMs: required(env, SETTINGS.analyzerTimeBudget),
    cpuBudgetMs: required(env, SETTINGS.analyzerCpuBudget),
    smallDumpBytes: required(env, SETTINGS.analyzerSmallDumpMb) * 2 ** 20,
    maxAttempts: required(env, SETTINGS.analyzerMaxAttempts),
    memoryLimitBytes: optional(env, SETTINGS.analyzerMemoryLimit) ?? detectMemoryLimit(),
    workDir: required(env, SETTINGS.analyzerWorkDir),
    ...(workDirBytes !== undefined ? { workDirBytes } : {}),
  };
}
