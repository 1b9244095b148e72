/**
 * The agent image, really built (`npm run image`: podman, vfs, runc; stand-in bases from Debian's and
 * npm's package registries) and really run: `--version`, what is inside, tini as PID 1, and the
 * uploader container run as the synthesized DaemonSet runs it (uid 0, only CAP_DAC_READ_SEARCH and,
 * since the repository's configuration archives uploaded dumps, CAP_DAC_OVERRIDE; no_new_privs,
 * read-only root, the node's dump folder writable with HostToContainer propagation) uploading a JVM's
 * heap dump written by another uid (mode 0600) to s3rver on loopback, read back by the AWS CLI (not the
 * SDK the agent uses), then moving it into the node's archive. Tools missing: the suite fails, it
 * never skips.
 *
 * What the test changes relative to the manifests: the S3 endpoint, bucket and credentials (the test
 * server), scan timings (WATCH_INTERVAL=1, FILE_STABLE_TIME=3: seconds instead of minutes), the HTTP
 * port (a free one on 127.0.0.1) and `--network host` (to reach the loopback server).
 */
import { createHash } from 'crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { brotliDecompressSync } from 'zlib';
import { COMMANDS, ENV, OBJECT_METADATA, PATHS } from '../../agent/src/contract';
import { AGENT_BUNDLE, PLUGIN_BUNDLE } from '../../scripts/bundle-agent';
import { containerOf, loadManifests } from '../e2e/manifests';
import { awsCli } from '../support/clients';
import { makeHeapDump } from '../support/jvm';
import { freePort, repoPath, sleep, TrackedProcess } from '../support/procs';
import {
  agentImageName,
  buildAgentImage,
  containerName,
  dockerfileArgDefault,
  inspectImage,
  jsonLines,
  podman,
  requireImageTools,
  runContainer,
  runFlags,
} from '../support/podman';
import { disposeAll, S3Server, sha256File, startS3Server } from '../support/s3';
import { note } from '../support/notes';

const BUILD_TIMEOUT_MS = 30 * 60_000;
/** Each container start copies the image's file system (vfs): seconds each on a busy machine. */
const TEST_TIMEOUT_MS = 180_000;
const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { version: string };
const versions = readFileSync(repoPath('scripts', 'image', 'versions.sh'), 'utf8');
const PINNED_NODE = /^NODE_VERSION=(\S+)$/m.exec(versions)![1];
const image = agentImageName();

beforeAll(async () => {
  requireImageTools();
  const build = await buildAgentImage(BUILD_TIMEOUT_MS);
  if (build.code !== 0) throw new Error(`npm run image failed (exit ${build.code}):\n${build.output.slice(-6000)}`);
  const size = (await inspectImage(image)).Size;
  // for the record (CI log): how long the build took here and how big the image is
  note(`npm run image: ${build.seconds.toFixed(0)} s; ${image}: ${(size / 1e6).toFixed(0)} MB uncompressed`);
}, BUILD_TIMEOUT_MS + 60_000);

afterAll(disposeAll);

const sha256 = (text: string) => createHash('sha256').update(text.trimEnd()).digest('hex');

/**
 * The bundle with its lazily compiled modules unpacked (they are embedded Brotli-compressed, scripts/bundle-agent.ts)
 * and module paths made comparable: esbuild names each bundled module by its real path relative to the
 * working directory, and in a git worktree whose node_modules is a symlink that path leaves the
 * repository (`../../main/node_modules/`).
 */
