/**
 * `npm run bench [-- options]`: the uploader's throughput, CPU per byte, memory, latency, idle cost and
 * scale, in ONE run, every client side by side against the same server (the server and the shared,
 * busy 2-core machine are a large part of every timing: clients are compared as ratios, medians of
 * --runs, round-robin). `npm run bench -- --help` lists the options.
 *
 *  1. Floor: the test file read once in 1 MiB chunks and hashed with Node's own crypto (sha256, MD5,
 *     both), in the uploader's Node and NODE_OPTIONS: MiB/s per core of CPU (process.cpuUsage).
 *  2. Throughput per server (s3rver, Ceph RGW) and size (default 4 GiB, 8 GiB), HPROF-shaped files:
 *     `/usr/bin/aws s3 cp`, `rclone copyto` (both at their defaults) and our uploader
 *     (scripts/bench-upload-driver.ts: the agent's own config resolver, S3 client and store, and its
 *     NODE_OPTIONS from the contract, on the image's Node 24; one read pass with sha256, per-part
 *     payload digests and the triage analysis, then upload + HEAD-verify, in its own process). Every
 *     client runs in a cgroup with the uploader container's resources.limits from the synthesized
 *     manifests (--limits manifest, default) or none. CPU seconds = user + system of the client's own
 *     rusage (/usr/bin/time), peak RSS = its max RSS. Ceiling rows (no limits, one run): aws and rclone
 *     at tuned concurrency and the uploader's part size; the best of them is the server's ceiling.
 *  3. Agent (bundled, `node .build/agent/agent.js uploader`, production defaults, in the same cgroup):
 *     idle CPU and RSS with 10,000 unrelated files under the root; latency from the last write of a
 *     complete 256 MiB HPROF (and of one of the largest size) to the object verified in S3; scale: N
 *     dumps at once against N x the single-dump time.
 *
 * Everything is started and stopped by PID; temp files and cgroups are removed.
 */
import { DeleteObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'util';
import { COMMANDS, ENV, NODE_OPTIONS_BY_COMMAND } from '../agent/src/contract';
import { AWS_CLI, awsCliEnv, baseEnv, RCLONE_REMOTE, rcloneEnv } from '../test/support/clients';
import { makeLargeHprof } from '../test/support/jvm';
import { node24Binary } from '../test/support/node24';
import { disposeAll, freePort, runTracked, sleep, spawnTracked, type TrackedProcess } from '../test/support/procs';
import { S3Server, s3Env, sha256File, startS3Server } from '../test/support/s3';
import { describeLimits, LimitGroup, type Limits, uploaderLimitsFromManifest } from './bench-cgroup';

const HELP = `usage: npm run bench -- [options]
  --server s3rver|rgw|both   S3 server(s), one after the other in the same run (default both; rgw = Ceph RGW
                             via scripts/ceph-up.sh, memstore)
  --sizes MiB,...            dump sizes for the throughput table (default 4096,8192)
  --runs N                   repetitions per client and size, round-robin; medians (default 3)
  --big-runs N               repetitions for sizes >= 8192 MiB (default: --runs)
  --limits manifest|none     cgroup limits for every measured client: the uploader container's
                             resources.limits in --manifest (default), or none
  --manifest FILE            synthesized manifests (default dist/heapdump-pipeline.k8s.yaml; run npm run synth first)
  --node PATH                Node binary for the uploader (default: the image's Node 24, scripts/fetch-node.sh)
  --clients a,b,...          aws,rclone,uploader,uploader-jit,uploader-sha256,uploader-noanalysis,uploader-sse-kms
                             (default aws,rclone,uploader); uploader-sse-kms: SSE-KMS with a key of RGW's testing
                             backend (rgw only; the RGW then starts with that backend);
                             uploader@part=16+conc=8+threshold=8 = the uploader with those settings (MiB)
  --no-ceiling               skip the ceiling rows (aws/rclone at tuned concurrency, no limits)
  --no-agent                 skip idle, latency and scale (the bundled agent)
  --pin-server               the S3 server's processes on the last CPU, every client (and the agent) on the
                             others: a server on its own hardware, as in production, where the uploader's
                             CPU work does not slow the server down (default: all share every CPU)
  --idle-seconds N           idle measurement window (default 60)
  --scale N                  dumps at once in the scale row (default 50; 0 = skip)
  --scale-mib N              size of each of them (default 64)
  --help                     this text
env: BENCH_NODE_OPTIONS overrides the uploader's NODE_OPTIONS (default: the contract's).`;

const { values: opt } = parseArgs({
  options: {
    server: { type: 'string', default: 'both' },
    sizes: { type: 'string', default: '4096,8192' },
    runs: { type: 'string', default: '3' },
    'big-runs': { type: 'string' },
    limits: { type: 'string', default: 'manifest' },
    manifest: { type: 'string', default: 'dist/heapdump-pipeline.k8s.yaml' },
    node: { type: 'string' },
    clients: { type: 'string', default: 'aws,rclone,uploader' },
    'no-ceiling': { type: 'boolean', default: false },
    'no-agent': { type: 'boolean', default: false },
    'pin-server': { type: 'boolean', default: false },
    'idle-seconds': { type: 'string', default: '60' },
    scale: { type: 'string', default: '50' },
    'scale-mib': { type: 'string', default: '64' },
    help: { type: 'boolean', default: false },
  },
});

const MIB = 2 ** 20;
const GIB = 2 ** 30;
const RUNS = Number(opt.runs);
const BIG_RUNS = Number(opt['big-runs'] ?? opt.runs);
const SIZES = opt.sizes!.split(',').map((s) => Number(s) * MIB);
const SERVERS: Array<'s3rver' | 'ceph'> = opt.server === 'both' ? ['s3rver', 'ceph'] : opt.server === 'rgw' ? ['ceph'] : ['s3rver'];
const CLIENTS = opt.clients!.split(',');
const LATENCY_SIZE = 256 * MIB;
const AGENT = path.resolve('.build/agent/agent.js');
const DRIVER = path.resolve('.build/bench/bench-upload-driver.js');
const UPLOADER_NODE_OPTIONS = process.env.BENCH_NODE_OPTIONS ?? NODE_OPTIONS_BY_COMMAND[COMMANDS.uploader] ?? '';
const TIME_FORMAT = '%e %U %S %M';
/** The SSE-KMS key RGW's testing backend gets when the uploader-sse-kms client is asked for. */
const BENCH_KMS_KEY = 'bench-key-1';
let NODE = 'node';

interface Run {
  readonly seconds: number;
  readonly cpuSeconds: number;
  /** The kernel's part of cpuSeconds. */
  readonly sysSeconds: number;
  readonly peakMiB: number;
}

function vmKiB(pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined; // exited
  }
}

/** utime + stime of a live process, seconds. */
function cpuOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // USER_HZ = 100 on Linux
}

/**
 * The CPUs this process and everything it starts from now on may run on (`taskset -a -p`: all its threads).
 * --pin-server: the server is started while the bench is on the server's CPU, the clients after it moved off.
 */
