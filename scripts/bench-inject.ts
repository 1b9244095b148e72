/**
 * `npm run bench:inject`: the inject webhook's added admission latency and its resident memory.
 *
 * Runs the bundled agent (`node .build/agent/agent.js inject`) as its own process, once with the JIT
 * and once with `--jitless`, with a CA and serving certificate made here. Like the API server, one
 * keep-alive HTTPS client POSTs AdmissionReviews one after another over loopback: BENCH_REVIEWS (1,000)
 * pods of Deployments, StatefulSets and Jobs, with and without JAVA_TOOL_OPTIONS, all opted in (the
 * path that builds a patch), after 50 unmeasured warm-up reviews. Latency is the client's time from
 * writing the request to the last byte of the answer; RSS is sampled from /proc/<pid>/status every
 * 20 ms (VmHWM at the end is the peak). Targets: p99 < 20 ms, RSS <= 64 MiB. Exit 1 when a mode that
 * the contract uses misses one. Stops the agent by its PID.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as https from 'https';
import * as os from 'os';
import * as path from 'path';
import { COMMANDS, INJECT_ANNOTATIONS, INJECT_ENV, INJECT_HTTPS, NODE_OPTIONS_BY_COMMAND } from '../agent/src/contract';
import { admissionReview, pod, WORKLOADS } from '../test/support/pods';
import { issueServerCert, makeCa } from '../test/support/tls';

const AGENT_BUNDLE = path.resolve(process.env.BENCH_BUNDLE ?? '.build/agent/agent.js');
const REVIEWS = Number(process.env.BENCH_REVIEWS ?? 1000);
const WARMUP = 50;
const TARGET_P99_MS = 20;
const TARGET_RSS_MIB = 64;
const DNS = 'heapdump-inject.heapdump-system.svc';

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`${field} not found in /proc/${pid}/status`);
  return Number(m[1]);
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

interface Result {
  mode: string;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  first: number;
  rssIdleMiB: number;
  rssEndMiB: number;
  peakMiB: number;
}

async function runMode(mode: string, nodeOptions: string, dir: string, ca: string, cert: { certFile: string; keyFile: string }): Promise<Result> {
  const child = spawn(process.execPath, [AGENT_BUNDLE, COMMANDS.inject], {
    env: {
      PATH: process.env.PATH,
      NODE_NAME: 'bench-node',
      AGENT_HTTP_HOST: '127.0.0.1',
      AGENT_HTTP_PORT: '0',
      LOG_LEVEL: 'info',
      [INJECT_ENV.httpsPort]: '0',
      [INJECT_ENV.pipelineNamespace]: 'heapdump-system',
      [INJECT_ENV.agentImage]: 'registry.example.com/platform/heapdump-agent:0.2.0',
      [INJECT_ENV.tlsCertFile]: cert.certFile,
      [INJECT_ENV.tlsKeyFile]: cert.keyFile,
      ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid!;
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      for (const line of buf.split('\n')) {
        if (line.includes('"webhook listening"')) {
          child.stdout.off('data', onData);
          child.stdout.resume(); // keep draining the per-review log lines
          return resolve(JSON.parse(line).port as number);
        }
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`agent exited (${code}) before listening: ${buf}${stderr}`)));
    setTimeout(() => reject(new Error(`agent not listening after 15 s: ${buf}${stderr}`)), 15_000).unref();
  });
  await new Promise((r) => setTimeout(r, 500));
  const rssIdleMiB = statusKb(pid, 'VmRSS') / 1024;

  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca, servername: DNS });
  const bodies = Array.from({ length: 12 }, (_, i) => JSON.stringify(admissionReview(pod({
    workload: WORKLOADS[i % 3], sidecar: i % 4 === 0,
    javaToolOptions: i % 2 === 0 ? undefined : '-Xmx768m -Dfile.encoding=UTF-8',
    annotations: { [INJECT_ANNOTATIONS.inject]: 'true' },
  }))));
  const post = (body: string) => new Promise<number>((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = https.request({ host: '127.0.0.1', port, path: INJECT_HTTPS.mutatePods, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        const answer = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        if (res.statusCode !== 200 || answer.response?.patchType !== 'JSONPatch') reject(new Error(`unexpected answer ${res.statusCode}: ${JSON.stringify(answer).slice(0, 200)}`));
        else resolve(ms);
      });
    });
    req.on('error', reject);
    req.end(body);
  });

  let peakKb = 0;
  const sampler = setInterval(() => {
    try {
      peakKb = Math.max(peakKb, statusKb(pid, 'VmRSS'));
    } catch { /* exited */ }
  }, 20);
  try {
    const first = await post(bodies[0]);
    for (let i = 1; i < WARMUP; i++) await post(bodies[i % bodies.length]);
    const times: number[] = [];
    for (let i = 0; i < REVIEWS; i++) times.push(await post(bodies[i % bodies.length]));
    times.sort((a, b) => a - b);
    const rssEndMiB = statusKb(pid, 'VmRSS') / 1024;
    const hwm = statusKb(pid, 'VmHWM');
    return {
      mode, first, p50: quantile(times, 0.5), p90: quantile(times, 0.9), p99: quantile(times, 0.99), max: times[times.length - 1],
      rssIdleMiB, rssEndMiB, peakMiB: Math.max(peakKb, hwm) / 1024,
    };
  } finally {
    clearInterval(sampler);
    agent.destroy();
    const exited = new Promise((r) => child.once('exit', r));
    process.kill(pid, 'SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL');
    void dir;
  }
}

async function main(): Promise<number> {
  if (!fs.existsSync(AGENT_BUNDLE)) {
    console.error(`bench:inject: ${AGENT_BUNDLE} missing (run npm run bundle)`);
    return 1;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-inject-'));
  try {
    const ca = makeCa(dir);
    const cert = issueServerCert(ca, dir, [DNS]);
    const contract = NODE_OPTIONS_BY_COMMAND[COMMANDS.inject] ?? '';
    const modes: Array<[string, string]> = [['jit', ''], ['jitless', '--jitless']];
    const results: Result[] = [];
    for (const [mode, opts] of modes) results.push(await runMode(mode, opts, dir, ca.certPem, cert));
    console.log(`bench:inject: ${REVIEWS} AdmissionReviews (after ${WARMUP} warm-up), one keep-alive HTTPS client on loopback, node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.log('| mode | first ms | p50 ms | p90 ms | p99 ms | max ms | RSS idle MiB | RSS end MiB | peak RSS MiB |');
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const r of results) {
      console.log(`| ${r.mode}${(r.mode === 'jitless') === (contract === '--jitless') ? ' (contract)' : ''} | ${r.first.toFixed(1)} | ${r.p50.toFixed(2)} | ${r.p90.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.max.toFixed(1)} | ${r.rssIdleMiB.toFixed(1)} | ${r.rssEndMiB.toFixed(1)} | ${r.peakMiB.toFixed(1)} |`);
    }
    const used = results.find((r) => (r.mode === 'jitless') === (contract === '--jitless'))!;
    const ok = used.p99 < TARGET_P99_MS && used.peakMiB <= TARGET_RSS_MIB;
    console.log(`targets (mode the constructs use: ${used.mode}): p99 < ${TARGET_P99_MS} ms ${used.p99 < TARGET_P99_MS ? 'met' : 'MISSED'}, peak RSS <= ${TARGET_RSS_MIB} MiB ${used.peakMiB <= TARGET_RSS_MIB ? 'met' : 'MISSED'}`);
    return ok ? 0 : 1;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (error: Error) => {
  console.error(`bench:inject failed: ${error.stack ?? error.message}`);
  process.exit(1);
});
