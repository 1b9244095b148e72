/**
 * One command builds the agent into a single JavaScript file: `npm run bundle`.
 *
 * The uploader (with the AWS SDK: ~1.6 MB of JavaScript) is embedded in that file as TEXT and
 * compiled only when the `uploader` command starts. Why: V8 pre-parses every function of a script
 * it loads, lazy or not, and keeps the result; an ordinary bundle made the mount guard pay ~8 MiB of
 * resident memory for SDK code it never runs (measured with `npm run bench:guard`; budget 48 MiB).
 * A string literal inside a not-yet-called function is only scanned, not parsed; it is stored
 * gzipped (base64) so the file, which Node keeps in memory as the script's source, stays small.
 */
import { readFileSync } from 'fs';
import * as path from 'path';
import { gzipSync } from 'zlib';
import { build, type Plugin } from 'esbuild';

/** Repository root (this file runs from scripts/ under ts-jest, or bundled from .build/). */
const ROOT = path.join(__dirname, '..');

export const AGENT_BUNDLE = path.join(ROOT, '.build', 'agent', 'agent.js');

/** Import specifiers (as written in the importing module: main.ts, kube-events.ts) whose module is embedded as lazily compiled text. */
export const LAZY_MODULES: Readonly<Record<string, string>> = {
  './uploader/command': path.join(ROOT, 'agent', 'src', 'uploader', 'command.ts'),
  // @kubernetes/client-node (imported by agent/src/report/kube-events.ts only when Kubernetes Events are
  // enabled): inlined into the uploader's text it would cost every uploader ~8 MiB even with events off.
  './kube-api': path.join(ROOT, 'agent', 'src', 'report', 'kube-api.ts'),
  // The analysis process's code (the HPROF analyzer): only that process compiles it.
  './triage/child': path.join(ROOT, 'agent', 'src', 'triage', 'child.ts'),
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
          `const source = require('zlib').gunzipSync(Buffer.from(${JSON.stringify(gzipSync(code, { level: 9 }).toString('base64'))}, 'base64')).toString('utf8');`,
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

if (require.main === module) {
  buildAgentBundle().then((f) => console.log(f), (e) => { console.error(e); process.exit(1); });
}
