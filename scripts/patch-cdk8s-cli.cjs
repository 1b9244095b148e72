/**
 * Patches the installed cdk8s-cli (node_modules/cdk8s-cli) so that `npx cdk8s synth`, the README's first
 * command, prints only what matters. Run by `npm ci` (package.json `prepare`: the repository's own
 * install only, never a consumer's) and idempotent; `node scripts/patch-cdk8s-cli.cjs --check` exits 1
 * when the installed CLI is not patched.
 *
 * Why patch instead of wrap: `npx cdk8s` runs cdk8s-cli's own binary, and what it prints around our app
 * cannot be changed from outside:
 * 1. Its upgrade check fetches `http://registry.npmjs.org/cdk8s-cli/latest` through a child process whose
 *    stack trace lands on stderr when the registry cannot be reached (air-gapped, proxied, or answering
 *    404 as on our CI machines), and then reports "A new version undefined of cdk8s-cli is available"
 *    (upstream: cdk8s-team/cdk8s#571, cdk8s-team/cdk8s-cli#25). Patched: it asks npm's configured registry
 *    (`npm_config_registry`, else registry.npmjs.org), for at most 5 s, silently; no answer = no banner.
 *    `--no-check-upgrade` or CDK8S_CHECK_UPGRADE=false still turn it off.
 * 2. It deletes the configured output folder before it runs the app, so a synth that fails on a bad
 *    config would lose dist/. Patched: the folder cdk8s.yaml names (`output`) is left to the app, which
 *    replaces it only after a complete synth (main.ts); `--output <dir>` is still emptied first.
 * 3. An app that exits non-zero (it printed why) gets a second report with cdk8s-cli's stack trace.
 *    Patched: the CLI exits with the app's exit code and adds nothing.
 *
 * Each patch replaces one exact text of the pinned cdk8s-cli; a newer CLI whose text differs fails the
 * install with a message naming the file (test/scripts/patch-cdk8s-cli.test.ts checks the patched CLI).
 */
'use strict';
const fs = require('fs');
const path = require('path');

/** Marks a patched file (and makes the patch idempotent). */
const MARK = '/* heapdump-pipeline patch (scripts/patch-cdk8s-cli.cjs) */';

const PATCHES = [
  {
    file: 'lib/upgrades.js',
    edits: [
      [
        '    if (latest !== pkg.version) {',
        `    ${MARK} if (latest !== undefined && latest !== pkg.version) {`,
      ],
      [
        [
          '            const info = cdk8s.Yaml.load(`http://registry.npmjs.org/${module}/latest`);',
          '            if (!info || info.length < 1) {',
          '                return undefined;',
          '            }',
          '            latest = info[0].version;',
        ].join('\n'),
        [
          `            ${MARK}`,
          '            const registry = (process.env.npm_config_registry || \'https://registry.npmjs.org/\').replace(/\\/*$/, \'/\');',
          '            const loadurl = (0, path_1.join)((0, path_1.dirname)(require.resolve(\'cdk8s\')), \'_loadurl.mjs\');',
          '            const body = require(\'child_process\').execFileSync(process.execPath, [loadurl, `${registry}${module}/latest`], {',
          '                encoding: \'utf-8\', stdio: [\'ignore\', \'pipe\', \'ignore\'], timeout: 5000,',
          '            });',
          '            latest = JSON.parse(body).version;',
        ].join('\n'),
      ],
    ],
  },
  {
    file: 'lib/cli/cmds/synth.js',
    edits: [
      [
        '        if (outdir) {\n            fs.rmSync(outdir, { recursive: true, force: true });',
        `        ${MARK} if (outdir && outdir !== config?.output) {\n            fs.rmSync(outdir, { recursive: true, force: true });`,
      ],
    ],
  },
  {
    file: 'lib/util.js',
    edits: [
      [
        '                return ko(new Error(`command ${command} returned a non-zero exit code ${code}`));',
        `                ${MARK} return ko(Object.assign(new Error(\`command \${command} returned a non-zero exit code \${code}\`), { exitCode: code }));`,
      ],
      [
        '            CDK8S_RECORD_CONSTRUCT_METADATA: process.env.CDK8S_RECORD_CONSTRUCT_METADATA ?? (metadata ? \'true\' : \'false\'),\n        },\n    });',
        '            CDK8S_RECORD_CONSTRUCT_METADATA: process.env.CDK8S_RECORD_CONSTRUCT_METADATA ?? (metadata ? \'true\' : \'false\'),\n        },\n'
          + `    }).catch((e) => { ${MARK} if (typeof e.exitCode === 'number') process.exit(e.exitCode); throw e; });`,
      ],
    ],
  },
];

/** The patched text of one file, or an error message when an expected text is missing. */
function patchText(text, edits) {
  let out = text;
  for (const [from, to] of edits) {
    if (out.includes(to)) continue;
    if (!out.includes(from)) return { error: `expected text not found: ${JSON.stringify(from.split('\n')[0])}` };
    out = out.replace(from, to);
  }
  return { text: out };
}

/**
 * Patches cdk8s-cli under `root` (a package folder). Returns the files changed. Every file is checked
 * before any is written: on a mismatch it throws and the CLI stays as it was.
 */
function patchCli(root) {
  const results = PATCHES.map((p) => {
    const file = path.join(root, p.file);
    const text = fs.readFileSync(file, 'utf8');
    const r = patchText(text, p.edits);
    if (r.error !== undefined) {
      const version = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version;
      throw new Error(`cannot patch cdk8s-cli ${version} (${file}): ${r.error}; update scripts/patch-cdk8s-cli.cjs for this version`);
    }
    return { p, file, text, patched: r.text };
  });
  const changed = [];
  for (const r of results) {
    if (r.patched === r.text) continue;
    fs.writeFileSync(r.file, r.patched);
    changed.push(r.p.file);
  }
  return changed;
}

/** Whether every patch is in place under `root`. */
function isPatched(root) {
  return PATCHES.every((p) => {
    const text = fs.readFileSync(path.join(root, p.file), 'utf8');
    return p.edits.every(([, to]) => text.includes(to));
  });
}

const DEFAULT_ROOT = path.join(__dirname, '..', 'node_modules', 'cdk8s-cli');

module.exports = { isPatched, patchCli, DEFAULT_ROOT, MARK };

if (require.main === module) {
  const root = DEFAULT_ROOT;
  if (!fs.existsSync(path.join(root, 'package.json'))) {
    // `npm pack` of a checkout without dev dependencies: nothing to patch.
    process.exit(0);
  }
  if (process.argv.includes('--check')) {
    if (isPatched(root)) process.exit(0);
    console.error(`${root} is not patched: run \`node scripts/patch-cdk8s-cli.cjs\` (npm ci does, unless --ignore-scripts)`);
    process.exit(1);
  }
  try {
    const changed = patchCli(root);
    if (changed.length > 0) console.log(`patched cdk8s-cli: ${changed.join(', ')} (scripts/patch-cdk8s-cli.cjs)`);
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
