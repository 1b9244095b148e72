/**
 * One dump, from "no leak report" to `<key>.leaks.txt` + `<key>.leaks.json` (written in that order: the
 * JSON is the "done" record) and the notifications. Every way it can end writes a report, except a
 * crash, which is retried until the dump has had `maxAttempts` analyses (counted in S3 before each
 * start, so an OOM kill of the whole container counts too).
 */
import { randomBytes } from 'crypto';
import { promises as fsp } from 'fs';
import * as path from 'path';
import type { AnalyzerConfig } from './config';
import { LEAK_REPORT_SUFFIXES, OBJECT_METADATA } from '../contract';
import { type LeakDumpRef, type LeaksDocument, notAnalyzed } from '../leaks/document';
import { renderLeaksText } from '../leaks/render';
import type { LeakNotifier } from '../report/leak-notifier';
import { retrievalHint } from '../report/retrieval-hint';
import type { Logger } from '../runtime/logger';
import { inertJson } from '../text/escape';
import { podTags } from '../uploader/object-tags';
import type { S3Store } from '../uploader/s3-store';
import { clearAttempts, download, getSmall, type PendingDump, readAttempts, writeAttempts } from './bucket';
import { runAnalysisChild } from './child';

/** Bytes of analysis memory an object needs at least (the engine's arrays at their peak: docs/performance.md). */
export const MIN_BYTES_PER_OBJECT = 36;

export interface JobDeps {
  readonly store: S3Store;
  readonly config: AnalyzerConfig;
  readonly logger: Logger;
  readonly notifier: LeakNotifier;
  readonly signal: AbortSignal;
  readonly now: () => number;
  /** Node binary, entry script and flags for the child. */
  readonly node: string;
  readonly script: string;
  readonly execArgv: readonly string[];
}

export type JobResult = 'reported' | 'failed' | 'interrupted' | 'gone';

const decode = (v: string | undefined): string | undefined => {
  if (v === undefined) return undefined;
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
};

/** What the dump object says about itself (the uploader's metadata), or undefined when it is gone. */
async function dumpRef(store: S3Store, d: PendingDump, prefix: string, signal: AbortSignal): Promise<LeakDumpRef | undefined> {
  const head = await store.head(d.key, signal);
  if (!head) return undefined;
  const m = head.metadata;
  const parts = d.key.slice(prefix.length).split('/');
  const gz = d.key.endsWith('.gz');
  const uncompressed = Number(m[OBJECT_METADATA.uncompressedSize] ?? (m[OBJECT_METADATA.encoding] === 'gzip' ? m[OBJECT_METADATA.originalSize] : undefined));
  const node = decode(m[OBJECT_METADATA.node]) ?? parts[0];
  const namespace = decode(m[OBJECT_METADATA.namespace]) ?? (parts.length >= 4 ? parts[1] : undefined);
  const pod = decode(m[OBJECT_METADATA.pod]) ?? (parts.length >= 4 ? parts[2] : undefined);
  return {
    bucket: store.bucket,
    key: d.key,
    uri: `s3://${store.bucket}/${d.key}`,
    ...(node !== undefined ? { node } : {}),
    ...(namespace !== undefined ? { namespace } : {}),
    ...(pod !== undefined ? { pod } : {}),
    size: head.size,
    ...(m[OBJECT_METADATA.sha256] ? { sha256: m[OBJECT_METADATA.sha256] } : {}),
    ...(gz ? { compression: 'gzip' as const } : {}),
    ...(gz && Number.isSafeInteger(uncompressed) ? { uncompressedSize: uncompressed } : {}),
  };
}

