/**
 * The analysis process as the uploader runs it: the bundled agent (jest's globalSetup builds it) on
 * the image's Node, the dump on descriptor 3; and the watch from outside, against stand-in processes
 * that spin, grow or say nothing (the real one stops itself first, so only stand-ins reach the limits).
 */
import { mkdtempSync, rmSync } from 'fs';
import { open } from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import { ANALYSIS_PROCESS_ARG, type AnalysisRequest } from '../../../agent/src/triage/child-protocol';
import { runAnalysisProcess, usageOf } from '../../../agent/src/uploader/analysis-process';
import { AGENT_BUNDLE } from '../../../scripts/bundle-agent';
import { makeHeapDump } from '../../support/jvm';
import { node24Binary } from '../../support/node24';
import { disposeAll } from '../../support/procs';

const BUDGETS = { cpuSeconds: 1, inflateMaxRatio: 100, inflateMaxBytes: 2 ** 30 };

let tmp: string;
let dump: string;
let node: string;
beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'analysis-process-'));
  [dump, node] = await Promise.all([makeHeapDump(path.join(tmp, 'jvm')), node24Binary()]);
}, 120_000);
afterAll(async () => {
  await disposeAll();
  rmSync(tmp, { recursive: true, force: true });
});

async function withDump<T>(f: (fd: number, req: AnalysisRequest) => Promise<T>): Promise<T> {
  const fh = await open(dump, 'r');
  try {
    const st = await fh.stat({ bigint: true });
    return await f(fh.fd, { kind: 'hprof', size: Number(st.size), budgets: BUDGETS, expect: { dev: String(st.dev), ino: String(st.ino) } });
  } finally {
    await fh.close();
  }
}

/** A stand-in "agent" that runs `code` (started as `node -e code -- --analysis-process`). */
const standIn = (code: string) => [node, '-e', code, '--'];

describe('the analysis process', () => {
  it('analyses the dump on descriptor 3 with the JIT on and replies with its summary, its CPU and its peak RSS', async () => {
    const out = await withDump((fd, req) => runAnalysisProcess(fd, req, { command: [node, AGENT_BUNDLE], maxRssBytes: 256 * 2 ** 20 }));
    if (!out.ok) throw new Error(out.reason);
    expect(out.analysis.stopped).toBeUndefined();
    expect(out.analysis.heap.complete).toBe(true);
    expect(out.analysis.heap.classes[0].name).toBe('byte[]');
    expect(out.cpuSeconds).toBeGreaterThan(0);
    expect(out.peakRssBytes).toBeGreaterThan(20 * 2 ** 20);
    expect(out.peakRssBytes).toBeLessThan(128 * 2 ** 20);
  }, 60_000);

  it('refuses a descriptor that is not the file it was asked about', async () => {
    const out = await withDump((fd, req) => runAnalysisProcess(fd, { ...req, expect: { dev: req.expect.dev, ino: '1' } }, { command: [node, AGENT_BUNDLE], maxRssBytes: 256 * 2 ** 20 }));
    expect(out).toMatchObject({ ok: false, reason: 'the analysis failed: descriptor 3 is not the expected dump file' });
  }, 30_000);

  it('a process that spins past its CPU budget is killed (the budget here: 1 s + 1 s per GiB + 5 s grace)', async () => {
    const t = Date.now();
    const out = await withDump((fd, req) => runAnalysisProcess(fd, req, { command: standIn('for (;;) {}'), maxRssBytes: 256 * 2 ** 20, pollMs: 100 }));
    expect(out).toMatchObject({ ok: false, reason: expect.stringMatching(/^the analysis process was stopped: it used more than 6 CPU s \(its budget for this dump\)$/) });
    expect(out.cpuSeconds).toBeGreaterThan(6);
    expect(Date.now() - t).toBeLessThan(30_000);
  }, 60_000);

  it('a process that grows past its memory limit is killed before the container\'s limit', async () => {
    const out = await withDump((fd, req) => runAnalysisProcess(fd, req, {
      command: standIn('const keep = []; setInterval(() => keep.push(Buffer.alloc(8 * 2 ** 20, 1)), 20);'),
      maxRssBytes: 96 * 2 ** 20, pollMs: 50,
    }));
    expect(out).toMatchObject({ ok: false, reason: 'the analysis process was stopped: it needed more than 96 MiB of memory (DUMP_ANALYSIS_MAX_MEMORY)' });
    expect(out.peakRssBytes).toBeGreaterThan(96 * 2 ** 20);
    expect(out.peakRssBytes).toBeLessThan(200 * 2 ** 20);
  }, 60_000);

  it('a process that dies or answers nonsense gives a reason, never a throw', async () => {
    const died = await withDump((fd, req) => runAnalysisProcess(fd, req, { command: standIn('process.kill(process.pid, "SIGKILL")'), maxRssBytes: 2 ** 30 }));
    expect(died).toMatchObject({ ok: false, reason: 'the analysis process was killed by SIGKILL (out of memory?)' });
    const junk = await withDump((fd, req) => runAnalysisProcess(fd, req, { command: standIn('console.error("boom"); process.exit(3)'), maxRssBytes: 2 ** 30 }));
    expect(junk).toMatchObject({ ok: false, reason: 'the analysis process exited with code 3: boom' });
    const missing = await withDump((fd, req) => runAnalysisProcess(fd, req, { command: [path.join(tmp, 'no-such-node')], maxRssBytes: 2 ** 30 }));
    expect(missing).toMatchObject({ ok: false, reason: expect.stringMatching(/^the analysis process could not start: .*ENOENT/) });
  }, 60_000);

  it('is started with the argument the agent recognises, and an abort stops it', async () => {
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 500);
    const out = await withDump((fd, req) => runAnalysisProcess(fd, req, {
      command: standIn(`if (process.argv[1] !== ${JSON.stringify(ANALYSIS_PROCESS_ARG)}) process.exit(9); setInterval(() => {}, 1000)`),
      maxRssBytes: 2 ** 30, signal: ctl.signal,
    }));
    expect(out).toMatchObject({ ok: false, reason: 'the analysis process was stopped: the uploader is shutting down' });
  }, 30_000);

  it('usageOf reads a live process\'s CPU and RSS, and nothing for a gone one', async () => {
    const self = await usageOf(process.pid);
    expect(self?.rssBytes).toBeGreaterThan(10 * 2 ** 20);
    expect(self?.cpuSeconds).toBeGreaterThan(0);
    expect(await usageOf(2 ** 22 + 12345)).toBeUndefined();
  });
});