async function pinSelf(cpus: string): Promise<void> {
  const r = await runTracked('taskset', ['-a', '-p', '-c', cpus, String(process.pid)], { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`taskset -a -p -c ${cpus} ${process.pid} failed (exit ${r.code}): ${r.stderr.trim()}`);
}
const CPUS = os.cpus().length;
const PIN = opt['pin-server'] && CPUS >= 2 ? { server: String(CPUS - 1), clients: CPUS === 2 ? '0' : `0-${CPUS - 2}` } : undefined;

/**
 * Runs a command (in `group` when given), timed; CPU seconds and peak RSS from its own rusage
 * (/usr/bin/time: user + system, max RSS).
 */
async function measured(cmd: string, args: string[], env: NodeJS.ProcessEnv, group: LimitGroup | undefined, tmp: string): Promise<Run & { stdout: string }> {
  const out = path.join(tmp, 'time.out');
  const timed: [string, string[]] = ['/usr/bin/time', ['-f', TIME_FORMAT, '-o', out, cmd, ...args]];
  const [c, a] = group ? group.wrap(...timed) : timed;
  const t0 = process.hrtime.bigint();
  const p = spawnTracked(c, a, { env });
  const { code } = await p.exited;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${code}):\n${p.output()}\n${fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : ''}`);
  const [, user, sys, maxKiB] = fs.readFileSync(out, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  fs.rmSync(out);
  return { seconds, cpuSeconds: user + sys, sysSeconds: sys, peakMiB: maxKiB / 1024, stdout: p.stdout.join('\n') };
}

function uploaderEnv(s3: S3Server, root: string): NodeJS.ProcessEnv {
  return {
    ...baseEnv(),
    ...s3Env(s3),
    [ENV.nodeName]: 'bench-node',
    [ENV.dumpRoot]: root,
    [ENV.uploaderStateDir]: `${root}.state`,
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

/** RGW deletes an object's data later (garbage collection, 2 h by default): run it now, so memstore stays small. */
async function rgwGc(s3: S3Server): Promise<void> {
  if (s3.kind !== 'ceph') return;
  const pid = s3.pid();
  if (pid === undefined) return;
  const conf = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').find((e) => e.startsWith('CEPH_CONF='));
  if (!conf) return;
  await runTracked('radosgw-admin', ['gc', 'process', '--include-all'], { env: { ...process.env, CEPH_CONF: conf.slice('CEPH_CONF='.length) }, timeoutMs: 300_000 });
}

async function deleteKeys(s3: S3Server, keys: string[]): Promise<void> {
  const c = s3.client();
  try {
    for (const key of keys) await c.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: key }));
  } finally {
    c.destroy();
  }
  await rgwGc(s3);
}

/** Lets the kernel write back the previous step's dirty pages, so that it does not slow the next one. */
async function settle(): Promise<void> {
  await runTracked('sync', [], { timeoutMs: 300_000 });
  await sleep(1000);
}

type Client = { name: string; run: (key: string) => Promise<Run>; ceiling?: boolean };

function clientsFor(s3: S3Server, file: string, root: string, size: number, group: LimitGroup | undefined, tmp: string, partMiB: number): Client[] {
  const all: Record<string, Client> = {
    aws: { name: 'aws s3 cp', run: (key) => measured(AWS_CLI, ['--endpoint-url', s3.endpoint, 's3', 'cp', file, `s3://${s3.bucket}/${key}`, '--only-show-errors'], awsCliEnv(s3), group, tmp) },
    rclone: { name: 'rclone copyto', run: (key) => measured('env', ['-u', 'AWS_CA_BUNDLE', 'rclone', 'copyto', file, `${RCLONE_REMOTE}:${s3.bucket}/${key}`], rcloneEnv(s3), group, tmp) },
    uploader: { name: 'uploader', run: (key) => measured(NODE, [DRIVER], driverEnv(s3, root, file, key), group, tmp) },
    'uploader-jit': {
      name: 'uploader, JIT on (info)',
      run: (key) => measured(NODE, [DRIVER], { ...driverEnv(s3, root, file, key), NODE_OPTIONS: '' }, group, tmp),
    },
    'uploader-sha256': {
      name: 'uploader, sha256 payload digests (info)',
      run: (key) => measured(NODE, [DRIVER], { ...driverEnv(s3, root, file, key), [ENV.uploadChecksum]: 'sha256' }, group, tmp),
    },
    'uploader-noanalysis': {
      name: 'uploader, no triage (info)',
      run: (key) => measured(NODE, [DRIVER], { ...driverEnv(s3, root, file, key), [ENV.dumpAnalysis]: 'false' }, group, tmp),
    },
    'uploader-sse-kms': {
      name: 'uploader, SSE-KMS (info)',
      run: (key) => {
        if (s3.kind !== 'ceph') throw new Error('uploader-sse-kms needs --server rgw (s3rver stores no encryption, so the HEAD would refuse every upload)');
        return measured(NODE, [DRIVER], { ...driverEnv(s3, root, file, key), [ENV.s3Encryption]: 'SSE-KMS', [ENV.s3KmsKeyId]: BENCH_KMS_KEY }, group, tmp);
      },
    },
  };
  const clients = CLIENTS.map((c) => {
    // uploader@part=16,conc=8,threshold=8: the uploader with other part size / concurrency / single-PUT threshold (MiB)
    const tuned = /^uploader@(.*)$/.exec(c);
    if (tuned) {
      const names: Record<string, string> = { part: ENV.uploadPartSizeMb, conc: ENV.uploadConcurrency, threshold: ENV.uploadMultipartThresholdMb };
      const env = Object.fromEntries(tuned[1].split('+').map((kv) => {
        const [k, v] = kv.split('=');
        if (!names[k]) throw new Error(`unknown uploader setting ${k} in ${c}`);
        return [names[k], v];
      }));
      return { name: `uploader ${tuned[1]} (info)`, run: (key: string) => measured(NODE, [DRIVER], { ...driverEnv(s3, root, file, key), ...env }, group, tmp) };
    }
    if (!all[c]) throw new Error(`unknown client ${c}`);
    return all[c];
  });
  if (!opt['no-ceiling']) {
    const awsConf = path.join(tmp, 'aws-tuned.conf');
    fs.writeFileSync(awsConf, `[default]\ns3 =\n  max_concurrent_requests = 16\n  multipart_chunksize = ${partMiB}MB\n  multipart_threshold = 8MB\n`);
    clients.push(
      { name: `ceiling: aws, 16 parallel ${partMiB} MiB parts, no limits`, ceiling: true, run: (key) => measured(AWS_CLI, ['--endpoint-url', s3.endpoint, 's3', 'cp', file, `s3://${s3.bucket}/${key}`, '--only-show-errors'], { ...awsCliEnv(s3), AWS_CONFIG_FILE: awsConf }, undefined, tmp) },
      { name: `ceiling: rclone, 16 parallel ${partMiB} MiB parts, no limits`, ceiling: true, run: (key) => measured('env', ['-u', 'AWS_CA_BUNDLE', 'rclone', 'copyto', '--s3-upload-concurrency', '16', '--s3-chunk-size', `${partMiB}M`, '--s3-upload-cutoff', '8M', file, `${RCLONE_REMOTE}:${s3.bucket}/${key}`], rcloneEnv(s3), undefined, tmp) },
    );
  }
  void size;
  return clients;
}

