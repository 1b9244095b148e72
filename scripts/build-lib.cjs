/**
 * `npm run build:lib` (and `prepack`, so `npm pack` always ships a fresh build): compiles the construct
 * library for other cdk8s apps into lib-dist/ (generated, git-ignored; package.json's `files`).
 *
 * - tsc -p tsconfig.build.json: JavaScript (CommonJS) and .d.ts for lib/index.ts and everything it
 *   imports, the agent's shared modules (agent/src/contract, settings ...) and the CRD imports included,
 *   keeping the repository's layout (lib-dist/lib/..., lib-dist/agent/src/...) so relative imports hold.
 * - lib/demo-app/Leak.java is copied next to the compiled lib/demo-app/source.js, where it looks first.
 * - the kubectl plugin (agent/src/plugin) is bundled into one executable file, lib-dist/bin/kubectl-heapdump
 *   (package.json's `bin`), by the same function that builds it for the image (scripts/bundle-agent.ts).
 *
 * The repository itself never needs lib-dist/: `npm run synth`, `cdk8s synth` and the tests run the
 * TypeScript sources (scripts/run-ts.cjs, ts-jest).
 */
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const ROOT = path.join(__dirname, '..');
const OUT = path.join(ROOT, 'lib-dist');
/** Files the compiled library reads at run time: source → destination, relative to ROOT / OUT. */
const ASSETS = [['lib/demo-app/Leak.java', 'lib/demo-app/Leak.java']];

fs.rmSync(OUT, { recursive: true, force: true });
const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json')], {
  cwd: ROOT,
  stdio: 'inherit',
});
if (tsc.status !== 0) {
  // tsc printed the errors; leave no half-built folder behind for `npm pack` to ship
  fs.rmSync(OUT, { recursive: true, force: true });
  console.error(`build:lib: tsc -p tsconfig.build.json failed (exit ${tsc.status ?? tsc.signal})`);
  process.exit(1);
}
for (const [from, to] of ASSETS) fs.copyFileSync(path.join(ROOT, from), path.join(OUT, to));
const plugin = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'run-ts.cjs'), path.join(ROOT, 'scripts', 'bundle-agent.ts'), '--plugin', path.join(OUT, 'bin', 'kubectl-heapdump')], {
  cwd: ROOT,
  stdio: ['ignore', 'ignore', 'inherit'],
});
if (plugin.status !== 0) {
  fs.rmSync(OUT, { recursive: true, force: true });
  console.error(`build:lib: bundling the kubectl-heapdump plugin failed (exit ${plugin.status ?? plugin.signal})`);
  process.exit(1);
}
