/**
 * `npm run bench`: the uploader's throughput, memory and latency targets, in ONE run against ONE
 * s3rver on loopback (the server is a large part of every timing, so clients are compared as ratios).
 *
 *  1. Throughput + peak RSS, 1 GiB HPROF-shaped file (half random, like a dump), medians of N runs
 *     (BENCH_RUNS, default 5), round-robin: `/usr/bin/aws s3 cp`, `rclone copyto`, and our uploader
 *     (scripts/bench-upload-driver.ts: the agent's own config resolver, S3 client and store, and its
 *     NODE_OPTIONS from the contract; hash + upload + HEAD-verify, timed as a whole, in its own
 *     process). Targets: >= 1.5x aws, > rclone. With the defaults a 1 GiB file is one streamed PUT
 *     (UPLOAD_MULTIPART_THRESHOLD_MB=1024); an extra, informational row forces multipart.
 *  2. Memory with a 4 GiB file (our uploader, one run). Target: peak RSS <= 80 MiB for both sizes.
 *  3. Latency: the bundled agent (`node .build/agent/agent.js uploader`, production defaults) watches a
 *     root; a complete 256 MiB HPROF is written into it; time from the file's last write (its mtime)
 *     to the object verified in S3 (HEAD: size + sha256 metadata). Target: < 5 s. Median of 3.
 *
 * Peak RSS = VmHWM from /proc/<pid>/status, polled until the process exits. Everything is started
 * and stopped by PID; temp files are removed.
 */
import { DeleteObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { COMMANDS, ENV, NODE_OPTIONS_BY_COMMAND } from '../agent/src/contract';
import { AWS_CLI, awsCliEnv, baseEnv, RCLONE_REMOTE, rcloneEnv } from '../test/support/clients';
import { makeLargeHprof } from '../test/support/jvm';
import { disposeAll, freePort, runTracked, sleep, spawnTracked } from '../test/support/procs';
import { S3Server, s3Env, startS3Server } from '../test/support/s3';

const RUNS = Number(process.env.BENCH_RUNS ?? '5');
const MIB = 2 ** 20;
const SIZE = Number(process.env.BENCH_SIZE_MIB ?? '1024') * MIB;
const BIG = Number(process.env.BENCH_BIG_MIB ?? '4096') * MIB;
const LATENCY_SIZE = 256 * MIB;
const AGENT = path.resolve('.build/agent/agent.js');
const DRIVER = path.resolve('.build/bench/bench-upload-driver.js');
const UPLOADER_NODE_OPTIONS = process.env.BENCH_NODE_OPTIONS ?? NODE_OPTIONS_BY_COMMAND[COMMANDS.uploader] ?? '';

interface Run {
  readonly seconds: number;
  readonly peakMiB: number;
}

function vmHwmKiB(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined; // exited
  }
}

