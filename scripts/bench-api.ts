/**
 * `npm run bench:api [-- options]`: the heapdumps API server's download throughput, memory and list latency, in
 * ONE run against the same S3 server, as ratios (the shared 2-core machine moves absolute numbers a lot).
 *
 *  1. Download: one dump (default 1 GiB) from the S3 server, round-robin --runs times each:
 *     - baseline: `/usr/bin/aws s3 cp s3://<bucket>/<key> -` (to /dev/null), at its defaults, no limits;
 *     - second baseline: `curl` of a presigned URL of the object, straight from S3 (one GET, to /dev/null);
 *     - through the component: `curl` with a bearer token from the API server (`.../heapdumps/<name>/download`),
 *       to /dev/null. The server runs as the manifest runs it: the bundled agent on the image's Node 24, the
 *       synthesized Deployment's env (NODE_OPTIONS included), in a cgroup with the api container's
 *       resources.limits (--limits manifest, default; or none), as uid 1001.
 *     Before the timed runs, one untimed run of each: curl's writes the file, whose sha256 is checked, and
 *     aws's warms its Python the same way. Reported: MiB/s medians, their ratio, CPU seconds per GiB of each
 *     process (server, curl, aws, and the S3 server's own process), and the server's peak RSS (VmHWM at the end,
 *     and VmRSS sampled every 50 ms during the downloads). --pin-server puts the S3 server on the last CPU and
 *     everything else (the API server, curl, aws) on the others, as in `npm run bench`: a server on its own
 *     hardware, as S3 is in production; without it all share every CPU.
 *  2. Lists: --dumps small dumps (default 10,000, in 10 namespaces) are put into the bucket before the server
 *     starts; once its index holds them, `GET .../heapdumps` across all namespaces (JSON and Table) and one
 *     namespace's Table are timed (first byte to last byte, --runs each; median and max); plus the index's own
 *     listing time from the server's metric.
 *
 * Everything is started and stopped by PID; temp files and cgroups are removed.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { createHash, createHmac, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'util';
import { COMMANDS, ENV, NODE_OPTIONS_ENV } from '../agent/src/contract';
import { dumpName } from '../agent/src/dump-name';
import { synthPipeline } from '../lib/synth';
import { type Container, processIdentity, resolveEnv, setprivArgs } from '../test/e2e/kubelet-sim';
import { authConfigMapData, credentialsDir, makePki, SA_TOKEN, shareWithAnyUser } from '../test/support/api-world';
import { AWS_CLI, awsCliEnv } from '../test/support/clients';
import { startFakeKubeApi } from '../test/support/kube-api-server';
import { container, find, podSpec } from '../test/support/manifests';
import { node24Binary } from '../test/support/node24';
import { disposeAll, freePort, registerCleanup, runTracked, sleep, spawnTracked } from '../test/support/procs';
import { s3Env, sha256File, startS3Server } from '../test/support/s3';
import { describeLimits, LimitGroup, type Limits, parseCpu, parseMemory } from './bench-cgroup';

const HELP = `usage: npm run bench:api -- [options]
  --server s3rver|rgw     the S3 server (default s3rver; rgw = Ceph RGW via scripts/ceph-up.sh)
  --size-mib N            size of the downloaded dump (default 1024)
  --runs N                repetitions of each download and list, round-robin; medians (default 3)
  --dumps N               dumps for the list timings (default 10000; 0 = skip)
  --limits manifest|none  the api container's resources.limits for the server (default manifest)
  --pin-server            the S3 server on the last CPU, the API server and both clients on the others
                          (default: all share every CPU)
  --out FILE              also write the report there
  --help                  this text
env: BENCH_NODE_OPTIONS overrides the server's NODE_OPTIONS (default: the manifest's).`;

const PREFIX = 'bench/';
const TOKEN = 'bench-user-token';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** CPU seconds (user + system) of the last `timed` command, from /usr/bin/time. */
let lastCpu = 0;

