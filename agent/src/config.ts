/**
 * Environment -> one resolved, typed config. (Interfaces fixed here; the resolver with its
 * single defaults table and precise error messages is built in the agent runtime issue.)
 */
import type { LogLevel } from './runtime/logger';

export interface CommonConfig {
  readonly nodeName: string;
  readonly httpPort: number;
  readonly logLevel: LogLevel;
  /** Hard deadline for the ordered shutdown, ms. */
  readonly shutdownTimeoutMs: number;
}

export interface MountGuardConfig extends CommonConfig {
  /** Where the PVC is mounted in the guard container. */
  readonly sourceRoot: string;
  /** The bind mount target (node's /mnt/dump as the guard sees it). */
  readonly target: string;
  readonly markerName: string;
  readonly checkIntervalMs: number;
}

export interface WaitReadyConfig extends CommonConfig {
  readonly dumpRoot: string;
  readonly markerName: string;
  /** 0 = wait forever. */
  readonly timeoutMs: number;
  /** Relative directory to create under dumpRoot once ready, or undefined. */
  readonly createSubdir?: string;
}

export interface S3Config {
  readonly bucket: string;
  /** Normalised: '' or ends with '/'. */
  readonly prefix: string;
  readonly region: string;
  readonly endpoint?: string;
  readonly forcePathStyle: boolean;
  readonly storageClass: string;
  readonly checksumMode: 'WHEN_REQUIRED' | 'WHEN_SUPPORTED';
  /** Static keys when both are set; otherwise the SDK default chain (IRSA, web identity, ...). */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

export interface UploaderConfig extends CommonConfig {
  readonly dumpRoot: string;
  readonly markerName: string;
  readonly s3: S3Config;
  readonly watchIntervalMs: number;
  readonly fileStableTimeMs: number;
  readonly completeQuietTimeMs: number;
  readonly patterns: readonly string[];
  readonly partSizeBytes: number;
  readonly concurrency: number;
  readonly gzip: boolean;
  readonly deleteAfterUpload: boolean;
  /** 0 = off. */
  readonly retentionMaxAgeMs: number;
  /** 0 = off. */
  readonly retentionMaxBytes: number;
}
