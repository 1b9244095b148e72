/**
 * A fresh clone of the working tree in a temporary folder, as a new user gets it after `git clone` and
 * `npm ci`: exactly the files git tracks (plus new, not ignored ones), as they are now in the working
 * tree, no build output or caches, `node_modules` symlinked from the checkout, and nothing of the workspace next to it (the repository stands alone).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

export interface FreshClone {
  readonly dir: string;
  remove(): void;
}

export function freshClone(prefix = 'fresh-clone-'): FreshClone {
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO_ROOT, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f !== '' && f !== 'node_modules' && !f.startsWith('node_modules/'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  for (const f of files) {
    const from = path.join(REPO_ROOT, f);
    const st = fs.lstatSync(from, { throwIfNoEntry: false });
    if (st === undefined || st.isDirectory()) continue; // deleted in the working tree, or a submodule
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.copyFileSync(from, path.join(dir, f));
    fs.chmodSync(path.join(dir, f), st.mode & 0o777);
  }
  fs.symlinkSync(fs.realpathSync(path.join(REPO_ROOT, 'node_modules')), path.join(dir, 'node_modules'));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Names, contents, modification times and the folder's inode: equal snapshots mean "not touched". */
export function snapshotDir(dir: string): Record<string, string> {
  const out: Record<string, string> = { '.': `ino ${fs.statSync(dir).ino}` };
  for (const f of fs.readdirSync(dir).sort()) {
    const p = path.join(dir, f);
    out[f] = `${fs.statSync(p).mtimeMs} ${fs.readFileSync(p, 'utf8')}`;
  }
  return out;
}

/** The environment a user's shell would give: no test variables, no cdk8s or npm settings, offline. */
export function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(CDK8S_|PIPELINE_CONFIG$|npm_|JEST_|NODE_OPTIONS$)/i.test(k)) continue;
    env[k] = v;
  }
  return { ...env, npm_config_offline: 'true', npm_config_update_notifier: 'false', ...extra };
}
