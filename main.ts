/**
 * The repo's cdk8s app: read pipeline.config.json, build the pipeline, synthesize, publish the manifests
 * to dist/ and the strategic merge patch for YAML users to patches/.
 * All validation lives in the constructs (the settings table); this file reads the file and reports.
 *
 * Started two ways, both through scripts/run-ts.cjs (esbuild compiles the TypeScript as node loads it):
 * - `npx cdk8s synth` / `cdk8s synth`: cdk8s.yaml's `app` is `node scripts/run-ts.cjs main.ts --cdk8s-cli`;
 * - `npm run synth`: the same without the flag.
 *
 * dist/ holds only manifests, so `oc apply -f dist/` applies all of it; the patch (no `kind`, not a
 * manifest) lives in patches/ (PATCH_DIR).
 *
 * A failed synth never touches dist/ or patches/:
 * - The app synthesizes into a fresh folder under .build/; only a complete synth replaces dist/ and then
 *   patches/ (two renames each). Under the CLI, cdk8s.yaml's `output` is dist/ itself (the CLI lists it).
 * - An error prints one line: the setting (or file position), the value, what was expected, and the app
 *   exits 1, run directly or under the CLI.
 * Both rely on the patch `npm ci` applies to cdk8s-cli (scripts/patch-cdk8s-cli.cjs): unpatched, the CLI
 * deletes its output folder before it runs the app and adds its own stack trace to a non-zero exit. An
 * unpatched CLI is reported (one line) and the synth goes on.
 */
import * as fs from 'fs';
import * as path from 'path';
import { CONFIG_FILE_ENV, CONFIG_FILE_NAME, ConfigFileError, displayPath, readPipelineConfig } from './lib/config-file';
import type * as Synth from './lib/synth';
import { PipelinePropsError } from './lib/validation';
import { collectWarnings } from './lib/warnings';

/** Where the manifests are published (relative to the working directory, the repository root). */
export const DIST_DIR = 'dist';
/** Passed by cdk8s.yaml's `app` command. */
export const CDK8S_CLI_FLAG = '--cdk8s-cli';
/**
 * Where the strategic merge patch for YAML users is published (docs/collect-your-service.md): not in
 * dist/, whose every file `oc apply -f dist/` must accept as a manifest.
 */
export const PATCH_DIR = 'patches';
/** The patch's file name in PATCH_DIR. */
export const COLLECT_PATCH_FILE = 'collect-patch.json';
const WORK_DIR = '.build';

/** One line for the user, no stack trace. */
class UsageError extends Error {}

function isUserError(err: unknown): err is Error {
  return err instanceof PipelinePropsError || err instanceof ConfigFileError || err instanceof UsageError;
}

/** Regular files of a flat folder (cdk8s writes one YAML file per chart). */
function copyFiles(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  for (const f of fs.readdirSync(from)) fs.copyFileSync(path.join(from, f), path.join(to, f));
}

/** Replaces `target` by `staged` (same file system): `target` is never half-written and never lost. */
function replaceDir(staged: string, target: string): void {
  const old = `${staged}.old`;
  const hadTarget = fs.existsSync(target);
  if (hadTarget) fs.renameSync(target, old);
  try {
    fs.renameSync(staged, target);
  } catch (err) {
    if (hadTarget) fs.renameSync(old, target);
    throw err;
  }
  if (hadTarget) fs.rmSync(old, { recursive: true, force: true });
}

function samePath(a: string, b: string): boolean {
  return path.resolve(a) === path.resolve(b);
}

/** A complete synth, staged under .build/: `manifests` becomes dist/, `patches` becomes patches/. */
interface Staged {
  readonly root: string;
  readonly manifests: string;
  readonly patches: string;
}

/** Synthesizes into a new folder under .build/ and returns it (removed again on failure). */
function synthesize(configFile: string): Staged {
  fs.mkdirSync(WORK_DIR, { recursive: true });
  // mkdir, not mkdtemp: the folders become dist/ and patches/ and keep the usual mode (0755 under umask 022).
  const root = path.join(WORK_DIR, `synth-${process.pid}-${Date.now()}`);
  const staged: Staged = { root, manifests: path.join(root, DIST_DIR), patches: path.join(root, PATCH_DIR) };
  fs.mkdirSync(root);
  try {
    const props = readPipelineConfig(configFile);
    // Loaded after the file is read: a broken file is reported without loading cdk8s first.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { buildPipelineApp } = require('./lib/synth') as typeof Synth;
    fs.mkdirSync(staged.manifests);
    const { app, pipeline } = buildPipelineApp(props, staged.manifests);
    for (const warning of collectWarnings(pipeline)) console.warn(`WARNING ${warning}`);
    app.synth();
    fs.mkdirSync(staged.patches);
    fs.writeFileSync(path.join(staged.patches, COLLECT_PATCH_FILE), `${JSON.stringify(pipeline.collectPatch(), null, 2)}\n`);
    return staged;
  } catch (err) {
    fs.rmSync(root, { recursive: true, force: true });
    throw err;
  }
}

/** Whether node_modules/cdk8s-cli carries our patch (scripts/patch-cdk8s-cli.cjs); true when it cannot be told. */
function cliPatched(): boolean {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const patcher = require('./scripts/patch-cdk8s-cli.cjs') as { isPatched(root: string): boolean; DEFAULT_ROOT: string };
    return patcher.isPatched(patcher.DEFAULT_ROOT);
  } catch {
    return true;
  }
}

export function main(argv: readonly string[], env: NodeJS.ProcessEnv): number {
  const underCli = argv.includes(CDK8S_CLI_FLAG);
  const configFile = env[CONFIG_FILE_ENV] ?? CONFIG_FILE_NAME;
  const outdir = underCli ? env.CDK8S_OUTDIR : undefined;
  if (underCli && !cliPatched()) {
    console.error('WARNING cdk8s-cli in node_modules is not patched (npm ci --ignore-scripts?): it emptied dist/ before this synth '
      + 'and adds a stack trace to errors; `node scripts/patch-cdk8s-cli.cjs` patches it, or use `npm run synth`');
  }
  try {
    const unknown = argv.find((a) => a !== CDK8S_CLI_FLAG);
    if (unknown !== undefined) {
      throw new UsageError(`unknown argument "${unknown}" (expected none: the config file is ${CONFIG_FILE_NAME} or ${CONFIG_FILE_ENV})`);
    }
    if (underCli && outdir === undefined) throw new UsageError(`${CDK8S_CLI_FLAG} without CDK8S_OUTDIR (expected cdk8s-cli to set it)`);
    const staged = synthesize(configFile);
    try {
      if (outdir === undefined || samePath(outdir, DIST_DIR)) {
        replaceDir(staged.manifests, DIST_DIR);
        replaceDir(staged.patches, PATCH_DIR);
        // Under the CLI it lists dist/ itself (and swallows our stdout).
        if (outdir === undefined) for (const dir of [DIST_DIR, PATCH_DIR]) for (const f of fs.readdirSync(dir).sort()) console.log(`${dir}/${f}`);
      } else {
        // `cdk8s synth --output <dir>` or `--stdout`: the user asked for the manifests in another folder;
        // dist/ and patches/ stay as they are.
        copyFiles(staged.manifests, outdir);
      }
    } finally {
      fs.rmSync(staged.root, { recursive: true, force: true });
    }
    return 0;
  } catch (err) {
    if (!isUserError(err)) throw err;
    const line = err instanceof PipelinePropsError ? `${displayPath(configFile)}: ${err.message}` : err.message;
    console.error(line);
    return 1;
  }
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2), process.env);
}
