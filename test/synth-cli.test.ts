/**
 * `npx cdk8s synth` and `npx cdk8s import`, typed as a new user types them in a fresh clone (node_modules
 * from the checkout, offline, nothing of the workspace next to it):
 * - synth produces exactly the committed dist/;
 * - every broken configuration: a non-zero exit, the app's one line, then only cdk8s-cli's own fixed
 *   one-line notice (no stack trace from either), and dist/ untouched;
 * - `--stdout` / `--output` leave dist/ alone; import regenerates lib/imports/ byte for byte.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as yaml from 'js-yaml';
import { STAGING_DIR } from '../main';
import { BROKEN_CONFIGS, GOOD_CONFIG_FILE } from './support/broken-configs';
import { type FreshClone, freshClone, REPO_ROOT, snapshotDir, userEnv } from './support/fresh-clone';

/** What cdk8s-cli prints itself when the app created no output folder (lib/util.js, synthApp). */
const CLI_NOTICE = `ERROR: synthesis failed, app expected to create "${STAGING_DIR}"`;

let clone: FreshClone;
let good: string;

beforeAll(() => {
  clone = freshClone('synth-cli-');
  good = fs.readFileSync(path.join(clone.dir, GOOD_CONFIG_FILE), 'utf8');
});

afterAll(() => clone.remove());

afterEach(() => {
  fs.rmSync(path.join(clone.dir, GOOD_CONFIG_FILE), { recursive: true, force: true });
  fs.writeFileSync(path.join(clone.dir, GOOD_CONFIG_FILE), good);
});

function cdk8s(args: string[]) {
  return spawnSync('npx', ['cdk8s', ...args, '--no-check-upgrade'], { cwd: clone.dir, env: userEnv(), encoding: 'utf8', timeout: 120_000 });
}

function files(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) for (const [k, v] of Object.entries(files(p))) out[`${e.name}/${k}`] = v;
    else out[e.name] = fs.readFileSync(p, 'utf8');
  }
  return out;
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '');
}

describe('npx cdk8s synth in a fresh clone', () => {
  test('cdk8s.yaml runs main.ts through scripts/run-ts.cjs, with the staging folder main.ts expects as output', () => {
    const config = yaml.load(fs.readFileSync(path.join(REPO_ROOT, 'cdk8s.yaml'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ app: 'node scripts/run-ts.cjs main.ts --cdk8s-cli', output: STAGING_DIR, importDirectory: 'lib/imports' });
  });

  test('exits 0 and dist/ equals the committed one', () => {
    fs.rmSync(path.join(clone.dir, 'dist'), { recursive: true });
    const r = cdk8s(['synth']);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(lines(r.stdout)).toEqual(['Synthesizing application', `  - ${STAGING_DIR}/heapdump-pipeline.k8s.yaml`]);
    expect(files(path.join(clone.dir, 'dist'))).toEqual(files(path.join(REPO_ROOT, 'dist')));
    expect(files(path.join(clone.dir, STAGING_DIR))).toEqual(files(path.join(REPO_ROOT, 'dist')));
  });

  test.each(BROKEN_CONFIGS.map((c) => [c.name, c] as const))('fails on %s: non-zero, one line, no stack trace, dist/ untouched', (_name, c) => {
    c.apply(clone.dir, good);
    const before = snapshotDir(path.join(clone.dir, 'dist'));
    const r = cdk8s(['synth']);
    expect(r.status).not.toBe(0);
    expect(lines(r.stderr)).toEqual([c.line, CLI_NOTICE]);
    expect(lines(r.stdout)).toEqual(['Synthesizing application']);
    expect(snapshotDir(path.join(clone.dir, 'dist'))).toEqual(before);
    for (const s of c.secrets ?? []) expect(r.stderr + r.stdout).not.toContain(s);
  });

  test('--stdout prints the manifests and leaves dist/ alone; a failure there is one line too', () => {
    const before = snapshotDir(path.join(clone.dir, 'dist'));
    const ok = cdk8s(['synth', '--stdout']);
    expect({ status: ok.status, stderr: ok.stderr }).toEqual({ status: 0, stderr: '' });
    expect(ok.stdout).toBe(fs.readFileSync(path.join(REPO_ROOT, 'dist', 'heapdump-pipeline.k8s.yaml'), 'utf8'));
    BROKEN_CONFIGS.find((c) => c.name === 'a bad value')!.apply(clone.dir, good);
    const bad = cdk8s(['synth', '--stdout']);
    expect(bad.status).not.toBe(0);
    expect(lines(bad.stderr)).toEqual([expect.stringContaining('Invalid uploader.bucket'), expect.stringMatching(/^ERROR: synthesis failed, app expected to create ".*cdk8s-/)]);
    expect(snapshotDir(path.join(clone.dir, 'dist'))).toEqual(before);
  });

  test('--output <dir> writes there and leaves dist/ alone', () => {
    const before = snapshotDir(path.join(clone.dir, 'dist'));
    const r = cdk8s(['synth', '--output', 'elsewhere']);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(files(path.join(clone.dir, 'elsewhere'))).toEqual(files(path.join(REPO_ROOT, 'dist')));
    expect(snapshotDir(path.join(clone.dir, 'dist'))).toEqual(before);
  });
});

describe('npx cdk8s import in a fresh clone', () => {
  test('regenerates lib/imports/ byte-identically from the CRDs in crds/', () => {
    fs.rmSync(path.join(clone.dir, 'lib', 'imports'), { recursive: true });
    const r = cdk8s(['import']);
    expect(r.status).toBe(0);
    expect(files(path.join(clone.dir, 'lib', 'imports'))).toEqual(files(path.join(REPO_ROOT, 'lib', 'imports')));
    // cdk8s.yaml is not rewritten (its imports are already listed).
    expect(fs.readFileSync(path.join(clone.dir, 'cdk8s.yaml'), 'utf8')).toBe(fs.readFileSync(path.join(REPO_ROOT, 'cdk8s.yaml'), 'utf8'));
  });
});
