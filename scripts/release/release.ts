/**
 * `npm run release -- VERSION [--image-repo REPO] [--out DIR]`: everything an install needs, in release/
 * (git-ignored), without a clone on the installing side:
 *
 *   heapdump-agent-VERSION.oci.tar              the agent image (`podman save --format oci-archive`)
 *   agent-image.txt                              REPO:VERSION@sha256:<the archive's manifest digest>
 *   heapdump-pipeline-VERSION-openshift.yaml     the manifests, agentImage pinned by that digest
 *   heapdump-pipeline-VERSION-kubernetes.yaml
 *   {install,upgrade,uninstall}-PLATFORM.sh      one command each (scripts/release/lifecycle.ts)
 *   heapdump-pipeline-VERSION.tgz                the constructs as an npm package (`npm pack`)
 *   RELEASE-NOTES.md                             CHANGELOG.md's section for VERSION
 *   SHA256SUMS                                   `sha256sum -c SHA256SUMS` checks every file above
 *
 * The manifests are this repository's configuration (pipeline.config.json) for each platform; REPO is
 * the repository of its agentImage unless --image-repo names the registry you push to. VERSION must be
 * package.json's version and have its CHANGELOG section: a release says what it is.
 * Errors (a bad version, no notes, a failed build): one line, exit 1.
 */
import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as yaml from 'js-yaml';
import { readPipelineConfig } from '../../lib/config-file';
import type { Platform } from '../../lib/generated/settings';
import { buildPipelineApp } from '../../lib/synth';
import { collectWarnings } from '../../lib/warnings';
import { lifecycleScripts, type ManifestObject } from './lifecycle';

const ROOT = path.resolve(__dirname, '..', '..');
const PLATFORMS: readonly Platform[] = ['openshift', 'kubernetes'];
const SEMVER = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;

class ReleaseError extends Error {}

interface Options {
  readonly version: string;
  readonly out: string;
  readonly imageRepo?: string;
}

function parseArgs(argv: readonly string[]): Options {
  let version: string | undefined;
  let out = path.join(ROOT, 'release');
  let imageRepo: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out' || a === '--image-repo') {
      const v = argv[++i];
      if (v === undefined) throw new ReleaseError(`${a} needs a value`);
      if (a === '--out') out = path.resolve(v);
      else imageRepo = v;
    } else if (a.startsWith('-') || version !== undefined) {
      throw new ReleaseError(`unexpected argument "${a}" (usage: npm run release -- VERSION [--image-repo REPO] [--out DIR])`);
    } else version = a;
  }
  if (version === undefined) throw new ReleaseError('VERSION is missing (usage: npm run release -- VERSION [--image-repo REPO] [--out DIR])');
  if (!SEMVER.test(version)) throw new ReleaseError(`VERSION "${version}" is invalid: expected a semantic version such as 0.2.0`);
  return { version, out, imageRepo };
}