/** Runs a command, timing it and polling its VmHWM until it exits. */
async function measured(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run & { stdout: string }> {
  const t0 = process.hrtime.bigint();
  const p = spawnTracked(cmd, args, { env });
  let peak = 0;
  let done = false;
  void p.exited.then(() => (done = true));
  while (!done) {
    peak = Math.max(peak, vmHwmKiB(p.pid) ?? 0);
    await sleep(20);
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const { code } = await p.exited;
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${code}):\n${p.output()}`);
  return { seconds, peakMiB: peak / 1024, stdout: p.stdout.join('\n') };
}

function uploaderEnv(s3: S3Server, root: string): NodeJS.ProcessEnv {
  return {
    ...baseEnv(),
    ...s3Env(s3),
    [ENV.nodeName]: 'bench-node',
    [ENV.dumpRoot]: root,
    ...(UPLOADER_NODE_OPTIONS ? { NODE_OPTIONS: UPLOADER_NODE_OPTIONS } : {}),
  };
}

/** The driver has no main.ts to route Node's warnings (SDK version notice) into the log: silence them. */
function driverEnv(s3: S3Server, root: string, file: string, key: string): NodeJS.ProcessEnv {
  return { ...uploaderEnv(s3, root), NODE_NO_WARNINGS: '1', BENCH_FILE: file, BENCH_KEY: key };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function deleteKey(s3: S3Server, key: string): Promise<void> {
  const c = s3.client();
  try {
    await c.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: key }));
  } finally {
    c.destroy();
  }
}

async function throughput(s3: S3Server, file: string, root: string): Promise<Record<string, Run[]>> {
  const runs: Record<string, Run[]> = { 'aws s3 cp': [], 'rclone copyto': [], uploader: [], 'uploader, multipart forced (info)': [] };
  for (let i = 0; i < RUNS; i++) {
    const clients: Array<[string, () => Promise<Run>, string]> = [
      ['aws s3 cp', () => measured(AWS_CLI, ['--endpoint-url', s3.endpoint, 's3', 'cp', file, `s3://${s3.bucket}/bench/aws-${i}`, '--only-show-errors'], awsCliEnv(s3)), `bench/aws-${i}`],
      ['rclone copyto', () => measured('env', ['-u', 'AWS_CA_BUNDLE', 'rclone', 'copyto', file, `${RCLONE_REMOTE}:${s3.bucket}/bench/rclone-${i}`], rcloneEnv(s3)), `bench/rclone-${i}`],
      ['uploader', () => measured('node', [DRIVER], driverEnv(s3, root, file, `bench/uploader-${i}`)), `bench/uploader-${i}`],
      // Not a target: the same file as 8 MiB parts x4 (the default path for files above the 1 GiB
      // multipart threshold). s3rver copies every part again on CompleteMultipartUpload, like for aws.
      [
        'uploader, multipart forced (info)',
        () => measured('node', [DRIVER], { ...driverEnv(s3, root, file, `bench/multipart-${i}`), [ENV.uploadMultipartThresholdMb]: '8' }),
        `bench/multipart-${i}`,
      ],
    ];
    for (const [name, run, key] of clients) {
      const r = await run();
      runs[name].push({ seconds: r.seconds, peakMiB: r.peakMiB });
      console.error(`  run ${i + 1}/${RUNS} ${name}: ${(SIZE / MIB / r.seconds).toFixed(0)} MiB/s, peak ${r.peakMiB.toFixed(1)} MiB`);
      await deleteKey(s3, key); // keep s3rver's disk use flat
    }
  }
  return runs;
}

/** Lets the kernel write back the previous step's dirty pages, so that it does not slow the next one. */
async function settle(): Promise<void> {
  await runTracked('sync', [], { timeoutMs: 120_000 });
  await sleep(1000);
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The bundled agent with production defaults; a complete 256 MiB HPROF written into its root. */
async function latency(s3: S3Server, root: string): Promise<{ seconds: number[]; agentPeakMiB: number }> {
  const port = await freePort();
  const agent = spawnTracked('node', [AGENT, 'uploader'], {
    env: { ...uploaderEnv(s3, root), [ENV.httpHost]: '127.0.0.1', [ENV.httpPort]: String(port) },
  });
  const seconds: number[] = [];
  try {
    await sleep(2000); // started, first scan done
    const c = s3.client();
    try {
      for (let i = 0; i < 3; i++) {
        const dir = path.join(root, 'ns', `pod-${i}`);
        fs.mkdirSync(dir, { recursive: true });
        const file = path.join(dir, 'java_pid1.hprof');
        await makeLargeHprof(file, LATENCY_SIZE);
        const lastWrite = fs.statSync(file).mtimeMs;
        const key = `bench-node/ns/pod-${i}/java_pid1.hprof`;
        let verifiedAt = 0;
        let sha = '';
        const deadline = Date.now() + 300_000;
        while (!verifiedAt) {
          if (Date.now() > deadline) throw new Error(`latency: ${key} not in S3 after 300 s:\n${agent.output()}`);
          try {
            const h = await c.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }));
            if (h.ContentLength === LATENCY_SIZE && h.Metadata?.sha256) {
              verifiedAt = Date.now();
              sha = h.Metadata.sha256;
            }
          } catch {
            // not there yet
          }
          if (!verifiedAt) await sleep(25);
        }
        if (sha !== (await sha256File(file))) throw new Error(`latency: ${key} has the wrong sha256 metadata`);
        seconds.push((verifiedAt - lastWrite) / 1000);
        console.error(`  latency ${i + 1}/3: ${((verifiedAt - lastWrite) / 1000).toFixed(2)} s`);
      }
    } finally {
      c.destroy();
    }
    return { seconds, agentPeakMiB: (vmHwmKiB(agent.pid) ?? 0) / 1024 };
  } finally {
    await agent.dispose();
  }
}

