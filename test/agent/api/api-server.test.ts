/**
 * The heapdumps API server end to end, over real TLS, against a real S3 server (s3rver) holding dumps laid out as
 * the uploader writes them, with a stand-in Kubernetes API server (TokenReview, SubjectAccessReview from a rules
 * table, the requestheader ConfigMap) and a stand-in aggregation layer forwarding with its client certificate and
 * X-Remote-* headers. Who may see what is decided by the rules table alone; expected bytes, digests and sets of
 * keys are computed here from what was put into S3.
 */
import { createHash, randomBytes } from 'crypto';
import { mkdtempSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { dumpName } from '../../../agent/src/dump-name';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import * as https from 'https';
import { ENV, LEAK_REPORT_SUFFIXES } from '../../../agent/src/contract';
import { type Answer, apiEnv, freePort, putDump, request, type SeededDump, startApiInProcess, startWorld, type World, type InProcessApi } from '../../support/api-world';
import type { FakeRule } from '../../support/kube-api-server';
import { disposeAll, type S3Server, startS3Server } from '../../support/s3';
import { issueClientCert, makeCa } from '../../support/tls';

const G = '/apis/heapdump-pipeline.io/v1alpha1';
const PREFIX = 'cluster-1/';
const ALL_SUBS = ['heapdumps', 'heapdumps/download', 'heapdumps/summary', 'heapdumps/leaks'];
const TABLE = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';

const LEAKS = {
  schema: 'heapdump-pipeline.io/leaks/v1',
  status: 'analyzed',
  headline: 'Leak suspect: static field com.acme.Cache.ENTRIES (java.util.HashMap) retains 812 MiB (84 %): 1,204,118 × com.acme.Order',
  suspects: [{ kind: 'object', className: 'java.util.HashMap', retainedBytes: 851_443_712, retainedPercent: 84.2, headline: 'static field com.acme.Cache.ENTRIES retains 812 MiB' }],
  topDominators: [{ className: 'java.util.HashMap', objectId: '0x7f001', retainedBytes: 851_443_712, retainedPercent: 84.2 }],
};
const SUMMARY = { schema: 'heapdump-pipeline.io/summary/v1', heap: { totals: { objects: 12, shallowBytes: 1000 }, classes: [{ name: 'byte[]', instances: 3, shallowBytes: 900 }] } };

const RULES: FakeRule[] = [
  { group: 'team-a-devs', namespace: 'team-a', verbs: ['get', 'list'], resources: ALL_SUBS },
  { group: 'team-a-devs', namespace: 'team-z', verbs: ['get', 'list'], resources: ALL_SUBS },
  { user: 'bob', namespace: 'team-b', verbs: ['get', 'list'], resources: ALL_SUBS },
  { user: 'carol', verbs: ['get', 'list'], resources: ['*'] },
  // may see team-a's dumps and reports, not download them
  { user: 'erin', namespace: 'team-a', verbs: ['get', 'list'], resources: ['heapdumps', 'heapdumps/summary', 'heapdumps/leaks'] },
];

let s3: S3Server;
let world: World;
let api: InProcessApi;
let a1: SeededDump;
let a2: SeededDump;
let b1: SeededDump;
let c1: SeededDump;

const viaAggregator = (token: string, p: string, headers: Record<string, string> = {}) => request(world.aggregator.url, p, { token, headers, ca: world.pki.servingCa.certPem });
const direct = (p: string, o: { token?: string; headers?: Record<string, string | string[]>; cert?: { certPem: string; keyPem: string }; method?: string } = {}) => request(api.url, p, { ...o, ca: world.pki.servingCa.certPem });
const nsPath = (ns: string, name?: string, sub?: string) => `${G}/namespaces/${ns}/heapdumps${name !== undefined ? `/${name}` : ''}${sub !== undefined ? `/${sub}` : ''}`;
const keysOf = (a: Answer) => (a.json<{ items: Array<{ spec: { key: string } }> }>().items).map((i) => i.spec.key).sort();
const sha = (b: Buffer) => createHash('sha256').update(b).digest();

/** A GET whose answer may be cut short: the bytes that came, and whether the answer was complete. */
function readRaw(url: string, p: string, token: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer; complete: boolean }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    https.get({ host: u.hostname, port: u.port, path: p, ca: world.pki.servingCa.certPem, agent: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
      const chunks: Buffer[] = [];
      const done = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), complete: res.complete });
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', done);
      res.on('error', done); // cut short ('aborted'): what came is the answer
    }).on('error', reject);
  });
}

