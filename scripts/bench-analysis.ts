/**
 * `npm run bench:analysis`: CPU cost and memory of the triage analysis (agent/src/triage) on real
 * heap dumps, on one core, with and without V8's JIT (the analysis runs in the uploader's analysis
 * process with the JIT and ANALYSIS_NODE_OPTIONS; the uploader itself runs with NODE_OPTIONS=--jitless).
 *
 * Dumps (made once per run in a temp dir with the installed JDK, or given by BENCH_DEMO_HPROF /
 * BENCH_SMALL_HPROF):
 *  (a) the demo application (lib/demo-app/Leak.java, 10 MiB byte[] chunks) run to OutOfMemoryError
 *      with -Xmx384m: a few hundred MiB, target >= 400 MiB/s;
 *  (b) SmallObjects (test/support/java/SmallObjects.java) with -Xmx256m: >= 5 million small objects,
 *      target >= 150 MiB/s.
 * Each measurement is its own process (scripts/bench-analysis-driver.ts: the file read once in 1 MiB
 * chunks, each fed to the analyzer, then finish() with positioned name reads) pinned to one core with
 * `taskset -c 1`; throughput = dump bytes / CPU time (process.cpuUsage) spent in update(). Peak RSS =
 * the driver's VmHWM, next to a read-only baseline (same driver, BENCH_ANALYSIS=off). Medians of
 * BENCH_RUNS runs (default 3), the flag sets interleaved so that a busy machine hurts all alike: the
 * full JIT, --jitless (the uploader's today), and, for information, V8's baseline compiler only
 * (--max-opt=1, set at start with v8.setFlagsFromString since NODE_OPTIONS refuses it).
 * Exit 1 when a target is missed under the analysis process's NODE_OPTIONS.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ANALYSIS_NODE_OPTIONS } from '../agent/src/triage/child-protocol';
import { demoAppDump, smallObjectsDump } from '../test/support/heap-programs';
import { disposeAll, runTracked } from '../test/support/procs';

const RUNS = Number(process.env.BENCH_RUNS ?? '3');
const DRIVER = path.resolve('.build/bench/bench-analysis-driver.js');
const CPU = process.env.BENCH_CPU ?? '1';
const MIB = 2 ** 20;
/** The analysis runs in the uploader's analysis process, with these Node options (agent/src/triage/child-protocol.ts). */
const ANALYSIS_FLAGS = ANALYSIS_NODE_OPTIONS;

