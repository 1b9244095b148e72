/**
 * kubectl-heapdump as a user runs it (the bundled single file, a kubeconfig in a temp folder: a token, an exec
 * credential plugin, a client certificate) against the API through the aggregation layer's stand-in, which here
 * also authorizes like kube-apiserver (a list across namespaces needs a cluster-wide grant). The API server runs
 * as the manifest runs it: the bundled agent under the image's Node 24, the synthesized Deployment's environment
 * and NODE_OPTIONS, as the image's non-root user with no capabilities.
 */
import { spawn } from 'child_process';
import { createHash, randomBytes } from 'crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { COMMANDS, ENV, NODE_OPTIONS_BY_COMMAND, NODE_OPTIONS_ENV } from '../../../agent/src/contract';
import { dumpName } from '../../../agent/src/dump-name';
import { synthPipeline } from '../../../lib/synth';
import { AGENT_BUNDLE, PLUGIN_BUNDLE } from '../../../scripts/bundle-agent';
import { type Container, processIdentity, resolveEnv, setprivArgs } from '../../e2e/kubelet-sim';
import { freePort, putDump, type SeededDump, shareWithAnyUser, startWorld, type World } from '../../support/api-world';
import { container, find, podSpec } from '../../support/manifests';
import { node24Binary } from '../../support/node24';
import { runTracked, spawnTracked, type TrackedProcess } from '../../support/procs';
import { disposeAll, type S3Server, s3Env, startS3Server } from '../../support/s3';
import { issueClientCert, makeCa } from '../../support/tls';

const PREFIX = 'p/';
const ALL_SUBS = ['heapdumps', 'heapdumps/download', 'heapdumps/summary', 'heapdumps/leaks'];
const LEAKS = { schema: 'heapdump-pipeline.io/leaks/v1', status: 'analyzed', headline: 'Leak suspect: com.acme.Cache retains 6 MiB (70 %)', suspects: [{ kind: 'object', className: 'com.acme.Cache', retainedBytes: 6_291_456, retainedPercent: 70 }], topDominators: [] };
const SUMMARY_TEXT = 'Heap dump summary\nTop classes by shallow size:\n  byte[]  6.0 MiB\n  evil\u001b]52;c;cHduZWQ=\u0007name\n';
const WEB = 'https://dumps.example.com';

let s3: S3Server;
let world: World;
let tmp: string;
let server: TrackedProcess;
let serverEnv: Record<string, string>;
let a1: SeededDump;
let b1: SeededDump;

interface Run { code: number; stdout: Buffer; stderr: string }

/** The plugin as a user runs it: the bundled file, their kubeconfig, their working directory. */
function plugin(args: string[], o: { context?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [PLUGIN_BUNDLE, ...args, ...(o.context !== undefined ? ['--context', o.context] : [])], {
      cwd: o.cwd ?? tmp, env: { PATH: process.env.PATH, HOME: tmp, KUBECONFIG: path.join(tmp, 'kubeconfig'), ...o.env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr: err });
    });
  });
}

function kubeconfig(server: string, ca: string, cert: { certPem: string; keyPem: string }, execScript: string): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return `apiVersion: v1
kind: Config
current-context: alice
clusters:
- name: test
  cluster:
    server: ${server}
    certificate-authority-data: ${b64(ca)}
contexts:
- name: alice
  context: { cluster: test, user: alice, namespace: team-a }
- name: bob-exec
  context: { cluster: test, user: bob, namespace: team-b }
- name: carol-cert
  context: { cluster: test, user: carol }
users:
- name: alice
  user: { token: alice-token }
- name: bob
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ${execScript}
      args: [bob-token]
      interactiveMode: Never
- name: carol
  user:
    client-certificate-data: ${b64(cert.certPem)}
    client-key-data: ${b64(cert.keyPem)}
`;
}

