/**
 * `npm run demo` as CI runs it (CI=true, no terminal, no stdin; test/support/demo-run.ts), checking what a
 * newcomer is promised: the output names the S3 object, the summary's top class and the leak suspect, and the
 * commands a team would use; the object really is in the bucket with those bytes and documents (the main run
 * writes to the test's own s3rver, so it can be read after the demo stopped everything); and nothing is left
 * behind (no process in the run's pids cgroup, nothing in its TMPDIR), also after Ctrl-C and a failed start; the
 * path without root (a user namespace); one line when a prerequisite is missing or the S3 server cannot be used.
 *
 * What the test knows independently of the pipeline: the demo's application (lib/demo-app/Leak.java) keeps
 * byte[] chunks in its static list Leak.RETAINED until the heap is full, so byte[] must be the largest class
 * and RETAINED the suspect; the key layout is `<prefix><node>/<namespace>/<pod>/<file>.<mtime>.hprof` with the
 * prefix and namespace of pipeline.config.json.
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Readable } from 'stream';
import { type DemoRun, pidsCgroupAvailable, runDemo } from '../support/demo-run';
import { describeWithMountNs } from '../support/mountns';
import { note } from '../support/notes';
import { disposeAll, freePort, repoPath } from '../support/procs';
import { type S3Server, startS3Server } from '../support/s3';

jest.setTimeout(150_000);

const config = JSON.parse(readFileSync(repoPath('pipeline.config.json'), 'utf8')) as { uploader: { prefix: string }; app: { namespace: string } };
const NOBODY = 65534;

async function getObject(s3: S3Server, key: string): Promise<Buffer> {
  const client = s3.client();
  try {
    const out = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
    const chunks: Buffer[] = [];
    for await (const c of out.Body as Readable) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  } finally {
    client.destroy();
  }
}

/** Nothing running, nothing in TMPDIR (the pids check only where a pids cgroup can be made). */
function expectNothingLeft(run: DemoRun): void {
  if (pidsCgroupAvailable()) expect(run.leftPids).toEqual([]);
  expect(run.leftFiles).toEqual([]);
}

/** Whether the path without root can run here: root to switch users, the checkout reachable, user namespaces allowed. */
function nobodyCanRun(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root (cannot switch to another user)';
  for (let d = repoPath(); d !== path.dirname(d); d = path.dirname(d)) {
    if ((statSync(d).mode & 0o005) !== 0o005) return `${d} is closed to other users`;
  }
  const r = spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', 'unshare', '--user', '--map-root-user', '--mount', 'true'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `no user namespace for uid ${NOBODY}: ${r.stderr.trim()}`;
}

