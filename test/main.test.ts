/**
 * `npm run synth` (main.ts run directly through scripts/run-ts.cjs) in a fresh clone: it writes exactly
 * the committed dist/ and patches/, and every broken configuration stops it with one line, exit code 1,
 * no stack trace, and dist/ and patches/ untouched. (`npx cdk8s synth`: test/synth-cli.test.ts.)
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BROKEN_CONFIGS, GOOD_CONFIG_FILE } from './support/broken-configs';
import { type FreshClone, freshClone, REPO_ROOT, snapshotDir, userEnv } from './support/fresh-clone';

let clone: FreshClone;
let good: string;

beforeAll(() => {
  clone = freshClone('synth-direct-');
  good = fs.readFileSync(path.join(clone.dir, GOOD_CONFIG_FILE), 'utf8');
});

afterAll(() => clone.remove());

afterEach(() => {
  // Each test starts from the committed config file.
  fs.rmSync(path.join(clone.dir, GOOD_CONFIG_FILE), { recursive: true, force: true });
  fs.writeFileSync(path.join(clone.dir, GOOD_CONFIG_FILE), good);
});

function synth(args: string[] = [], env: Record<string, string> = {}) {
  // What `npm run synth` runs (package.json), without npm's own banner.
  const script = JSON.parse(fs.readFileSync(path.join(clone.dir, 'package.json'), 'utf8')).scripts.synth as string;
  expect(script).toBe('node scripts/run-ts.cjs main.ts');
  return spawnSync(process.execPath, ['scripts/run-ts.cjs', 'main.ts', ...args], { cwd: clone.dir, env: userEnv(env), encoding: 'utf8', timeout: 60_000 });
}

function distOf(dir: string, folder = 'dist'): Record<string, string> {
  const d = path.join(dir, folder);
  return Object.fromEntries(fs.readdirSync(d).sort().map((f) => [f, fs.readFileSync(path.join(d, f), 'utf8')]));
}

describe('npm run synth (main.ts)', () => {
  test('synthesizes pipeline.config.json to exactly the committed dist/, rewriting it', () => {
    const before = snapshotDir(path.join(clone.dir, 'dist'));
    const beforePatches = snapshotDir(path.join(clone.dir, 'patches'));
    const r = synth();
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(r.stdout).toBe('dist/heapdump-pipeline.k8s.yaml\npatches/collect-patch.json\n');
    expect(distOf(clone.dir)).toEqual(distOf(REPO_ROOT));
    expect(distOf(clone.dir, 'patches')).toEqual(distOf(REPO_ROOT, 'patches'));
    // Really rewritten (new folders), with the usual mode.
    expect(snapshotDir(path.join(clone.dir, 'dist'))).not.toEqual(before);
    expect(snapshotDir(path.join(clone.dir, 'patches'))).not.toEqual(beforePatches);
    expect(fs.statSync(path.join(clone.dir, 'dist')).mode & 0o777).toBe(0o777 & ~process.umask());
    expect(fs.statSync(path.join(clone.dir, 'patches')).mode & 0o777).toBe(0o777 & ~process.umask());
    // Nothing left behind but the cache.
    expect(fs.readdirSync(path.join(clone.dir, '.build')).filter((f) => f !== 'ts-cache')).toEqual([]);
  });

  test.each(BROKEN_CONFIGS.map((c) => [c.name, c] as const))('fails on %s: one line, exit 1, dist/ and patches/ untouched', (_name, c) => {
    c.apply(clone.dir, good);
    const before = snapshotDir(path.join(clone.dir, 'dist'));
    const beforePatches = snapshotDir(path.join(clone.dir, 'patches'));
    const r = synth();
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 1, stdout: '', stderr: `${c.line}\n` });
    expect(snapshotDir(path.join(clone.dir, 'dist'))).toEqual(before);
    expect(snapshotDir(path.join(clone.dir, 'patches'))).toEqual(beforePatches);
    for (const s of c.secrets ?? []) expect(r.stderr).not.toContain(s);
  });

  test('fails on a PIPELINE_CONFIG that names a missing file, naming that file', () => {
    const before = snapshotDir(path.join(clone.dir, 'dist'));
    const r = synth([], { PIPELINE_CONFIG: 'configs/prod.json' });
    expect({ status: r.status, stderr: r.stderr }).toEqual({
      status: 1,
      stderr: 'configs/prod.json: not found (expected a JSON object with the pipeline settings, at least {"agentImage": "registry.example.com/team/heapdump-agent:0.1.0"}; PIPELINE_CONFIG names another file)\n',
    });
    expect(snapshotDir(path.join(clone.dir, 'dist'))).toEqual(before);
  });

  test('fails on an unknown argument', () => {
    const r = synth(['--out', 'x']);
    expect({ status: r.status, stderr: r.stderr }).toEqual({
      status: 1, stderr: 'unknown argument "--out" (expected none: the config file is pipeline.config.json or PIPELINE_CONFIG)\n',
    });
  });

  test('a minimal config: one WARNING line per important default it did not choose, on stderr, and the synth goes on', () => {
    fs.writeFileSync(path.join(clone.dir, GOOD_CONFIG_FILE), JSON.stringify({ agentImage: 'registry.example.com/team/heapdump-agent:0.1.0' }));
    const r = synth();
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('dist/heapdump-pipeline.k8s.yaml\npatches/collect-patch.json\n');
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    expect(lines.map((l) => /^WARNING \[heapdump-pipeline\/pipeline\] (\S+) is not set: /.exec(l)?.[1] ?? l))
      .toEqual(['uploader.bucket', 'uploader.prefix', 'uploader.encryption', 'app.enabled', 'monitoring.enabled']);
    expect(lines[0]).toContain('"heap-dumps"');
    expect(lines[1]).toContain('"memory-leak-demo/"');
  });

  test('prints the ReadWriteOnce warning and still synthesizes', () => {
    const config = JSON.parse(good);
    fs.writeFileSync(path.join(clone.dir, GOOD_CONFIG_FILE), JSON.stringify({ ...config, storage: { accessMode: 'ReadWriteOnce' } }));
    const r = synth();
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^WARNING \[.*\] storage\.accessMode is ReadWriteOnce: .*multi-attach/m);
    expect(distOf(clone.dir)['heapdump-pipeline.k8s.yaml']).toContain('- ReadWriteOnce');
  });
});
