/**
 * `npm run bench:leaks`: the leak analysis (agent/src/leaks) end to end, as the analyzer's child process
 * runs it: `node agent.js analyze --json FILE` (the bundle, on the image's Node 24), one process per run,
 * pinned to one core (`taskset -c $BENCH_CPU`, default 1), CPU time and peak RSS from /usr/bin/time.
 *
 * Dumps (made once per run in a temp dir):
 *  - SmallObjects (test/support/java/SmallObjects.java, -Xmx256m): a real dump of ~10.8 million objects;
 *  - the demo application (lib/demo-app/Leak.java, -Xmx384m): a real dump of a few big arrays;
 *  - chain (10 million objects, 10 million references) and fan (1 million objects, 10 million references),
 *    synthetic (test/support/chain-dump.ts): the analysis' memory per object and per reference is solved
 *    from their peaks (two equations, two unknowns);
 *  - with BENCH_BIG_GIB=4: a real dump of that size (MapLeak, 256-byte values) analysed inside a cgroup with
 *    the analyzer container's memory limit from dist/ and the large lane's budget, as the analyzer runs it.
 * Baseline in the same run, same Node, same core: the file read once in 1 MiB chunks and hashed (sha256):
 * the ratio says what the analysis costs over just reading the bytes. Throughput = dump MiB / CPU second.
 * BENCH_RUNS (default 3) runs each with the JIT (the analyzer's flags: none), the medians reported; one
 * --jitless run of SmallObjects for the record (it decides the analyzer's NODE_OPTIONS).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CHILD_OVERHEAD_BYTES, laneBudgets } from '../agent/src/analyzer/command';
import { COMMANDS, NODE_OPTIONS_BY_COMMAND } from '../agent/src/contract';
import { describeLimits, LimitGroup, parseMemory } from './bench-cgroup';
import { writeChainDump, writeFanDump } from '../test/support/chain-dump';
import { demoAppDump, leakProgramDump, smallObjectsDump } from '../test/support/heap-programs';
import { node24Binary } from '../test/support/node24';
import { disposeAll, runTracked } from '../test/support/procs';
import { parseAllDocuments } from 'yaml';

const RUNS = Number(process.env.BENCH_RUNS ?? '3');
const CPU = process.env.BENCH_CPU ?? '1';
const BIG_GIB = Number(process.env.BENCH_BIG_GIB ?? '0');
const AGENT = path.resolve('.build/agent/agent.js');
const MIB = 2 ** 20;
const hasTaskset = spawnSync('taskset', ['-c', CPU, 'true']).status === 0;

interface Run {
  cpuS: number;
  wallS: number;
  peakRssMiB: number;
  doc?: { status: string; reason?: string; headline: string | null; heap?: { objects: number; references: number; reachableObjects: number }; analysis?: { peakAnalysisBytes: number } };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** One process: `node [flags] <script args>` pinned, timed; stdout parsed as JSON when `json`. */
async function timed(node: string, flags: string[], args: string[], wrap?: LimitGroup): Promise<Run> {
  let cmd = '/usr/bin/time';
  let argv = ['-f', 'TIME %U %S %e %M', ...(hasTaskset ? ['taskset', '-c', CPU] : []), node, ...flags, ...args];
  if (wrap) [cmd, argv] = wrap.wrap(cmd, argv);
  const r = await runTracked(cmd, argv, { timeoutMs: 1_800_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir() } });
  const m = /TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(r.stderr);
  if (!m) throw new Error(`no timing for ${args.join(' ')} (exit ${r.code}):\n${r.stderr.slice(-2000)}`);
  const out = r.stdout.trim();
  return {
    cpuS: Number(m[1]) + Number(m[2]),
    wallS: Number(m[3]),
    peakRssMiB: Number(m[4]) / 1024,
    ...(out.startsWith('{') ? { doc: JSON.parse(out) } : {}),
  };
}

/** The floor: read the file once in 1 MiB chunks and sha256 it, in the same Node. */
function floorScript(dir: string): string {
  const f = path.join(dir, 'floor.js');
  fs.writeFileSync(f, `const fs=require('fs'),c=require('crypto');const h=c.createHash('sha256');const fd=fs.openSync(process.argv[2],'r');const b=Buffer.allocUnsafe(1<<20);let n;while((n=fs.readSync(fd,b,0,b.length,null))>0)h.update(b.subarray(0,n));process.stdout.write(JSON.stringify({sha256:h.digest('hex')}));`);
  return f;
}