interface Row {
  server: string;
  size: number;
  client: string;
  runs: Run[];
  /** Why runs failed (one line each): a server error in one run costs that run, not the whole bench. */
  failed: string[];
  ceiling?: boolean;
}

async function throughput(s3: S3Server, file: string, root: string, size: number, group: LimitGroup | undefined, tmp: string): Promise<Row[]> {
  const partMiB = Number(process.env.BENCH_CEILING_PART_MIB ?? '16');
  const clients = clientsFor(s3, file, root, size, group, tmp, partMiB);
  const rows: Row[] = clients.map((c) => ({ server: s3.kind, size, client: c.name, runs: [], failed: [], ceiling: c.ceiling }));
  const runs = size >= 8192 * MIB ? BIG_RUNS : RUNS;
  for (let i = 0; i < runs; i++) {
    for (const [j, c] of clients.entries()) {
      if (c.ceiling && i > 0) continue; // one run: informational, no limits
      const key = `bench/${j}-${i}`;
      let r: Run;
      try {
        r = await c.run(key);
      } catch (error) {
        const why = ((error as Error).message.split('\n').find((l) => /error|fail/i.test(l) && !l.startsWith('/')) ?? (error as Error).message.split('\n')[0]).trim();
        rows[j].failed.push(why);
        console.error(`  ${s3.kind} ${size / MIB} MiB run ${i + 1}/${runs} ${c.name}: FAILED: ${why}`);
        await deleteKeys(s3, [key]).catch(() => undefined);
        continue;
      }
      rows[j].runs.push(r);
      console.error(`  ${s3.kind} ${size / MIB} MiB run ${i + 1}/${runs} ${c.name}: ${(r.seconds).toFixed(1)} s, ${(size / MIB / r.seconds).toFixed(0)} MiB/s, CPU ${(r.cpuSeconds / (size / GIB)).toFixed(2)} s/GiB (sys ${(r.sysSeconds / (size / GIB)).toFixed(2)}), peak ${r.peakMiB.toFixed(1)} MiB`);
      // the uploader's analysis process (its CPU is in the driver's rusage, its RSS is not in the peak: that is the max of the two)
      const analysis = /"analysisCpuMs":(\d+),"analysisPeakRssMiB":([\d.]+)/.exec((r as { stdout?: string }).stdout ?? '');
      if (analysis) console.error(`    analysis process: ${(Number(analysis[1]) / 1000).toFixed(2)} CPU s, peak RSS ${Number(analysis[2]).toFixed(1)} MiB (beside the uploader in the same cgroup)`);
      await deleteKeys(s3, [key]); // keep the server's disk / memory use flat
    }
  }
  return rows;
}