/** Objects in the dump, from the uploader's summary next to it, when there is one. */
async function summaryObjects(store: S3Store, key: string, signal: AbortSignal): Promise<number | undefined> {
  const text = await getSmall(store, `${key}.summary.json`, 32 * 2 ** 20, signal).catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const n = (JSON.parse(text) as { heap?: { totals?: { objects?: unknown } } }).heap?.totals?.objects;
    return typeof n === 'number' && Number.isSafeInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;

export async function analyzeDump(d: PendingDump, memoryBudgetBytes: number, deps: JobDeps): Promise<JobResult> {
  const { store, config, signal } = deps;
  const log = deps.logger;
  const ref = await dumpRef(store, d, config.s3.prefix, signal);
  if (!ref) return 'gone';
  const finish = async (doc: LeaksDocument): Promise<JobResult> => {
    const keys = { json: d.key + LEAK_REPORT_SUFFIXES.json, text: d.key + LEAK_REPORT_SUFFIXES.text };
    const meta = { 'leaks-status': doc.status };
    const tags = podTags(ref.namespace, ref.pod);
    await store.putSmall(keys.text, Buffer.from(renderLeaksText(doc)), 'text/plain; charset=utf-8', meta, signal, tags);
    await store.putSmall(keys.json, Buffer.from(inertJson(doc, 2) + '\n'), 'application/json', meta, signal, tags);
    await clearAttempts(store, d.key);
    log.info('leak report written', { key: keys.json, status: doc.status, suspects: doc.suspects.length, ...(doc.reason ? { reason: doc.reason } : {}) });
    const retrieval = config.notify.retrieval !== undefined ? retrievalHint(ref.namespace ?? '', d.key, config.notify.retrieval, 'leaks') : undefined;
    deps.notifier.reportWritten({
      namespace: ref.namespace ?? '', pod: ref.pod ?? '', node: ref.node ?? '', objectUri: ref.uri, key: d.key, reportKeys: keys,
      status: doc.status, headline: doc.headline, ...(doc.reason ? { reason: doc.reason } : {}), suspects: doc.suspects.length, analyzedAt: deps.now(),
      ...(retrieval !== undefined ? { retrieval } : {}),
    });
    return 'reported';
  };
  const refuse = (reason: string) => finish(notAnalyzed(ref, reason, new Date(deps.now())));

  if (!d.readable) return refuse('not an HPROF dump (only HotSpot .hprof and .hprof.gz dumps are analysed; an OpenJ9 .phd is not)');
  const attempts = await readAttempts(store, d.key, signal);
  if (attempts.attempts >= config.maxAttempts) {
    return refuse(`the analysis was started ${attempts.attempts} times and never finished${attempts.last ? ` (last: ${attempts.last})` : ''}`);
  }
  const space = config.workDirBytes ?? (await fsp.statfs(config.workDir).then((s) => s.bavail * s.bsize).catch(() => Infinity));
  if (ref.size > space) return refuse(`the dump (${mib(ref.size)}) is larger than the analyzer's work space (${mib(space)}, analyzer.workDirSize)`);
  const objects = d.summary ? await summaryObjects(store, d.key, signal) : undefined;
  if (objects !== undefined && objects * MIN_BYTES_PER_OBJECT > memoryBudgetBytes) {
    return refuse(`the dump holds ${objects} objects: their analysis needs at least ${mib(objects * MIN_BYTES_PER_OBJECT)} (${MIN_BYTES_PER_OBJECT} bytes each), more than the analyzer's budget of ${mib(memoryBudgetBytes)} (raise analyzer.resources.limits.memory)`);
  }

  await writeAttempts(store, d.key, { attempts: attempts.attempts + 1, startedAt: new Date(deps.now()).toISOString(), ...(attempts.last ? { last: attempts.last } : {}) }, signal);
  const file = path.join(config.workDir, `${randomBytes(8).toString('hex')}${d.key.endsWith('.hprof.gz') ? '.hprof.gz' : '.hprof'}`);
  try {
    const t0 = deps.now();
    await download(store, d.key, file, space, signal);
    log.info('analysing dump', { key: d.key, size: ref.size, budgetMiB: Math.floor(memoryBudgetBytes / 2 ** 20), downloadMs: deps.now() - t0, attempt: attempts.attempts + 1 });
    const result = await runAnalysisChild({
      file, thresholdPercent: config.thresholdPercent, memoryBudgetBytes, timeBudgetMs: config.timeBudgetMs, cpuBudgetMs: config.cpuBudgetMs,
      node: deps.node, script: deps.script, execArgv: deps.execArgv, signal,
    });
    if (result.kind === 'report') {
      let doc: LeaksDocument;
      try {
        doc = JSON.parse(result.json) as LeaksDocument;
      } catch (error) {
        throw new Error(`the analysis printed no report: ${(error as Error).message}`);
      }
      return await finish({ ...doc, dump: { ...ref, ...(doc.dump.uncompressedSize !== undefined && ref.uncompressedSize === undefined ? { uncompressedSize: doc.dump.uncompressedSize } : {}) } });
    }
    if (result.kind === 'budget') return await refuse(result.reason);
    if (result.kind === 'interrupted') {
      // not the dump's fault: give the attempt back
      await writeAttempts(store, d.key, attempts).catch(() => undefined);
      return 'interrupted';
    }
    log.warn('leak analysis failed: it is tried again', { key: d.key, reason: result.reason, attempt: attempts.attempts + 1, maxAttempts: config.maxAttempts });
    await writeAttempts(store, d.key, { attempts: attempts.attempts + 1, startedAt: new Date(deps.now()).toISOString(), last: result.reason }, signal).catch(() => undefined);
    return 'failed';
  } finally {
    await fsp.rm(file, { force: true }).catch(() => undefined);
  }
}