const normalizeModulePaths = (bundle: string): string =>
  bundle
    .replace(/Buffer\.from\("([A-Za-z0-9+/=]+)", "base64"\)/g, (_, b64: string) => JSON.stringify(brotliDecompressSync(Buffer.from(b64, 'base64')).toString('utf8')))
    .replace(/(?:\.\.\/)+(?:[\w.-]+\/)*?node_modules\//g, 'node_modules/');

/** Runs a short-lived container to completion. */
async function run(args: string[], flags: string[] = []) {
  return podman(['run', '--rm', '--pull=never', `--name=${containerName('run')}`, ...flags, image, ...args], { timeoutMs: 60_000 });
}

describe('agent image: built from the repository', () => {
  test('--version as the default user: heapdump-agent <package.json version>, exit 0', async () => {
    const r = await run(['--version']);
    expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 0, stdout: `heapdump-agent ${pkg.version}`, stderr: '' });
  }, TEST_TIMEOUT_MS);

  test('config: non-root user 1001, tini as entrypoint, OCI labels (version from package.json, base from the Dockerfile)', async () => {
    const { Config } = await inspectImage(image);
    expect(Config.User).toBe('1001');
    expect(Config.Entrypoint).toEqual(['tini', '--', 'node', '/opt/heapdump/agent.js']);
    expect(Config.Labels).toMatchObject({
      'org.opencontainers.image.title': 'heapdump-agent',
      'org.opencontainers.image.version': pkg.version,
      'org.opencontainers.image.licenses': 'Apache-2.0',
      'org.opencontainers.image.base.name': dockerfileArgDefault('NODE_IMAGE'),
    });
    expect(Config.Labels?.['org.opencontainers.image.revision']).toMatch(/^[0-9a-f]{40}(-dirty)?$/);
  }, TEST_TIMEOUT_MS);

  test('inside: the pinned Node 24, tini, util-linux mount/umount, no npm; the bundle is the one the tests run', async () => {
    const script = [
      'node --version',
      'tini --version',
      'mount --version | cut -d" " -f1-4',
      'umount --version | cut -d" " -f1-4',
      'for t in npm npx corepack yarn; do command -v $t || echo "no $t"; done',
      'cat /opt/heapdump/agent.js',
    ].join('; ');
    const r = await run([], ['--entrypoint=["sh","-c",' + JSON.stringify(script) + ']']);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    const bundle = lines.splice(8).join('\n');
    expect([...lines, sha256(normalizeModulePaths(bundle))]).toEqual([
      `v${PINNED_NODE}`,
      expect.stringMatching(/^tini version 0\.19\.\d/),
      expect.stringMatching(/^mount from util-linux \d/),
      expect.stringMatching(/^umount from util-linux \d/),
      'no npm',
      'no npx',
      'no corepack',
      'no yarn',
      // jest's globalSetup bundled the same sources: the integration tests execute what the image ships
      sha256(normalizeModulePaths(readFileSync(AGENT_BUNDLE, 'utf8'))),
    ]);
    expect(PINNED_NODE.split('.')[0]).toBe('24');
  }, TEST_TIMEOUT_MS);

  test('kubectl-heapdump at /usr/local/bin: the plugin the tests run, working on the image\'s Node as the image\'s user', async () => {
    const r = await run([], ['--entrypoint=["sh","-c","kubectl-heapdump --help | head -1; sha256sum < /usr/local/bin/kubectl-heapdump | cut -d\\" \\" -f1; ls -l /usr/local/bin/kubectl-heapdump | cut -c1-10"]']);
    expect({ code: r.code, lines: r.stdout.split('\n') }).toEqual({
      code: 0,
      lines: ['kubectl heapdump: get your JVM heap dumps with your own cluster identity.', createHash('sha256').update(readFileSync(PLUGIN_BUNDLE)).digest('hex'), '-rwxr-xr-x'],
    });
  }, TEST_TIMEOUT_MS);

  test('tini is PID 1, so the agent can SIGKILL itself as a last resort (as PID 1 the kernel would ignore it)', async () => {
    const selfKill = 'process.kill(process.pid, "SIGKILL"); setTimeout(() => { console.log("survived"); process.exit(3); }, 1000)';
    const underTini = await run([], [`--entrypoint=${JSON.stringify(['tini', '--', 'node', '-e', selfKill])}`]);
    expect({ code: underTini.code, stdout: underTini.stdout }).toEqual({ code: 128 + 9, stdout: '' });
    // negative control: node as PID 1 survives its own SIGKILL
    const asPid1 = await run([], [`--entrypoint=${JSON.stringify(['node', '-e', selfKill])}`]);
    expect({ code: asPid1.code, stdout: asPid1.stdout }).toEqual({ code: 3, stdout: 'survived' });
  }, TEST_TIMEOUT_MS);
});