/** The floor: read + hash in the uploader's Node (no limits), CPU per byte. */
async function floor(file: string, size: number, tmp: string): Promise<Array<{ mode: string; mibPerCoreS: number[] }>> {
  const out: Array<{ mode: string; mibPerCoreS: number[] }> = [];
  for (const mode of ['floor-read', 'floor-sha256', 'floor-md5', 'floor-both']) out.push({ mode, mibPerCoreS: [] });
  for (let i = 0; i < 3; i++) {
    for (const o of out) {
      const r = await measured(NODE, [DRIVER], { ...baseEnv(), NODE_OPTIONS: UPLOADER_NODE_OPTIONS, BENCH_FILE: file, BENCH_MODE: o.mode }, undefined, tmp);
      const own = JSON.parse(r.stdout.trim().split('\n').pop()!) as { cpuMs: number };
      o.mibPerCoreS.push(size / MIB / (own.cpuMs / 1000));
    }
  }
  return out;
}

/** Watches the agent's stdout for 'uploaded and verified' events: key -> time seen. */
function verifiedEvents(agent: TrackedProcess): { seen: Map<string, number>; count: Map<string, number> } {
  const seen = new Map<string, number>();
  const count = new Map<string, number>();
  let buf = '';
  agent.child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.includes('uploaded and verified')) continue;
      try {
        const ev = JSON.parse(line) as { key?: string };
        if (ev.key) {
          if (!seen.has(ev.key)) seen.set(ev.key, Date.now());
          count.set(ev.key, (count.get(ev.key) ?? 0) + 1);
        }
      } catch {
        // not JSON
      }
    }
  });
  return { seen, count };
}

interface AgentResult {
  idleCpuPct: number;
  idleRssMiB: number;
  idleFiles: number;
  latency: number[];
  bigLatency?: { size: number; seconds: number };
  scale?: { n: number; mib: number; single: number[]; total: number; uploads: number; maxPerKey: number; hwmBefore: number; hwmAfter: number };
  agentPeakMiB: number;
}

async function waitVerified(ev: { seen: Map<string, number> }, match: string, agent: TrackedProcess, timeoutMs: number): Promise<[string, number]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const [k, t] of ev.seen) if (k.includes(match)) return [k, t];
    if (agent.exitInfo()) throw new Error(`agent exited:\n${agent.output()}`);
    if (Date.now() > deadline) throw new Error(`${match} not verified after ${timeoutMs / 1000} s:\n${agent.output().slice(-4000)}`);
    await sleep(10);
  }
}

/** The dump once verified: still in place, or moved into the archive (the default after-upload action). */
async function localCopy(root: string, name: string, file: string): Promise<string> {
  const archived = path.join(root, '.heapdump-archive', 'ns', name);
  for (let i = 0; i < 500; i++) {
    if (fs.existsSync(file) && i > 100) return file; // 'keep': it stays
    const moved = fs.existsSync(archived) ? fs.readdirSync(archived) : [];
    if (moved.length === 1) return path.join(archived, moved[0]);
    await sleep(10);
  }
  return file;
}

async function checkSha(s3: S3Server, key: string, file: string): Promise<void> {
  const c = s3.client();
  try {
    const h = await c.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }));
    let local: string;
    try {
      local = await sha256File(file);
    } catch (e) {
      // a large dump may be removed from the archive by the retention (size) limit right after it was verified
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      if (!h.Metadata?.sha256) throw new Error(`${key} has no sha256 metadata`);
      console.error(`  ${key}: local copy already removed by the archive retention, not re-hashed`);
      return;
    }
    if (h.Metadata?.sha256 !== local) throw new Error(`${key} has the wrong sha256 metadata`);
  } finally {
    c.destroy();
  }
}

