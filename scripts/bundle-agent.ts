/**
 * One command builds the agent into a single JavaScript file: `npm run bundle`.
 *
 * The uploader and the heapdumps API server (agent/src/s3-commands.ts, with the AWS SDK: ~1.6 MB of
 * JavaScript, once for both) are embedded in that file as TEXT and compiled only when `uploader` or `api` starts. Why: V8 pre-parses every function of a script
 * it loads, lazy or not, and keeps the result; an ordinary bundle made the mount guard pay ~8 MiB of
 * resident memory for SDK code it never runs (measured with `npm run bench:guard`; budget 48 MiB).
 * A string literal inside a not-yet-called function is only scanned, not parsed; it is stored
 * compressed (Brotli, base64) so the file, which Node keeps in memory as the script's source, stays small.
 * Brotli with a 16 MiB window rather than gzip: the S3 commands' text is ~15 % smaller at the same
 * compression and decompression speed (~130 ms to build, ~5 ms to unpack), which keeps agent.js under
 * 1 MiB with the leak analysis in it.
 */
import { chmodSync, readFileSync } from 'fs';
import * as path from 'path';
import { brotliCompressSync, constants as zlibConstants } from 'zlib';
import { build, type Plugin } from 'esbuild';

/** Repository root (this file runs from scripts/ under ts-jest, or bundled from .build/). */
const ROOT = path.join(__dirname, '..');

export const AGENT_BUNDLE = path.join(ROOT, '.build', 'agent', 'agent.js');
/** The kubectl / oc plugin: one executable file (`kubectl heapdump ...`), Node built-ins only. */
export const PLUGIN_BUNDLE = path.join(ROOT, '.build', 'agent', 'kubectl-heapdump');

/** Import specifiers (as written in the importing module: main.ts, kube-events.ts) whose module is embedded as lazily compiled text. */
export const LAZY_MODULES: Readonly<Record<string, string>> = {
  // The uploader, the heapdumps API server and the analyzer, with the AWS SDK once for all.
  './s3-commands': path.join(ROOT, 'agent', 'src', 's3-commands.ts'),
  // @kubernetes/client-node (imported by agent/src/report/kube-events.ts only when Kubernetes Events are
  // enabled): inlined into the uploader's text it would cost every uploader ~8 MiB even with events off.
  './kube-api': path.join(ROOT, 'agent', 'src', 'report', 'kube-api.ts'),
  // The analysis process's code (the HPROF analyzer): only that process compiles it.
  './triage/child': path.join(ROOT, 'agent', 'src', 'triage', 'child.ts'),
  // the leak analysis the analyzer runs in a child process (`agent.js analyze`), and a person on a terminal
  './leaks/cli': path.join(ROOT, 'agent', 'src', 'leaks', 'cli.ts'),
};

/** package.json's version, embedded as `__AGENT_VERSION__` (agent/src/version.ts): `agent.js --version`. */
export const PACKAGE_VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

const COMMON = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  legalComments: 'none',
  logLevel: 'warning',
  define: { __AGENT_VERSION__: JSON.stringify(PACKAGE_VERSION) },
} as const;

/** The module, bundled on its own (CommonJS), as a string; lazy modules inside it are embedded the same way. */
async function bundleToText(entry: string): Promise<{ code: string; inputs: string[] }> {
  const result = await build({ ...COMMON, entryPoints: [entry], format: 'cjs', write: false, metafile: true, plugins: [lazyModules()] });
  return { code: result.outputFiles[0].text, inputs: Object.keys(result.metafile.inputs).map((p) => path.resolve(ROOT, p)) };
}

/** Brotli quality 9 with a 16 MiB window (quality 11 saves ~10 % more but takes ~3 s per build). */
function compress(code: string): Buffer {
  const input = Buffer.from(code, 'utf8');
  return brotliCompressSync(input, {
    params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 9, [zlibConstants.BROTLI_PARAM_LGWIN]: 24, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: input.length },
  });
}

/** Replaces each LAZY_MODULES import by a stub that compiles the embedded text on first import. */
function lazyModules(): Plugin {
  const specifiers = Object.keys(LAZY_MODULES).map((s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
  return {
    name: 'lazy-modules',
    setup(b) {
      b.onResolve({ filter: new RegExp(`^(${specifiers.join('|')})$`) }, (args) => ({ path: args.path, namespace: 'lazy-module' }));
      b.onLoad({ filter: /.*/, namespace: 'lazy-module' }, async (args) => {
        const { code, inputs } = await bundleToText(LAZY_MODULES[args.path]);
        const filename = `agent.js/${path.basename(LAZY_MODULES[args.path], '.ts')}.js`;
        const contents = [
          `const vm = require('vm');`,
          `const source = require('zlib').brotliDecompressSync(Buffer.from(${JSON.stringify(compress(code).toString('base64'))}, 'base64')).toString('utf8');`,
          `const wrapper = new vm.Script('(function (exports, require, module, __filename, __dirname) {' + source + '\\n})', { filename: ${JSON.stringify(filename)} });`,
          `wrapper.runInThisContext()(module.exports, require, module, __filename, __dirname);`,
        ].join('\n');
        return { contents, loader: 'js', watchFiles: inputs };
      });
    },
  };
}

export async function buildAgentBundle(outfile = AGENT_BUNDLE): Promise<string> {
  await build({
    ...COMMON,
    entryPoints: [path.join(ROOT, 'agent', 'src', 'main.ts')],
    outfile,
    sourcemap: false,
    minify: false,
    plugins: [lazyModules()],
  });
  return outfile;
}

/**
 * `kubectl-heapdump` (agent/src/plugin/main.ts) as one executable script with a `#!/usr/bin/env node` line:
 * js-yaml (kubeconfig) is bundled in, so it needs nothing but Node 20+ (shipped in the npm package's `bin` and
 * in the image at /usr/local/bin).
 */
export async function buildPluginBundle(outfile = PLUGIN_BUNDLE): Promise<string> {
  await build({
    ...COMMON,
    entryPoints: [path.join(ROOT, 'agent', 'src', 'plugin', 'main.ts')],
    outfile,
    banner: { js: '#!/usr/bin/env node' },
    sourcemap: false,
    minify: false,
  });
  chmodSync(outfile, 0o755);
  return outfile;
}

if (require.main === module) {
  // `--plugin FILE`: only the plugin, into FILE (scripts/build-lib.cjs: the npm package's `bin`).
  const only = process.argv[2] === '--plugin' ? process.argv[3] : undefined;
  const builds = only !== undefined ? [buildPluginBundle(path.resolve(only))] : [buildAgentBundle(), buildPluginBundle()];
  Promise.all(builds).then((files) => console.log(files.join('\n')), (e) => { console.error(e); process.exit(1); });
}