async function main(): Promise<number> {
  for (const f of [AGENT, DRIVER]) if (!fs.existsSync(f)) throw new Error(`${f} missing: run via npm run bench`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-uploader-'));
  const root = path.join(tmp, 'root');
  fs.mkdirSync(root);
  try {
    const s3 = await startS3Server('s3rver');
    const file = path.join(tmp, 'bench-1g.hprof');
    console.error(`writing ${SIZE / MIB} MiB test file; ${RUNS} rounds; uploader NODE_OPTIONS='${UPLOADER_NODE_OPTIONS}'`);
    await makeLargeHprof(file, SIZE);
    const runs = await throughput(s3, file, root);
    fs.rmSync(file);

    console.error('latency: bundled agent with production defaults');
    await settle();
    const lat = await latency(s3, root);

    console.error(`writing ${BIG / MIB} MiB test file (memory check)`);
    const big = path.join(tmp, 'bench-big.hprof');
    await makeLargeHprof(big, BIG);
    await settle();
    const bigRun = await measured('node', [DRIVER], driverEnv(s3, root, big, 'bench/big'));
    fs.rmSync(big);
    await deleteKey(s3, 'bench/big');

    const aws = median(runs['aws s3 cp'].map((r) => SIZE / MIB / r.seconds));
    const rcl = median(runs['rclone copyto'].map((r) => SIZE / MIB / r.seconds));
    const ours = median(runs.uploader.map((r) => SIZE / MIB / r.seconds));
    const peak1 = Math.max(...runs.uploader.map((r) => r.peakMiB));
    const lines = [
      `| client (${SIZE / MIB} MiB, median of ${RUNS}) | MiB/s | x aws | peak RSS MiB (median / max) |`,
      '|---|---|---|---|',
      ...Object.entries(runs).map(([name, rs]) => {
        const mibs = median(rs.map((r) => SIZE / MIB / r.seconds));
        return `| ${name} | ${mibs.toFixed(0)} | ${(mibs / aws).toFixed(2)} | ${median(rs.map((r) => r.peakMiB)).toFixed(1)} / ${Math.max(...rs.map((r) => r.peakMiB)).toFixed(1)} |`;
      }),
      `| uploader, ${BIG / MIB} MiB, 1 run | ${(BIG / MIB / bigRun.seconds).toFixed(0)} | | ${bigRun.peakMiB.toFixed(1)} |`,
      '',
      `latency, last write of a complete ${LATENCY_SIZE / MIB} MiB HPROF -> verified in S3 (agent, production defaults): ` +
        `median ${median(lat.seconds).toFixed(2)} s (runs: ${lat.seconds.map((s) => s.toFixed(2)).join(', ')}); agent peak RSS ${lat.agentPeakMiB.toFixed(1)} MiB`,
      '',
      `targets: throughput >= 1.5x aws: ${ours >= 1.5 * aws ? 'MET' : 'MISSED'} (${(ours / aws).toFixed(2)}x); above rclone: ${ours > rcl ? 'MET' : 'MISSED'} (${(ours / rcl).toFixed(2)}x); ` +
        `peak RSS <= 80 MiB: ${Math.max(peak1, bigRun.peakMiB) <= 80 ? 'MET' : 'MISSED'} (${peak1.toFixed(1)} / ${bigRun.peakMiB.toFixed(1)} MiB); ` +
        `latency < 5 s: ${median(lat.seconds) < 5 ? 'MET' : 'MISSED'}`,
    ];
    console.log(lines.join('\n'));
    return 0;
  } finally {
    await disposeAll();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  async (e) => {
    console.error(e);
    await disposeAll();
    process.exit(1);
  },
);
