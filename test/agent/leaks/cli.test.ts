/**
 * The leak report for a dump on local disk: `node agent.js analyze FILE` (the bundle, on the image's
 * Node 24) and `npm run summarize -- FILE --leaks` print the same report; usage errors are one line and
 * exit code 2; `--json` is the leaks/v1 document. And the uploader's summary.txt names the leak report.
 */
import { execFileSync, spawnSync } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import { open } from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import { AGENT_BUNDLE } from '../../../scripts/bundle-agent';
import { LEAKS_SCHEMA, type LeaksDocument } from '../../../agent/src/leaks';
import { analyseDump } from '../../../agent/src/triage/dump-analysis';
import { triageOutcome } from '../../../agent/src/uploader/triage';
import { writeChainDump } from '../../support/chain-dump';
import { node24Binary } from '../../support/node24';
import { repoPath } from '../../support/procs';

const work = mkdtempSync(path.join(os.tmpdir(), 'leaks-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('analyze on a terminal', () => {
  const file = path.join(work, 'chain.hprof');
  beforeAll(async () => {
    await writeChainDump(file, 5000);
  });

  it('agent.js analyze (Node 24) and npm run summarize -- --leaks print the same report', async () => {
    const node24 = await node24Binary();
    const agent = execFileSync(node24, [AGENT_BUNDLE, 'analyze', file], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    const summarize = execFileSync('node', [repoPath('scripts', 'run-ts.cjs'), repoPath('scripts', 'summarize.ts'), file, '--leaks'], { encoding: 'utf8' });
    expect(agent).toBe(summarize);
    expect(agent).toContain('Leak suspect: static field Chain.HEAD (Chain) retains 117 KiB (100 %): a chain of 5,000 × Chain');
    const doc = JSON.parse(execFileSync(node24, [AGENT_BUNDLE, 'analyze', '--json', '--threshold', '50', file], { encoding: 'utf8' })) as LeaksDocument;
    expect(doc).toMatchObject({ schema: LEAKS_SCHEMA, status: 'analyzed', analysis: { thresholdPercent: 50 }, heap: { reachableObjects: 5001, references: 5000 } });
  }, 60_000);

  it.each([
    [['analyze'], 'analyze: no dump file given: expected one FILE.hprof or FILE.hprof.gz'],
    [['analyze', 'a.hprof', 'b.hprof'], 'analyze: 2 files given: expected one FILE.hprof or FILE.hprof.gz'],
    [['analyze', 'notes.txt'], 'analyze: "notes.txt" is not named like a heap dump: expected FILE.hprof or FILE.hprof.gz'],
    [['analyze', 'a.hprof', '--threshold', 'ten'], 'analyze: --threshold="ten" is invalid: expected a percentage from 0.1 to 100'],
    [['analyze', 'a.hprof', '--memory-budget'], 'analyze: --memory-budget has no value: expected a number of bytes from 1048576 (1 MiB) up'],
    [['analyze', 'a.hprof', '--verbose'], 'analyze: option "--verbose" is unknown: expected --json, --threshold, --memory-budget or --time-budget'],
  ])('usage error %j: one line, exit 2', (args, line) => {
    const r = spawnSync('node', [AGENT_BUNDLE, ...args], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')[0]).toBe(line);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a file that cannot be read: exit 1, one line', () => {
    const r = spawnSync('node', [AGENT_BUNDLE, 'analyze', path.join(work, 'missing.hprof')], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`analyze: cannot read ${path.join(work, 'missing.hprof')}: ENOENT\n`);
  });
});

describe('summary.txt', () => {
  it('names the leak report when the analyzer is deployed, and not otherwise', async () => {
    const file = path.join(work, 'small.hprof');
    await writeChainDump(file, 10);
    const fh = await open(file, 'r');
    try {
      const render = async (leaks: boolean) => {
        // as the uploader's analysis process analyses it, and the uploader renders its summary
        const { size } = await fh.stat();
        const { heap } = await analyseDump(async (b, o, l, p) => (await fh.read(b, o, l, p)).bytesRead, {
          kind: 'hprof', size, budgets: { cpuSeconds: 10, inflateMaxRatio: 100, inflateMaxBytes: 2 ** 30 }, cpuSeconds: () => 0,
        });
        const out = triageOutcome(heap, 'worker-1', leaks);
        return out.render({ key: 'p/w/ns/pod/x.hprof', bucket: 'dumps', size, storedSize: size, sha256: 'ab', complete: 'true', modifiedAt: 't', uploadedAt: 't', duplicate: false, seconds: 0 }).text;
      };
      expect(await render(true)).toContain('\n  leak suspects, retained sizes and who holds them: s3://dumps/p/w/ns/pod/x.hprof.leaks.txt (the analyzer writes it within minutes)\n');
      expect(await render(false)).not.toContain('leaks.txt');
    } finally {
      await fh.close();
    }
  });
});