describe('agent image: the uploader container, run as the synthesized DaemonSet runs it', () => {
  const manifests = loadManifests();
  const uploader = containerOf(manifests.uploader, COMMANDS.uploader);
  const NODE = 'image-node';
  let s3: S3Server;
  let tmp: string;
  let dumpFile: string;
  let dumpDigest: string;
  let dumpSize: number;
  let root: string;
  let agent: TrackedProcess;
  let name: string;
  let prefix: string;

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'image-test-'));
    root = path.join(tmp, 'mnt-dump');
    const podDir = path.join(root, 'ns1', 'app-0');
    mkdirSync(podDir, { recursive: true });
    for (const d of [tmp, root, path.dirname(podDir)]) chmodSync(d, 0o755);
    s3 = await startS3Server('s3rver');
    dumpFile = await makeHeapDump(podDir, { uid: 1000, gid: 1000, fileName: 'java_pid1.hprof' });
    const st = statSync(dumpFile);
    expect({ uid: st.uid, mode: st.mode & 0o777 }).toEqual({ uid: 1000, mode: 0o600 });
    // taken before the agent runs: once verified in S3 it moves the dump into the archive
    dumpDigest = await sha256File(dumpFile);
    dumpSize = st.size;

    const configMaps: Record<string, Record<string, string>> = {};
    for (const [cm, data] of Object.entries(manifests.configMaps)) {
      configMaps[cm] = { ...data };
      if (ENV.s3Bucket in data) configMaps[cm][ENV.s3Bucket] = s3.bucket;
      if (ENV.s3EndpointUrl in data) configMaps[cm][ENV.s3EndpointUrl] = s3.endpoint;
    }
    const byVar: Record<string, string> = {
      [ENV.awsAccessKeyId]: s3.accessKeyId,
      [ENV.awsSecretAccessKey]: s3.secretAccessKey,
      [ENV.awsDefaultRegion]: s3.region,
      [ENV.s3EndpointUrl]: s3.endpoint,
    };
    const secrets: Record<string, Record<string, string>> = {};
    for (const e of uploader.env ?? []) {
      const ref = e.valueFrom?.secretKeyRef;
      if (ref) (secrets[ref.name] ??= {})[ref.key] = byVar[e.name];
    }
    const { flags, env } = runFlags(manifests.uploader.spec, uploader, {
      hostPaths: { '/mnt/dump': root },
      ctx: { nodeName: NODE, namespace: manifests.uploader.namespace, podName: 'uploader-test', configMaps, secrets },
      // no API server here: the Kubernetes Events the repo's config turns on (and their token) are left out
      withoutApiAccess: true,
      envOverrides: {
        [ENV.notifyKubeEvents]: 'false',
        [ENV.httpHost]: '127.0.0.1',
        [ENV.httpPort]: String(await freePort()),
        [ENV.watchInterval]: '1',
        [ENV.fileStableTime]: '3',
      },
    });
    // the manifest's security context, translated (a change there changes this run)
    expect(flags).toEqual(expect.arrayContaining([
      '--user=0:0', '--cap-drop=ALL', '--security-opt=no-new-privileges', '--read-only',
      `--volume=${root}:/mnt/dump:rw,rslave`,
    ]));
    expect(flags.filter((f) => f.startsWith('--cap-add')).sort())
      .toEqual(['--cap-add=DAC_OVERRIDE', '--cap-add=DAC_READ_SEARCH']);
    prefix = `${env[ENV.s3Prefix] ?? ''}${NODE}/ns1/app-0/`;
    name = containerName('uploader');
    agent = runContainer(name, image, ['--network=host', ...flags], uploader.args ?? [], env);
  }, 180_000);

  afterAll(async () => {
    await disposeAll();
    rmSync(tmp, { recursive: true, force: true });
  });

  const logged = (msg: string) => jsonLines(agent.stdout).filter((e) => e.msg === msg);

  async function waitFor(what: string, cond: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await cond()) return;
      if (agent.exitInfo() !== undefined) throw new Error(`container exited before ${what}:\n${agent.output()}`);
      await sleep(250);
    }
    throw new Error(`timed out waiting for ${what}:\n${agent.output()}`);
  }

  test('uploads the dump intact, with its metadata, as the AWS CLI reads it back', async () => {
    await waitFor('the upload', () => logged('uploaded and verified').length === 1, 60_000);
    const keys = (await s3.listKeys(prefix)).filter((k) => !k.includes('.summary.'));
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/^.*\/java_pid1\b.*\.hprof$/);

    const head = await awsCli(s3, ['s3api', 'head-object', '--bucket', s3.bucket, '--key', keys[0]]);
    expect(head.code).toBe(0);
    const meta = (JSON.parse(head.stdout) as { ContentLength: number; Metadata: Record<string, string> });
    const digest = dumpDigest;
    const size = dumpSize;
    expect(meta.ContentLength).toBe(size);
    expect(meta.Metadata).toMatchObject({
      [OBJECT_METADATA.node]: NODE,
      [OBJECT_METADATA.namespace]: 'ns1',
      [OBJECT_METADATA.pod]: 'app-0',
      [OBJECT_METADATA.sha256]: digest,
      [OBJECT_METADATA.originalSize]: String(size),
      [OBJECT_METADATA.complete]: 'true',
    });
    const copy = path.join(tmp, 'downloaded.hprof');
    const get = await awsCli(s3, ['s3', 'cp', '--only-show-errors', `s3://${s3.bucket}/${keys[0]}`, copy]);
    expect(get.code).toBe(0);
    expect(await sha256File(copy)).toBe(digest);

    // after the HEAD check: gone from the application's folder, kept whole in the node's archive
    await waitFor('the archive move', () => !existsSync(dumpFile), 30_000);
    const archived = path.join(root, PATHS.archiveDir, 'ns1', 'app-0', path.basename(keys[0]));
    expect(await sha256File(archived)).toBe(digest);

    // the analysis ran in the image as its own process (node agent.js --analysis-process) and the summary followed
    await waitFor('the summary', () => logged('dump summary written').length === 1, 30_000);
    expect(logged('dump analysed')).toHaveLength(1);

    // Node 24 in the image: no runtime warnings (on Node 20 the SDK warns about its end of support)
    expect(logged('runtime warning')).toEqual([]);
    expect(jsonLines(agent.stdout).filter((e) => e.level === 'error')).toEqual([]);
    const pid1 = await podman(['exec', name, 'cat', '/proc/1/comm']);
    expect(pid1.stdout).toBe('tini');
  }, TEST_TIMEOUT_MS);

  test('SIGTERM to the container: the agent stops at once, exit 0', async () => {
    expect(agent.exitInfo()).toBeUndefined();
    const t0 = Date.now();
    const kill = await podman(['kill', '--signal=SIGTERM', name]);
    expect(kill.code).toBe(0);
    const exit = await agent.exited;
    const seconds = (Date.now() - t0) / 1000;
    expect({ code: exit.code, prompt: seconds < 5 }).toEqual({ code: 0, prompt: true });
    expect(logged('shutdown requested')).toEqual([expect.objectContaining({ signal: 'SIGTERM' })]);
    expect(logged('stopped')).toEqual([expect.objectContaining({ exitCode: 0 })]);
  }, TEST_TIMEOUT_MS);
});
