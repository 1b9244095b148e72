/**
 * Issue 20 attack 7: notifications as the manifests run them. The synthesized uploader container (Kubernetes
 * Events and a Slack webhook on, the webhook's CA in `uploader.caBundle`) runs as its DaemonSet says: the
 * bundled agent under the image's Node 24 binary, its env resolved from the manifest by the kubelet stand-in
 * (ConfigMap, Secrets, downward API; NODE_OPTIONS=--jitless included), its volumes as directories, as its user
 * with its capabilities (setpriv), in a cgroup with its resources.limits. A real JVM heap dump is uploaded to
 * s3rver; a loopback HTTPS receiver (real TLS, its own CA) must get the Slack message, and a loopback stand-in
 * for the API server the Event. Before the fix, the webhook failed here with "WebAssembly is not defined".
 */
import { createHash } from 'crypto';
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'fs';
import * as https from 'https';
import type { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { COMMANDS, ENV, NODE_OPTIONS_ENV } from '../../agent/src/contract';
import { envSettings } from '../../agent/src/settings';
import { synthPipeline } from '../../lib/synth';
import { LimitGroup, parseCpu, parseMemory } from '../../scripts/bench-cgroup';
import { AGENT_BUNDLE } from '../../scripts/bundle-agent';
import { makeHeapDump } from '../support/jvm';
import { type FakeKubeApi, startFakeKubeApi } from '../support/kube-api-server';
import { container, find, podSpec } from '../support/manifests';
import { node24Binary } from '../support/node24';
import { disposeAll, registerCleanup, repoPath, runTracked, spawnTracked, type TrackedProcess } from '../support/procs';
import { getObjectSha256, type S3Server, sha256File, startS3Server } from '../support/s3';
import { issueServerCert, makeCa } from '../support/tls';
import { eventually } from '../agent/uploader/harness';
import { note } from '../support/notes';
import {
  commandLine, type Container, mountTable, type NodeLayout, type PodContext, type PodSpec, processIdentity, resolveEnv, setprivArgs,
  translateEnv, translatePath,
} from './kubelet-sim';

const HOOK_PATH = '/services/T0TEAM/B0HOOK/secretToken42';
const NODE = 'worker-7';

interface Hooked { readonly url: string; readonly headers: Record<string, unknown>; readonly body: string }

let tmp: string;
let node24: string;
let s3: S3Server;
let kube: FakeKubeApi;
let receiver: https.Server;
let receiverPort: number;
let webhookCaPem: string;
let webhookCaFile: string;
const hooked: Hooked[] = [];
let dumpFile: string;

beforeAll(async () => {
  node24 = await node24Binary();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'notify-deployed-'));
  chmodSync(tmp, 0o755);
  s3 = await startS3Server('s3rver');
  kube = await startFakeKubeApi();
  const caDir = path.join(tmp, 'hook-ca');
  mkdirSync(caDir);
  const ca = makeCa(caDir, 'team webhook CA');
  webhookCaPem = ca.certPem;
  webhookCaFile = ca.certFile;
  const cert = issueServerCert(ca, caDir, ['localhost'], 'hook');
  receiver = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hooked.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverPort = (receiver.address() as AddressInfo).port;
  registerCleanup(async () => {
    receiver.closeAllConnections();
    await new Promise<void>((r) => receiver.close(() => r()));
  });
  dumpFile = await makeHeapDump(path.join(tmp, 'jvm'), { uid: 1000, gid: 1000, fileName: 'java_pid1.hprof' });
}, 300_000);

