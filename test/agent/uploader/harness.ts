/** Runs the uploader loop in-process against a real S3 server, with small windows, for integration tests. */
import * as path from 'path';
import { Registry } from 'prom-client';
import { resolveUploaderConfig, type UploaderConfig } from '../../../agent/src/config';
import { ENV } from '../../../agent/src/contract';
import { systemClock } from '../../../agent/src/runtime/clock';
import { memoryLogger } from '../../../agent/src/runtime/logger';
import { Lifecycle } from '../../../agent/src/runtime/lifecycle';
import { StuckReads } from '../../../agent/src/fs/stuck-io';
import { insertTag, occurrenceStamp } from '../../../agent/src/uploader/keys';
import { createLifecycleCheck, createRetainer, createS3Client, createStore, summaryParts } from '../../../agent/src/uploader/command';
import type { TriageOutcome, VerifiedDump } from '../../../agent/src/uploader/upload-job';
import { Uploader, UploaderOptions } from '../../../agent/src/uploader/uploader';
import { AGENT_BUNDLE } from '../../../scripts/bundle-agent';
import { node24Binary } from '../../support/node24';
import { s3Env, type S3Server } from '../../support/s3';

export type Events = ReturnType<typeof memoryLogger>['events'];

export interface RunningUploader {
  readonly events: Events;
  readonly registry: Registry;
  readonly readiness: Array<{ ready: boolean; reason?: string }>;
  readonly done: Promise<void>;
  isReady(): boolean;
  /** What /healthz would answer, from the loop's heartbeats. */
  health(): { healthy: boolean; reason?: string };
  stop(): Promise<void>;
  metric(name: string, labels?: Record<string, string>): Promise<number | undefined>;
}

/** The config the agent would resolve from its env for this server and root, with small windows, plus overrides. */
export function testConfig(server: S3Server, root: string, over: Partial<UploaderConfig> = {}, s3Over: Partial<UploaderConfig['s3']> = {}): UploaderConfig {
  const base = resolveUploaderConfig({
    ...s3Env(server),
    [ENV.nodeName]: 'node-a',
    [ENV.dumpRoot]: root,
    [ENV.markerName]: '.ready',
    [ENV.s3Prefix]: 'dumps/',
    [ENV.watchInterval]: '1',
    [ENV.fileStableTime]: '3',
    [ENV.completeQuietTime]: '0.3',
    [ENV.logLevel]: 'debug',
    // next to the root: a restarted uploader on the same root finds its journal, as a restarted container does
    [ENV.uploaderStateDir]: path.join(path.dirname(root), `${path.basename(root)}.uploader-state`),
    // s3rver has no bucket lifecycle (501): as docs/access-control.md says for such a server, no retention check there.
    ...(server.kind === 's3rver' ? { [ENV.s3RetentionDays]: '0' } : {}),
  });
  return { ...base, ...over, s3: { ...base.s3, ...s3Over } };
}

export type HarnessOptions = Partial<UploaderOptions> & {
  /** Told about every verified dump, after its summary (as the notifier is). */
  readonly onVerified?: (dump: VerifiedDump, triage: TriageOutcome | undefined) => void;
};

export const FAST_RETRY: HarnessOptions = { backoff: { baseMs: 100, capMs: 1000 }, readinessIntervalMs: 500, progressIntervalMs: 200 };

/** `lifecycleIntervalMs`: how often the bucket's lifecycle rule is looked at again (the agent's: 10 minutes). */
export function startUploader(config: UploaderConfig, options: HarnessOptions & { lifecycleIntervalMs?: number } = FAST_RETRY): RunningUploader {
  const { lifecycleIntervalMs, ...opts } = options;
  const logger = memoryLogger();
  const registry = new Registry();
  const ctl = new AbortController();
  const readiness: Array<{ ready: boolean; reason?: string }> = [];
  // The runtime's own health bookkeeping (what /healthz serves), fed by the loop's heartbeats.
  const lifecycle = new Lifecycle(logger);
  const client = createS3Client(config.s3, 16, logger);
  // the SDK retries a little by itself; tests want failures to surface quickly
  const store = createStore(config, { logger }, client);
  const retainer = createRetainer(config, store, logger);
  // As the agent runs it (uploader/command.ts): the analyses when DUMP_ANALYSIS is on, the lifecycle check unless S3_RETENTION_DAYS=0.
  const bucketLifecycle = createLifecycleCheck(config, store, { logger, clock: systemClock, registry }, lifecycleIntervalMs);
  const done = (async () => {
    const ctx = {
      logger,
      clock: systemClock,
      registry,
      signal: ctl.signal,
      setReady: (ready: boolean, reason?: string) => void readiness.push({ ready, reason }),
      heartbeat: (loop: string, maxSilenceMs: number) => lifecycle.heartbeat(loop, maxSilenceMs),
      stuckReads: new StuckReads(),
      // As the agent runs it: the analysis process is the bundled agent (jest's globalSetup builds it) on the image's Node.
      agentCommand: [await node24Binary(), AGENT_BUNDLE],
    };
    const parts = await summaryParts(config, store, ctx, opts.onVerified, opts.backoff);
    await new Uploader(config, store, retainer, ctx, { ...opts, ...parts, ...(bucketLifecycle ? { lifecycle: bucketLifecycle } : {}) }).run();
  })().finally(() => client.destroy());
  return {
    events: logger.events,
    registry,
    readiness,
    done,
    isReady: () => readiness.length > 0 && readiness[readiness.length - 1].ready,
    health: () => lifecycle.health,
    async stop() {
      ctl.abort();
      await done;
    },
    async metric(name, labels) {
      const m = registry.getSingleMetric(name);
      if (!m) return undefined;
      const values = (await m.get()).values as Array<{ value: number; labels: Record<string, unknown>; metricName?: string }>;
      const v = values.find((x) => (!x.metricName || x.metricName === name) && Object.entries(labels ?? {}).every(([k, val]) => x.labels[k] === val));
      return v?.value;
    },
  };
}

/** Polls until `check` returns a truthy value; throws with `what` after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export const msgs = (events: Events, msg: string) => events.filter((e) => e.msg === msg);

/** The key of one occurrence of a dump: `<key path>` with the dump's mtime stamp before its extension. */
export function stampedKey(keyPath: string, mtimeMs: number): string {
  return insertTag(keyPath, occurrenceStamp(mtimeMs));
}