/** The bundled agent with production defaults, in the limits' cgroup. */
async function agentRows(s3: S3Server, tmp: string, group: LimitGroup | undefined, bigSize: number | undefined): Promise<AgentResult> {
  const root = path.join(tmp, `agent-root-${s3.kind}`);
  fs.mkdirSync(root, { recursive: true });
  // 10,000 unrelated files under the root (100 directories of 100), before the agent starts
  for (let d = 0; d < 100; d++) {
    const dir = path.join(root, 'other', `app-${d}`);
    fs.mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 100; f++) fs.writeFileSync(path.join(dir, `file-${f}.log`), `line ${f}\n`);
  }
  const port = await freePort();
  const [c, a] = group ? group.wrap(NODE, [AGENT, 'uploader']) : [NODE, [AGENT, 'uploader']];
  const agent = spawnTracked(c, a, { env: { ...uploaderEnv(s3, root), [ENV.httpHost]: '127.0.0.1', [ENV.httpPort]: String(port) }, maxLines: 500 });
  const ev = verifiedEvents(agent);
  const keys: string[] = [];
  try {
    await sleep(15_000); // started, first scans done
    const idleSeconds = Number(opt['idle-seconds']);
    console.error(`  ${s3.kind} agent idle, 10,000 unrelated files: ${idleSeconds} s`);
    const c0 = cpuOf(agent.pid);
    await sleep(idleSeconds * 1000);
    const idleCpuPct = ((cpuOf(agent.pid) - c0) / idleSeconds) * 100;
    const idleRssMiB = (vmKiB(agent.pid, 'VmRSS') ?? 0) / 1024;
    console.error(`  idle: ${idleCpuPct.toFixed(3)} % of a core, RSS ${idleRssMiB.toFixed(1)} MiB`);

    const oneDump = async (name: string, bytes: number): Promise<number> => {
      const dir = path.join(root, 'ns', name);
      fs.mkdirSync(dir, { recursive: true });
      const file = path.join(dir, 'java_pid1.hprof');
      await makeLargeHprof(file, bytes);
      const lastWrite = fs.statSync(file).mtimeMs;
      const [key, at] = await waitVerified(ev, `/ns/${name}/`, agent, 600_000);
      keys.push(key);
      await checkSha(s3, key, await localCopy(root, name, file));
      fs.rmSync(path.join(root, '.heapdump-archive', 'ns', name), { recursive: true, force: true });
      fs.rmSync(file, { force: true });
      return (at - lastWrite) / 1000;
    };
    const latency: number[] = [];
    for (let i = 0; i < 3; i++) {
      latency.push(await oneDump(`lat-${i}`, LATENCY_SIZE));
      console.error(`  ${s3.kind} latency ${LATENCY_SIZE / MIB} MiB ${i + 1}/3: ${latency[i].toFixed(2)} s`);
    }
    let bigLatency: AgentResult['bigLatency'];
    if (bigSize !== undefined) {
      await settle();
      bigLatency = { size: bigSize, seconds: await oneDump('big-0', bigSize) };
      console.error(`  ${s3.kind} latency ${bigSize / MIB} MiB: ${bigLatency.seconds.toFixed(2)} s`);
    }
    await deleteKeys(s3, keys.splice(0));

    let scale: AgentResult['scale'];
    const n = Number(opt.scale);
    if (n > 0) {
      const mib = Number(opt['scale-mib']);
      const single: number[] = [];
      for (let i = 0; i < 3; i++) single.push(await oneDump(`single-${i}`, mib * MIB));
      console.error(`  ${s3.kind} single ${mib} MiB dumps: ${single.map((s) => s.toFixed(2)).join(', ')} s`);
      const hwmBefore = (vmKiB(agent.pid, 'VmHWM') ?? 0) / 1024;
      // N dumps written at once (their writes overlap, as N JVMs dumping on one node would)
      const files = Array.from({ length: n }, (_, i) => path.join(root, 'ns', `scale-${i}`, 'java_pid1.hprof'));
      for (const f of files) fs.mkdirSync(path.dirname(f), { recursive: true });
      await Promise.all(files.map((f) => makeLargeHprof(f, mib * MIB)));
      const firstWrite = Math.min(...files.map((f) => fs.statSync(f).mtimeMs));
      let last = 0;
      for (let i = 0; i < n; i++) {
        const [key, at] = await waitVerified(ev, `/ns/scale-${i}/`, agent, 900_000);
        keys.push(key);
        last = Math.max(last, at);
      }
      await sleep(3000); // any second upload of a dump would show up now
      const scaleKeys = [...ev.count.keys()].filter((k) => k.includes('/ns/scale-'));
      scale = {
        n, mib, single, total: (last - firstWrite) / 1000, uploads: scaleKeys.length, maxPerKey: Math.max(...scaleKeys.map((k) => ev.count.get(k)!)),
        hwmBefore, hwmAfter: (vmKiB(agent.pid, 'VmHWM') ?? 0) / 1024,
      };
      console.error(`  ${s3.kind} scale: ${n} x ${mib} MiB in ${scale.total.toFixed(1)} s (sum of singles ${(n * median(single)).toFixed(1)} s); VmHWM ${hwmBefore.toFixed(1)} -> ${scale.hwmAfter.toFixed(1)} MiB`);
      for (const f of files) fs.rmSync(f, { force: true });
      fs.rmSync(path.join(root, '.heapdump-archive'), { recursive: true, force: true });
      await deleteKeys(s3, keys.splice(0));
    }
    return { idleCpuPct, idleRssMiB, idleFiles: 10_000, latency, bigLatency, scale, agentPeakMiB: (vmKiB(agent.pid, 'VmHWM') ?? 0) / 1024 };
  } finally {
    await agent.dispose();
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(`${root}.state`, { recursive: true, force: true });
  }
}

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);

