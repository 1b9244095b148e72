/**
 * The leak analyzer as the manifests run it: the bundled agent (`agent.js analyzer`) on the image's Node 24,
 * no NODE_OPTIONS (the contract gives the analyzer none), as the image's user (uid 1001), inside a cgroup v1
 * memory group with the container's limit, ANALYZER_MEMORY_LIMIT set to it as the downward API does, against
 * s3rver and a loopback stand-in for the Kubernetes API (Events) and a webhook receiver.
 *
 * Dumps are real HotSpot dumps (the demo, a thread's local array) and synthetic ones (a linked list of
 * millions of objects, written by test/support/chain-dump.ts), put into the bucket the way the uploader
 * does (key layout and metadata).
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash } from 'crypto';
import { chmodSync, chownSync, createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { AGENT_BUNDLE } from '../../../scripts/bundle-agent';
import { LimitGroup } from '../../../scripts/bench-cgroup';
import { COMMANDS, ENV, LEAK_REPORT_SUFFIXES, NODE_OPTIONS_BY_COMMAND, OBJECT_METADATA } from '../../../agent/src/contract';
import type { LeaksDocument } from '../../../agent/src/leaks';
import { writeChainDump } from '../../support/chain-dump';
import { demoAppDump, leakProgramDump } from '../../support/heap-programs';
import { eventsV1ServerErrors, type FakeKubeApi, startFakeKubeApi } from '../../support/kube-api-server';
import { node24Binary } from '../../support/node24';
import { freePort, sleep, spawnTracked, type TrackedProcess } from '../../support/procs';
import { disposeAll, type S3Server, startS3Server } from '../../support/s3';
import { find, podSpec } from '../../support/manifests';
import { type Container, resolveEnv } from '../../e2e/kubelet-sim';
import { synthPipeline } from '../../../lib';

const IMAGE_UID = 1001;
const PREFIX = 'proc/';
const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.analyzer-token.signature';

let s3: S3Server;
let api: FakeKubeApi;
let node24: string;
let tmp: string;
let saDir: string;
let hooks: Array<Record<string, unknown>>;
let hookServer: http.Server;
let hookUrl: string;
let hookFile: string;

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'analyzer-proc-'));
  chmodSync(tmp, 0o755);
  [s3, api, node24] = await Promise.all([startS3Server('s3rver'), startFakeKubeApi(), node24Binary()]);
  saDir = path.join(tmp, 'sa');
  mkdirSync(saDir, { mode: 0o755 });
  writeFileSync(path.join(saDir, 'ca.crt'), api.certs.ca, { mode: 0o644 });
  writeFileSync(path.join(saDir, 'token'), TOKEN + '\n', { mode: 0o644 });
  hooks = [];
  hookServer = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      hooks.push(JSON.parse(body) as Record<string, unknown>);
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/hooks/T0/B0/secret`;
  // the webhook URL as the Secret key mounted into the container
  hookFile = path.join(tmp, 'hook-url');
  writeFileSync(hookFile, hookUrl, { mode: 0o644 });
}, 120_000);

afterAll(async () => {
  await disposeAll();
  await api?.close();
  await new Promise((r) => hookServer?.close(r));
  rmSync(tmp, { recursive: true, force: true });
});

/** Puts a dump into the bucket as the uploader would: its key layout and metadata. */
async function putDump(file: string, node: string, namespace: string, pod: string, name = path.basename(file)): Promise<string> {
  const stamp = '2026-12-07T20-00-00.000Z';
  const ext = name.endsWith('.hprof.gz') ? '.hprof.gz' : path.extname(name);
  const key = `${PREFIX}${node}/${namespace}/${pod}/${name.slice(0, name.length - ext.length)}.${stamp}${ext}`;
  const size = statSync(file).size;
  await s3.client().send(new PutObjectCommand({
    Bucket: s3.bucket, Key: key, Body: createReadStream(file), ContentLength: size,
    Metadata: { [OBJECT_METADATA.node]: node, [OBJECT_METADATA.namespace]: namespace, [OBJECT_METADATA.pod]: pod, [OBJECT_METADATA.originalSize]: String(size), [OBJECT_METADATA.complete]: 'true' },
  }));
  return key;
}

async function getText(key: string): Promise<string | undefined> {
  try {
    const out = await s3.client().send(new (await import('@aws-sdk/client-s3')).GetObjectCommand({ Bucket: s3.bucket, Key: key }));
    return await out.Body!.transformToString();
  } catch {
    return undefined;
  }
}

