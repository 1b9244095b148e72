/**
 * The analysis queue (agent/src/uploader/analyses.ts) as the uploader drives it: real analysis
 * processes (the bundled agent on the image's Node), real files, requests of one namespace arriving
 * together, as they do when a tenant's dumps are uploaded one after another. Every request must get
 * its summary: one that never resolves means a summary and an Event never written, and an uploader
 * whose shutdown waits for it forever (seen as a hung test in hostile.test.ts under load).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { type FileHandle, open } from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import { Registry } from 'prom-client';
import { identityOf } from '../../../agent/src/fs/pinned-dir';
import { memoryLogger } from '../../../agent/src/runtime/logger';
import type { HeapSummary } from '../../../agent/src/triage/summary';
import { Analyses } from '../../../agent/src/uploader/analyses';
import { AnalysisJournal, versionKey } from '../../../agent/src/uploader/analysis-journal';
import { createUploaderMetrics } from '../../../agent/src/uploader/metrics';
import { AGENT_BUNDLE } from '../../../scripts/bundle-agent';
import { tinyHprof } from '../../support/jvm';
import { node24Binary } from '../../support/node24';
import { disposeAll } from '../../support/procs';

let tmp: string;
let node: string;
const handles: FileHandle[] = [];

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'analyses-'));
  node = await node24Binary();
}, 300_000);
afterAll(async () => {
  await Promise.all(handles.map((h) => h.close().catch(() => undefined)));
  await disposeAll();
  rmSync(tmp, { recursive: true, force: true });
});

async function queue(signal: AbortSignal) {
  const log = memoryLogger();
  const { journal, atStart } = await AnalysisJournal.open(mkdtempSync(path.join(tmp, 'state-')), log);
  const analyses = new Analyses(
    { command: [node, AGENT_BUNDLE], budgets: { cpuSeconds: 10, inflateMaxRatio: 100, inflateMaxBytes: 2 ** 30 }, maxRssBytes: 128 * 2 ** 20 },
    journal, atStart.interrupted, { log, metrics: createUploaderMetrics(new Registry()), signal },
  );
  return { analyses, log };
}

/** A request for a distinct small dump of `tenant`, as an upload job makes it (its own open handle). */
async function request(analyses: Analyses, tenant: string, n: number): Promise<HeapSummary> {
  const file = path.join(tmp, `${tenant}-${n}-${Math.random().toString(36).slice(2)}.hprof`);
  writeFileSync(file, tinyHprof(`${tenant} dump ${n}`), { mode: 0o600 });
  const fh = await open(file, 'r');
  handles.push(fh);
  const state = identityOf(await fh.stat({ bigint: true }));
  return analyses.request({ version: versionKey(state), id: `${tenant}/pod/${path.basename(file)}`, tenant, kind: 'hprof', state, fh });
}

/** Resolves with the results, or with the indexes still unresolved after `ms`. */
async function settleWithin(ps: Array<Promise<HeapSummary>>, ms: number): Promise<{ results?: HeapSummary[]; unresolved?: number[] }> {
  const done = new Set<number>();
  ps.forEach((p, i) => void p.then(() => done.add(i)));
  const all = Promise.all(ps).then((results) => ({ results }));
  const timeout = new Promise<{ unresolved: number[] }>((r) => setTimeout(() => r({ unresolved: ps.map((_, i) => i).filter((i) => !done.has(i)) }), ms).unref());
  return Promise.race([all, timeout]);
}

const notAnalysedReasons = (h: HeapSummary) => h.issues.filter((i) => i.startsWith('not analysed'));

test('requests of one namespace arriving together while an analysis runs: every one is analysed', async () => {
  const ctl = new AbortController();
  const { analyses } = await queue(ctl.signal);
  // one namespace's requests in the same tick, and another namespace's: they all wait at the same awaits
  const ps = [...[0, 1, 2, 3, 4, 5].map((n) => request(analyses, 'team-a', n)), request(analyses, 'team-b', 0)];
  const out = await settleWithin(ps, 60_000);
  expect(out.unresolved).toBeUndefined();
  // analysed for real: a complete structure, and no "not analysed" reason
  expect(out.results?.map((h) => ({ complete: h.structure.complete, notAnalysed: notAnalysedReasons(h) })))
    .toEqual(ps.map(() => ({ complete: true, notAnalysed: [] })));
  expect(analyses.pending).toBe(0);
  ctl.abort();
}, 120_000);

test('more than 8 of one namespace at once: the rest are told why, none is left waiting', async () => {
  const ctl = new AbortController();
  const { analyses } = await queue(ctl.signal);
  const ps = Array.from({ length: 12 }, (_, n) => request(analyses, 'team-a', n));
  const out = await settleWithin(ps, 90_000);
  expect(out.unresolved).toBeUndefined();
  const skipped = (out.results ?? []).filter((h) => notAnalysedReasons(h).some((r) => /dumps of its namespace were already waiting for analysis/.test(r)));
  const analysed = (out.results ?? []).filter((h) => notAnalysedReasons(h).length === 0);
  // one runs at once, 8 may wait: at least 3 of 12 cannot (more if the queue filled before the first started)
  expect(skipped.length).toBeGreaterThanOrEqual(3);
  expect(analysed.length + skipped.length).toBe(12);
  expect(analyses.pending).toBe(0);
  ctl.abort();
}, 120_000);

test('shutdown while requests of one namespace are arriving: every request resolves at once, saying why', async () => {
  const ctl = new AbortController();
  const { analyses } = await queue(ctl.signal);
  const ps = [0, 1, 2, 3, 4].map((n) => request(analyses, 'team-a', n));
  // the first analysis runs, the others wait; then more arrive, and the uploader stops while they
  // are between their awaits and the queue
  await new Promise((r) => setTimeout(r, 50));
  ps.push(...[5, 6, 7].map((n) => request(analyses, 'team-a', n)));
  setImmediate(() => ctl.abort());
  const started = Date.now();
  const out = await settleWithin(ps, 15_000);
  expect(out.unresolved).toBeUndefined();
  expect(Date.now() - started).toBeLessThan(10_000);
  // those not analysed say that the uploader was stopping
  const reasons = (out.results ?? []).flatMap(notAnalysedReasons);
  expect(reasons.length).toBeGreaterThan(0);
  for (const r of reasons) expect(r).toMatch(/shutting down/);
  expect(analyses.pending).toBe(0);
}, 60_000);
