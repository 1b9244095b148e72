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
 * - cdk8s-cli deletes its output folder BEFORE it runs the app (`fs.rmSync(outdir, { recursive: true })`
 *   in its synth command), so cdk8s.yaml's `output` is a staging folder (STAGING_DIR), never dist/.
 * - The app synthesizes into a fresh folder under .build/; only a complete synth replaces dist/ and then
 *   patches/ (two renames each) and then fills the CLI's output folder, which the CLI lists.
 * - An error prints one line: the setting (or file position), the value, what was expected. Run directly,
 *   the app then exits 1. Under the CLI it exits 0 WITHOUT creating the output folder: cdk8s-cli answers
 *   a non-zero exit with its own stack trace, but a missing output folder with one fixed line
 *   (`ERROR: synthesis failed, app expected to create ...`) and exit code 1.
 */
import * as fs from 'fs';
import * as path from 'path';
import { CONFIG_FILE_ENV, CONFIG_FILE_NAME, ConfigFileError, displayPath, readPipelineConfig } from './lib/config-file';
import type * as Synth from './lib/synth';
import { PipelinePropsError } from './lib/validation';
import { collectWarnings } from './lib/warnings';

/** Where the manifests are published (relative to the working directory, the repository root). */
export const DIST_DIR = 'dist';
/** cdk8s.yaml's `output`: the folder cdk8s-cli empties and lists (a test checks they agree). */
export const STAGING_DIR = '.build/dist';
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

export function main(argv: readonly string[], env: NodeJS.ProcessEnv): number {
  const underCli = argv.includes(CDK8S_CLI_FLAG);
  const configFile = env[CONFIG_FILE_ENV] ?? CONFIG_FILE_NAME;
  const outdir = underCli ? env.CDK8S_OUTDIR : undefined;
  try {
    const unknown = argv.find((a) => a !== CDK8S_CLI_FLAG);
    if (unknown !== undefined) {
      throw new UsageError(`unknown argument "${unknown}" (expected none: the config file is ${CONFIG_FILE_NAME} or ${CONFIG_FILE_ENV})`);
    }
    if (underCli && outdir === undefined) throw new UsageError(`${CDK8S_CLI_FLAG} without CDK8S_OUTDIR (expected cdk8s-cli to set it)`);
    const staged = synthesize(configFile);
    try {
      if (outdir === undefined || samePath(outdir, STAGING_DIR)) {
        replaceDir(staged.manifests, DIST_DIR);
        replaceDir(staged.patches, PATCH_DIR);
        if (outdir !== undefined) copyFiles(DIST_DIR, outdir);
        else for (const dir of [DIST_DIR, PATCH_DIR]) for (const f of fs.readdirSync(dir).sort()) console.log(`${dir}/${f}`);
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
    if (!underCli) return 1;
    // Under cdk8s-cli: no output folder is the failure signal (see the header). With --stdout the CLI
    // created an empty temporary folder for us; an empty folder is removed, anything else is left alone.
    if (outdir !== undefined && fs.existsSync(outdir)) {
      try {
        fs.rmdirSync(outdir);
      } catch {
        return 1;
      }
    }
    return 0;
  }
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2), process.env);
}