async function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await runTracked('/usr/bin/time', ['-f', 'CPU %U %S', cmd, ...args], { env, timeoutMs: 900_000 });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.slice(-500)}`);
  const m = /CPU (\S+) (\S+)\s*$/.exec(r.stderr);
  lastCpu = m ? Number(m[1]) + Number(m[2]) : NaN;
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** CPU seconds (user + system) a process has used so far. */
function cpuOf(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function getTimed(url: string, accept: string, ca: string): Promise<{ ms: number; bytes: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const u = new URL(url);
    https.get({ host: u.hostname, port: u.port, path: u.pathname + u.search, ca, agent: false, headers: { authorization: `Bearer ${TOKEN}`, accept } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`${url}: HTTP ${res.statusCode}`));
        const body = Buffer.concat(chunks);
        resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, bytes: body.length, body });
      });
    }).on('error', reject);
  });
}

/** The CPUs this process and everything it starts from now on may run on (`taskset -a -p`: all its threads). */
async function pinSelf(cpus: string): Promise<void> {
  const r = await runTracked('taskset', ['-a', '-p', '-c', cpus, String(process.pid)], { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`taskset -a -p -c ${cpus} ${process.pid} failed (exit ${r.code}): ${r.stderr.trim()}`);
}

/** Node's SHA-256 / HMAC-SHA-256 in the shape SignatureV4 wants. */
class Sha256 {
  private readonly h: { update(d: string | Uint8Array): unknown; digest(): Buffer };
  public constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    const bytes = (d: string | ArrayBuffer | ArrayBufferView) => (typeof d === 'string' ? d : ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : new Uint8Array(d));
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  public update(d: string | ArrayBuffer | ArrayBufferView): void {
    this.h.update(typeof d === 'string' ? d : ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : new Uint8Array(d));
  }
  public digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.h.digest()));
  }
  public reset(): void {
    // one use each
  }
}

/** A presigned (SigV4, path-style) GET URL of `key`, valid for an hour. */
async function presignedGet(s3: { endpoint: string; region: string; bucket: string; accessKeyId: string; secretAccessKey: string }, key: string): Promise<string> {
  const u = new URL(s3.endpoint);
  const signer = new SignatureV4({ credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, region: s3.region, service: 's3', sha256: Sha256, uriEscapePath: false });
  const p = `/${s3.bucket}/${key.split('/').map((s) => encodeURIComponent(s)).join('/')}`;
  const signed = await signer.presign({ method: 'GET', protocol: u.protocol, hostname: u.hostname, port: Number(u.port), path: p, query: {}, headers: { host: u.host } }, { expiresIn: 3600 });
  const q = Object.entries(signed.query ?? {}).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&');
  return `${s3.endpoint}${p}?${q}`;
}

function status(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    server: { type: 'string', default: 's3rver' }, 'size-mib': { type: 'string', default: '1024' }, runs: { type: 'string', default: '3' },
    dumps: { type: 'string', default: '10000' }, limits: { type: 'string', default: 'manifest' }, out: { type: 'string' }, help: { type: 'boolean' },
    'pin-server': { type: 'boolean', default: false },
  } });
  if (values.help) return void console.log(HELP);
  const runs = Number(values.runs);
  const sizeMib = Number(values['size-mib']);
  const dumps = Number(values.dumps);
  const lines: string[] = [];
  const say = (s: string) => {
    lines.push(s);
    console.log(s);
  };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-api-'));
  fs.chmodSync(tmp, 0o755);
  try {
    say(`bench:api ${new Date().toISOString()} on ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    const cpus = os.cpus().length;
    const pin = values['pin-server'] && cpus >= 2 ? { server: String(cpus - 1), others: cpus === 2 ? '0' : `0-${cpus - 2}` } : undefined;
    if (pin) await pinSelf(pin.server);
    const s3 = await startS3Server(values.server === 'rgw' ? 'ceph' : 's3rver');
    if (pin) await pinSelf(pin.others);
    say(`S3 server: ${s3.kind} at ${s3.endpoint}`);
    say(pin ? `CPUs: the S3 server on CPU ${pin.server}; the API server, curl and aws on CPU ${pin.others} (--pin-server)` : 'CPUs: the S3 server, the API server and the clients share every CPU');

    // The dump: random bytes (S3 servers do not compress), uploaded with the uploader's metadata.
    const file = path.join(tmp, 'dump.hprof');
    const block = randomBytes(16 * 2 ** 20);
    const fd = fs.openSync(file, 'w');
    for (let i = 0; i < sizeMib / 16; i++) fs.writeSync(fd, block);
    fs.closeSync(fd);
    const sha256 = await sha256File(file);
    const key = `${PREFIX}worker-1/team-a/orders-1/java_pid1.2026-11-30T01-02-03.456Z.hprof`;
    await timed(AWS_CLI, ['--endpoint-url', s3.endpoint, 's3', 'cp', file, `s3://${s3.bucket}/${key}`, '--metadata', `sha256=${sha256},complete=true,namespace=team-a,pod=orders-1,node=worker-1`], awsCliEnv(s3));
    fs.rmSync(file);

    // The API server as the manifest runs it.
    const kube = await startFakeKubeApi();
    registerCleanup(() => kube.close());
    const pki = makePki();
    kube.authConfigMap = authConfigMapData(pki);
    kube.serviceAccountToken = SA_TOKEN;
    kube.users.set(TOKEN, { username: 'bench' });
    kube.rules = [{ user: 'bench', verbs: ['get', 'list'], resources: ['*'] }];
    const creds = credentialsDir(kube);
    shareWithAnyUser(pki.dir, creds);
    const { objects } = synthPipeline({ agentImage: 'registry.example.com/heapdump-agent:bench', platform: 'kubernetes', app: { enabled: false }, api: { web: { enabled: false } } });
    const deployment = find(objects, 'Deployment', 'heapdump-api');
    const c = container(deployment, 'api') as Container & { resources?: { limits?: Record<string, string> } };
    const env = resolveEnv(c, { nodeName: 'bench', namespace: 'heapdump-system', podName: 'api-0', configMaps: {}, secrets: { 'heapdump-api-s3-credentials': { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey } } });
    const port = await freePort();
    Object.assign(env, s3Env(s3), {
      [ENV.s3Prefix]: PREFIX, [ENV.httpHost]: '127.0.0.1', [ENV.httpPort]: String(await freePort()), [ENV.apiHttpsPort]: String(port),
      [ENV.apiTlsCertFile]: pki.apiCert.certFile, [ENV.apiTlsKeyFile]: pki.apiCert.keyFile, [ENV.apiKubeUrl]: kube.url, [ENV.apiKubeCredentialsDir]: creds,
    });
    if (process.env.BENCH_NODE_OPTIONS !== undefined) env[NODE_OPTIONS_ENV] = process.env.BENCH_NODE_OPTIONS;
    const l = c.resources?.limits ?? {};
    const limits: Limits = values.limits === 'none' ? { source: 'none' } : {
      ...(l.cpu !== undefined ? { cpuMillis: parseCpu(l.cpu) } : {}), ...(l.memory !== undefined ? { memoryBytes: parseMemory(l.memory) } : {}),
      source: `Deployment/heapdump-api container api resources.limits ${JSON.stringify(l)}`,
    };
    const group = LimitGroup.create(`bench-api-${process.pid}`, limits);
    const node24 = await node24Binary();
    const identity = setprivArgs(processIdentity(podSpec(deployment), c, 1001));
    const [cmd, args] = group.wrap(identity[0], [...identity.slice(1), node24, path.resolve('.build/agent/agent.js'), COMMANDS.api]);
    const server = spawnTracked(cmd, args, { env: { PATH: process.env.PATH, ...env } });
    say(`server: bundled agent on ${node24} NODE_OPTIONS=${JSON.stringify(env[NODE_OPTIONS_ENV] ?? '')}, uid 1001, limits: ${describeLimits(limits)} (${limits.source})`);
    const base = `https://127.0.0.1:${port}/apis/heapdump-pipeline.io/v1alpha1`;
    const ca = pki.servingCa.certPem;
    const tStart = Date.now();
    const waitForIndex = async (want: number) => {
      for (;;) {
        if (server.exitInfo() !== undefined) throw new Error(`server exited:\n${server.output()}`);
        try {
          const r = await getTimed(`${base}/heapdumps`, 'application/json', ca);
          if ((JSON.parse(r.body.toString()) as { items: unknown[] }).items.length === want) return;
          // a name it does not know makes it list the bucket again (at most every 2 s)
          await getTimed(`${base}/namespaces/ns-0/heapdumps/x.0123456789ab`, 'application/json', ca).catch(() => undefined);
        } catch {
          // not listening yet
        }
        await sleep(500);
      }
    };
    await waitForIndex(1);
    say(`server ready, index holds the dump, ${((Date.now() - tStart) / 1000).toFixed(1)} s after start; RSS ${status(server.pid, 'VmRSS').toFixed(1)} MiB`);

    // 1. downloads
    const caFile = path.join(tmp, 'ca.pem');
    fs.writeFileSync(caFile, ca);
    const url = `${base}/namespaces/team-a/heapdumps/${dumpName(key)}/download`;
    const curl = (out: string) => ['-sS', '-f', '--cacert', caFile, '-H', `Authorization: Bearer ${TOKEN}`, '-o', out, url];
    let rssPeak = 0;
    const sampler = setInterval(() => {
      try {
        rssPeak = Math.max(rssPeak, status(server.pid, 'VmRSS'));
      } catch {
        // exited
      }
    }, 50);
    sampler.unref(); // an error must not leave the bench waiting on it
    const awsCmd = ['-c', `'${AWS_CLI}' --endpoint-url '${s3.endpoint}' s3 cp 's3://${s3.bucket}/${key}' - > /dev/null`];
    // untimed: the download checked against the sha256, and aws once, so that neither side's first run is in the medians
    const check = path.join(tmp, 'downloaded.hprof');
    await timed('curl', curl(check), process.env);
    const got = await sha256File(check);
    if (got !== sha256) throw new Error(`download through the API: sha256 ${got}, expected ${sha256}`);
    fs.rmSync(check);
    await timed('bash', awsCmd, awsCliEnv(s3));
    const s3Pid = s3.pid();
    const s3Cpu = () => (s3Pid === undefined ? NaN : cpuOf(s3Pid));
    // one GET of a presigned URL of the object, as plain as a client gets (the S3 endpoint is http on loopback here)
    const curlS3Cmd = ['-sS', '-f', '-o', '/dev/null', await presignedGet(s3, key)];
    await timed('curl', curlS3Cmd, process.env);
    const aws: number[] = [];
    const api: number[] = [];
    const direct: number[] = [];
    const directCpu: number[] = [];
    const awsCpu: number[] = [];
    const curlCpu: number[] = [];
    const serverCpu: number[] = [];
    const s3CpuAws: number[] = [];
    const s3CpuApi: number[] = [];
    for (let r = 0; r < runs; r++) {
      const order: Array<'aws' | 'api' | 'curl-s3'> = r % 2 === 0 ? ['aws', 'api', 'curl-s3'] : ['curl-s3', 'api', 'aws'];
      for (const who of order) {
        const s3Before = s3Cpu();
        if (who === 'curl-s3') {
          direct.push(await timed('curl', curlS3Cmd, process.env));
          directCpu.push(lastCpu);
        } else if (who === 'aws') {
          aws.push(await timed('bash', awsCmd, awsCliEnv(s3)));
          awsCpu.push(lastCpu);
          s3CpuAws.push(s3Cpu() - s3Before);
        } else {
          const before = cpuOf(server.pid);
          api.push(await timed('curl', curl('/dev/null'), process.env));
          curlCpu.push(lastCpu);
          serverCpu.push(cpuOf(server.pid) - before);
          s3CpuApi.push(s3Cpu() - s3Before);
        }
      }
    }
    clearInterval(sampler);
    const mibs = (s: number) => sizeMib / s;
    say('');
    say(`download of ${sizeMib} MiB, ${runs} runs each, round-robin (MiB/s: median [all])`);
    say(`  aws s3 cp (direct from S3, to /dev/null)      ${mibs(median(aws)).toFixed(1).padStart(7)}  [${aws.map((s) => mibs(s).toFixed(1)).join(', ')}]`);
    say(`  curl of a presigned URL (direct from S3)     ${mibs(median(direct)).toFixed(1).padStart(7)}  [${direct.map((s) => mibs(s).toFixed(1)).join(', ')}]`);
    say(`  curl through the API server (to /dev/null)   ${mibs(median(api)).toFixed(1).padStart(7)}  [${api.map((s) => mibs(s).toFixed(1)).join(', ')}]`);
    say(`  ratio API / aws s3 cp: ${(median(aws) / median(api) * 100).toFixed(0)} % (target >= 90 %); API / curl from S3: ${(median(direct) / median(api) * 100).toFixed(0)} %`);
    const perGib = (xs: number[]) => (median(xs) / (sizeMib / 1024)).toFixed(2);
    say(`  CPU s per GiB (median): aws ${perGib(awsCpu)}; curl from S3 ${perGib(directCpu)}; API server ${perGib(serverCpu)} [${serverCpu.map((c) => (c / (sizeMib / 1024)).toFixed(2)).join(', ')}] + curl ${perGib(curlCpu)}`);
    say(`  the S3 server's own process (${s3.kind === 'ceph' ? 'radosgw; not the OSD' : 's3rver'}), CPU s per GiB (median): serving aws ${perGib(s3CpuAws)}, serving the API server ${perGib(s3CpuApi)}`);
    say(`  server RSS: peak sampled ${rssPeak.toFixed(1)} MiB, VmHWM ${status(server.pid, 'VmHWM').toFixed(1)} MiB (target <= 96 MiB); CPU throttled: ${JSON.stringify(group.throttled())}`);

    // 2. lists
    if (dumps > 0) {
      const client = s3.client();
      let next = 0;
      const put = async () => {
        while (next < dumps) {
          const i = next++;
          const body = Buffer.from(`dump ${i}`);
          await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `${PREFIX}worker-${i % 7}/ns-${i % 10}/pod-${i}/java_pid1.2026-11-30T01-02-03.456Z.hprof`, Body: body, ContentLength: body.length, Metadata: { sha256: createHash('sha256').update(body).digest('hex'), complete: 'true' } }));
        }
      };
      const t0 = Date.now();
      await Promise.all(Array.from({ length: 16 }, put));
      client.destroy();
      say(`seeded ${dumps} small dumps in 10 namespaces in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      const want = dumps + 1;
      const t1 = Date.now();
      await waitForIndex(want);
      say(`index holds ${want} dumps ${((Date.now() - t1) / 1000).toFixed(1)} s after they were put`);
      const rows: Array<[string, string, string]> = [
        ['all namespaces, JSON (HeapDumpList)', `${base}/heapdumps`, 'application/json'],
        ['all namespaces, Table (oc get heapdumps -A)', `${base}/heapdumps`, 'application/json;as=Table;v=v1;g=meta.k8s.io'],
        ['one namespace (1,000), Table', `${base}/namespaces/ns-3/heapdumps`, 'application/json;as=Table;v=v1;g=meta.k8s.io'],
      ];
      say('');
      say(`lists with ${want} dumps in the index, ${runs + 2} runs each (ms: median, max; bytes)`);
      for (const [label, u, accept] of rows) {
        const ms: number[] = [];
        let bytes = 0;
        for (let r = 0; r < runs + 2; r++) {
          const x = await getTimed(u, accept, ca).catch((e: Error) => {
            throw new Error(`${label}: ${e.message}; server ${JSON.stringify(server.exitInfo())}:\n${server.output().split('\n').slice(-15).join('\n')}`);
          });
          ms.push(x.ms);
          bytes = x.bytes;
        }
        say(`  ${label.padEnd(46)} ${median(ms).toFixed(0).padStart(6)} ${Math.max(...ms).toFixed(0).padStart(6)}  ${bytes} (target < 1000 ms)`);
      }
      const metricsPort = Number(env[ENV.httpPort]);
      const text = await new Promise<string>((resolve, reject) => http.get({ host: '127.0.0.1', port: metricsPort, path: '/metrics' }, (res) => {
        let b = '';
        res.on('data', (c: Buffer) => (b += c.toString()));
        res.on('end', () => resolve(b));
      }).on('error', reject));
      const sum = Number(/heapdump_agent_api_index_refresh_seconds_sum\{[^}]*\} (\S+)/.exec(text)?.[1]);
      const count = Number(/heapdump_agent_api_index_refresh_seconds_count\{[^}]*\} (\S+)/.exec(text)?.[1]);
      say(`  index listing of the bucket (${want} dumps, ${want} objects): mean ${(sum / count * 1000).toFixed(0)} ms over ${count} listings`);
      say(`  server RSS after the lists: VmRSS ${status(server.pid, 'VmRSS').toFixed(1)} MiB, VmHWM ${status(server.pid, 'VmHWM').toFixed(1)} MiB`);
    }
    await server.dispose();
    group.dispose();
  } finally {
    await disposeAll();
    fs.rmSync(tmp, { recursive: true, force: true });
    if (values.out !== undefined) fs.writeFileSync(values.out, `${lines.join('\n')}\n`);
  }
}

main().catch((e: Error) => {
  console.error(e.message);
  process.exitCode = 1;
});
