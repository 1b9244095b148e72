/**
 * Runs a TypeScript file of this repository with plain node: `node scripts/run-ts.cjs <file.ts> [args...]`.
 *
 * Each .ts module is compiled by esbuild's transform as node loads it (no type check: `npm run build`
 * does that), so nothing has to be built first: `cdk8s synth` works on a fresh clone right after
 * `npm ci`, offline. Used by cdk8s.yaml's `app` (main.ts), `npm run synth` and `npm run gen`.
 *
 * Compiled modules are cached in .build/ts-cache/, keyed by a hash of the source, the esbuild version
 * and the options (never stale): starting esbuild's service is most of a synth's time otherwise.
 */
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const Module = require('module');
const path = require('path');

const OPTIONS = { loader: 'ts', format: 'cjs', target: 'node20' };
const CACHE = path.join(__dirname, '..', '.build', 'ts-cache');

let esbuild;
let esbuildVersion;
function version() {
  try {
    esbuildVersion ??= require('esbuild/package.json').version;
  } catch {
    console.error('esbuild is not installed (expected the dev dependencies: run `npm ci` first)');
    process.exit(1);
  }
  return esbuildVersion;
}

function compile(source, filename) {
  const key = crypto.createHash('sha256').update(`${version()}\0${JSON.stringify(OPTIONS)}\0${filename}\0`).update(source).digest('hex');
  const cached = path.join(CACHE, `${key}.js`);
  try {
    return fs.readFileSync(cached, 'utf8');
  } catch {
    // not cached yet
  }
  esbuild ??= require('esbuild');
  const { code } = esbuild.transformSync(source, { ...OPTIONS, sourcefile: filename });
  try {
    fs.mkdirSync(CACHE, { recursive: true });
    const tmp = `${cached}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, code);
    fs.renameSync(tmp, cached);
  } catch {
    // a read-only checkout still works, uncached
  }
  return code;
}

// Our own hook wins over Node's built-in type stripping (Node 23+), which rejects enums and
// parameter properties (lib/imports, lib/validation.ts).
Module._extensions['.ts'] = (module, filename) => {
  module._compile(compile(fs.readFileSync(filename, 'utf8'), filename), filename);
};

const [entry, ...args] = process.argv.slice(2);
if (entry === undefined) {
  console.error('usage: node scripts/run-ts.cjs <file.ts> [args...]');
  process.exit(2);
}
const file = path.resolve(entry);
process.argv = [process.argv[0], file, ...args];
// As the main module, so that `require.main === module` holds in the script.
Module._load(file, null, true);