/** The api container's environment from the synthesized Deployment, pointed at this test's servers and files. */
function manifestEnv(): { env: Record<string, string>; identity: string[] } {
  const { objects } = synthPipeline({ agentImage: 'registry.example.com/heapdump-agent:test', platform: 'kubernetes', api: { web: { enabled: false, url: WEB } } });
  const deployment = find(objects, 'Deployment', 'heapdump-api');
  const c = container(deployment, 'api') as Container;
  const env = resolveEnv(c, { nodeName: 'worker-0', namespace: 'heapdump-system', podName: 'heapdump-api-0', configMaps: {}, secrets: { 'heapdump-api-s3-credentials': { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey } } });
  // The image runs as uid 1001 (agent/Dockerfile); the pod adds no capability.
  return { env, identity: setprivArgs(processIdentity(podSpec(deployment), c, 1001)) };
}

beforeAll(async () => {
  const node24 = await node24Binary();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'plugin-test-'));
  s3 = await startS3Server('s3rver');
  const userCaDir = path.join(tmp, 'user-ca');
  mkdirSync(userCaDir);
  const userCa = makeCa(userCaDir, 'users CA');
  const carolCert = issueClientCert(userCa, userCaDir, 'carol', 'carol');
  world = await startWorld({ authorize: true, userCa: userCa.certPem, projects: (u) => (u.username === 'alice' ? ['team-a', 'team-b'] : []) });
  world.kube.users.set('alice-token', { username: 'alice', groups: ['team-a-devs'] });
  world.kube.users.set('bob-token', { username: 'bob' });
  world.kube.rules = [
    { group: 'team-a-devs', namespace: 'team-a', verbs: ['get', 'list'], resources: ALL_SUBS },
    { user: 'bob', namespace: 'team-b', verbs: ['get', 'list'], resources: ALL_SUBS },
    { user: 'carol', verbs: ['get', 'list'], resources: ['*'] },
  ];
  a1 = await putDump(s3, { prefix: PREFIX, node: 'w1', namespace: 'team-a', pod: 'orders-1', file: 'java_pid1.2026-11-30T01-02-03.456Z.hprof', body: randomBytes(9 * 1024 * 1024 + 5), leaks: LEAKS, summaryText: SUMMARY_TEXT, summary: { schema: 'x' } });
  b1 = await putDump(s3, { prefix: PREFIX, node: 'w2', namespace: 'team-b', pod: 'billing-1', file: 'java_pid1.2026-11-30T02-02-03.456Z.hprof', body: randomBytes(100_000) });

  const port = await freePort();
  const { env, identity } = manifestEnv();
  shareWithAnyUser(world.pki.dir, world.credentials);
  serverEnv = {
    ...env,
    ...s3Env(s3),
    [ENV.s3Prefix]: PREFIX,
    [ENV.httpHost]: '127.0.0.1',
    [ENV.httpPort]: '0',
    [ENV.apiHttpsPort]: String(port),
    [ENV.apiTlsCertFile]: world.pki.apiCert.certFile,
    [ENV.apiTlsKeyFile]: world.pki.apiCert.keyFile,
    [ENV.apiKubeUrl]: world.kube.url,
    [ENV.apiKubeCredentialsDir]: world.credentials,
  };
  const argv = [...identity, node24, AGENT_BUNDLE, COMMANDS.api];
  server = spawnTracked(argv[0], argv.slice(1), { env: { PATH: process.env.PATH, ...serverEnv }, maxLines: 100_000 });
  for (let i = 0; i < 200 && !server.stdout.some((l) => l.includes('"api listening"')); i++) await new Promise((r) => setTimeout(r, 50));
  if (!server.stdout.some((l) => l.includes('"api listening"'))) throw new Error(`api did not start:\n${server.output()}`);
  world.backendUrl = `https://127.0.0.1:${port}`;

  const exec = path.join(tmp, 'exec-credential.sh');
  writeFileSync(exec, '#!/bin/sh\n# an exec credential plugin: the token it is given, as client.authentication.k8s.io/v1\necho "{\\"apiVersion\\":\\"client.authentication.k8s.io/v1\\",\\"kind\\":\\"ExecCredential\\",\\"status\\":{\\"token\\":\\"$1\\"}}"\n', { mode: 0o755 });
  writeFileSync(path.join(tmp, 'kubeconfig'), kubeconfig(world.aggregator.url, world.pki.servingCa.certPem, carolCert, exec), { mode: 0o600 });
}, 300_000);

