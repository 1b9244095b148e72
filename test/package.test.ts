/**
 * The construct library as another cdk8s app gets it: `npm pack` in a fresh clone (prepack builds
 * lib-dist/ with tsconfig.build.json), the tarball installed into a copy of test/fixtures/consumer-app/
 * next to the peer dependencies, then
 * - the JavaScript app (main.js) run with plain node: no TypeScript, no bundler, no repository around it;
 * - the TypeScript app (main.ts) type-checked with the fixture's own TypeScript (~5.9) against the shipped
 *   .d.ts only, and run as docs/architecture.md tells a TypeScript user: with ts-node, and with esbuild;
 * - the tarball's contents and package.json checked (what ships, what it requires, the peers, the licence,
 *   the docs the README links to).
 *
 * The install uses npm's cache (--prefer-offline); the peers are pinned to the versions this repository
 * is tested with, so a warm cache serves everything and the consumer runs the same cdk8s as the tests.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import { loadAll } from 'js-yaml';
import { builtinModules } from 'module';
import * as os from 'os';
import * as path from 'path';
import * as ts from 'typescript';
import { promisify } from 'util';
import { App, Chart } from 'cdk8s';
import { HeapDumpPipeline, type HeapDumpPipelineProps } from '../lib';
import { type FreshClone, freshClone, REPO_ROOT, userEnv } from './support/fresh-clone';
import { note } from './support/notes';

const run = promisify(execFile);

const FIXTURE = path.join(REPO_ROOT, 'test', 'fixtures', 'consumer-app');
const PEERS = ['cdk8s', 'cdk8s-plus-28', 'constructs'] as const;
/** The agent's runtime dependencies: bundled into the agent image, never needed by the constructs. */
const AGENT_ONLY = ['@aws-sdk/client-s3', '@aws-sdk/lib-storage', '@kubernetes/client-node', 'prom-client'];
/** The fixture's own compiler (its package.json pins typescript ~5.9), set once installed. */
let tsc: string;
/** Packed size budget: today ~0.1 MB; a stray folder (test data, node_modules) blows through it. */
const MAX_TARBALL_BYTES = 1_000_000;

interface PackageJson {
  name: string;
  version: string;
  private?: boolean;
  license?: string;
  main?: string;
  types?: string;
  exports?: Record<string, string | Record<string, string>>;
  files?: string[];
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  bundleDependencies?: unknown;
  bundledDependencies?: unknown;
}

const readJson = <T>(file: string): T => JSON.parse(fs.readFileSync(file, 'utf8')) as T;
const repoPkg = readJson<PackageJson>(path.join(REPO_ROOT, 'package.json'));

let clone: FreshClone;
let work: string;
/** The tarball `npm pack` wrote. */
let tarball: string;
/** Its files, relative to the package root (without tar's `package/`). */
let entries: string[];
/** The tarball unpacked. */
let unpacked: string;
/** The consumer app, installed. */
let app: string;
let installSeconds: number;

async function node(args: string[], cwd: string) {
  return run(process.execPath, args, { cwd, env: userEnv(), encoding: 'utf8', timeout: 60_000, maxBuffer: 32 << 20 });
}