async function report(key: string): Promise<LeaksDocument | undefined> {
  const t = await getText(key + LEAK_REPORT_SUFFIXES.json);
  try {
    return t === undefined ? undefined : (JSON.parse(t) as LeaksDocument);
  } catch {
    return undefined; // s3rver writes its files in place: a GET during the PUT may read half of one; asked again
  }
}

async function eventually<T>(what: string, f: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

interface Analyzer {
  proc: TrackedProcess;
  port: number;
  group: LimitGroup;
  logged(msg: string): Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

/**
 * The analyzer as its Deployment runs it: the container's env from the synthesized manifest (kubelet-sim
 * resolves its ConfigMaps, Secret keys, downward API and resourceFieldRef), in a cgroup with the container's
 * memory limit, as the image's user. Only addresses that differ on a test machine are replaced (S3, the API
 * server, the webhook, loopback HTTP, the work dir). `claimedLimit` overrides what the downward API says.
 */
async function startAnalyzer(name: string, memory: string, analyzer: Record<string, unknown>, claimedLimit?: number): Promise<Analyzer> {
  const work = path.join(tmp, `work-${name}`);
  mkdirSync(work, { mode: 0o700 });
  chownSync(work, IMAGE_UID, IMAGE_UID);
  const port = await freePort();
  const { objects } = synthPipeline({
    agentImage: 'registry.example.com/heapdump-agent:test',
    platform: 'kubernetes',
    uploader: { bucket: s3.bucket, prefix: PREFIX, endpoint: s3.endpoint, region: s3.region, notifications: { kubernetesEvents: true, webhook: { secretName: 'hook' } } },
    analyzer: { intervalSeconds: 2, ...analyzer, resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '2', memory } } },
  });
  const configMaps: Record<string, Record<string, string>> = {};
  for (const o of objects.filter((x) => x.kind === 'ConfigMap')) configMaps[o.metadata.name] = (o.data ?? {}) as Record<string, string>;
  const container = (podSpec(find(objects, 'Deployment', 'heapdump-analyzer')).containers as Container[]).find((c) => c.name === COMMANDS.analyzer)!;
  const manifestEnv = resolveEnv(container, { nodeName: 'worker-0', namespace: 'heapdump-system', podName: 'heapdump-analyzer-0', configMaps, secrets: { 's3-credentials': { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey } } });
  const limitBytes = Number(manifestEnv[ENV.analyzerMemoryLimit]);
  const group = LimitGroup.create(`leaks-test-${name}-${process.pid}`, { memoryBytes: limitBytes, source: 'the manifest' });
  const env: Record<string, string> = {
    PATH: '/usr/bin:/bin',
    ...manifestEnv,
    // what a test machine has instead of the cluster
    [ENV.httpHost]: '127.0.0.1',
    [ENV.httpPort]: String(port),
    [ENV.notifyKubeApiUrl]: api.url,
    [ENV.notifyKubeCredentialsDir]: saDir,
    [ENV.notifyWebhookUrlFile]: hookFile,
    [ENV.analyzerWorkDir]: work,
    ...(claimedLimit !== undefined ? { [ENV.analyzerMemoryLimit]: String(claimedLimit) } : {}),
  };
  expect(env.NODE_OPTIONS).toBe(NODE_OPTIONS_BY_COMMAND[COMMANDS.analyzer]); // none: the analyzer runs with the JIT
  const [cmd, args] = group.wrap('setpriv', [`--reuid=${IMAGE_UID}`, `--regid=${IMAGE_UID}`, '--clear-groups', '--', node24, AGENT_BUNDLE, ...(container.args ?? [])]);
  const proc = spawnTracked(cmd, args, { env, maxLines: 100_000 });
  const lines = () => proc.stdout.flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
  return {
    proc, port, group,
    logged: (msg) => lines().filter((e) => e.msg === msg),
    stop: async () => {
      await proc.dispose(10_000);
      group.dispose();
    },
  };
}

function get(port: number, p: string, method = 'GET'): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, method, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

const eventPosts = () => api.requests.filter((r) => r.method === 'POST' && r.path.includes('/events')).map((r) => JSON.parse(r.body) as Record<string, any>);

