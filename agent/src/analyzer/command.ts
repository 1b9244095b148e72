/**
 * `agent analyzer`: a leak report next to every dump in the bucket.
 *
 * A scan lists `<prefix>` for dumps without `<key>.leaks.json` (after a restart it simply catches up:
 * S3 is the record), and each of two lanes (small dumps, the others: lanes.ts) takes the next one,
 * round-robin across namespaces, oldest first. The uploader's POST to /wake after each upload starts a
 * scan at once; otherwise one runs every ANALYZER_INTERVAL. The analysis itself runs in a child process
 * (child.ts) with budgets derived from the container's memory limit, so this process only lists,
 * downloads, uploads and answers its probes.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { ANALYZER_WAKE_PATH } from '../contract';
import { createPost } from '../net/http-post';
import { createLeakNotifier } from '../report/leak-notifier';
import type { CommandContext } from '../runtime/context';
import { createS3Client } from '../uploader/command';
import { S3Store } from '../uploader/s3-store';
import { type PendingDump, pendingDumps } from './bucket';
import type { AnalyzerConfig } from './config';
import { analyzeDump, type JobDeps } from './job';
import { type LaneName, type LaneState, nextDump } from './lanes';

/**
 * Memory the analyzer process itself keeps (Node, the AWS SDK, buffers), and each child's beyond its budget:
 * measured (npm run bench:leaks) a child's peak RSS is its budget's peak plus ~170 MB (Node, its heap, arrays
 * given back but not yet collected), for 10.8 and 37.8 million objects alike.
 */
export const PARENT_RESERVE_BYTES = 192 * 2 ** 20;
export const CHILD_OVERHEAD_BYTES = 256 * 2 ** 20;
/** Beyond that, arrays given back between two collections grow with the dump: 346 MB at 135 million objects. */
export const GARBAGE_MARGIN = 1.06;
/** Scans no closer together than this, however often /wake is called. */
const MIN_SCAN_GAP_MS = 1000;

/**
 * Memory budget of each lane's analyses, from the container's limit: the small lane gets twice the
 * small-dump size, the large lane the rest. Below what two lanes need, one lane takes every dump.
 */
export function laneBudgets(memoryLimitBytes: number, smallDumpBytes: number): Record<LaneName, number> | { single: number } {
  const usable = memoryLimitBytes - PARENT_RESERVE_BYTES;
  const small = 2 * smallDumpBytes;
  const large = Math.floor((usable - 2 * CHILD_OVERHEAD_BYTES - small) / GARBAGE_MARGIN);
  if (large >= small) return { small, large };
  return { single: Math.max(2 ** 20, Math.floor((usable - CHILD_OVERHEAD_BYTES) / GARBAGE_MARGIN)) };
}

export interface AnalyzerDeps {
  readonly client?: S3Client;
  /** The child's Node and entry script. @default this process's */
  readonly node?: string;
  readonly script?: string;
}

