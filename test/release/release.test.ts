/**
 * `npm run release` once, in a fresh clone, as a maintainer runs it (the CHANGELOG's Unreleased section
 * renamed to the version), then every artifact checked as an installer would use it:
 * - SHA256SUMS verifies with `sha256sum -c`;
 * - both manifests validate against their schemas and pin one image by digest, which is the OCI archive's
 *   manifest digest (computed here from the archive's bytes) and what `podman load` reports;
 * - the loaded image answers `--version` with the release's version;
 * - the release notes are the CHANGELOG section; the lifecycle scripts are valid bash for their manifest;
 * - the npm tarball installs in the fixture consumer app, whose plain JavaScript app then synthesizes.
 *
 * The image is built by `npm run image` with a build key: when the image test has built it (same inputs,
 * same revision) the release reuses it, so this costs about 30 s, not another build.
 */
import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as yaml from 'js-yaml';
import * as os from 'os';
import * as path from 'path';
import { PODMAN_SH, requireImageTools } from '../support/podman';
import { registerCleanup, runTracked } from '../support/procs';
import { schemaErrors } from '../support/schemas';
import { freshClone, type FreshClone, REPO_ROOT, userEnv } from '../support/fresh-clone';

const VERSION = (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const BUILD_TIMEOUT_MS = 30 * 60_000;

let clone: FreshClone;
let out: string;
let releaseLog: string;

/** The revision `npm run image` labels a build of this checkout with (scripts/image/build.sh). */
function checkoutRevision(): string {
  const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  const dirty = execFileSync('git', ['status', '--porcelain', '--', 'agent/src', 'scripts/bundle-agent.ts', 'package.json', 'package-lock.json', 'agent/Dockerfile'], { cwd: REPO_ROOT, encoding: 'utf8' });
  return dirty.trim() === '' ? head : `${head}-dirty`;
}

beforeAll(async () => {
  requireImageTools();
  clone = freshClone('release-');
  registerCleanup(async () => clone.remove());
  const changelog = path.join(clone.dir, 'CHANGELOG.md');
  fs.writeFileSync(changelog, fs.readFileSync(changelog, 'utf8').replace('## [Unreleased]', `## [${VERSION}] - 2026-12-07`));
  out = path.join(clone.dir, 'release');
  const r = await runTracked('npm', ['run', '--silent', 'release', '--', VERSION], {
    cwd: clone.dir,
    // the clone is the checkout's working tree: its image carries the checkout's revision, as the image test's does
    env: { ...userEnv({ npm_config_offline: 'false' }), HEAPDUMP_IMAGE_REVISION: checkoutRevision() },
    timeoutMs: BUILD_TIMEOUT_MS,
  });
  releaseLog = `${r.stdout}\n${r.stderr}`;
  if (r.code !== 0) throw new Error(`npm run release failed (exit ${r.code}):\n${releaseLog.slice(-6000)}`);
}, BUILD_TIMEOUT_MS + 120_000);

afterAll(() => clone?.remove());

const manifestFile = (platform: string) => path.join(out, `heapdump-pipeline-${VERSION}-${platform}.yaml`);
const objectsOf = (platform: string) => (yaml.loadAll(fs.readFileSync(manifestFile(platform), 'utf8')) as { apiVersion: string; kind: string; metadata: { name: string } }[]).filter((o) => o !== null);

/** Every agent image reference in a manifest (images, INJECT_AGENT_IMAGE, the admission policy's CEL). */
function agentRefs(text: string): string[] {
  // a repository path ending in /heapdump-agent (not the PodMonitor heapdump-agents), with its tag and digest
  return [...new Set(text.match(/[a-z0-9.:_-]+(?:\/[a-z0-9._-]+)*\/heapdump-agent(?::[\w.-]+)?(?:@sha256:[0-9a-f]+)?(?![\w-])/g) ?? [])];
}

test('release/ holds exactly the artifacts, and SHA256SUMS verifies them with sha256sum -c', () => {
  const platforms = ['openshift', 'kubernetes'];
  expect(fs.readdirSync(out).sort()).toEqual([
    'RELEASE-NOTES.md', 'SHA256SUMS', 'agent-image.txt', `heapdump-agent-${VERSION}.oci.tar`,
    ...platforms.map((p) => `heapdump-pipeline-${VERSION}-${p}.yaml`), `heapdump-pipeline-${VERSION}.tgz`,
    ...platforms.flatMap((p) => ['install', 'uninstall', 'upgrade'].map((s) => `${s}-${p}.sh`)),
  ].sort());
  const check = execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: out, encoding: 'utf8' });
  expect(check.trim().split('\n').sort()).toEqual(fs.readdirSync(out).filter((f) => f !== 'SHA256SUMS').sort().map((f) => `${f}: OK`));
});

test('the manifests validate, and pin the agent image by the OCI archive\'s manifest digest', () => {
  const archive = path.join(out, `heapdump-agent-${VERSION}.oci.tar`);
  const index = JSON.parse(execFileSync('tar', ['-xOf', archive, 'index.json'], { encoding: 'utf8' })) as { manifests: { digest: string }[] };
  expect(index.manifests).toHaveLength(1);
  const digest = index.manifests[0].digest;
  // the digest really is the manifest blob's sha256
  const blob = execFileSync('tar', ['-xOf', archive, `blobs/sha256/${digest.slice('sha256:'.length)}`], { maxBuffer: 1 << 20 });
  expect(`sha256:${createHash('sha256').update(blob).digest('hex')}`).toBe(digest);
  const pinned = fs.readFileSync(path.join(out, 'agent-image.txt'), 'utf8').trim();
  expect(pinned).toMatch(new RegExp(`^[a-z0-9.:/_-]+/heapdump-agent:${VERSION.replace(/\./g, '\\.')}@${digest}$`));
  for (const platform of ['openshift', 'kubernetes']) {
    expect(objectsOf(platform).flatMap(schemaErrors)).toEqual([]);
    expect({ platform, refs: agentRefs(fs.readFileSync(manifestFile(platform), 'utf8')) }).toEqual({ platform, refs: [pinned] });
  }
  expect(objectsOf('openshift').some((o) => o.kind === 'SecurityContextConstraints')).toBe(true);
  expect(objectsOf('kubernetes').some((o) => o.kind === 'SecurityContextConstraints')).toBe(false);
});