/** The body of `## [VERSION]` in CHANGELOG.md (Keep a Changelog), or undefined. */
export function changelogSection(changelog: string, version: string): string | undefined {
  const lines = changelog.split('\n');
  const start = lines.findIndex((l) => new RegExp(`^## \\[${version.replace(/[.+]/g, '\\$&')}\\]`).test(l));
  if (start < 0) return undefined;
  const end = lines.findIndex((l, i) => i > start && /^## /.test(l));
  return lines.slice(start, end < 0 ? undefined : end).join('\n').trim();
}

/** The repository part of an image reference (no tag, no digest). */
export function imageRepository(ref: string): string {
  const noDigest = ref.split('@')[0];
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    return execFileSync(command, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
  } catch (err) {
    throw new ReleaseError(`${command} ${args.join(' ')} failed (exit ${(err as { status?: number }).status ?? '?'})`);
  }
}

/** The manifest digest of the (single) image in an OCI archive: what a registry serves it as, and what `podman load` reports. */
export function ociArchiveDigest(archive: string): string {
  const index = JSON.parse(execFileSync('tar', ['-xOf', archive, 'index.json'], { encoding: 'utf8' })) as { manifests: { digest: string }[] };
  if (index.manifests.length !== 1) throw new ReleaseError(`${archive}: expected one image, found ${index.manifests.length}`);
  return index.manifests[0].digest;
}

function sha256File(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function release(o: Options): void {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  if (pkg.version !== o.version) {
    throw new ReleaseError(`package.json's version is ${pkg.version}, not ${o.version}: set it first (npm version ${o.version} --no-git-tag-version) and commit`);
  }
  const notes = changelogSection(fs.readFileSync(path.join(ROOT, 'CHANGELOG.md'), 'utf8'), o.version);
  if (notes === undefined) {
    throw new ReleaseError(`CHANGELOG.md has no section "## [${o.version}]": rename "## [Unreleased]" to "## [${o.version}] - YYYY-MM-DD" (and start a new Unreleased) first`);
  }
  const config = readPipelineConfig(path.join(ROOT, 'pipeline.config.json'));
  const repo = o.imageRepo ?? imageRepository(config.agentImage);

  fs.rmSync(o.out, { recursive: true, force: true });
  fs.mkdirSync(o.out, { recursive: true });
  const local = `localhost/heapdump-agent:${o.version}`;
  console.log(`== the agent image (${local})`);
  run('bash', ['scripts/image/build.sh'], { HEAPDUMP_AGENT_IMAGE: local });
  const archiveName = `heapdump-agent-${o.version}.oci.tar`;
  const archive = path.join(o.out, archiveName);
  run(path.join(ROOT, 'scripts/image/podman.sh'), ['save', '--quiet', '--format', 'oci-archive', '-o', archive, local]);
  const agentImage = `${repo}:${o.version}@${ociArchiveDigest(archive)}`;
  fs.writeFileSync(path.join(o.out, 'agent-image.txt'), `${agentImage}\n`);

  for (const platform of PLATFORMS) {
    console.log(`== the manifests for ${platform}`);
    const staging = fs.mkdtempSync(path.join(o.out, `.synth-${platform}-`));
    const { app, pipeline } = buildPipelineApp({ ...config, platform, agentImage }, staging);
    for (const w of collectWarnings(pipeline)) console.warn(`WARNING ${w}`);
    app.synth();
    const [file] = fs.readdirSync(staging).filter((f) => f.endsWith('.yaml'));
    const manifest = `heapdump-pipeline-${o.version}-${platform}.yaml`;
    fs.renameSync(path.join(staging, file), path.join(o.out, manifest));
    fs.rmSync(staging, { recursive: true, force: true });
    const objects = yaml.loadAll(fs.readFileSync(path.join(o.out, manifest), 'utf8')) as ManifestObject[];
    for (const [name, text] of Object.entries(lifecycleScripts(manifest, objects))) {
      fs.writeFileSync(path.join(o.out, name.replace('.sh', `-${platform}.sh`)), text, { mode: 0o755 });
    }
  }

  console.log('== the npm package');
  run('npm', ['pack', '--silent', '--pack-destination', o.out]);
  fs.writeFileSync(path.join(o.out, 'RELEASE-NOTES.md'), `# heapdump-pipeline ${o.version}\n\nAgent image: \`${agentImage}\`\n\n${notes.replace(/^## .*\n+/, '')}\n`);

  const files = fs.readdirSync(o.out).filter((f) => f !== 'SHA256SUMS').sort();
  fs.writeFileSync(path.join(o.out, 'SHA256SUMS'), files.map((f) => `${sha256File(path.join(o.out, f))}  ${f}\n`).join(''));
  console.log(`release ${o.version} in ${path.relative(process.cwd(), o.out) || '.'}/: ${files.length + 1} files; agent image ${agentImage}`);
}

if (require.main === module) {
  try {
    release(parseArgs(process.argv.slice(2)));
  } catch (err) {
    if (!(err instanceof ReleaseError) && !(err instanceof Error && err.name === 'PipelinePropsError')) throw err;
    console.error(`npm run release: ${err.message}`);
    process.exitCode = 1;
  }
}