export async function runAnalyzer(config: AnalyzerConfig, ctx: CommandContext, deps: AnalyzerDeps = {}): Promise<void> {
  const log = ctx.logger;
  const client = deps.client ?? createS3Client(config.s3, 8, log.child('aws-sdk'));
  const store = new S3Store(client, {
    bucket: config.s3.bucket, storageClass: config.s3.storageClass, partSizeBytes: 8 * 2 ** 20, concurrency: 1, logger: log.child('s3'),
    encryption: config.encryption, objectTags: config.objectTags,
  });
  ctx.onShutdown('s3 client', () => client.destroy());
  // The webhook trusts what S3 trusts and leaves through the same proxy, as the uploader's.
  const post = createPost({ ...(config.s3.caBundle ? { caPem: config.s3.caBundle.pem } : {}), ...(config.s3.proxy ? { proxy: config.s3.proxy } : {}) });
  const notifier = createLeakNotifier(config.notify, config.nodeName, { logger: log, clock: ctx.clock, registry: ctx.registry, signal: ctx.signal, post });
  ctx.onShutdown('notifications', () => notifier.close());

  const budgets = laneBudgets(config.memoryLimitBytes, config.smallDumpBytes);
  const lanes: LaneName[] = 'single' in budgets ? ['large'] : ['small', 'large'];
  const budgetOf = (lane: LaneName) => ('single' in budgets ? budgets.single : budgets[lane]);
  const smallLimit = 'single' in budgets ? 0 : config.smallDumpBytes;
  log.info('leak analyzer started', {
    bucket: config.s3.bucket, prefix: config.s3.prefix, memoryLimitMiB: Math.floor(config.memoryLimitBytes / 2 ** 20),
    lanes: lanes.map((l) => `${l}: ${Math.floor(budgetOf(l) / 2 ** 20)} MiB`).join(', '), thresholdPercent: config.thresholdPercent,
  });
  const jobDeps: JobDeps = {
    store, config, logger: log, notifier, signal: ctx.signal, now: () => ctx.clock.now(),
    node: deps.node ?? process.execPath, script: deps.script ?? process.argv[1], execArgv: process.execArgv,
  };

  const state: Record<LaneName, LaneState> = { small: { lastNamespace: '' }, large: { lastNamespace: '' } };
  const running = new Map<LaneName, Promise<void>>();
  const busy = new Set<string>();
  const retryAt = new Map<string, number>();
  let wake: (() => void) | undefined;
  let woken = false;
  const poke = () => {
    woken = true;
    wake?.();
  };
  ctx.httpRoute?.('POST', ANALYZER_WAKE_PATH, () => {
    poke();
    return { status: 202, body: '{"woken":true}' };
  });

  let pending: PendingDump[] = [];
  let lastScan = -Infinity;
  const heartbeatMs = Math.max(3 * config.intervalMs, 120_000);
  while (!ctx.signal.aborted) {
    ctx.heartbeat?.('scan', heartbeatMs);
    try {
      if (woken || ctx.clock.now() - lastScan >= config.intervalMs) {
        woken = false;
        lastScan = ctx.clock.now();
        pending = await pendingDumps(store, config.s3.prefix, ctx.signal);
        ctx.setReady(true);
        log.debug('scan', { pending: pending.length });
      }
    } catch (error) {
      if (ctx.signal.aborted) break;
      ctx.setReady(false, 'the bucket cannot be listed');
      log.warn('bucket scan failed', { error: error as Error });
    }
    const now = ctx.clock.now();
    for (const lane of lanes) {
      if (running.has(lane)) continue;
      const skip = (key: string) => busy.has(key) || (retryAt.get(key) ?? 0) > now;
      const d = nextDump(pending, lane, state[lane], smallLimit, skip);
      if (!d) continue;
      state[lane].lastNamespace = d.namespace;
      busy.add(d.key);
      running.set(lane, (async () => {
        try {
          const r = await analyzeDump(d, budgetOf(lane), jobDeps);
          // a failed dump (a crash: its attempt is counted) is tried again at the next scan, not at once
          if (r === 'failed') retryAt.set(d.key, ctx.clock.now() + config.intervalMs);
          else retryAt.delete(d.key);
          pending = pending.filter((p) => p.key !== d.key || r === 'failed');
        } catch (error) {
          if (!ctx.signal.aborted) log.warn('leak analysis of a dump failed: it is tried again later', { key: d.key, error: error as Error });
          retryAt.set(d.key, ctx.clock.now() + config.intervalMs);
        } finally {
          busy.delete(d.key);
          running.delete(lane);
          poke();
        }
      })());
    }
    // until a lane is free again, a wake-up, or the next scan
    const sleep = new AbortController();
    wake = () => sleep.abort();
    if (woken) sleep.abort();
    const untilScan = Math.max(MIN_SCAN_GAP_MS, config.intervalMs - (ctx.clock.now() - lastScan));
    const onStop = () => sleep.abort();
    ctx.signal.addEventListener('abort', onStop, { once: true });
    await ctx.clock.sleep(untilScan, sleep.signal);
    ctx.signal.removeEventListener('abort', onStop);
    wake = undefined;
    if (woken && ctx.clock.now() - lastScan < MIN_SCAN_GAP_MS) await ctx.clock.sleep(MIN_SCAN_GAP_MS, ctx.signal);
  }
  // shutdown: the children were killed through the signal; wait for the jobs to write back their attempts
  await Promise.all(running.values());
}