function table(rows: Row[]): string[] {
  const lines = [
    '| server | size | client | runs | wall s (median) | MiB/s | CPU s per GiB | MiB/s per core | peak RSS MiB (max) | x aws |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const name = r.server === 'ceph' ? 'Ceph RGW' : r.server;
    const runs = `${r.runs.length}${r.failed.length ? ` (+${r.failed.length} failed)` : ''}`;
    if (r.runs.length === 0) {
      lines.push(`| ${name} | ${r.size / GIB} GiB | ${r.client} | ${runs} | failed | | | | | |`);
      continue;
    }
    const wall = median(r.runs.map((x) => x.seconds));
    const aws = rows.find((o) => o.server === r.server && o.size === r.size && o.client === 'aws s3 cp' && o.runs.length > 0);
    const awsMibs = aws ? r.size / MIB / median(aws.runs.map((x) => x.seconds)) : undefined;
    const mibs = r.size / MIB / wall;
    const cpuPerGiB = median(r.runs.map((x) => x.cpuSeconds / (r.size / GIB)));
    lines.push(`| ${name} | ${r.size / GIB} GiB | ${r.client} | ${runs} | ${f1(wall)} | ${mibs.toFixed(0)} | ${f2(cpuPerGiB)} | ${(1024 / cpuPerGiB).toFixed(0)} | ${f1(Math.max(...r.runs.map((x) => x.peakMiB)))} | ${awsMibs ? f2(mibs / awsMibs) : ''} |`);
  }
  const failures = rows.flatMap((r) => r.failed.map((why) => `failed run: ${r.server} ${r.size / GIB} GiB ${r.client}: ${why}`));
  if (failures.length) lines.push('', ...failures);
  return lines;
}

