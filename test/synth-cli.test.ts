/**
 * `npx cdk8s synth` and `npx cdk8s import`, typed as a new user types them in a fresh clone (node_modules
 * from the checkout, patched by `npm ci` as scripts/patch-cdk8s-cli.cjs says, offline, nothing of the
 * workspace next to it):
 * - the README's first command prints exactly the CLI's two lines, naming dist/, also where the upgrade
 *   check cannot reach a registry (no stack trace, no "new version undefined");
 * - synth produces exactly the committed dist/;
 * - every broken configuration: exit 1, the app's one line and nothing else, and dist/ untouched;
 * - `--stdout` / `--output` leave dist/ alone; import regenerates lib/imports/ byte for byte.
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as yaml from 'js-yaml';
import * as http from 'http';
import * as os from 'os';
import { DIST_DIR } from '../main';
import { BROKEN_CONFIGS, GOOD_CONFIG_FILE } from './support/broken-configs';
import { type FreshClone, freshClone, REPO_ROOT, snapshotDir, userEnv } from './support/fresh-clone';


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

/** A loopback "npm registry" answering every request with `status` and `body`, or one that refuses connections. */
async function withRegistry<T>(status: number | 'refused', body: string, fn: (url: string) => Promise<T>): Promise<T> {
  if (status === 'refused') {
    // A port that was just free: nothing listens there.
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    return fn(`http://127.0.0.1:${port}/`);
  }
  const server = http.createServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    return await fn(`http://127.0.0.1:${(server.address() as { port: number }).port}/`);
  } finally {
    await new Promise((r) => server.close(r));
  }
}

/**
 * The README's first command, as a user runs it after `npm ci`: `npx cdk8s synth`, with the upgrade check on.
 * Asynchronous: the loopback registry answers from this process.
 */
async function firstReadmeCommand(registry: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const first = /```bash\n([^\n]*)/.exec(readme)![1].replace(/\s+#.*$/, '');
  expect(first).toBe('npm ci && npx cdk8s synth');
  // A home without cdk8s-cli's 30-minute version cache, so the check really asks the registry.
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'synth-home-'));
  try {
    const child = spawn('npx', ['cdk8s', 'synth'], { cwd: clone.dir, env: { ...userEnv(), HOME: home, npm_config_registry: registry }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const status = await new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    return { status, stdout, stderr };
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
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

describe('the README\'s first command', () => {
  const CLEAN = ['Synthesizing application', '  - dist/heapdump-pipeline.k8s.yaml'];
  test.each([
    ['answers 404 (as this CI machine\'s does)', 404, '{"error":"Not Found"}'],
    ['refuses connections (offline, air-gapped)', 'refused', ''],
    ['answers something that is not JSON (a proxy\'s login page)', 200, '<html>sign in</html>'],
  ] as const)('where the registry %s: the CLI\'s two lines naming dist/, nothing on stderr', async (_what, status, body) => {
    const r = await withRegistry(status, body, firstReadmeCommand);
    expect({ status: r.status, stdout: lines(r.stdout), stderr: r.stderr }).toEqual({ status: 0, stdout: CLEAN, stderr: '' });
  });

  test('where the registry has a newer cdk8s-cli, the upgrade check still says so (with its real version)', async () => {
    const r = await withRegistry(200, JSON.stringify({ name: 'cdk8s-cli', version: '99.1.2' }), firstReadmeCommand);
    expect(r.status).toBe(0);
    expect(lines(r.stdout)).toEqual(CLEAN);
    expect(r.stderr).toMatch(/A new version 99\.1\.2 of cdk8s-cli is available/);
    expect(r.stderr).not.toMatch(/undefined|\n\s+at /);
  });
});

describe('npx cdk8s synth in a fresh clone', () => {
  test('cdk8s.yaml runs main.ts through scripts/run-ts.cjs, with dist/ as its output', () => {
    const config = yaml.load(fs.readFileSync(path.join(REPO_ROOT, 'cdk8s.yaml'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ app: 'node scripts/run-ts.cjs main.ts --cdk8s-cli', output: DIST_DIR, importDirectory: 'lib/imports' });
  });

  test('exits 0, lists dist/, and dist/ equals the committed one', () => {
    fs.rmSync(path.join(clone.dir, 'dist'), { recursive: true });
    const r = cdk8s(['synth']);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(lines(r.stdout)).toEqual(['Synthesizing application', '  - dist/heapdump-pipeline.k8s.yaml']);
    expect(files(path.join(clone.dir, 'dist'))).toEqual(files(path.join(REPO_ROOT, 'dist')));
    expect(fs.readdirSync(path.join(clone.dir, '.build')).filter((f) => f !== 'ts-cache')).toEqual([]);
  });

  test.each(BROKEN_CONFIGS.map((c) => [c.name, c] as const))('fails on %s: exit 1, the one line and nothing else, dist/ untouched', (_name, c) => {
    c.apply(clone.dir, good);
    const before = snapshotDir(path.join(clone.dir, 'dist'));
    const r = cdk8s(['synth']);
    expect(r.status).toBe(1);
    expect(lines(r.stderr)).toEqual([c.line]);
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
    expect(bad.status).toBe(1);
    expect(lines(bad.stderr)).toEqual([expect.stringContaining('Invalid uploader.bucket')]);
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