/** As node(), resolving with the exit code instead of rejecting. */
async function tryNode(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    return { code: 0, ...(await node(args, cwd)) };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

beforeAll(async () => {
  clone = freshClone('pkg-clone-');
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'pkg-consumer-'));
  // npm pack runs prepack (npm run build:lib) in the clone: nothing of the checkout's lib-dist/ is reused.
  await run('npm', ['pack', '--pack-destination', work, '--loglevel=error'], { cwd: clone.dir, env: userEnv(), encoding: 'utf8', timeout: 120_000 });
  const packed = fs.readdirSync(work).filter((f) => f.endsWith('.tgz'));
  expect(packed).toEqual([`${repoPkg.name}-${repoPkg.version}.tgz`]);
  tarball = path.join(work, packed[0]);

  const { stdout } = await run('tar', ['-tzf', tarball], { encoding: 'utf8' });
  entries = stdout.split('\n').filter((l) => l !== '').map((l) => {
    expect(l.startsWith('package/')).toBe(true);
    return l.slice('package/'.length);
  }).sort();
  unpacked = path.join(work, 'unpacked');
  fs.mkdirSync(unpacked);
  await run('tar', ['-xzf', tarball, '-C', unpacked, '--strip-components=1', '--no-same-owner']);

  // The consumer: the fixture as it is, the tarball under the name its package.json gives, the peers
  // pinned to the versions installed here.
  app = path.join(work, 'app');
  // (what the fixture's own tsc or npm runs may have left there is not part of it)
  const leftovers = new Set(['node_modules', 'package-lock.json', 'heapdump-pipeline.tgz', 'dist', 'out']);
  fs.cpSync(FIXTURE, app, { recursive: true, filter: (src) => src === FIXTURE || !leftovers.has(path.relative(FIXTURE, src)) });
  fs.copyFileSync(tarball, path.join(app, 'heapdump-pipeline.tgz'));
  const appPkg = readJson<PackageJson>(path.join(app, 'package.json'));
  expect(appPkg.dependencies?.['heapdump-pipeline']).toBe('file:heapdump-pipeline.tgz');
  for (const p of PEERS) {
    expect(appPkg.dependencies?.[p]).toBeDefined();
    appPkg.dependencies![p] = readJson<PackageJson>(path.join(REPO_ROOT, 'node_modules', p, 'package.json')).version;
  }
  fs.writeFileSync(path.join(app, 'package.json'), `${JSON.stringify(appPkg, null, 2)}\n`);
  const t0 = Date.now();
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], {
    cwd: app,
    env: userEnv({ npm_config_offline: 'false' }),
    encoding: 'utf8',
    timeout: 120_000,
  });
  installSeconds = (Date.now() - t0) / 1000;
  tsc = path.join(app, 'node_modules', 'typescript', 'bin', 'tsc');
}, 300_000);

afterAll(() => {
  clone?.remove();
  if (work !== undefined) fs.rmSync(work, { recursive: true, force: true });
});

/** Module specifiers a JavaScript or declaration file imports or requires (comments ignored). */
function specifiersOf(file: string): string[] {
  return ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true).importedFiles.map((f) => f.fileName);
}

/** Every installed package under a node_modules folder, nested ones included: name → folders. */
function installedPackages(nodeModules: string, out = new Map<string, string[]>()): Map<string, string[]> {
  for (const entry of fs.readdirSync(nodeModules)) {
    if (entry.startsWith('.')) continue; // .bin, .package-lock.json
    const dirs = entry.startsWith('@') ? fs.readdirSync(path.join(nodeModules, entry)).map((e) => path.join(nodeModules, entry, e)) : [path.join(nodeModules, entry)];
    for (const dir of dirs) {
      const { name } = readJson<PackageJson>(path.join(dir, 'package.json'));
      out.set(name, [...(out.get(name) ?? []), dir]);
      if (fs.existsSync(path.join(dir, 'node_modules'))) installedPackages(path.join(dir, 'node_modules'), out);
    }
  }
  return out;
}

