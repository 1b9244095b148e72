/**
 * One analysis of one heap dump, as the uploader's read pass will run it: the file read once in 1 MiB
 * chunks into one reused buffer (like `sha256Of`), each chunk fed to the HprofAnalyzer, then
 * `finish()` with positioned name reads. In its own process (bundled by `npm run bench:analysis`), so
 * that the bench controls its Node flags and CPU (taskset) and reads its own peak RSS.
 *
 * Env: BENCH_FILE (the .hprof), BENCH_ANALYSIS=off to only read (the baseline for memory),
 * BENCH_V8_FLAGS: V8 flags set at start with v8.setFlagsFromString (as the uploader would have to for
 * flags that NODE_OPTIONS refuses, e.g. --max-opt=1).
 * Prints one JSON line: { bytes, updateCpuS, readCpuS, finishMs, peakRssMiB, objects, instances, threads, named, complete }.
 * `updateCpuS` is the CPU time (user + system, process.cpuUsage) spent inside update() only.
 */
import { readFileSync } from 'fs';
import { open } from 'fs/promises';
import { setFlagsFromString } from 'v8';
import { HprofAnalyzer } from '../agent/src/triage/analyzer';
import { fileNameReader } from '../agent/src/triage/name-readers';
import { tuneV8ForFlatMemory } from '../agent/src/uploader/file-source';

const CHUNK = 1024 * 1024;

const cpuSeconds = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1e6;

function peakRssMiB(): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function main(): Promise<void> {
  const file = process.env.BENCH_FILE;
  if (!file) throw new Error('BENCH_FILE is required');
  const analyse = process.env.BENCH_ANALYSIS !== 'off';
  for (const flag of (process.env.BENCH_V8_FLAGS ?? '').split(/\s+/).filter(Boolean)) setFlagsFromString(flag);
  tuneV8ForFlatMemory(); // as the uploader does at start
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const analyzer = analyse ? new HprofAnalyzer() : undefined;
    const buf = Buffer.allocUnsafe(CHUNK);
    let updateCpu = 0;
    const all0 = process.cpuUsage();
    for (let pos = 0; pos < size; ) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, size - pos), pos);
      if (bytesRead === 0) throw new Error(`${file} shrank while reading`);
      pos += bytesRead;
      if (analyzer) {
        const t = process.cpuUsage();
        analyzer.update(bytesRead === CHUNK ? buf : buf.subarray(0, bytesRead));
        updateCpu += cpuSeconds(process.cpuUsage(t));
      }
    }
    const readCpu = cpuSeconds(process.cpuUsage(all0)) - updateCpu;
    const f0 = Date.now();
    const heap = analyzer ? await analyzer.finish(fileNameReader(fh)) : undefined;
    const finishMs = Date.now() - f0;
    process.stdout.write(
      JSON.stringify({
        bytes: size,
        updateCpuS: updateCpu,
        readCpuS: readCpu,
        finishMs,
        peakRssMiB: peakRssMiB(),
        objects: heap?.totals.objects ?? 0,
        instances: heap?.totals.instances ?? 0,
        threads: heap?.threads.length ?? 0,
        named: heap?.threads.filter((t) => t.name !== null).length ?? 0,
        complete: heap?.complete ?? false,
      }) + '\n',
    );
  } finally {
    await fh.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
