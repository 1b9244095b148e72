/**
 * scripts/patch-cdk8s-cli.cjs on a pristine copy of the pinned cdk8s-cli (packed from npm's cache, as
 * `npm ci` got it): it patches exactly the three files, the result is what node_modules runs (the synth
 * tests exercise that), a second run changes nothing, and a CLI whose text differs fails with a message
 * naming the file instead of being half-patched.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { REPO_ROOT, userEnv } from '../support/fresh-clone';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const patcher = require('../../scripts/patch-cdk8s-cli.cjs') as {
  patchCli(root: string): string[];
  isPatched(root: string): boolean;
  DEFAULT_ROOT: string;
  MARK: string;
};

const INSTALLED = path.join(REPO_ROOT, 'node_modules', 'cdk8s-cli');
const VERSION = (JSON.parse(fs.readFileSync(path.join(INSTALLED, 'package.json'), 'utf8')) as { version: string }).version;
const FILES = ['lib/upgrades.js', 'lib/cli/cmds/synth.js', 'lib/util.js'];

let work: string;
let pristine: string;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'patch-cli-'));
  execFileSync('npm', ['pack', `cdk8s-cli@${VERSION}`, '--prefer-offline', '--loglevel=error', '--pack-destination', work], {
    cwd: work, env: userEnv({ npm_config_offline: 'false' }), encoding: 'utf8', timeout: 120_000,
  });
  pristine = path.join(work, 'package');
  execFileSync('tar', ['-xzf', path.join(work, `cdk8s-cli-${VERSION}.tgz`), '-C', work, '--no-same-owner']);
}, 180_000);

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

test('the installed cdk8s-cli is patched (npm ci ran it through `prepare`)', () => {
  expect(patcher.DEFAULT_ROOT).toBe(INSTALLED);
  expect(patcher.isPatched(INSTALLED)).toBe(true);
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  expect(pkg.scripts.prepare).toBe('node scripts/patch-cdk8s-cli.cjs');
});

test('a pristine copy: not patched; patched, it equals the installed files; a second run changes nothing', () => {
  const copy = path.join(work, 'copy');
  fs.cpSync(pristine, copy, { recursive: true });
  expect(patcher.isPatched(copy)).toBe(false);
  expect(patcher.patchCli(copy)).toEqual(FILES);
  expect(patcher.isPatched(copy)).toBe(true);
  for (const f of FILES) {
    expect({ f, same: fs.readFileSync(path.join(copy, f), 'utf8') === fs.readFileSync(path.join(INSTALLED, f), 'utf8') }).toEqual({ f, same: true });
    // every other line of the file is untouched
    const before = fs.readFileSync(path.join(pristine, f), 'utf8').split('\n');
    const after = fs.readFileSync(path.join(copy, f), 'utf8').split('\n');
    expect(after.filter((l) => !before.includes(l)).every((l) => l.includes(patcher.MARK) || /registry|loadurl|execFileSync|encoding|\}\);|latest = JSON/.test(l))).toBe(true);
  }
  expect(patcher.patchCli(copy)).toEqual([]);
  // The patched files still parse (the installed ones run in test/synth-cli.test.ts).
  for (const f of FILES) execFileSync(process.execPath, ['--check', path.join(copy, f)]);
});

test('a cdk8s-cli whose code differs fails with the file named, and nothing is written', () => {
  const copy = path.join(work, 'changed');
  fs.cpSync(pristine, copy, { recursive: true });
  const synth = path.join(copy, 'lib/cli/cmds/synth.js');
  fs.writeFileSync(synth, fs.readFileSync(synth, 'utf8').replace('fs.rmSync(outdir, { recursive: true, force: true });', 'fs.removeSync(outdir);'));
  const upgrades = fs.readFileSync(path.join(copy, 'lib/upgrades.js'), 'utf8');
  expect(() => patcher.patchCli(copy)).toThrow(new RegExp(`^cannot patch cdk8s-cli ${VERSION.replace(/\./g, '\\.')} \\(.*lib/cli/cmds/synth\\.js\\): expected text not found`));
  // checked before anything is written: the file before it is untouched too
  expect(fs.readFileSync(path.join(copy, 'lib/upgrades.js'), 'utf8')).toBe(upgrades);
  expect(fs.readFileSync(synth, 'utf8')).not.toContain(patcher.MARK);
  expect(patcher.isPatched(copy)).toBe(false);
});
