/**
 * `npm run bucket-lifecycle`: the printed configuration (what `aws s3api put-bucket-lifecycle-configuration` takes), the
 * one-line errors, and a server without bucket lifecycle (s3rver). --apply and --check against Ceph RGW, with the
 * rule really expiring objects: test/agent/uploader/protection.ceph.test.ts.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { node24Binary } from '../support/node24';
import { repoPath, runTracked } from '../support/procs';
import { disposeAll, startS3Server } from '../support/s3';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'bucket-lifecycle-test-'));
});
afterAll(async () => {
  await disposeAll();
  rmSync(tmp, { recursive: true, force: true });
});

let n = 0;
async function bucketLifecycle(args: string[], config: object | undefined, env: Record<string, string> = {}) {
  const dir = path.join(tmp, `c${++n}`);
  const file = path.join(dir, 'pipeline.config.json');
  mkdirSync(dir);
  if (config !== undefined) writeFileSync(file, JSON.stringify(config));
  const r = await runTracked(await node24Binary(), [repoPath('scripts', 'run-ts.cjs'), repoPath('scripts', 'bucket-lifecycle.ts'), ...args], {
    cwd: dir, env: { PATH: process.env.PATH, HOME: tmp, ...env }, timeoutMs: 60_000,
  });
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}
const IMAGE = 'registry.example.com/x/heapdump-agent:1';

test('--print: the rule for uploader.prefix and retentionDays, as put-bucket-lifecycle-configuration takes it', async () => {
  const r = await bucketLifecycle(['--print'], { agentImage: IMAGE, uploader: { bucket: 'acme-dumps', prefix: 'prod-1/', retentionDays: 14 } });
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  expect(JSON.parse(r.stdout)).toEqual({
    Rules: [{
      ID: 'heapdump-pipeline-retention',
      Status: 'Enabled',
      Filter: { Prefix: 'prod-1/' },
      Expiration: { Days: 14 },
      AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
      NoncurrentVersionExpiration: { NoncurrentDays: 1 },
    }],
  });
}, 120_000);

test('--print with the defaults: the constructs\' prefix (memory-leak-demo/) and 30 days', async () => {
  const r = await bucketLifecycle(['--print'], { agentImage: IMAGE });
  expect(JSON.parse(r.stdout).Rules[0]).toMatchObject({ Filter: { Prefix: 'memory-leak-demo/' }, Expiration: { Days: 30 } });
}, 60_000);

test.each([
  ['no mode', [], { agentImage: IMAGE }, 'bucket-lifecycle: expected one of --print, --apply, --check, got []\nusage: npm run -s bucket-lifecycle -- --print | --apply | --check'],
  ['two modes', ['--print', '--apply'], { agentImage: IMAGE }, 'bucket-lifecycle: expected one of --print, --apply, --check, got ["--print","--apply"]\nusage: npm run -s bucket-lifecycle -- --print | --apply | --check'],
  ['retention off', ['--print'], { agentImage: IMAGE, uploader: { retentionDays: 0 } }, 'bucket-lifecycle: pipeline.config.json: uploader.retentionDays is 0 (dumps never expire): there is no rule to write; set a number of days'],
  ['a bad value', ['--print'], { agentImage: IMAGE, uploader: { retentionDays: 'thirty' } }, 'bucket-lifecycle: pipeline.config.json: Invalid uploader.retentionDays: "thirty" (expected a whole number of days between 0 and 36500 (0 = no expiry, no check))'],
  ['no config file', ['--print'], undefined, 'bucket-lifecycle: pipeline.config.json: not found (expected a JSON object with the pipeline settings, at least {"agentImage": "registry.example.com/team/heapdump-agent:0.1.0"}; PIPELINE_CONFIG names another file)'],
])('%s: exit 2, one message, nothing on stdout', async (_what, args, config, message) => {
  const r = await bucketLifecycle(args, config);
  expect(r).toEqual({ code: 2, stdout: '', stderr: message });
}, 60_000);

test('--apply against a server without bucket lifecycle (s3rver): exit 1, the S3 error and what it means', async () => {
  const s3 = await startS3Server('s3rver');
  const r = await bucketLifecycle(['--apply'], { agentImage: IMAGE, uploader: { bucket: s3.bucket, endpoint: s3.endpoint } },
    { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey });
  expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 1, stdout: '' });
  expect(r.stderr).toMatch(/^bucket-lifecycle: S3 said NotImplemented: .* \(this S3 server does not implement bucket lifecycle\)$/);
}, 60_000);