test('the image archive loads with podman (the same digest) and the image answers --version', async () => {
  const store = fs.mkdtempSync(path.join(os.tmpdir(), 'release-store-'));
  registerCleanup(async () => fs.rmSync(store, { recursive: true, force: true }));
  // A store of its own: the archive must stand alone, not lean on the image in the repository's store.
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HEAPDUMP_IMAGE_STORE: path.join(store, 'store'), HEAPDUMP_IMAGE_RUNROOT: path.join(store, 'run') };
  try {
    const load = await runTracked(PODMAN_SH, ['load', '-q', '-i', path.join(out, `heapdump-agent-${VERSION}.oci.tar`)], { env, timeoutMs: 300_000 });
    expect({ code: load.code, stderr: load.stderr }).toEqual({ code: 0, stderr: '' });
    const local = `localhost/heapdump-agent:${VERSION}`;
    const digest = await runTracked(PODMAN_SH, ['image', 'inspect', '--format', '{{.Digest}}', local], { env });
    expect(`${digest.stdout.trim()}`).toBe(fs.readFileSync(path.join(out, 'agent-image.txt'), 'utf8').trim().split('@')[1]);
    const version = await runTracked(PODMAN_SH, ['run', '--rm', '--network=none', local, '--version'], { env, timeoutMs: 300_000 });
    expect({ code: version.code, stdout: version.stdout.trim() }).toEqual({ code: 0, stdout: `heapdump-agent ${VERSION}` });
  } finally {
    // the store's files belong to root and to the image's user: podman removes them
    await runTracked(PODMAN_SH, ['system', 'reset', '--force'], { env, timeoutMs: 120_000 });
    fs.rmSync(store, { recursive: true, force: true });
  }
}, 600_000);

test('the release notes are the CHANGELOG section of the version; the lifecycle scripts are valid bash', () => {
  const notes = fs.readFileSync(path.join(out, 'RELEASE-NOTES.md'), 'utf8');
  expect(notes.split('\n')[0]).toBe(`# heapdump-pipeline ${VERSION}`);
  const changelog = fs.readFileSync(path.join(REPO_ROOT, 'CHANGELOG.md'), 'utf8');
  const section = changelog.slice(changelog.indexOf('## [Unreleased]') + '## [Unreleased]'.length).split(/\n## /)[0].trim();
  expect(notes).toContain(section);
  for (const f of fs.readdirSync(out).filter((x) => x.endsWith('.sh'))) {
    expect({ f, bash: execFileSync('bash', ['-n', path.join(out, f)]).toString(), executable: (fs.statSync(path.join(out, f)).mode & 0o111) !== 0 }).toEqual({ f, bash: '', executable: true });
    expect(fs.readFileSync(path.join(out, f), 'utf8')).toContain(`MANIFEST="$here/heapdump-pipeline-${VERSION}-${f.replace(/^\w+-|\.sh$/g, '')}.yaml"`);
  }
});

test('the npm tarball installs in the fixture consumer app, which then synthesizes', async () => {
  const app = fs.mkdtempSync(path.join(os.tmpdir(), 'release-consumer-'));
  registerCleanup(async () => fs.rmSync(app, { recursive: true, force: true }));
  for (const f of ['package.json', 'main.js']) fs.copyFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'consumer-app', f), path.join(app, f));
  fs.copyFileSync(path.join(out, `heapdump-pipeline-${VERSION}.tgz`), path.join(app, 'heapdump-pipeline.tgz'));
  // The JavaScript app needs the library and its peers only (pinned to what this repository runs).
  const pkg = JSON.parse(fs.readFileSync(path.join(app, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies?: unknown };
  delete pkg.devDependencies;
  for (const p of ['cdk8s', 'cdk8s-plus-28', 'constructs']) pkg.dependencies[p] = (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'node_modules', p, 'package.json'), 'utf8')) as { version: string }).version;
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify(pkg, null, 2));
  const install = await runTracked('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], {
    cwd: app, env: userEnv({ npm_config_offline: 'false' }), timeoutMs: 240_000,
  });
  expect({ code: install.code, stderr: install.stderr }).toEqual({ code: 0, stderr: '' });
  const synth = await runTracked(process.execPath, ['main.js', 'out'], { cwd: app, env: userEnv(), timeoutMs: 60_000 });
  expect({ code: synth.code, stderr: synth.stderr }).toEqual({ code: 0, stderr: '' });
  const objects = yaml.loadAll(fs.readFileSync(path.join(app, 'out', 'consumer.k8s.yaml'), 'utf8')) as { kind: string }[];
  expect(objects.filter((o) => o.kind === 'DaemonSet')).toHaveLength(2);
  const installed = JSON.parse(fs.readFileSync(path.join(app, 'node_modules', 'heapdump-pipeline', 'package.json'), 'utf8')) as { version: string };
  expect(installed.version).toBe(VERSION);
}, 300_000);