describe('agent analyzer (Node 24, uid 1001, cgroup memory limit, s3rver, Events, webhook)', () => {
  it('writes a report next to every dump, tells the team, keeps small dumps moving past a big one, and wakes on POST /wake', async () => {
    const dumps = path.join(tmp, 'dumps');
    mkdirSync(dumps, { recursive: true });
    const [demo, thread] = await Promise.all([
      demoAppDump(path.join(dumps, 'demo'), '48m'),
      leakProgramDump(path.join(dumps, 'thread'), 'ThreadLeak', ['-Xmx40m', '-XX:+UseSerialGC'], ['orders-worker-7', '2500000']),
    ]);
    const chain = path.join(dumps, 'big.hprof');
    await writeChainDump(chain, 8_000_000);
    const phd = path.join(dumps, 'heapdump.20261207.phd');
    writeFileSync(phd, 'PHD not really');
    api.pods.set('memory-leak-demo/memory-leak-app-6d5f7-x2x8q', 'uid-demo');
    api.pods.set('orders/orders-api-7c9-abcde', 'uid-orders');

    const demoKey = await putDump(demo, 'worker-1', 'memory-leak-demo', 'memory-leak-app-6d5f7-x2x8q');
    const bigKey = await putDump(chain, 'worker-2', 'tenant-a', 'batch-0');
    const phdKey = await putDump(phd, 'worker-1', 'other', 'j9-app-0');
    // an hour between scans: only the POST /wake below can make the analyzer see the thread dump while the big one runs
    // 1.5 GiB: 192 MiB for the parent, two children's 256 MiB overhead, 128 MiB for the small lane, 664 MiB for the large one
    const analyzer = await startAnalyzer('main', '1536Mi', { smallDumpMb: 64, intervalSeconds: 3600 });
    try {
      // the big dump (large lane) is being analysed: a small one of another tenant arrives and is reported first
      await eventually('the big dump analysis', async () => analyzer.logged('analysing dump').some((e) => e.key === bigKey), 60_000);
      const threadKey = await putDump(thread, 'worker-3', 'orders', 'orders-api-7c9-abcde');
      expect(await get(analyzer.port, '/wake', 'POST')).toBe(202);
      const threadReport = await eventually('the thread dump report', () => report(threadKey), 60_000);
      const bigDone = await report(bigKey);
      expect(bigDone).toBeUndefined(); // still running: the small dump did not wait for it

      const demoReport = await eventually('the demo report', () => report(demoKey), 60_000);
      const bigReport = await eventually('the big dump report', () => report(bigKey), 120_000);
      const phdReport = await eventually('the .phd report', () => report(phdKey), 60_000);

      expect(demoReport).toMatchObject({
        schema: 'heapdump-pipeline.io/leaks/v1', status: 'analyzed',
        dump: { bucket: s3.bucket, key: demoKey, uri: `s3://${s3.bucket}/${demoKey}`, node: 'worker-1', namespace: 'memory-leak-demo', pod: 'memory-leak-app-6d5f7-x2x8q' },
      });
      expect(demoReport.headline).toMatch(/^Leak suspect: static field Leak\.RETAINED \(java\.util\.ArrayList\) retains .* × byte\[\]$/);
      expect(threadReport.headline).toMatch(/^Leak suspect: local variable of thread "orders-worker-7" \(long\[\]\) retains /);
      expect(bigReport.headline).toBe('Leak suspect: static field Chain.HEAD (Chain) retains 183 MiB (100 %): a chain of 8,000,000 × Chain');
      expect(bigReport.analysis!.memoryBudgetBytes).toBe(Math.floor((1536 - 192 - 2 * 256 - 128) * 2 ** 20 / 1.06));
      expect(phdReport).toMatchObject({ status: 'not-analyzed', headline: null, reason: expect.stringMatching(/not an HPROF dump/) });
      // the text next to the JSON, and no attempt markers left
      expect(await getText(demoKey + LEAK_REPORT_SUFFIXES.text)).toContain(`Leak report for s3://${s3.bucket}/${demoKey}`);
      expect((await s3.listKeys(PREFIX)).filter((k) => k.endsWith(LEAK_REPORT_SUFFIXES.attempts))).toEqual([]);

      // one HeapDumpAnalyzed Event per dump with a pod, on that pod, valid as the API server checks it
      const events = await eventually('4 events', async () => (eventPosts().length >= 4 ? eventPosts() : undefined), 30_000);
      for (const e of events) expect(eventsV1ServerErrors(e)).toEqual([]);
      const demoEvent = events.find((e) => e.regarding.name === 'memory-leak-app-6d5f7-x2x8q')!;
      expect(demoEvent).toMatchObject({
        reason: 'HeapDumpAnalyzed', type: 'Warning', reportingController: 'heapdump-pipeline.io/analyzer',
        regarding: { kind: 'Pod', namespace: 'memory-leak-demo', name: 'memory-leak-app-6d5f7-x2x8q', uid: 'uid-demo' },
      });
      // The manifest turns the retrieval hint on (the heapdumps API is deployed): the note names the command that prints the
      // report with the team's own identity. The dump's name by its documented rule (docs/getting-your-dump.md): the pod
      // folder, the key's time stamp, 12 hex of the key's sha256.
      const stampOf = /(\d{4})-(\d\d)-(\d\d)T(\d\d)-(\d\d)-(\d\d)\.\d{3}Z/.exec(demoKey)!;
      const demoName = `memory-leak-app-6d5f7-x2x8q.${stampOf.slice(1, 4).join('')}-${stampOf.slice(4, 7).join('')}.${createHash('sha256').update(demoKey).digest('hex').slice(0, 12)}`;
      expect(demoEvent.note).toBe(`${demoReport.headline}. Read it: kubectl heapdump leaks -n memory-leak-demo ${demoName}`); // platform: kubernetes
      expect(events.find((e) => e.regarding.name === 'j9-app-0')).toMatchObject({ type: 'Normal', note: expect.stringMatching(/was not analysed for leaks: not an HPROF dump/) });
      // the webhook (generic JSON by default) heard the same line
      const hook = await eventually('the webhook', async () => hooks.find((h) => (h.object as { key: string }).key === demoKey), 30_000);
      expect(hook).toMatchObject({ event: 'dump-analyzed', namespace: 'memory-leak-demo', leaks: { status: 'analyzed', headline: demoReport.headline } });

      // probes answered all along; the child ran as the same user inside the same cgroup
      expect(await get(analyzer.port, '/readyz')).toBe(200);
      expect(await get(analyzer.port, '/healthz')).toBe(200);
      // a restart has nothing to do: S3 says every dump is done
      const before = analyzer.logged('analysing dump').length;
      await sleep(3000);
      expect(analyzer.logged('analysing dump')).toHaveLength(before);
    } catch (error) {
      throw new Error(`${(error as Error).message}\nanalyzer output:\n${analyzer.proc.output().slice(-6000)}`);
    } finally {
      await analyzer.stop();
    }
    expect(analyzer.proc.exitInfo()?.code).toBe(0);
  }, 600_000);

  it('a dump whose analysis is OOM-killed twice gets a "not analyzed" report, and the analyzer lives on', async () => {
    const chain = path.join(tmp, 'oom.hprof');
    await writeChainDump(chain, 10_000_000);
    const key = await putDump(chain, 'worker-4', 'tenant-oom', 'batch-1');
    // The container's real limit is 320 MiB, but the downward API claims 4 GiB: the budget lets the
    // analysis grow until the kernel's OOM killer stops it (the child, offered first: oom_score_adj 1000).
    const analyzer = await startAnalyzer('oom', '320Mi', { maxAttempts: 2 }, 4 * 2 ** 30);
    try {
      const doc = await eventually('the report after two OOM kills', () => report(key), 300_000);
      expect(doc).toMatchObject({ status: 'not-analyzed', headline: null });
      expect(doc.reason).toMatch(/^the analysis was started 2 times and never finished \(last: the analysis was killed by SIGKILL \(out of memory\?\)/);
      expect(analyzer.logged('leak analysis failed: it is tried again')).toHaveLength(2);
      expect(analyzer.proc.exitInfo()).toBeUndefined();
      expect(await get(analyzer.port, '/healthz')).toBe(200);
      // the kernel's count for the container's cgroup: two OOM kills, both of the analysis (the analyzer is alive)
      expect(/^oom_kill (\d+)$/m.exec(oomControl(analyzer.group))?.[1]).toBe('2');
    } finally {
      await analyzer.stop();
    }
  }, 600_000);

  it('past its time budget an analysis is stopped and the dump reported "not analyzed" with that reason', async () => {
    const chain = path.join(tmp, 'slow.hprof');
    await writeChainDump(chain, 6_000_000);
    const key = await putDump(chain, 'worker-5', 'tenant-slow', 'batch-2');
    const analyzer = await startAnalyzer('time', '1Gi', { timeBudgetSeconds: 1 });
    try {
      const doc = await eventually('the report', () => report(key), 120_000);
      expect(doc).toMatchObject({ status: 'not-analyzed', reason: 'the analysis ran out of its time budget' });
    } finally {
      await analyzer.stop();
    }
  }, 300_000);
});

/** cgroup v1 memory.oom_control of the group (`oom_kill N`: processes the OOM killer ended there). */
function oomControl(group: LimitGroup): string {
  const dir = (group as unknown as { dirs: string[] }).dirs.find((d) => d.includes('/memory/'));
  return dir ? readFileSync(path.join(dir, 'memory.oom_control'), 'utf8') : '';
}
