/** What the uploader loop needs from the resolved config, and what its caller wires in. */
import type { AfterUpload, PayloadDigest } from '../config';
import type { Analyses } from './analyses';
import type { LifecycleCheck } from './lifecycle';
import type { BackoffPolicy } from './retry';
import type { Summaries } from './summaries';

/** What the loop needs from the resolved config (UploaderConfig satisfies it). */
export interface UploaderSettings {
  readonly nodeName: string;
  readonly dumpRoot: string;
  readonly markerName: string;
  readonly s3: { readonly prefix: string };
  readonly patterns: readonly string[];
  readonly watchIntervalMs: number;
  readonly fileStableTimeMs: number;
  readonly completeQuietTimeMs: number;
  readonly gzip: boolean;
  readonly digest: PayloadDigest;
  readonly afterUpload: AfterUpload;
  readonly maxWatches: number;
  readonly maxFiles: number;
  readonly maxFilesPerNamespace: number;
  readonly maxEntriesPerPod: number;
  readonly uploadSlots: number;
  readonly readTimeoutMs: number;
  readonly inflateMaxRatio: number;
  readonly inflateMaxBytes: number;
  readonly retentionMaxAgeMs: number;
  readonly retentionMaxBytes: number;
}

export interface UploaderOptions {
  readonly backoff?: BackoffPolicy;
  /** How often S3 reachability (readiness) is re-checked. @default 30 s */
  readonly readinessIntervalMs?: number;
  /** Log upload progress at most this often. @default 10 s */
  readonly progressIntervalMs?: number;
  /**
   * /healthz fails when the loop has been silent this long (a stuck loop gets the pod restarted).
   * The loop beats once per pass and while bytes are read or sent.
   * @default 3 x WATCH_INTERVAL + FILE_READ_TIMEOUT + 120 s
   */
  readonly heartbeatMaxSilenceMs?: number;
  /** Writes the summaries and tells the team about each verified dump (summaries.ts). */
  readonly summaries: Summaries;
  /** The triage analyses; undefined when DUMP_ANALYSIS is off. */
  readonly analyses?: Analyses;
  /** How often the archive is trimmed and local usage measured. @default 60 s */
  readonly housekeepingIntervalMs?: number;
  /** Checks the bucket's lifecycle rule after a successful bucket check (it paces itself). @default none */
  readonly lifecycle?: Pick<LifecycleCheck, 'check'>;
}