beforeAll(async () => {
  s3 = await startS3Server('s3rver');
  world = await startWorld();
  world.kube.users.set('alice-token', { username: 'alice', groups: ['team-a-devs'] });
  world.kube.users.set('bob-token', { username: 'bob' });
  world.kube.users.set('carol-token', { username: 'carol', extra: { scopes: ['user:full'] } });
  world.kube.users.set('dave-token', { username: 'dave' });
  world.kube.users.set('erin-token', { username: 'erin' });
  world.kube.users.set('frank-token', { username: 'frank', groups: ['team-a-devs'] });
  world.kube.rules = [...RULES];
  const put = (namespace: string, pod: string, size: number, extra: { summary?: unknown; leaks?: unknown } = {}) => putDump(s3, {
    prefix: PREFIX, node: 'worker-1', namespace, pod, file: `java_pid1.2026-11-30T01-02-0${size % 7}.456Z.hprof`, body: randomBytes(size), ...extra,
  });
  a1 = await put('team-a', 'orders-api-6f7c9d8b5-x7k2p', 3 * 1024 * 1024 + 17, { summary: SUMMARY, leaks: LEAKS });
  a2 = await put('team-a', 'orders-worker-5d4c-abcde', 70_001);
  // the leak analyzer's attempts marker while it analyses a2: an object next to the dump, not a dump
  const client = s3.client();
  await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: a2.key + LEAK_REPORT_SUFFIXES.attempts, Body: '{"attempts":1}\n' }));
  client.destroy();
  b1 = await put('team-b', 'billing-7c9-qwert', 50_000, { summary: SUMMARY, leaks: LEAKS });
  c1 = await put('team-c', 'search-1', 10_000);
  const port = await freePort();
  api = await startApiInProcess(apiEnv({ s3, prefix: PREFIX, kube: world.kube, pki: world.pki, credentials: world.credentials, httpsPort: port }));
  world.backendUrl = api.url;
}, 120_000);

afterAll(disposeAll);