interface DriverResult {
  bytes: number;
  updateCpuS: number;
  readCpuS: number;
  finishMs: number;
  peakRssMiB: number;
  objects: number;
  instances: number;
  threads: number;
  named: number;
  complete: boolean;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const hasTaskset = spawnSync('taskset', ['-c', CPU, 'true']).status === 0;

interface FlagSet {
  readonly label: string;
  /** Node command-line flags. */
  readonly node: string[];
  /** V8 flags the driver sets at start (v8.setFlagsFromString): flags NODE_OPTIONS refuses. */
  readonly v8?: string;
}

async function drive(file: string, flags: FlagSet, analysis = true): Promise<DriverResult> {
  const node = [...flags.node, DRIVER];
  const [cmd, args] = hasTaskset ? ['taskset', ['-c', CPU, 'node', ...node]] : ['node', node];
  const env = { ...process.env, NODE_OPTIONS: '', NODE_NO_WARNINGS: '1', BENCH_FILE: file, BENCH_ANALYSIS: analysis ? 'on' : 'off', BENCH_V8_FLAGS: flags.v8 ?? '' };
  const r = await runTracked(cmd, args, { env, timeoutMs: 600_000 });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as DriverResult;
}

interface Case {
  readonly name: string;
  readonly file: string;
  readonly targetMiBps: number;
  readonly minInstances: number;
}

async function main(): Promise<number> {
  if (!fs.existsSync(DRIVER)) throw new Error(`${DRIVER} missing: run through npm run bench:analysis`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-analysis-'));
  try {
    console.error(`dumps in ${dir} (taskset: ${hasTaskset ? `cpu ${CPU}` : 'not available, NOT pinned'})`);
    const demo = process.env.BENCH_DEMO_HPROF ?? (await demoAppDump(path.join(dir, 'demo'), '384m'));
    const small = process.env.BENCH_SMALL_HPROF ?? (await smallObjectsDump(path.join(dir, 'small')));
    const cases: Case[] = [
      { name: 'demo app (byte[] chunks)', file: demo, targetMiBps: 400, minInstances: 0 },
      { name: 'small objects', file: small, targetMiBps: 150, minInstances: 5_000_000 },
    ];
    const flagSets: FlagSet[] = [
      { label: 'process', node: ANALYSIS_FLAGS.split(' ').filter(Boolean) },
      { label: 'JIT', node: [] },
      { label: '--jitless', node: ['--jitless'] },
      // informational: the baseline compiler only (no optimizing tiers); NODE_OPTIONS refuses the
      // flag, the uploader would set it at start like --optimize-for-size
      { label: 'max-opt=1', node: [], v8: '--max-opt=1' },
    ];
    const rows: string[] = [];
    let failed = false;
    for (const c of cases) {
      const size = fs.statSync(c.file).size;
      const baseline = await drive(c.file, { label: 'read only', node: ['--jitless'] }, false);
      const results = new Map<string, DriverResult[]>(flagSets.map((f) => [f.label, []]));
      for (let i = 0; i < RUNS; i++) {
        for (const flags of flagSets) {
          const r = await drive(c.file, flags);
          results.get(flags.label)?.push(r);
          console.error(`  ${c.name}, ${flags.label}, run ${i + 1}/${RUNS}: ${(size / MIB / r.updateCpuS).toFixed(0)} MiB/s, peak RSS ${r.peakRssMiB.toFixed(1)} MiB`);
        }
      }
      for (const flags of flagSets) {
        const label = flags.label;
        const rs = results.get(label) as DriverResult[];
        const rates = rs.map((r) => size / MIB / r.updateCpuS);
        const rate = median(rates);
        const first = rs[0];
        if (first.instances < c.minInstances) throw new Error(`${c.file}: ${first.instances} instances, expected >= ${c.minInstances}`);
        const governs = !flags.v8 && flags.node.join(' ') === ANALYSIS_FLAGS;
        const ok = rate >= c.targetMiBps;
        if (governs && !ok) failed = true;
        rows.push(
          [
            c.name.padEnd(26),
            `${(size / MIB).toFixed(0)} MiB`.padStart(8),
            label.padEnd(10),
            `${rate.toFixed(0)} MiB/s`.padStart(11),
            `(${Math.min(...rates).toFixed(0)}-${Math.max(...rates).toFixed(0)})`.padStart(12),
            `${ok ? '>=' : '< '} ${c.targetMiBps}${governs ? ' *' : '  '}`.padEnd(9),
            `${median(rs.map((r) => r.peakRssMiB)).toFixed(1)} MiB`.padStart(10),
            `${baseline.peakRssMiB.toFixed(1)} MiB`.padStart(10),
            `${median(rs.map((r) => r.finishMs)).toFixed(0)} ms`.padStart(8),
            `${first.objects.toLocaleString('en-US')} objects, ${first.named}/${first.threads} thread names`,
          ].join('  '),
        );
      }
    }
    console.log(`\nTriage analysis, one core (${hasTaskset ? `taskset -c ${CPU}` : 'not pinned'}), medians of ${RUNS} runs (min-max); CPU time in update()`);
    console.log(
      ['dump'.padEnd(26), 'size'.padStart(8), 'node'.padEnd(10), 'throughput'.padStart(11), 'range'.padStart(12), 'target'.padEnd(9), 'peak RSS'.padStart(10), 'read only'.padStart(10), 'finish'.padStart(8), 'found'].join('  '),
    );
    for (const r of rows) console.log(r);
    console.log(`* = the analysis process's NODE_OPTIONS (${ANALYSIS_FLAGS || 'none'}: the JIT on; the uploader itself runs --jitless); read only = the same driver without analysis, --jitless;`);
    console.log('max-opt=1 = V8 flag set at start (baseline compiler only, no optimizing tiers): not allowed in NODE_OPTIONS');
    return failed ? 1 : 0;
  } finally {
    await disposeAll();
    if (!process.env.BENCH_KEEP) fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
