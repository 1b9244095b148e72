/**
 * `npm run demo` as CI runs it (CI=true, no terminal, no stdin), pointed at the test's own S3 server so the
 * object can be checked after the demo has stopped everything: the output names the S3 object, the summary's
 * top class and the leak suspect; the object really is in the bucket with those bytes and documents; and the
 * demo leaves nothing behind: no process (everything it started runs in a pids cgroup of its own, which must
 * be empty once it exited) and no temp dir (TMPDIR is a directory of the test's, which must be empty).
 *
 * What the test knows independently of the pipeline: the demo's application (lib/demo-app/Leak.java) keeps
 * byte[] chunks in its static list Leak.RETAINED until the heap is full, so byte[] must be the largest class
 * and RETAINED the suspect; the key layout is `<prefix><node>/<namespace>/<pod>/<file>.<mtime>.hprof` with the
 * prefix and namespace of pipeline.config.json.
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { spawn } from 'child_process';
import { createHash } from 'crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Readable } from 'stream';
import { describeWithMountNs } from '../support/mountns';
import { note } from '../support/notes';
import { disposeAll, repoPath, sleep } from '../support/procs';
import { type S3Server, startS3Server } from '../support/s3';

jest.setTimeout(150_000);

const PIDS_ROOT = '/sys/fs/cgroup/pids';
const config = JSON.parse(readFileSync(repoPath('pipeline.config.json'), 'utf8')) as { uploader: { prefix: string }; app: { namespace: string } };

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

describeWithMountNs('npm run demo', () => {
  let s3: S3Server;
  let tmp: string;
  let cgroup: string | undefined;
  let run: { code: number | null; stdout: string; stderr: string; ms: number };

  beforeAll(async () => {
    s3 = await startS3Server('s3rver', { bucket: 'demo-test-bucket' });
    tmp = mkdtempSync(path.join(os.tmpdir(), 'demo-test-'));
    // as /tmp: the containers run as other users and must reach the node's files below it
    chmodSync(tmp, 0o755);
    if (existsSync(path.join(PIDS_ROOT, 'cgroup.procs')) && process.getuid?.() === 0) {
      cgroup = path.join(PIDS_ROOT, `demo-test-${process.pid}`);
      mkdirSync(cgroup);
    }
    const entry = [repoPath('scripts', 'run-ts.cjs'), repoPath('scripts', 'demo', 'demo.ts'), '--s3', s3.endpoint, '--bucket', s3.bucket];
    // the shell joins the cgroup, then becomes the demo: every process the demo starts is in that group
    const argv = cgroup ? ['sh', '-c', `echo $$ > ${cgroup}/cgroup.procs && exec "$@"`, 'sh', process.execPath, ...entry] : [process.execPath, ...entry];
    const t0 = Date.now();
    const child = spawn(argv[0], argv.slice(1), {
      cwd: repoPath(),
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CI: 'true', TMPDIR: tmp, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGINT'), 120_000);
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    clearTimeout(timer);
    run = { code, stdout, stderr, ms: Date.now() - t0 };
    note(`npm run demo (non-TTY, --s3 the test's s3rver): exit ${code} after ${run.ms} ms`);
  }, 140_000);

  afterAll(async () => {
    if (cgroup && existsSync(cgroup)) {
      // anything left is the demo's: by PID, then the group
      for (const pid of readFileSync(path.join(cgroup, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // gone
        }
      }
      await sleep(200);
      rmdirSync(cgroup);
    }
    rmSync(tmp, { recursive: true, force: true });
    await disposeAll();
  });

  test('it succeeds, in plain lines, within a minute', () => {
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(run.stdout).not.toMatch(/\x1b\[/); // eslint-disable-line no-control-regex
    // the progress view's steps, each a line of its own with the seconds since the start
    for (const step of [/✓ guard +ready/, /✓ app init +wait-ready/, /✗ jvm +java\.lang\.OutOfMemoryError/, /✓ dump +written: java_pid1\.hprof/, /✓ upload +verified in S3/, /✓ summary +summary written/, /✓ analyzer +leak report written/]) {
      expect(run.stdout).toMatch(new RegExp(`^\\[ *[\\d.]+s\\] ${step.source}`, 'm'));
    }
    expect(run.ms).toBeLessThan(60_000);
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
    const leaks = JSON.parse((await getObject(s3, `${key}.leaks.json`)).toString('utf8')) as { status: string; headline: string; suspects: Array<{ heldBy: { text: string } }> };
    expect(leaks.status).toBe('analyzed');
    expect(leaks.suspects[0].heldBy.text).toBe('static field Leak.RETAINED');
    expect(run.stdout).toMatch(/^ {2}Leak suspect: static field Leak\.RETAINED \(java\.util\.ArrayList\) retains [\d.]+ MiB/m);

    // the commands a team uses name the pod's dump in its namespace
    const name = new RegExp(`^ {2}Get it: oc heapdump get -n ${config.app.namespace} (${pod}\\.\\d{8}-\\d{6}\\.[0-9a-f]{12})$`, 'm').exec(run.stdout);
    expect(name).not.toBeNull();
    expect(run.stdout).toContain(`  Read it: oc heapdump leaks -n ${config.app.namespace} ${name![1]}`);
  });

  test('nothing is left running and no temp dir is left', async () => {
    if (cgroup) {
      let procs = '';
      for (let i = 0; i < 20; i++) {
        procs = readFileSync(path.join(cgroup, 'cgroup.procs'), 'utf8').trim();
        if (procs === '') break;
        await sleep(100);
      }
      expect(procs).toBe('');
    } else {
      note('demo test: not root or no pids cgroup: the processes left behind are not checked');
    }
    expect(readdirSync(tmp)).toEqual([]);
  });
});