describe('the packed construct library', () => {
  test('the tarball: compiled JavaScript and .d.ts of lib/ and the agent modules it imports, Leak.java; nothing else', () => {
    const size = fs.statSync(tarball).size;
    note(`${path.basename(tarball)}: ${size} bytes, ${entries.length} files; consumer install ${installSeconds.toFixed(1)} s`);
    expect(size).toBeLessThan(MAX_TARBALL_BYTES);

    expect(entries).toEqual(expect.arrayContaining(['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'lib-dist/lib/index.js', 'lib-dist/lib/index.d.ts', 'lib-dist/lib/demo-app/Leak.java']));
    // The Java source is the repository's, byte for byte.
    expect(fs.readFileSync(path.join(unpacked, 'lib-dist/lib/demo-app/Leak.java'), 'utf8')).toBe(fs.readFileSync(path.join(REPO_ROOT, 'lib/demo-app/Leak.java'), 'utf8'));

    // The docs ship whole (the README links to them), byte for byte.
    const docs = fs.readdirSync(path.join(REPO_ROOT, 'docs'), { recursive: true, withFileTypes: true })
      .filter((d) => d.isFile()).map((d) => path.relative(REPO_ROOT, path.join(d.parentPath, d.name))).sort();
    expect(entries.filter((f) => f.startsWith('docs/'))).toEqual(docs);
    for (const f of docs) expect({ f, same: fs.readFileSync(path.join(unpacked, f), 'utf8') === fs.readFileSync(path.join(REPO_ROOT, f), 'utf8') }).toEqual({ f, same: true });
    const unexpected = entries.filter((f) => {
      if (['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'lib-dist/lib/demo-app/Leak.java', 'lib-dist/bin/kubectl-heapdump'].includes(f) || docs.includes(f)) return false;
      // each compiled file comes from a TypeScript source of lib/ or agent/src/ (no stale or foreign file)
      const m = /^lib-dist\/((?:lib|agent\/src)\/.+?)(\.d\.ts|\.js)$/.exec(f);
      return m === null || !fs.existsSync(path.join(clone.dir, `${m[1]}.ts`)) || m[1].endsWith('.test');
    });
    expect(unexpected).toEqual([]);
    // every module has its declarations, and the other way round
    const js = entries.filter((f) => f.endsWith('.js')).map((f) => f.slice(0, -'.js'.length));
    const dts = entries.filter((f) => f.endsWith('.d.ts')).map((f) => f.slice(0, -'.d.ts'.length));
    expect(dts).toEqual(js);
    // the agent modules the constructs share (the contract, the settings table) are there
    expect(entries).toEqual(expect.arrayContaining(['lib-dist/agent/src/contract.js', 'lib-dist/agent/src/settings/index.js']));
    // spelled out, although the list above already excludes them
    expect(entries.filter((f) => /(^|\/)(test|tests|__tests__|fixtures|scripts|\.build|node_modules|dist|crds)\//.test(f))).toEqual([]);
    expect(entries.filter((f) => /(\.test\.|\.map$|\.tsbuildinfo$|\.tgz$)/.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts')))).toEqual([]);
  });

  test('the tarball holds no secrets: no key, credential or environment files, no key material in any file', () => {
    expect(entries.filter((f) => /(^|\/)(\.env(\..*)?|\.npmrc|\.netrc|id_(rsa|ecdsa|ed25519)|credentials)$|\.(pem|key|p12|pfx|crt)$/i.test(f))).toEqual([]);
    const found: string[] = [];
    for (const f of entries) {
      const text = fs.readFileSync(path.join(unpacked, f), 'utf8');
      // AKIAIOSFODNN7EXAMPLE: AWS's documented example key id, used as a sample value of the settings table
      const patterns = [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, /\b(?!AKIAIOSFODNN7EXAMPLE\b)(AKIA|ASIA)[0-9A-Z]{16}\b/, /TESTSECRET|S3RVER/, /aws_secret_access_key\s*[=:]\s*['"]?[A-Za-z0-9/+]{30,}/i];
      for (const p of patterns) if (p.test(text)) found.push(`${f}: ${p}`);
    }
    expect(found).toEqual([]);
  });

  test('the kubectl-heapdump plugin: one executable file in bin, Node built-ins only, installed on the consumer\'s PATH', async () => {
    const pkg = readJson<PackageJson & { bin?: Record<string, string> }>(path.join(unpacked, 'package.json'));
    expect(pkg.bin).toEqual({ 'kubectl-heapdump': 'lib-dist/bin/kubectl-heapdump' });
    const file = path.join(unpacked, 'lib-dist', 'bin', 'kubectl-heapdump');
    expect(fs.readFileSync(file, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    const { stdout } = await run('tar', ['-tvzf', tarball], { encoding: 'utf8' });
    expect(stdout.split('\n').find((l) => l.endsWith(' package/lib-dist/bin/kubectl-heapdump'))).toMatch(/^-rwxr-xr-x /);
    const requires = [...fs.readFileSync(file, 'utf8').matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1].replace(/^node:/, ''));
    expect(requires.filter((r) => !builtinModules.includes(r))).toEqual([]);
    const installed = path.join(app, 'node_modules', '.bin', 'kubectl-heapdump');
    const help = await run(installed, ['--help'], { env: userEnv(), encoding: 'utf8', timeout: 30_000 });
    expect(help.stdout).toContain('kubectl heapdump ls [-n NAMESPACE | -A]');
    const usage = await tryNode([installed, 'frobnicate'], app);
    expect([usage.code, usage.stderr.trim()]).toEqual([2, '"frobnicate" is not a command: expected ls, get, summary, leaks or open (see --help)']);
  });

  test('the README\'s links work from the package: each one is absolute or names a file that ships; Apache-2.0 with its LICENSE', () => {
    const readme = fs.readFileSync(path.join(unpacked, 'README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]);
    expect(links.length).toBeGreaterThan(10);
    const broken = links.filter((l) => !/^(https?:|mailto:|#)/.test(l)).filter((l) => !entries.includes(path.posix.normalize(l.split('#')[0])));
    expect(broken).toEqual([]);
    // the docs' own relative links stay inside the shipped docs
    const docLinks = entries.filter((f) => f.startsWith('docs/') && f.endsWith('.md')).flatMap((f) =>
      [...fs.readFileSync(path.join(unpacked, f), 'utf8').matchAll(/\]\(([^)\s]+)\)/g)].map((m) => [f, m[1]] as const))
      .filter(([, l]) => !/^(https?:|mailto:|#)/.test(l))
      .filter(([f, l]) => !entries.includes(path.posix.normalize(path.posix.join(path.posix.dirname(f), l.split('#')[0]))));
    expect(docLinks).toEqual([]);
    const pkg = readJson<PackageJson>(path.join(unpacked, 'package.json'));
    expect(pkg.private).toBeUndefined();
    expect(pkg.license).toBe('Apache-2.0');
    expect(fs.readFileSync(path.join(unpacked, 'LICENSE'), 'utf8')).toMatch(/^\s+Apache License\n\s+Version 2\.0, January 2004/);
  });

  test('package.json: main, types and exports point into the package; cdk8s, constructs, cdk8s-plus-28 are peers; no runtime dependencies', () => {
    const pkg = readJson<PackageJson>(path.join(unpacked, 'package.json'));
    expect(pkg.main).toBe('lib-dist/lib/index.js');
    expect(pkg.types).toBe('lib-dist/lib/index.d.ts');
    expect(pkg.exports).toEqual({
      '.': { types: './lib-dist/lib/index.d.ts', default: './lib-dist/lib/index.js' },
      './package.json': './package.json',
    });
    for (const target of [pkg.main!, pkg.types!]) expect(entries).toContain(path.posix.normalize(target));
    // a consumer gets one copy of each: its own
    expect(Object.keys(pkg.peerDependencies ?? {}).sort()).toEqual([...PEERS]);
    expect(pkg.dependencies ?? {}).toEqual({});
    expect(pkg.optionalDependencies ?? {}).toEqual({});
    expect(pkg.bundleDependencies ?? pkg.bundledDependencies).toBeUndefined();
    // the repository installs the same ranges for itself
    for (const p of PEERS) expect(repoPkg.devDependencies?.[p]).toBe(pkg.peerDependencies![p]);
  });

  test('the compiled code and its .d.ts require only Node built-ins, the peers and files of the package', () => {
    const allowed = new Set<string>([...builtinModules, ...PEERS]);
    const problems: string[] = [];
    for (const f of entries.filter((e) => e.endsWith('.js') || e.endsWith('.d.ts'))) {
      const file = path.join(unpacked, f);
      for (const spec of specifiersOf(file)) {
        if (spec.startsWith('.')) {
          const base = path.resolve(path.dirname(file), spec);
          const candidates = f.endsWith('.d.ts') ? [`${base}.d.ts`, path.join(base, 'index.d.ts')] : [base, `${base}.js`, path.join(base, 'index.js')];
          if (!candidates.some((c) => fs.existsSync(c) && fs.statSync(c).isFile())) problems.push(`${f}: ${spec} is not in the package`);
          continue;
        }
        const name = spec.replace(/^node:/, '').split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');
        if (!allowed.has(name)) problems.push(`${f}: requires ${spec}`);
      }
    }
    expect(problems).toEqual([]);
  });

  test('a plain JavaScript cdk8s app synthesizes the pipeline from the installed package, as the sources do', async () => {
    const r = await node(['main.js', 'out'], app);
    expect(r.stderr).toBe('');
    const { CHART_ID, CONSTRUCT_ID, PROPS } = JSON.parse((await node(['-p', 'JSON.stringify(require("./main.js"))'], app)).stdout) as {
      CHART_ID: string;
      CONSTRUCT_ID: string;
      PROPS: HeapDumpPipelineProps;
    };
    expect(fs.readdirSync(path.join(app, 'out'))).toEqual([`${CHART_ID}.k8s.yaml`]);
    const objects = loadAll(fs.readFileSync(path.join(app, 'out', `${CHART_ID}.k8s.yaml`), 'utf8')) as Array<{ kind: string; metadata: { name: string; namespace?: string }; data?: Record<string, string> }>;

    const ids = objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
    expect(ids).toEqual(expect.arrayContaining([
      `Namespace//${PROPS.namespace}`,
      'PriorityClass//dump-volume-critical',
      'SecurityContextConstraints//dump-volume-privileged',
      'SecurityContextConstraints//heap-dump-uploader',
      'SecurityContextConstraints//heap-dump-app',
      `DaemonSet/${PROPS.namespace}/heap-dump-s3-uploader`,
      // the demo application lives in its own namespace (app.namespace), apart from the agents
      'Namespace//memory-leak-demo',
      'Deployment/memory-leak-demo/memory-leak-app',
    ]));
    expect(objects.filter((o) => o.kind === 'DaemonSet')).toHaveLength(2);
    expect(objects.filter((o) => o.kind === 'PersistentVolumeClaim')).toHaveLength(1);
    // the demo app's Java source, read by the compiled code from the file shipped in the package
    const java = objects.filter((o) => o.kind === 'ConfigMap' && o.data?.['Leak.java'] !== undefined);
    expect(java).toHaveLength(1);
    expect(java[0].data!['Leak.java']).toBe(fs.readFileSync(path.join(REPO_ROOT, 'lib/demo-app/Leak.java'), 'utf8'));

    // The compiled library and the TypeScript sources produce the same objects, in the same order.
    const repoApp = new App();
    const chart = new Chart(repoApp, CHART_ID);
    new HeapDumpPipeline(chart, CONSTRUCT_ID, PROPS);
    expect(objects).toEqual(chart.toJson());

    // The installed package is what ran: the tarball's copy, not a link back into the repository.
    const resolved = (await node(['-p', 'require.resolve("heapdump-pipeline")'], app)).stdout.trim();
    expect(resolved).toBe(path.join(fs.realpathSync(app), 'node_modules', 'heapdump-pipeline', 'lib-dist', 'lib', 'index.js'));
    expect(fs.lstatSync(path.join(app, 'node_modules', 'heapdump-pipeline')).isSymbolicLink()).toBe(false);
  });

  test('ES modules import it too; files outside `exports` are not reachable', async () => {
    const esm = await node(['--input-type=module', '-e', [
      `import { HeapDumpPipeline, PipelinePropsError } from 'heapdump-pipeline';`,
      `import pkg from 'heapdump-pipeline/package.json' with { type: 'json' };`,
      `console.log(typeof HeapDumpPipeline, typeof PipelinePropsError, pkg.version);`,
    ].join('\n')], app);
    expect(esm.stdout).toBe(`function function ${repoPkg.version}\n`);
    const deep = await node(['-e', `try { require('heapdump-pipeline/lib-dist/lib/pipeline'); } catch (e) { console.log(e.code); }`], app);
    expect(deep.stdout).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED\n');
  });

  test("the consumer's node_modules holds exactly one copy of cdk8s, constructs and cdk8s-plus-28, and none of the agent's dependencies", async () => {
    const copies = installedPackages(path.join(app, 'node_modules'));
    const top = (name: string) => [path.join(app, 'node_modules', name)];
    for (const p of PEERS) expect([p, copies.get(p)]).toEqual([p, top(p)]);
    for (const p of AGENT_ONLY) expect([p, copies.get(p)]).toEqual([p, undefined]);
    expect(copies.get('heapdump-pipeline')).toEqual(top('heapdump-pipeline'));
    // npm agrees (exit 0: no peer missing or invalid; one path each, every other use deduped onto it)
    const ls = await run('npm', ['ls', '--all', '--parseable', ...PEERS], { cwd: app, env: userEnv(), encoding: 'utf8' });
    expect(ls.stdout.split('\n').filter((l) => l !== '').sort()).toEqual(PEERS.map((p) => path.join(fs.realpathSync(app), 'node_modules', p)).sort());
  });

  test.each([['moduleResolution node (main/types)', 'tsconfig.json'], ['moduleResolution node16 (exports)', 'tsconfig.node16.json']])(
    'a TypeScript cdk8s app type-checks against the shipped .d.ts: %s',
    async (_name, config) => {
      // strict, skipLibCheck false; main.ts's @ts-expect-error lines must each be errors. One run: the
      // diagnostics (none expected) and then the files the program read.
      expect(readJson<PackageJson>(path.join(app, 'node_modules', 'typescript', 'package.json')).version).toMatch(/^5\.9\./);
      const r = await tryNode([tsc, '-p', config, '--pretty', 'false', '--listFiles'], app);
      const lines = r.stdout.split('\n').filter((l) => l !== '');
      expect({ code: r.code, stderr: r.stderr, diagnostics: lines.filter((l) => !path.isAbsolute(l) || !fs.existsSync(l)) }).toEqual({ code: 0, stderr: '', diagnostics: [] });
      const realApp = fs.realpathSync(app);
      expect(lines).toContain(path.join(realApp, 'node_modules', 'heapdump-pipeline', 'lib-dist', 'lib', 'index.d.ts'));
      // only the app, its node_modules and TypeScript's own lib files: nothing of this repository
      const tsLib = path.join(realApp, 'node_modules', 'typescript', 'lib');
      expect(lines.filter((f) => !f.startsWith(realApp + path.sep) && !f.startsWith(tsLib + path.sep))).toEqual([]);
    },
  );

  /** What main.ts synthesizes, computed from the sources with the same props (written out here, as in main.ts). */
  function expectedTsApp() {
    const repoApp = new App();
    const chart = new Chart(repoApp, 'consumer');
    new HeapDumpPipeline(chart, 'dumps', {
      agentImage: 'registry.example.com/platform/heapdump-agent:0.1.0',
      platform: 'kubernetes',
      uploader: { bucket: 'heap-dumps', credentials: { source: 'secret', secretName: 's3-credentials' } },
    });
    return chart.toJson();
  }

  test('the TypeScript app runs with ts-node, the documented runner, on the pinned TypeScript', async () => {
    fs.rmSync(path.join(app, 'dist'), { recursive: true, force: true });
    const r = await run('npx', ['--no-install', 'ts-node', 'main.ts'], { cwd: app, env: userEnv(), encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toBe('');
    expect(loadAll(fs.readFileSync(path.join(app, 'dist', 'consumer.k8s.yaml'), 'utf8'))).toEqual(expectedTsApp());
  }, 150_000);

  test('the TypeScript app runs bundled by esbuild, the documented alternative (the library stays a package)', async () => {
    fs.rmSync(path.join(app, 'dist'), { recursive: true, force: true });
    await run('npx', ['--no-install', 'esbuild', 'main.ts', '--bundle', '--platform=node', '--packages=external', '--outfile=.build/main.js', '--log-level=warning'],
      { cwd: app, env: userEnv(), encoding: 'utf8', timeout: 60_000 });
    const r = await node(['.build/main.js'], app);
    expect(r.stderr).toBe('');
    expect(fs.readFileSync(path.join(app, '.build', 'main.js'), 'utf8')).toMatch(/require\("heapdump-pipeline"\)/);
    expect(loadAll(fs.readFileSync(path.join(app, 'dist', 'consumer.k8s.yaml'), 'utf8'))).toEqual(expectedTsApp());
  });
});