afterAll(async () => {
  await disposeAll();
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
});

const nameA = () => dumpName(a1.key);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('the API server as the manifest runs it', () => {
  test('bundled agent under Node 24 with the Deployment\'s env and NODE_OPTIONS, as uid 1001 without capabilities', () => {
    const status = readFileSync(`/proc/${server.pid}/status`, 'utf8');
    // setpriv exec-ed node: the tracked PID is the server itself
    expect(/^Uid:\s+(\d+)/m.exec(status)?.[1]).toBe('1001');
    expect(/^CapEff:\s+(\w+)/m.exec(status)?.[1]).toBe('0000000000000000');
    expect(readFileSync(`/proc/${server.pid}/cmdline`, 'utf8').split('\0')).toEqual(expect.arrayContaining([AGENT_BUNDLE, 'api']));
    expect(serverEnv[NODE_OPTIONS_ENV]).toBe(NODE_OPTIONS_BY_COMMAND[COMMANDS.api]);
    expect(serverEnv[ENV.apiWebUrl]).toBe(WEB);
    expect(server.exitInfo()).toBeUndefined();
  });
});

describe('kubectl heapdump', () => {
  test('ls: the context\'s namespace as a table; another team\'s namespace is "not allowed" (exit 4)', async () => {
    const r = await plugin(['ls']);
    expect(r.code).toBe(0);
    const lines = r.stdout.toString().trimEnd().split('\n');
    expect(lines[0].split(/\s{2,}/)).toEqual(['NAME', 'POD', 'NODE', 'SIZE', 'AGE', 'COMPLETE', 'TOP SUSPECT']);
    expect(lines.slice(1).map((l) => l.split(/\s{2,}/).slice(0, 4))).toEqual([[nameA(), 'orders-1', 'w1', '9.0 MiB']]);
    expect(lines[1]).toContain('com.acme.Cache (70 %)');
    const denied = await plugin(['ls', '-n', 'team-b']);
    expect([denied.code, denied.stdout.length]).toEqual([4, 0]);
    expect(denied.stderr).toMatch(/^Error from server \(Forbidden\): .*team-b/);
  });

  test('ls -A: without a cluster-wide grant, the namespaces one may see one by one; with one, everything', async () => {
    const alice = await plugin(['ls', '-A']);
    expect(alice.code).toBe(0);
    expect(alice.stdout.toString().trimEnd().split('\n').map((l) => l.split(/\s{2,}/).slice(0, 2))).toEqual([['NAMESPACE', 'NAME'], ['team-a', nameA()]]);
    const carol = await plugin(['ls', '-A'], { context: 'carol-cert' });
    expect(carol.code).toBe(0);
    expect(carol.stdout.toString().split('\n').slice(1).filter((l) => l !== '').map((l) => l.split(/\s{2,}/).slice(0, 2)).sort()).toEqual([['team-a', nameA()], ['team-b', dumpName(b1.key)]]);
  });

  test('get: the file, byte for byte, named after the dump, sha256 verified', async () => {
    const dir = mkdtempSync(path.join(tmp, 'get-'));
    const r = await plugin(['get', nameA()], { cwd: dir });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: `${nameA()}.hprof: ${a1.body.length} bytes, sha256 ${sha(a1.body)} verified\n` });
    expect(readFileSync(path.join(dir, `${nameA()}.hprof`)).equals(a1.body)).toBe(true);
    const again = await plugin(['get', nameA()], { cwd: dir });
    expect([again.code, again.stderr]).toEqual([0, `${nameA()}.hprof: already there, sha256 ${sha(a1.body)} verified\n`]);
  });

  test('get resumes an interrupted download from FILE.partial; a partial of other bytes is caught (exit 5) and deleted', async () => {
    const dir = mkdtempSync(path.join(tmp, 'resume-'));
    const out = path.join(dir, 'dump.hprof');
    writeFileSync(`${out}.partial`, a1.body.subarray(0, 3 * 1024 * 1024));
    const r = await plugin(['get', nameA(), '-o', out]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`resuming ${out} at byte ${3 * 1024 * 1024} of ${a1.body.length}`);
    expect(readFileSync(out).equals(a1.body)).toBe(true);
    expect(existsSync(`${out}.partial`)).toBe(false);
    const bad = path.join(dir, 'bad.hprof');
    writeFileSync(`${bad}.partial`, randomBytes(1024 * 1024));
    const b = await plugin(['get', nameA(), '-o', bad]);
    expect(b.code).toBe(5);
    expect(b.stderr).toContain(`is not the dump's ${sha(a1.body)}`);
    expect([existsSync(bad), existsSync(`${bad}.partial`)]).toEqual([false, false]);
  });

  test('get -o - writes the bytes to standard output', async () => {
    const r = await plugin(['get', nameA(), '-o', '-']);
    expect(r.code).toBe(0);
    expect(r.stdout.equals(a1.body)).toBe(true);
  });

  test('a progress bar on a terminal (run under script(1) for a pty)', async () => {
    const dir = mkdtempSync(path.join(tmp, 'tty-'));
    const cmd = `cd ${dir} && KUBECONFIG=${path.join(tmp, 'kubeconfig')} HOME=${tmp} ${process.execPath} ${PLUGIN_BUNDLE} get ${nameA()}`;
    const r = await runTracked('script', ['-qec', cmd, '/dev/null'], { timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\r\S+\.hprof \[=+\] 100% 9\.0 MiB \/ 9\.0 MiB /);
    expect(readFileSync(path.join(dir, `${nameA()}.hprof`)).equals(a1.body)).toBe(true);
  }, 90_000);

  test('summary (text, escaped) and leaks (-o json); open prints the web page', async () => {
    const s = await plugin(['summary', nameA()]);
    expect(s.code).toBe(0);
    expect(s.stdout.toString()).toBe('Heap dump summary\nTop classes by shallow size:\n  byte[]  6.0 MiB\n  evil\\x1b]52;c;cHduZWQ=\\x07name\n');
    const l = await plugin(['leaks', nameA(), '-o', 'json']);
    expect([l.code, JSON.parse(l.stdout.toString())]).toEqual([0, LEAKS]);
    const o = await plugin(['open', nameA()]);
    expect([o.code, o.stdout.toString()]).toEqual([0, `${WEB}/namespaces/team-a/heapdumps/${nameA()}\n`]);
    expect((await plugin(['leaks', dumpName(b1.key)], { context: 'bob-exec' })).code).toBe(3);
  });

  test('an exec credential plugin and a client certificate identify the user', async () => {
    const bob = await plugin(['ls'], { context: 'bob-exec' });
    expect([bob.code, bob.stdout.toString()]).toEqual([0, expect.stringContaining(dumpName(b1.key))]);
    expect((await plugin(['ls', '-n', 'team-a'], { context: 'bob-exec' })).code).toBe(4);
    const carol = await plugin(['get', dumpName(b1.key), '-n', 'team-b', '-o', '-'], { context: 'carol-cert' });
    expect([carol.code, carol.stdout.equals(b1.body)]).toEqual([0, true]);
  });

  test('exit codes: not found 3, malformed name 2, usage 2, no kubeconfig 2; --help for each command', async () => {
    const missing = await plugin(['get', 'orders-1.0123456789ab']);
    expect([missing.code, missing.stderr]).toEqual([3, expect.stringMatching(/^Error from server \(NotFound\)/)]);
    expect((await plugin(['get', 'Not_A_Name'])).code).toBe(2);
    expect((await plugin(['frobnicate'])).code).toBe(2);
    expect((await plugin(['get'])).code).toBe(2);
    const none = await plugin(['ls'], { env: { KUBECONFIG: path.join(tmp, 'nope') } });
    expect([none.code, none.stderr]).toEqual([2, expect.stringContaining('cannot be read: ENOENT')]);
    for (const c of ['ls', 'get', 'summary', 'leaks', 'open']) {
      const h = await plugin([c, '--help']);
      expect([c, h.code, h.stdout.toString()]).toEqual([c, 0, expect.stringContaining(`kubectl heapdump ${c}`)]);
    }
    const main = await plugin(['--help']);
    expect(main.stdout.toString()).toContain('Exit codes:');
  });
});
