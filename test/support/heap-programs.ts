/**
 * Real heap dumps of programs with known contents, from the installed JDK (17), for the triage
 * analysis tests and benchmark:
 * - Census (test/support/java/Census.java): exactly N instances of Census$Item, M arrays
 *   Census$Item[LENGTH], one long[BIG], a parked thread "census-worker"; dumped on OutOfMemoryError, or
 *   left running for jcmd;
 * - SmallObjects: ~10 million small objects (benchmark);
 * - MapLeak, ThreadLeak, ThreadLocalLeak: a static map, a thread's local variable and ThreadLocal values
 *   holding most of the heap (leak report tests);
 * - the demo application (lib/demo-app/Leak.java), run until OutOfMemoryError.
 * Programs are compiled once into a cache dir keyed by the source's hash. JVMs are stopped by PID.
 */
import { createHash } from 'crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'fs';
import * as fsp from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import { repoPath, runTracked, sleep, spawnTracked, TrackedProcess } from './procs';

export type JavaProgram = 'Census' | 'SmallObjects' | 'MapLeak' | 'ThreadLeak' | 'ThreadLocalLeak';

const sourceOf = (program: JavaProgram): string => repoPath('test', 'support', 'java', `${program}.java`);

/** Compiles test/support/java/<program>.java once (per source hash); returns the class dir. */
export async function compiledJava(program: JavaProgram): Promise<string> {
  const source = sourceOf(program);
  const hash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 16);
  const dir = path.join(os.tmpdir(), `heapdump-test-${program.toLowerCase()}-${hash}`);
  if (existsSync(path.join(dir, `${program}.class`))) return dir;
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), `heapdump-test-${program.toLowerCase()}-build-`));
  try {
    const r = await runTracked('javac', ['-d', tmp, source], { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`javac ${source} failed (code ${r.code}): ${r.stderr}`);
    chmodSync(tmp, 0o755);
    try {
      renameSync(tmp, dir); // parallel workers never see a half-written dir
    } catch {
      // another worker won the race
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

/** 1-based line of the first line of Census.java containing `marker` (e.g. `// OOM-LINE`). */
export function censusLine(marker: string): number {
  const lines = readFileSync(sourceOf('Census'), 'utf8').split('\n');
  const i = lines.findIndex((l) => l.includes(marker));
  if (i < 0) throw new Error(`censusLine: ${marker} not in Census.java`);
  return i + 1;
}

export interface CensusSpec {
  /** Instances of Census$Item. */
  readonly items: number;
  /** Arrays Census$Item[arrayLength]. */
  readonly arrays: number;
  readonly arrayLength: number;
  /** Length of the long[] (make it the largest object). */
  readonly bigLongs: number;
  /** JVM options (heap size, GC, oops...). */
  readonly jvm: readonly string[];
}

export interface CensusRun {
  /** Instance field types of Census$Item, own and inherited: `long`, `int`, ..., `reference`. */
  readonly fieldTypes: string[];
}

const COMMON_JVM = ['-XX:TieredStopAtLevel=1', '-XX:-UsePerfData', '-Xshare:auto'];

const censusArgs = (spec: CensusSpec, mode: 'oom' | 'wait'): string[] => [
  String(spec.items),
  String(spec.arrays),
  String(spec.arrayLength),
  String(spec.bigLongs),
  mode,
];

function fieldTypes(stdout: string): string[] {
  const m = /^FIELDS (.*)$/m.exec(stdout);
  if (!m) throw new Error(`Census printed no FIELDS line:\n${stdout}`);
  return m[1].split(',');
}

/** Runs `java <opts> Program args` until it dies of OutOfMemoryError and returns the dump's path. */
async function dumpOnOom(dir: string, program: JavaProgram, jvm: readonly string[], args: string[]): Promise<{ path: string; stdout: string }> {
  const classDir = await compiledJava(program);
  mkdirSync(dir, { recursive: true });
  const r = await runTracked(
    'java',
    [...COMMON_JVM, ...jvm, '-XX:+HeapDumpOnOutOfMemoryError', `-XX:HeapDumpPath=${dir}${path.sep}`, '-cp', classDir, program, ...args],
    { cwd: dir, timeoutMs: 120_000 },
  );
  const out = `${r.stdout}\n${r.stderr}`;
  const m = /Dumping heap to (.+?) \.\.\./.exec(out);
  if (!m || !/Heap dump file created/.test(out)) throw new Error(`${program} wrote no complete heap dump (exit ${r.code}):\n${out}`);
  return { path: path.resolve(dir, m[1]), stdout: r.stdout };
}

/** Census until OutOfMemoryError (-XX:+HeapDumpOnOutOfMemoryError): the dump (`.hprof`, or `.hprof.gz` with a gzip level). */
export async function censusDump(dir: string, spec: CensusSpec): Promise<CensusRun & { path: string }> {
  const { path: dump, stdout } = await dumpOnOom(dir, 'Census', spec.jvm, censusArgs(spec, 'oom'));
  return { path: dump, fieldTypes: fieldTypes(stdout) };
}

/** A leak program (MapLeak, ThreadLeak, ThreadLocalLeak: test/support/java) run until OutOfMemoryError: the dump (`.hprof`, or `.hprof.gz` with -XX:HeapDumpGzipLevel). */
export async function leakProgramDump(dir: string, program: 'MapLeak' | 'ThreadLeak' | 'ThreadLocalLeak', jvm: readonly string[], args: string[]): Promise<string> {
  return (await dumpOnOom(dir, program, jvm, args)).path;
}

/** SmallObjects until OutOfMemoryError: a dump of ~10 million small objects with -Xmx256m. */
export async function smallObjectsDump(dir: string, jvm: readonly string[] = ['-Xmx256m', '-XX:+UseSerialGC']): Promise<string> {
  return (await dumpOnOom(dir, 'SmallObjects', jvm, [])).path;
}

/** A live Census JVM (wait mode), for jcmd. Stop it with `proc.dispose()` (by PID). */
export async function startCensus(spec: CensusSpec): Promise<CensusRun & { proc: TrackedProcess }> {
  const classDir = await compiledJava('Census');
  const proc = spawnTracked('java', [...COMMON_JVM, ...spec.jvm, '-cp', classDir, 'Census', ...censusArgs(spec, 'wait')]);
  const deadline = Date.now() + 60_000;
  while (!proc.stdout.includes('READY')) {
    if (proc.exitInfo() !== undefined || Date.now() > deadline) {
      await proc.dispose();
      throw new Error(`Census did not get ready:\n${proc.output()}`);
    }
    await sleep(50);
  }
  return { proc, fieldTypes: fieldTypes(proc.stdout.join('\n')) };
}

/** `jcmd <pid> <command...>`; throws on failure. */
export async function jcmd(pid: number, ...command: string[]): Promise<string> {
  const r = await runTracked('jcmd', [String(pid), ...command], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`jcmd ${pid} ${command.join(' ')} failed (code ${r.code}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/**
 * The demo application (lib/demo-app/Leak.java, 10 MiB byte[] chunks) run until OutOfMemoryError:
 * a dump of about `xmx` bytes. -XX:+ExitOnOutOfMemoryError ends the JVM after the dump (its HTTP
 * server would keep it running).
 */
export async function demoAppDump(dir: string, xmx = '384m'): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const r = await runTracked(
    'java',
    [
      ...COMMON_JVM,
      `-Xmx${xmx}`,
      '-XX:+HeapDumpOnOutOfMemoryError',
      '-XX:+ExitOnOutOfMemoryError',
      `-XX:HeapDumpPath=${dir}${path.sep}`,
      repoPath('lib', 'demo-app', 'Leak.java'),
    ],
    { cwd: dir, timeoutMs: 300_000, env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LEAK_MB: '10', LEAK_INTERVAL_SECONDS: '0' } },
  );
  const dumps = readdirSync(dir).filter((f) => f.endsWith('.hprof'));
  if (dumps.length !== 1 || !/Heap dump file created/.test(`${r.stdout}\n${r.stderr}`)) {
    throw new Error(`the demo application wrote no complete heap dump (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  return path.join(dir, dumps[0]);
}