async function main(): Promise<number> {
  if (opt.help) {
    console.log(HELP);
    return 0;
  }
  for (const f of [AGENT, DRIVER]) if (!fs.existsSync(f)) throw new Error(`${f} missing: run via npm run bench`);
  NODE = opt.node ?? (await node24Binary());
  const nodeVersion = (await runTracked(NODE, ['--version'])).stdout.trim();
  const limits: Limits = opt.limits === 'none' ? { source: 'none (--limits none)' } : uploaderLimitsFromManifest(path.resolve(opt.manifest!));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-uploader-'));
  const root = path.join(tmp, 'root');
  fs.mkdirSync(root);
  const group = limits.cpuMillis === undefined && limits.memoryBytes === undefined ? undefined : LimitGroup.create(`heapdump-bench-${process.pid}`, limits);
  const out: string[] = [];
  const say = (...l: string[]) => {
    out.push(...l);
    console.log(l.join('\n'));
  };
  try {
    say(`date: ${new Date().toISOString()}; machine: ${os.cpus().length} cores (${os.cpus()[0]?.model}), ${f1(os.totalmem() / GIB)} GiB RAM; uploader Node ${nodeVersion} (${NODE}), NODE_OPTIONS='${UPLOADER_NODE_OPTIONS}'`);
    say(`limits: ${describeLimits(limits)} (${limits.source})`);
    say(PIN ? `CPUs: the S3 server on CPU ${PIN.server}, every client and the agent on CPU ${PIN.clients} (--pin-server)` : 'CPUs: the server and the clients share every CPU', '');
    const rows: Row[] = [];
    const agents: Array<[string, AgentResult]> = [];
    let floorRows: Awaited<ReturnType<typeof floor>> | undefined;
    for (const kind of SERVERS) {
      console.error(`starting ${kind}`);
      if (PIN) await pinSelf(PIN.server);
      const s3 = await startS3Server(kind, kind === 'ceph' ? {
        cephStore: 'memstore', cephStoreBytes: 3 * Math.max(...SIZES) + 2 * GIB,
        ...(CLIENTS.includes('uploader-sse-kms') ? { ceph: { kmsKeys: [BENCH_KMS_KEY] } } : {}),
      } : {});
      if (PIN) await pinSelf(PIN.clients);
      try {
        for (const size of SIZES) {
          const file = path.join(tmp, `bench-${size / MIB}.hprof`);
          console.error(`writing ${size / MIB} MiB test file`);
          await makeLargeHprof(file, size);
          await settle();
          if (!floorRows) floorRows = await floor(file, size, tmp);
          rows.push(...(await throughput(s3, file, root, size, group, tmp)));
          fs.rmSync(file);
        }
        if (!opt['no-agent']) agents.push([kind, await agentRows(s3, tmp, group, Math.max(...SIZES.filter((s) => s <= 4 * GIB)))]);
      } finally {
        await s3.dispose();
      }
    }
    say(...table(rows), '');
    if (floorRows) {
      say('| floor (Node crypto, 1 MiB reads, same file, median of 3) | MiB/s per core |', '|---|---|');
      for (const f of floorRows) say(`| ${f.mode.replace('floor-', '')} | ${median(f.mibPerCoreS).toFixed(0)} |`);
      say('');
    }
    for (const [kind, a] of agents) {
      say(
        `agent on ${kind === 'ceph' ? 'Ceph RGW' : 's3rver'} (${describeLimits(limits)}):`,
        `- idle with ${a.idleFiles} unrelated files: ${a.idleCpuPct.toFixed(3)} % of a core = ${f1((a.idleCpuPct / 100) * 3600)} CPU s per idle hour; RSS ${f1(a.idleRssMiB)} MiB`,
        `- latency, last write of a complete ${LATENCY_SIZE / MIB} MiB HPROF -> verified: median ${f2(median(a.latency))} s (${a.latency.map(f2).join(', ')})`,
        ...(a.bigLatency ? [`- latency, ${a.bigLatency.size / MIB} MiB HPROF: ${f2(a.bigLatency.seconds)} s (1 run)`] : []),
        ...(a.scale
          ? [`- scale: ${a.scale.n} x ${a.scale.mib} MiB dumps at once: ${f1(a.scale.total)} s from the first write to the last verified, vs ${f1(a.scale.n * median(a.scale.single))} s = ${a.scale.n} x the single-dump time (median ${f2(median(a.scale.single))} s): ratio ${f2(a.scale.total / (a.scale.n * median(a.scale.single)))}; ${a.scale.uploads} dumps uploaded, at most ${a.scale.maxPerKey} time(s) each; VmHWM ${f1(a.scale.hwmBefore)} -> ${f1(a.scale.hwmAfter)} MiB`]
          : []),
        `- agent peak RSS ${f1(a.agentPeakMiB)} MiB`,
        '',
      );
    }
    if (group) {
      const t = group.throttled();
      if (t) say(`cgroup throttling over the whole run: ${t.periods} periods, ${f1(t.seconds)} s`);
    }
    fs.writeFileSync(path.resolve('.build/bench/last-run.md'), out.join('\n') + '\n');
    return 0;
  } finally {
    await disposeAll();
    group?.dispose();
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
