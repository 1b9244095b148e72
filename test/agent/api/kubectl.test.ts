/**
 * The real kubectl (Debian's, when installed) against the API through the aggregation layer's stand-in, as a team
 * member runs it: discovery finds `heapdumps`, `kubectl get heapdumps` prints the server's Table columns,
 * `-o yaml` the object, `kubectl describe heapdump` the fields, and `kubectl auth`-free 403s read as kubectl's usual
 * "Error from server (Forbidden)". No client-side knowledge of the type is needed.
 */
import { randomBytes } from 'crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { load } from 'js-yaml';
import { dumpName } from '../../../agent/src/dump-name';
import { apiEnv, freePort, putDump, type SeededDump, startApiInProcess, startWorld, type World } from '../../support/api-world';
import { runTracked } from '../../support/procs';
import { disposeAll, type S3Server, startS3Server } from '../../support/s3';

const KUBECTL = '/usr/bin/kubectl';
const describeKubectl = existsSync(KUBECTL) ? describe : describe.skip;

describeKubectl('kubectl against the heapdumps API', () => {
  let s3: S3Server;
  let world: World;
  let tmp: string;
  let a1: SeededDump;

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'kubectl-test-'));
    s3 = await startS3Server('s3rver');
    world = await startWorld();
    world.kube.users.set('alice-token', { username: 'alice' });
    world.kube.rules = [{ user: 'alice', namespace: 'team-a', verbs: ['get', 'list'], resources: ['heapdumps', 'heapdumps/download', 'heapdumps/summary', 'heapdumps/leaks'] }];
    a1 = await putDump(s3, {
      prefix: 'k/', node: 'worker-3', namespace: 'team-a', pod: 'orders-api-1', file: 'java_pid1.2026-11-30T01-02-03.456Z.hprof', body: randomBytes(3 * 1024 * 1024),
      leaks: { status: 'analyzed', headline: 'Leak suspect: com.acme.Cache retains 2 MiB (70 %)', suspects: [{ kind: 'object', className: 'com.acme.Cache', retainedBytes: 2_097_152, retainedPercent: 70 }] },
    });
    await putDump(s3, { prefix: 'k/', node: 'worker-1', namespace: 'team-b', pod: 'billing-1', file: 'java_pid1.hprof', body: randomBytes(1000) });
    const api = await startApiInProcess(apiEnv({ s3, prefix: 'k/', kube: world.kube, pki: world.pki, credentials: world.credentials, httpsPort: await freePort() }));
    world.backendUrl = api.url;
    writeFileSync(path.join(tmp, 'kubeconfig'), `apiVersion: v1
kind: Config
current-context: alice
clusters: [{ name: test, cluster: { server: '${world.aggregator.url}', certificate-authority-data: ${Buffer.from(world.pki.servingCa.certPem).toString('base64')} } }]
contexts: [{ name: alice, context: { cluster: test, user: alice, namespace: team-a } }]
users: [{ name: alice, user: { token: alice-token } }]
`);
  }, 120_000);

  afterAll(async () => {
    await disposeAll();
    rmSync(tmp, { recursive: true, force: true });
  });

  const kubectl = (...args: string[]) => runTracked(KUBECTL, ['--kubeconfig', path.join(tmp, 'kubeconfig'), '--cache-dir', path.join(tmp, 'cache'), ...args], {
    env: { PATH: process.env.PATH, HOME: tmp }, timeoutMs: 60_000,
  });

  test('kubectl get heapdumps: the server\'s columns; -o yaml: the object; the short name works too', async () => {
    const r = await kubectl('get', 'heapdumps');
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const [header, row] = r.stdout.split('\n');
    expect(header.split(/\s{2,}/)).toEqual(['NAME', 'POD', 'NODE', 'SIZE', 'AGE', 'COMPLETE', 'TOP SUSPECT']);
    expect(row.split(/\s{2,}/).slice(0, 4)).toEqual([dumpName(a1.key), 'orders-api-1', 'worker-3', '3.0 MiB']);
    expect(row).toContain('com.acme.Cache (70 %)');
    const y = await kubectl('get', 'hd', dumpName(a1.key), '-o', 'yaml');
    expect(y.code).toBe(0);
    expect(load(y.stdout)).toMatchObject({ apiVersion: 'heapdump-pipeline.io/v1alpha1', kind: 'HeapDump', metadata: { name: dumpName(a1.key), namespace: 'team-a' }, spec: { pod: 'orders-api-1', sha256: a1.sha256, complete: true } });
  }, 60_000);

  test('kubectl describe heapdump shows its fields; another namespace is Forbidden as kubectl prints it', async () => {
    const d = await kubectl('describe', 'heapdump', dumpName(a1.key));
    expect(d.code).toBe(0);
    expect(d.stdout).toMatch(/^Name:\s+orders-api-1\./m);
    expect(d.stdout).toContain(a1.sha256);
    expect(d.stdout).toContain('Leak suspect: com.acme.Cache retains 2 MiB (70 %)');
    const other = await kubectl('get', 'heapdumps', '-n', 'team-b');
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/Error from server \(Forbidden\): heapdumps\.heapdump-pipeline\.io is forbidden: User "alice" cannot list resource "heapdumps" in API group "heapdump-pipeline\.io" in the namespace "team-b"/);
  }, 60_000);

  test('kubectl get --raw .../download is the dump, byte for byte', async () => {
    const out = path.join(tmp, 'raw.hprof');
    const r = await runTracked('bash', ['-c', `'${KUBECTL}' --kubeconfig '${path.join(tmp, 'kubeconfig')}' --cache-dir '${path.join(tmp, 'cache')}' get --raw /apis/heapdump-pipeline.io/v1alpha1/namespaces/team-a/heapdumps/${dumpName(a1.key)}/download > '${out}'`], { env: { PATH: process.env.PATH, HOME: tmp } });
    expect(r.code).toBe(0);
    expect(require('fs').readFileSync(out).equals(a1.body)).toBe(true);
  }, 60_000);
});