describeWithMountNs('npm run demo', () => {
  let s3: S3Server;
  let run: DemoRun;

  beforeAll(async () => {
    s3 = await startS3Server('s3rver', { bucket: 'demo-test-bucket' });
    run = await runDemo({ args: ['--s3', s3.endpoint, '--bucket', s3.bucket], env: { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey } });
    note(`npm run demo (non-TTY, --s3 the test's s3rver): exit ${run.code} after ${run.ms} ms`);
  }, 140_000);

  afterAll(async () => {
    await disposeAll();
  });

  test('it succeeds within a minute, in plain lines, and leaves nothing behind', () => {
    // what runDemo runs is what `npm run demo` runs
    expect((JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.demo).toBe('node scripts/run-ts.cjs scripts/demo/demo.ts');
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(run.stdout).not.toMatch(/\x1b\[/); // eslint-disable-line no-control-regex
    // the progress view's steps, each a line of its own with the seconds since the start
    for (const step of [/✓ guard +ready/, /✓ app init +wait-ready/, /✗ jvm +java\.lang\.OutOfMemoryError/, /✓ dump +written: java_pid1\.hprof/, /✓ upload +verified in S3/, /✓ summary +summary written/, /✓ analyzer +leak report written/]) {
      expect(run.stdout).toMatch(new RegExp(`^\\[ *[\\d.]+s\\] ${step.source}`, 'm'));
    }
    expect(run.ms).toBeLessThan(60_000);
    expectNothingLeft(run);
  });

  test('the object it names is in the bucket, byte for byte, with its summary and leak report', async () => {
    const uri = new RegExp(`^ {2}s3://${s3.bucket}/(\\S+)$`, 'm').exec(run.stdout);
    expect(uri).not.toBeNull();
    const key = uri![1];
    const prefix = `${config.uploader.prefix}demo-node-1/${config.app.namespace}/`;
    expect(key.startsWith(prefix)).toBe(true);
    expect(key.slice(prefix.length)).toMatch(/^[a-z0-9-]+\/java_pid1\.[0-9T:.Z-]+\.hprof$/);
    const pod = key.slice(prefix.length).split('/')[0];

    const body = await getObject(s3, key);
    expect(body.subarray(0, 19).toString('latin1')).toBe('JAVA PROFILE 1.0.2\0');
    const sha256 = createHash('sha256').update(body).digest('hex');
    expect(run.stdout).toContain(`(${body.length} bytes), sha256 ${sha256}`);

    // the summary's top class, in the output and in the summary document
    const summary = JSON.parse((await getObject(s3, `${key}.summary.json`)).toString('utf8')) as { heap: { classes: Array<{ name: string }> } };
    expect(summary.heap.classes[0].name).toBe('byte[]');
    expect(run.stdout).toMatch(/the largest classes by shallow size\n {2}byte\[\] +[\d.]+ MiB/);

    // the leak suspect: the static list the application leaks into
    const leaks = JSON.parse((await getObject(s3, `${key}.leaks.json`)).toString('utf8')) as { status: string; suspects: Array<{ heldBy: { text: string } }> };
    expect(leaks.status).toBe('analyzed');
    expect(leaks.suspects[0].heldBy.text).toBe('static field Leak.RETAINED');
    expect(run.stdout).toMatch(/^ {2}Leak suspect: static field Leak\.RETAINED \(java\.util\.ArrayList\) retains [\d.]+ MiB/m);

    // the commands a team uses name the pod's dump in its namespace
    const name = new RegExp(`^ {2}Get it: oc heapdump get -n ${config.app.namespace} (${pod}\\.\\d{8}-\\d{6}\\.[0-9a-f]{12})$`, 'm').exec(run.stdout);
    expect(name).not.toBeNull();
    expect(run.stdout).toContain(`  Read it: oc heapdump leaks -n ${config.app.namespace} ${name![1]}`);
  });

  test('Ctrl-C while the JVM leaks: everything it started is stopped, its temp dirs are gone (the embedded s3rver too)', async () => {
    const r = await runDemo({ interruptOn: /\] › jvm +running: leaking/ });
    expect(r.stdout).toMatch(/✓ s3 +s3rver on http:\/\/127\.0\.0\.1:\d+/);
    expect({ code: r.code, stderr: r.stderr.trim() }).toEqual({ code: 130, stderr: 'SIGINT: stopping everything the demo started...' });
    expectNothingLeft(r);
  });

  test('an S3 server it cannot use is one line and exit code 2, before any pod starts; what it built is removed', async () => {
    const port = await freePort();
    const r = await runDemo({ args: ['--s3', `http://127.0.0.1:${port}`, '--bucket', 'no-such-bucket'], env: { AWS_ACCESS_KEY_ID: 'AKIDEMO', AWS_SECRET_ACCESS_KEY: 'not-shown' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^demo: --s3 http://127\\.0\\.0\\.1:${port} --bucket no-such-bucket: the bucket cannot be reached with AWS_ACCESS_KEY_ID AKIDEMO \\([^\n]+\\)\n$`));
    expect(r.stdout + r.stderr).not.toContain('not-shown');
    expect(r.stdout).toMatch(/✓ build +agent bundle built/);
    expect(r.stdout).not.toMatch(/ guard /);
    expectNothingLeft(r);
  });

  const why = nobodyCanRun();
  (why === undefined ? test : test.skip)(`without root: in a user namespace, said so, with the same result${why ? ` [SKIPPED: ${why}]` : ''}`, async () => {
    const r = await runDemo({ user: NOBODY });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^note: not root: the node runs in a user namespace/m);
    expect(r.stdout).toMatch(/^ {2}Leak suspect: static field Leak\.RETAINED /m);
    expectNothingLeft(r);
  });
});

test('a missing JDK is one line and exit code 2', () => {
  const empty = mkdtempSync(path.join(os.tmpdir(), 'demo-nopath-'));
  try {
    const r = spawnSync(process.execPath, [repoPath('scripts', 'run-ts.cjs'), repoPath('scripts', 'demo', 'demo.ts')], { encoding: 'utf8', env: { PATH: empty, CI: 'true' }, timeout: 30_000 });
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 2, stdout: '' });
    expect(r.stderr).toBe(`demo: the demo runs its application on a real JVM and needs a JDK 11 or later: java and javac not found on PATH (${empty}); install one (Debian: apt-get install openjdk-17-jdk-headless) or put its bin/ on PATH\n`);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});