/** The analyzer container's limits.memory in the synthesized manifests. */
function analyzerMemoryLimit(): { bytes: number; source: string } {
  const file = path.resolve('dist/heapdump-pipeline.k8s.yaml');
  for (const doc of parseAllDocuments(fs.readFileSync(file, 'utf8'))) {
    const o = doc.toJS() as { kind?: string; metadata?: { name?: string }; spec?: { template?: { spec?: { containers?: Array<{ name: string; resources?: { limits?: { memory?: string } } }> } } } };
    if (o?.kind !== 'Deployment' || o.metadata?.name !== 'heapdump-analyzer') continue;
    const c = o.spec?.template?.spec?.containers?.find((x) => x.name === COMMANDS.analyzer);
    const mem = c?.resources?.limits?.memory;
    if (mem) return { bytes: parseMemory(mem), source: `dist/heapdump-pipeline.k8s.yaml: Deployment/heapdump-analyzer container analyzer limits.memory ${mem}` };
  }
  throw new Error('no heapdump-analyzer Deployment in dist/heapdump-pipeline.k8s.yaml: run npm run synth');
}

async function main(): Promise<number> {
  if (!fs.existsSync(AGENT)) throw new Error(`${AGENT} missing: run through npm run bench:leaks`);
  const node = await node24Binary();
  const flags = (NODE_OPTIONS_BY_COMMAND[COMMANDS.analyzer] ?? '').split(/\s+/).filter(Boolean);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-leaks-'));
  const floor = floorScript(dir);
  const load = () => os.loadavg().map((x) => x.toFixed(1)).join(' ');
  console.error(`dumps in ${dir}; ${hasTaskset ? `taskset -c ${CPU}` : 'NOT pinned'}; Node ${spawnSync(node, ['--version']).stdout.toString().trim()}; analyzer flags: ${flags.join(' ') || 'none'}; load ${load()}`);
  try {
    const cases: Array<{ name: string; file: string; real: boolean }> = [
      { name: 'SmallObjects (real, -Xmx256m)', file: process.env.BENCH_SMALL_HPROF ?? (await smallObjectsDump(path.join(dir, 'small'))), real: true },
      { name: 'demo app (real, -Xmx384m)', file: process.env.BENCH_DEMO_HPROF ?? (await demoAppDump(path.join(dir, 'demo'), '384m')), real: true },
      { name: 'chain 10 M (synthetic)', file: path.join(dir, 'chain.hprof'), real: false },
      { name: 'fan 1 M x 10 M refs (synthetic)', file: path.join(dir, 'fan.hprof'), real: false },
    ];
    await writeChainDump(cases[2].file, 10_000_000);
    await writeFanDump(cases[3].file, 1_000_000, 100, 100_000);

    const rows: string[] = [];
    const cpuOf = new Map<string, number>();
    const peaks = new Map<string, { objects: number; refs: number; peak: number }>();
    for (const c of cases) {
      const size = fs.statSync(c.file).size;
      const base: Run[] = [];
      const runs: Run[] = [];
      for (let i = 0; i < RUNS; i++) {
        base.push(await timed(node, flags, [floor, c.file]));
        const r = await timed(node, flags, [AGENT, 'analyze', '--json', c.file]);
        runs.push(r);
        console.error(`  ${c.name} run ${i + 1}/${RUNS}: ${(size / MIB / r.cpuS).toFixed(0)} MiB/CPU-s, ${r.cpuS.toFixed(2)} CPU s, RSS ${r.peakRssMiB.toFixed(0)} MiB (load ${load()})`);
      }
      const d = runs[0].doc!;
      if (d.status !== 'analyzed') throw new Error(`${c.file}: ${d.status}: ${d.reason}`);
      const cpu = median(runs.map((r) => r.cpuS));
      const floorCpu = median(base.map((r) => r.cpuS));
      cpuOf.set(c.name, cpu);
      peaks.set(c.name, { objects: d.heap!.objects, refs: d.heap!.references, peak: d.analysis!.peakAnalysisBytes });
      rows.push([
        c.name.padEnd(32), `${(size / MIB).toFixed(0)} MiB`.padStart(9), d.heap!.objects.toLocaleString('en-US').padStart(11), d.heap!.references.toLocaleString('en-US').padStart(11),
        `${(size / MIB / cpu).toFixed(0)}`.padStart(6), `(${Math.min(...runs.map((r) => size / MIB / r.cpuS)).toFixed(0)}-${Math.max(...runs.map((r) => size / MIB / r.cpuS)).toFixed(0)})`.padStart(10),
        `${cpu.toFixed(2)} s`.padStart(8), `${(cpu / floorCpu).toFixed(1)}x`.padStart(7), `${median(runs.map((r) => r.peakRssMiB)).toFixed(0)} MiB`.padStart(9),
        `${(d.analysis!.peakAnalysisBytes / MIB).toFixed(0)} MiB`.padStart(9), `${(d.analysis!.peakAnalysisBytes / d.heap!.objects).toFixed(1)}`.padStart(6),
      ].join('  '));
    }
    const small = cases[0];
    const jitless = await timed(node, ['--jitless'], [AGENT, 'analyze', '--json', small.file]);
    const jit = cpuOf.get(small.name)!;

    // memory: peak = a * objects + b * references, from the two synthetic dumps
    const p1 = peaks.get(cases[2].name)!;
    const p2 = peaks.get(cases[3].name)!;
    const det = p1.objects * p2.refs - p2.objects * p1.refs;
    const a = (p1.peak * p2.refs - p2.peak * p1.refs) / det;
    const b = (p1.objects * p2.peak - p2.objects * p1.peak) / det;

    console.log(`\nLeak analysis end to end (read + graph + dominators + report), bundled agent on Node 24, ${hasTaskset ? `one core (taskset -c ${CPU})` : 'not pinned'}, medians of ${RUNS} runs (min-max)`);
    console.log(['dump'.padEnd(32), 'size'.padStart(9), 'objects'.padStart(11), 'references'.padStart(11), 'MiB/s'.padStart(6), 'range'.padStart(10), 'CPU'.padStart(8), 'floor'.padStart(7), 'peak RSS'.padStart(9), 'arrays'.padStart(9), 'B/obj'.padStart(6)].join('  '));
    for (const r of rows) console.log(r);
    console.log('MiB/s = dump MiB per CPU second (user + system); floor = CPU time over reading + sha256 of the same file in the same run;');
    console.log('arrays = the analysis\' own peak (its budget\'s measure), B/obj = that per object (references included)');
    console.log(`memory model from the chain and fan dumps: ${a.toFixed(1)} bytes per object + ${b.toFixed(1)} bytes per reference (goal <= 40 + 8)`);
    console.log(`--jitless on ${small.name}: ${jitless.cpuS.toFixed(1)} CPU s vs ${jit.toFixed(1)} with the JIT (${(jitless.cpuS / jit).toFixed(1)}x slower)`);

    if (BIG_GIB > 0) {
      const limit = analyzerMemoryLimit();
      const budgets = laneBudgets(limit.bytes, 256 * MIB);
      const budget = 'single' in budgets ? budgets.single : budgets.large;
      console.error(`making a ${BIG_GIB} GiB dump (MapLeak, 256-byte values)...`);
      const t0 = Date.now();
      const big = process.env.BENCH_BIG_HPROF ?? (await leakProgramDump(path.join(dir, 'big'), 'MapLeak', [`-Xmx${Math.round(BIG_GIB * 1024)}m`, '-XX:+UseSerialGC'], ['256']));
      console.error(`  written in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      const group = LimitGroup.create(`bench-leaks-${process.pid}`, { memoryBytes: limit.bytes, source: limit.source });
      try {
        const r = await timed(node, flags, [AGENT, 'analyze', '--json', '--memory-budget', String(budget), big], group);
        const size = fs.statSync(big).size;
        const d = r.doc!;
        console.log(`\n${(size / 2 ** 30).toFixed(2)} GiB real dump (${d.heap?.objects.toLocaleString('en-US')} objects, ${d.heap?.references.toLocaleString('en-US')} references) in a cgroup with ${describeLimits({ memoryBytes: limit.bytes, source: limit.source })} (${limit.source}),`);
        console.log(`  the large lane's budget ${(budget / MIB).toFixed(0)} MiB (+ ${(CHILD_OVERHEAD_BYTES / MIB).toFixed(0)} MiB allowed for the child's own Node):`);
        console.log(`  ${d.status}; ${r.wallS.toFixed(0)} s wall, ${r.cpuS.toFixed(0)} CPU s (${(size / MIB / r.cpuS).toFixed(0)} MiB/CPU-s), peak RSS ${r.peakRssMiB.toFixed(0)} MiB, analysis arrays ${((d.analysis?.peakAnalysisBytes ?? 0) / MIB).toFixed(0)} MiB`);
        console.log(`  ${d.headline ?? d.reason}`);
      } finally {
        group.dispose();
      }
    }
    console.log(`\nload average at the end: ${load()} (a shared 2-core machine: other work ran during every measurement)`);
    return 0;
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