describe('through the aggregation layer (front-proxy certificate + X-Remote-* headers)', () => {
  test('discovery: the group, its version and the namespaced resource heapdumps with its subresources', async () => {
    const r = await viaAggregator('alice-token', G);
    expect(r.status).toBe(200);
    const list = r.json<{ kind: string; groupVersion: string; resources: Array<Record<string, unknown>> }>();
    expect(list).toMatchObject({ kind: 'APIResourceList', groupVersion: 'heapdump-pipeline.io/v1alpha1' });
    expect(list.resources.find((x) => x.name === 'heapdumps')).toEqual({
      name: 'heapdumps', singularName: 'heapdump', namespaced: true, kind: 'HeapDump', verbs: ['get', 'list'], shortNames: ['hd'], categories: ['heapdump-pipeline'],
    });
    expect(list.resources.map((x) => x.name).sort()).toEqual(['heapdumps', 'heapdumps/download', 'heapdumps/leaks', 'heapdumps/summary']);
    expect((await viaAggregator('alice-token', '/apis')).json()).toMatchObject({ kind: 'APIGroupList', groups: [{ name: 'heapdump-pipeline.io' }] });
  });

  test('a member of team-a lists exactly team-a\'s dumps; team-b\'s list is 403 without a word about its dumps', async () => {
    const mine = await viaAggregator('alice-token', nsPath('team-a'));
    expect(mine.status).toBe(200);
    expect(mine.json()).toMatchObject({ apiVersion: 'heapdump-pipeline.io/v1alpha1', kind: 'HeapDumpList' });
    expect(keysOf(mine)).toEqual([a1.key, a2.key].sort());
    const theirs = await viaAggregator('alice-token', nsPath('team-b'));
    expect(theirs.status).toBe(403);
    expect(theirs.json()).toMatchObject({ kind: 'Status', reason: 'Forbidden', code: 403 });
    for (const secret of [b1.key, b1.pod, dumpName(b1.key), 'worker-1']) expect(theirs.body.toString()).not.toContain(secret);
  });

  test('all namespaces: one cluster-wide review for carol; alice gets only what per-namespace reviews allow; dave gets nothing', async () => {
    world.kube.reviews.length = 0;
    expect(keysOf(await viaAggregator('carol-token', `${G}/heapdumps`))).toEqual([a1.key, a2.key, b1.key, c1.key].sort());
    const carolReviews = world.kube.reviews.filter((r) => r.kind === 'SubjectAccessReview');
    expect(carolReviews.map((r) => (r.spec.resourceAttributes as { namespace: string }).namespace)).toEqual(['']);
    world.kube.reviews.length = 0;
    // frank (team-a-devs, like alice) has asked nothing yet: nothing of his is cached
    expect(keysOf(await viaAggregator('frank-token', `${G}/heapdumps`))).toEqual([a1.key, a2.key].sort());
    // the cluster-wide review, then one per namespace that has dumps, and only those (team-z has a grant, no dumps)
    const asked = world.kube.reviews.filter((r) => r.kind === 'SubjectAccessReview').map((r) => (r.spec.resourceAttributes as { namespace: string }).namespace);
    expect(asked[0]).toBe('');
    expect(asked.slice(1).sort()).toEqual(['team-a', 'team-b', 'team-c']);
    expect(keysOf(await viaAggregator('dave-token', `${G}/heapdumps`))).toEqual([]);
  });

  test('the review is for the caller\'s own identity (user, groups, extra) and exactly the request (verb, namespace, name, subresource)', async () => {
    world.kube.reviews.length = 0;
    const name = dumpName(a1.key);
    expect((await viaAggregator('carol-token', nsPath('team-a', name, 'summary'))).status).toBe(200);
    const sar = world.kube.reviews.find((r) => r.kind === 'SubjectAccessReview');
    expect(sar?.spec).toEqual({
      user: 'carol', groups: ['system:authenticated'], extra: { scopes: ['user:full'] },
      resourceAttributes: { namespace: 'team-a', verb: 'get', group: 'heapdump-pipeline.io', version: 'v1alpha1', resource: 'heapdumps', subresource: 'summary', name },
    });
  });

  test('team-b\'s names: 403 under team-b, and under team-a the same 404 as a name that exists nowhere', async () => {
    const bName = dumpName(b1.key);
    expect((await viaAggregator('alice-token', nsPath('team-b', bName))).status).toBe(403);
    expect((await viaAggregator('alice-token', nsPath('team-b', bName, 'download'))).status).toBe(403);
    const crossed = await viaAggregator('alice-token', nsPath('team-a', bName, 'download'));
    const nowhere = await viaAggregator('alice-token', nsPath('team-a', 'x.0123456789ab', 'download'));
    expect([crossed.status, nowhere.status]).toEqual([404, 404]);
    expect(crossed.body.toString().replaceAll(bName, 'NAME')).toBe(nowhere.body.toString().replaceAll('x.0123456789ab', 'NAME'));
  });

  test('encoded traversal, double encoding and odd bytes never reach team-b: each is refused as written', async () => {
    const bName = dumpName(b1.key);
    const cases: Array<[string, number]> = [
      [`${G}/namespaces/team-a/heapdumps/..%2f..%2fteam-b%2fheapdumps%2f${bName}`, 400],
      [`${G}/namespaces/team-a/heapdumps/%2e%2e/%2e%2e/team-b/heapdumps/${bName}/download`, 400],
      [`${G}/namespaces/team-a/../team-b/heapdumps/${bName}/download`, 400],
      [`${G}/namespaces/team-a/heapdumps/../../team-b/heapdumps/${bName}`, 400],
      [`${G}/namespaces/team-a%2f..%2fteam-b/heapdumps/${bName}`, 400],
      [`${G}/namespaces/team-a/heapdumps/%252e%252e%252fteam-b%252f${bName}`, 400],
      [`${G}/namespaces/team-a/heapdumps/..%5c..%5cteam-b%5c${bName}`, 400],
      [`${G}/namespaces/team-a/heapdumps/${bName}%00`, 400],
      [`${G}/namespaces/team-a/heapdumps/${bName.toUpperCase()}`, 400],
      [`${G}/namespaces/team-a//heapdumps/${bName}`, 400],
      [`${G}/namespaces/team-a/heapdumps/%zz`, 400],
      // decoded once, team-%62 IS team-b: authorized as team-b, and refused
      [`${G}/namespaces/team-%62/heapdumps/${bName}/download`, 403],
      [`${G}/namespaces/team-b/heapdumps/%2e%2e`, 400],
    ];
    for (const [p, want] of cases) {
      const r = await viaAggregator('alice-token', p);
      expect({ p, status: r.status }).toEqual({ p, status: want });
      expect(r.body.includes(b1.body.subarray(0, 64))).toBe(false);
      expect(r.body.toString()).not.toContain(b1.key);
    }
  });

  test('download: byte-identical, Digest and ETag of the sha256 (computed here), audit line and metric', async () => {
    const name = dumpName(a1.key);
    const r = await viaAggregator('alice-token', nsPath('team-a', name, 'download'));
    expect(r.status).toBe(200);
    expect(r.body.equals(a1.body)).toBe(true);
    expect(r.headers.digest).toBe(`sha-256=${sha(a1.body).toString('base64')}`);
    expect(r.headers.etag).toBe(`"sha256-${sha(a1.body).toString('hex')}"`);
    expect(r.headers['content-length']).toBe(String(a1.body.length));
    expect(r.headers['accept-ranges']).toBe('bytes');
    expect(r.headers['content-disposition']).toBe(`attachment; filename="${name}.hprof"`);
    const audit = api.events.filter((e) => e.msg === 'heap dump download' && e.user === 'alice' && e.result === 'complete');
    expect(audit.at(-1)).toMatchObject({ audit: true, user: 'alice', groups: ['team-a-devs', 'system:authenticated'], via: 'front-proxy', namespace: 'team-a', name, key: a1.key, bytes: a1.body.length });
    expect(typeof audit.at(-1)!.time).toBe('string');
    const metrics = await api.registry.metrics();
    expect(metrics).toMatch(new RegExp(`heapdump_agent_api_download_bytes_total\\{namespace="team-a"[^}]*\\} ${a1.body.length}`));
  });

  test('resume with Range (and If-Range), suffix ranges, and 416 past the end', async () => {
    const name = dumpName(a1.key);
    const p = nsPath('team-a', name, 'download');
    const etag = `"sha256-${sha(a1.body).toString('hex')}"`;
    const part = await viaAggregator('alice-token', p, { range: 'bytes=1000000-', 'if-range': etag });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 1000000-${a1.body.length - 1}/${a1.body.length}`);
    expect(part.body.equals(a1.body.subarray(1_000_000))).toBe(true);
    // the digest still names the whole file, so the resumed file can be checked
    expect(part.headers.digest).toBe(`sha-256=${sha(a1.body).toString('base64')}`);
    const first = await viaAggregator('alice-token', p, { range: 'bytes=0-999999' });
    expect(Buffer.concat([first.body, part.body]).equals(a1.body)).toBe(true);
    const tail = await viaAggregator('alice-token', p, { range: 'bytes=-100' });
    expect([tail.status, tail.body.equals(a1.body.subarray(-100))]).toEqual([206, true]);
    const changed = await viaAggregator('alice-token', p, { range: 'bytes=1000000-', 'if-range': '"sha256-other"' });
    expect([changed.status, changed.body.length]).toEqual([200, a1.body.length]);
    const head = await request(world.aggregator.url, p, { token: 'alice-token', method: 'HEAD', headers: { range: 'bytes=10-' }, ca: world.pki.servingCa.certPem });
    expect([head.status, head.headers['content-length'], head.headers['content-range'], head.headers.digest, head.body.length])
      .toEqual([206, String(a1.body.length - 10), `bytes 10-${a1.body.length - 1}/${a1.body.length}`, `sha-256=${sha(a1.body).toString('base64')}`, 0]);
    const past = await viaAggregator('alice-token', p, { range: `bytes=${a1.body.length}-` });
    expect(past.status).toBe(416);
    expect(past.headers['content-range']).toBe(`bytes */${a1.body.length}`);
  });

  test('summary and leak report as stored; a role without heapdumps/download may read them but not download', async () => {
    const name = dumpName(a1.key);
    expect((await viaAggregator('erin-token', nsPath('team-a', name, 'leaks'))).json()).toEqual(LEAKS);
    expect((await viaAggregator('erin-token', nsPath('team-a', name, 'summary'))).json()).toEqual(SUMMARY);
    expect((await viaAggregator('erin-token', nsPath('team-a', name, 'download'))).status).toBe(403);
    expect((await viaAggregator('alice-token', nsPath('team-a', dumpName(a2.key), 'leaks'))).status).toBe(404);
  });

  test('get and Table: the object has the dump\'s facts; the table has pod, node, size, age, complete and the top suspect', async () => {
    const name = dumpName(a1.key);
    const obj = (await viaAggregator('alice-token', nsPath('team-a', name))).json<Record<string, any>>();
    expect(obj).toMatchObject({
      apiVersion: 'heapdump-pipeline.io/v1alpha1', kind: 'HeapDump', metadata: { name, namespace: 'team-a' },
      spec: { pod: a1.pod, node: 'worker-1', size: a1.body.length, sha256: sha(a1.body).toString('hex'), complete: true, key: a1.key },
      status: { summary: { available: true }, leaks: { available: true }, download: { path: nsPath('team-a', name, 'download') } },
    });
    const t = (await viaAggregator('alice-token', nsPath('team-a'), { accept: TABLE })).json<Record<string, any>>();
    expect(t.kind).toBe('Table');
    expect(t.apiVersion).toBe('meta.k8s.io/v1');
    expect(t.columnDefinitions.filter((c: { priority: number }) => c.priority === 0).map((c: { name: string }) => c.name)).toEqual(['Name', 'Pod', 'Node', 'Size', 'Age', 'Complete', 'Top Suspect']);
    const row = t.rows.find((x: { cells: string[] }) => x.cells[0] === name);
    expect(row.cells.slice(1, 4)).toEqual([a1.pod, 'worker-1', '3.0 MiB']);
    expect(row.cells[4]).toMatch(/^\d+s$/);
    expect(row.cells[5]).toBe('true');
    expect(row.cells[6]).toBe('java.util.HashMap (84 %)');
    expect(row.object).toMatchObject({ kind: 'PartialObjectMetadata', metadata: { name, namespace: 'team-a' } });
  });

  test('read-only and no watch: other methods are 405, ?watch=true is 405', async () => {
    expect((await request(world.aggregator.url, nsPath('team-a'), { token: 'alice-token', method: 'DELETE', ca: world.pki.servingCa.certPem })).status).toBe(405);
    expect((await viaAggregator('alice-token', `${nsPath('team-a')}?watch=true`)).status).toBe(405);
  });
});

describe('identity', () => {
  test('forged X-Remote-User: without a client certificate, with one of another CA, or with a name not allowed: 401', async () => {
    const forged = { 'x-remote-user': 'carol', 'x-remote-group': ['system:masters', 'system:authenticated'] };
    const p = nsPath('team-b', dumpName(b1.key), 'download');
    expect((await direct(p, { headers: forged })).status).toBe(401);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rogue-'));
    const rogueCa = makeCa(dir, 'front-proxy-ca');
    expect((await direct(p, { headers: forged, cert: issueClientCert(rogueCa, dir, 'front-proxy-client', 'rogue') })).status).toBe(401);
    expect((await direct(p, { headers: forged, cert: issueClientCert(world.pki.requestHeaderCa, dir, 'someone-else', 'other-name') })).status).toBe(401);
    // the real front proxy's certificate does carry the forwarded identity (the control)
    expect((await direct(p, { headers: forged, cert: world.pki.frontProxy })).status).toBe(200);
  });

  test('through the aggregator a client\'s own X-Remote-* headers are dropped: still alice, still 403', async () => {
    const r = await viaAggregator('alice-token', nsPath('team-b'), { 'x-remote-user': 'carol', 'x-remote-group': 'system:masters' });
    expect(r.status).toBe(403);
    expect(r.json<{ message: string }>().message).toContain('User "alice"');
  });

  test('without aggregation: a bearer token is resolved by a TokenReview; an unknown token or none is 401', async () => {
    expect(keysOf(await direct(nsPath('team-a'), { token: 'alice-token' }))).toEqual([a1.key, a2.key].sort());
    expect((await direct(nsPath('team-b'), { token: 'alice-token' })).status).toBe(403);
    const unknown = await direct(nsPath('team-a'), { token: 'nobody' });
    expect([unknown.status, unknown.json<{ reason: string }>().reason]).toEqual([401, 'Unauthorized']);
    expect((await direct(nsPath('team-a'))).status).toBe(401);
  });
});

describe('decisions are cached for API_DECISION_CACHE (3 s by default) and no longer', () => {
  test('a revoked permission is effective on the first request after the cache time', async () => {
    const p = nsPath('team-b', dumpName(b1.key), 'download');
    expect(api.events.length).toBeGreaterThan(0);
    expect((await viaAggregator('bob-token', p)).status).toBe(200);
    world.kube.rules = world.kube.rules.filter((r) => r.user !== 'bob');
    const revoked = Date.now();
    await new Promise((r) => setTimeout(r, 3_100));
    const after = await viaAggregator('bob-token', p);
    expect({ status: after.status, waitedMs: Date.now() - revoked >= 3_000 }).toEqual({ status: 403, waitedMs: true });
    world.kube.rules = [...RULES];
  }, 20_000);
});

describe('failures', () => {
  test('S3 unreachable: a download is 503 with a clear reason; the list is served from the index; back when S3 is', async () => {
    const p = nsPath('team-a', dumpName(a2.key), 'download');
    await s3.stop();
    try {
      const r = await viaAggregator('alice-token', p);
      expect(r.status).toBe(503);
      expect(r.json()).toMatchObject({ kind: 'Status', reason: 'ServiceUnavailable', code: 503 });
      expect(r.json<{ message: string }>().message).toContain('S3');
      expect((await viaAggregator('alice-token', nsPath('team-a'))).status).toBe(200);
    } finally {
      await s3.start();
    }
    const again = await viaAggregator('alice-token', p);
    expect([again.status, again.body.equals(a2.body)]).toEqual([200, true]);
  }, 60_000);

  test('the Kubernetes API server unavailable: 503, never allowed', async () => {
    world.kube.unavailable = true;
    try {
      const r = await direct(nsPath('team-a'), { token: 'a-token-never-reviewed' });
      expect([r.status, r.json<{ reason: string }>().reason]).toEqual([503, 'ServiceUnavailable']);
      const viaProxy = await viaAggregator('dave-token', nsPath('team-c', dumpName(c1.key), 'download'));
      expect(viaProxy.status).toBe(503);
    } finally {
      world.kube.unavailable = false;
    }
  });

  test('bytes in S3 that no longer hash to the dump\'s sha256 are never served whole: cut short of the Content-Length, audited', async () => {
    const good = randomBytes(1024 * 1024 + 5);
    const cases: Array<[string, Buffer]> = [
      // one byte changed, the length and the metadata as uploaded
      ['flipped', Buffer.concat([good.subarray(0, 300_000), Buffer.from([good[300_000] ^ 1]), good.subarray(300_001)])],
      // stored short (as an aborted PUT may leave it) under the whole file's metadata
      ['short', good.subarray(0, 700_000)],
    ];
    const client = s3.client();
    try {
      const file = 'java_pid1.2026-11-30T01-02-03.456Z.hprof';
      const seeded = new Map<string, { key: string }>();
      seeded.set('replaced', await putDump(s3, { prefix: PREFIX, node: 'worker-1', namespace: 'team-z', pod: 'replaced', file, body: good }));
      // the others are stored as they are damaged from the start, under the metadata the uploader gives the good file
      for (const [pod, stored] of cases) {
        const key = `${PREFIX}worker-1/team-z/${pod}/${file}`;
        const metadata = { node: 'worker-1', namespace: 'team-z', pod, sha256: sha(good).toString('hex'), complete: 'true', 'original-size': String(good.length), 'modified-time': '2026-11-30T01:02:03.456Z' };
        await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: stored, ContentLength: stored.length, Metadata: metadata }));
        seeded.set(pod, { key });
      }
      // the index learns new names by listing again, at most every 2 s
      const replacedName = dumpName(seeded.get('replaced')!.key);
      for (let i = 0; (await viaAggregator('alice-token', nsPath('team-z', replacedName))).status !== 200; i++) {
        if (i === 20) throw new Error('the index never listed the new dumps');
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      for (const [pod, stored] of cases) {
        const name = dumpName(seeded.get(pod)!.key);
        // straight to the API server (its own answer; the aggregator stand-in cuts an answer it has not begun to relay)
        const r = await readRaw(api.url, nsPath('team-z', name, 'download'), 'alice-token');
        // the headers promise the whole file and its digest, the bytes stop short of it: no client takes it as whole
        expect({ pod, status: r.status, length: r.headers['content-length'], digest: r.headers.digest, complete: r.complete })
          .toEqual({ pod, status: 200, length: String(stored.length), digest: `sha-256=${sha(good).toString('base64')}`, complete: false });
        expect(r.body.length).toBeLessThan(stored.length);
        expect(r.body.equals(stored.subarray(0, r.body.length))).toBe(true);
        const audit = api.events.filter((e) => e.msg === 'heap dump download' && e.name === name);
        expect(audit.at(-1)).toMatchObject({ result: 'store-corrupt', user: 'alice', namespace: 'team-z', error: expect.stringContaining(sha(good).toString('hex')) });
        // bytes written before the check failed (a cut connection may drop some of them on the way)
        expect(audit.at(-1)!.bytes as number).toBeGreaterThanOrEqual(r.body.length);
        expect(audit.at(-1)!.bytes as number).toBeLessThan(stored.length);
        // a part of the file cannot be checked here (the client checks the file it assembles): served by its length
        const part = await viaAggregator('alice-token', nsPath('team-z', name, 'download'), { range: 'bytes=10-99' });
        expect([part.status, part.body.equals(stored.subarray(10, 100))]).toEqual([206, true]);
      }
      // replaced by a shorter object after it was listed: S3's length is not the listed one, and nothing is sent
      await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: seeded.get('replaced')!.key, Body: good.subarray(0, 1000), ContentLength: 1000 }));
      const r = await readRaw(api.url, nsPath('team-z', replacedName, 'download'), 'alice-token');
      expect([r.status, r.complete, r.body.includes(good.subarray(0, 64))]).toEqual([503, true, false]);
      expect(api.events.filter((e) => e.msg === 'heap dump download' && e.name === replacedName).at(-1)).toMatchObject({ result: 'store-unavailable', bytes: 0 });
    } finally {
      client.destroy();
    }
  });

  test('its own calls to the API server carry its ServiceAccount token', () => {
    expect(world.kube.requests.filter((r) => r.path.startsWith('/apis/author') || r.path.startsWith('/api/v1/namespaces/kube-system')).every((r) => r.headers.authorization === 'Bearer the-api-servers-own-serviceaccount-token')).toBe(true);
    expect(ENV.apiKubeCredentialsDir).toBe('API_KUBE_CREDENTIALS_DIR');
  });
});