afterAll(async () => {
  await kube?.close();
  await disposeAll();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** The synthesized pipeline with Events, a Slack webhook from the Secret `team-hook` and the webhook's CA in a ConfigMap. */
function manifests() {
  const { objects } = synthPipeline({
    agentImage: 'registry.example.com/platform/heapdump-agent:0.2.0',
    platform: 'kubernetes',
    uploader: {
      bucket: s3.bucket, endpoint: s3.endpoint, prefix: 'prod/',
      caBundle: { source: 'configmap', configMapName: 'team-webhook-ca' },
      notifications: { kubernetesEvents: true, clusterName: 'prod-eu', webhook: { secretName: 'team-hook', format: 'slack' } },
    },
    app: { enabled: false },
  } as Parameters<typeof synthPipeline>[0]);
  const ds = find(objects, 'DaemonSet', 'heap-dump-s3-uploader');
  const configMaps: Record<string, Record<string, string>> = Object.fromEntries(
    objects.filter((o) => o.kind === 'ConfigMap').map((o) => [o.metadata.name, { ...(o as { data?: Record<string, string> }).data }]),
  );
  configMaps['team-webhook-ca'] = { 'ca-bundle.crt': webhookCaPem }; // the ConfigMap the team creates
  return { spec: podSpec(ds) as PodSpec, uploader: container(ds, 'uploader') as Container, configMaps, namespace: ds.metadata.namespace as string };
}

/** Writes each item of a configMap or secret volume into a directory, as the kubelet projects them. */
function project(dir: string, data: Record<string, string>, items: Array<{ key: string; path: string }> | undefined): string {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (const it of items ?? Object.keys(data).map((key) => ({ key, path: key }))) writeFileSync(path.join(dir, it.path), data[it.key] ?? '', { mode: 0o444 });
  return dir;
}

/** The uploader container as a process: argv, env, identity and limits, all from the manifest. */
function uploaderProcess(m: ReturnType<typeof manifests>, nodeRoot: string) {
  const secrets: Record<string, Record<string, string>> = {
    's3-credentials': { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_DEFAULT_REGION: s3.region },
    'team-hook': { url: `https://127.0.0.1:${receiverPort}${HOOK_PATH}` },
  };
  const ctx: PodContext = { nodeName: NODE, namespace: m.namespace, podName: 'heap-dump-s3-uploader-x7k2p', configMaps: m.configMaps, secrets };
  const dirs = { configMap: {} as Record<string, string>, secret: {} as Record<string, string>, projected: {} as Record<string, string> };
  for (const v of m.spec.volumes ?? []) {
    const dir = path.join(tmp, 'volumes', v.name);
    if (v.configMap) dirs.configMap[v.name] = project(dir, m.configMaps[v.configMap.name], v.configMap.items);
    if (v.secret) dirs.secret[v.name] = project(dir, secrets[v.secret.secretName], v.secret.items);
    if (v.projected) {
      // the ServiceAccount token volume: a token, the API server's CA (here the stand-in's), the namespace
      dirs.projected[v.name] = project(dir, { token: 'uploader-token', 'ca.crt': kube.certs.ca.toString(), namespace: m.namespace }, [
        { key: 'token', path: 'token' }, { key: 'ca.crt', path: 'ca.crt' }, { key: 'namespace', path: 'namespace' }]);
    }
  }
  const layout: NodeLayout = {
    nodeRoot, claims: {}, configMapDirs: dirs.configMap, secretDirs: dirs.secret, projectedDirs: dirs.projected, emptyDirRoot: path.join(tmp, 'empty'),
  };
  // The kubelet sets the `kubernetes` Service's address in every container: here the API server stand-in.
  const apiUrl = new URL(kube.url);
  const raw: Record<string, string> = { KUBERNETES_SERVICE_HOST: apiUrl.hostname, KUBERNETES_SERVICE_PORT: apiUrl.port, ...resolveEnv(m.uploader, ctx) };
  const table = mountTable(m.spec, m.uploader, raw, layout);
  for (const t of table) mkdirSync(t.source, { recursive: true });
  const env = translateEnv(raw, table);
  // No container root file system here: the agent's defaults that are container paths point into the volumes.
  for (const [, st] of envSettings()) {
    if (env[st.env] === undefined && typeof st.default === 'string' && st.default.startsWith('/')) {
      const p = translatePath(st.default, table);
      if (p !== undefined) env[st.env] = p;
    }
  }
  // What one host forces: agent pods share the host network, so an ephemeral port on loopback.
  Object.assign(env, { [ENV.httpPort]: '0', [ENV.httpHost]: '127.0.0.1', PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/tmp' });
  const limits = (m.uploader as Container & { resources: { limits: { cpu: string; memory: string } } }).resources.limits;
  return {
    env, raw,
    argv: [node24, AGENT_BUNDLE, ...commandLine(m.uploader, raw, table)],
    setpriv: setprivArgs(processIdentity(m.spec, m.uploader, 0)),
    limits: { cpuMillis: parseCpu(limits.cpu), memoryBytes: parseMemory(limits.memory), source: 'the synthesized uploader container' },
  };
}

function logged(proc: TrackedProcess, msg: string): Array<Record<string, unknown>> {
  return proc.stdout.flatMap((l) => {
    try {
      const e = JSON.parse(l) as Record<string, unknown>;
      return e.msg === msg ? [e] : [];
    } catch {
      return [];
    }
  });
}

test('control: Node 24\'s fetch sends with the JIT, and fails with --jitless (no WebAssembly): why the agent does not use it', async () => {
  const script = `fetch('https://127.0.0.1:${receiverPort}/', { method: 'POST', body: '{}' }).then(() => console.log('sent'), (e) => console.log(String(e.cause?.message ?? e.message)))`;
  // The receiver's CA trusted the way fetch takes extra CAs, so that only the missing WebAssembly can stop it.
  const r = await runTracked(node24, ['--jitless', '-e', script], { env: { PATH: process.env.PATH, NODE_EXTRA_CA_CERTS: webhookCaFile } });
  expect(r.stdout.trim()).toBe('WebAssembly is not defined');
  const jit = await runTracked(node24, ['-e', script], { env: { PATH: process.env.PATH, NODE_EXTRA_CA_CERTS: webhookCaFile } });
  expect(jit.stdout.trim()).toBe('sent');
  expect(hooked).toHaveLength(1);
  hooked.length = 0;
}, 60_000);

test('the uploader as its DaemonSet runs it uploads a JVM dump, and the Slack webhook (HTTPS, its CA from the bundle) and the Kubernetes Event both arrive', async () => {
  const m = manifests();
  const nodeRoot = path.join(tmp, 'node');
  const p = uploaderProcess(m, nodeRoot);
  // exactly what the manifest gives the container
  expect(p.raw[NODE_OPTIONS_ENV]).toBe('--jitless');
  expect(p.argv.slice(2)).toEqual([COMMANDS.uploader]);
  expect(p.setpriv).toEqual(['setpriv', '--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all,+dac_read_search,+dac_override', '--no-new-privs', '--']);
  expect(p.limits).toMatchObject({ cpuMillis: 1000, memoryBytes: 256 * 2 ** 20 });
  expect(p.env[ENV.s3CaBundleFile]).toMatch(/volumes\/[^/]+\/ca-bundle\.crt$/);

  // the pod's dump, written by the JVM as its own uid, in its own folder (the guard's marker is not needed by the uploader)
  const folder = path.join(nodeRoot, 'mnt', 'dump', 'shop', 'cart-7d9f8-abcde');
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  chownSync(folder, 1000, 1000);
  const dump = path.join(folder, 'java_pid1.hprof');
  copyFileSync(dumpFile, dump);
  chownSync(dump, 1000, 1000);
  chmodSync(dump, 0o600);

  const group = LimitGroup.create(`notify-deployed-${process.pid}`, p.limits);
  const [cmd, args] = group.wrap(p.setpriv[0], [...p.setpriv.slice(1), ...p.argv]);
  const proc = spawnTracked(cmd, args, { env: p.env, cwd: '/', maxLines: 100_000 });
  try {
    await eventually('the webhook and the Event', () => (hooked.length >= 1 && kube.requests.some((r) => r.method === 'POST')) || proc.exitInfo() !== undefined, 90_000);
    expect(proc.exitInfo()).toBeUndefined();
    const uploaded = logged(proc, 'uploaded and verified');
    expect(uploaded).toHaveLength(1);
    const key = uploaded[0].key as string;
    expect(key).toMatch(new RegExp(`^prod/${NODE}/shop/cart-7d9f8-abcde/java_pid1\\.`));
    expect((await getObjectSha256(s3, key)).sha256).toBe(await sha256File(dumpFile));

    // the Slack message, over TLS verified against the team's CA (from the bundle), to the Secret's URL
    expect(hooked).toHaveLength(1);
    expect(hooked[0].url).toBe(HOOK_PATH);
    const msg = JSON.parse(hooked[0].body) as { text: string; blocks: Array<{ type: string }> };
    const size = statSync(dumpFile).size;
    expect(size).toBeGreaterThan(2 ** 20);
    // the heapdumps API is deployed too: the message names the command that gets the dump (its name: the pod
    // folder, the occurrence time from the key, 12 hex of the key's sha256)
    const stamp = /\.(\d{4})-(\d\d)-(\d\d)T(\d\d)-(\d\d)-(\d\d)\.\d{3}Z\.hprof$/.exec(key)!;
    const name = `cart-7d9f8-abcde.${stamp.slice(1, 4).join('')}-${stamp.slice(4, 7).join('')}.${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;
    expect(msg.text).toBe(`Heap dump from prod-eu: shop/cart-7d9f8-abcde on ${NODE} uploaded to \`s3://${s3.bucket}/${key}\` (${(size / 2 ** 20).toFixed(1)} MiB). Get it: kubectl heapdump get -n shop ${name}`);
    expect(msg.blocks.map((b) => b.type)).toEqual(['header', 'section', 'section', 'section', 'section', 'context']);
    expect(hooked[0].body).toContain(`kubectl heapdump get -n shop ${name}`);
    expect(hooked[0].body).toContain('*Top classes by shallow size*');

    // the Event, created through @kubernetes/client-node (node-fetch over node:https) under the same --jitless
    const post = kube.requests.find((r) => r.method === 'POST')!;
    expect(post.path).toBe('/apis/events.k8s.io/v1/namespaces/shop/events');
    expect(post.headers.authorization).toBe('Bearer uploader-token');
    expect(JSON.parse(post.body)).toMatchObject({ reason: 'HeapDumpUploaded', regarding: { kind: 'Pod', namespace: 'shop', name: 'cart-7d9f8-abcde' }, reportingInstance: NODE });

    await eventually('both channels counted as sent', () => logged(proc, 'notification sent').length === 2, 10_000);
    expect(logged(proc, 'notification failed')).toEqual([]);
    const status = readFileSync(`/proc/${proc.pid}/status`, 'utf8');
    note(`uploader under Node 24 --jitless, cgroup ${JSON.stringify(p.limits)}: peak RSS ${/VmHWM:\s+(\d+ kB)/.exec(status)?.[1]}`);
  } finally {
    await proc.dispose();
    group.dispose();
  }
}, 240_000);

test('no module of the agent calls the global fetch or WebAssembly (both gone under --jitless); its HTTP goes through node:http', () => {
  const files = (readdirSync(repoPath('agent', 'src'), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
  expect(files.length).toBeGreaterThan(50);
  const offenders = files.filter((f) => {
    const code = readFileSync(repoPath('agent', 'src', f), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    return /(^|[^.\w])fetch\s*\(|globalThis\.fetch|\bWebAssembly\b|from 'undici'/m.test(code);
  });
  expect(offenders).toEqual([]);
});
