/**
 * The bundled agent's command line as a person meets it: help and version in every spelling, help text
 * that fits 100 columns and covers every command and variable, problems as plain text on stderr at a
 * terminal (a real pseudo-terminal from util-linux `script`) and as JSON lines on stdout when piped
 * (a pod), every problem of a run at once, and the mount guard refusing to run outside a pod.
 * (JSON error lines per problem, typo warnings, runtime warnings: test/agent/main.test.ts.)
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { COMMANDS } from '../../agent/src/contract';
import { envSettings } from '../../agent/src/settings';
import { AGENT_BUNDLE } from '../../scripts/bundle-agent';
import { REPO_ROOT } from '../support/fresh-clone';

const VERSION = (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const PATH_ONLY = { PATH: process.env.PATH ?? '/usr/bin:/bin' };

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [AGENT_BUNDLE, ...args], { env: { ...PATH_ONLY, ...env }, encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs the agent with its stdin, stdout and stderr on a pseudo-terminal (util-linux `script`). */
function runOnTerminal(args: string[], env: Record<string, string> = {}) {
  const command = [process.execPath, AGENT_BUNDLE, ...args].map((a) => `'${a}'`).join(' ');
  const r = spawnSync('script', ['--quiet', '--return', '--command', command, '/dev/null'], { env: { ...PATH_ONLY, ...env }, encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, output: r.stdout.replace(/\r\n/g, '\n') };
}

const widest = (text: string) => Math.max(...text.split('\n').map((l) => l.length));
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('help', () => {
  test('--help, -h and help print the same text: usage, every command, exit codes; at most 100 columns', () => {
    const outs = [['--help'], ['-h'], ['help']].map((a) => run(a));
    for (const r of outs) expect({ code: r.code, stderr: r.stderr, same: r.stdout === outs[0].stdout }).toEqual({ code: 0, stderr: '', same: true });
    const text = outs[0].stdout;
    expect(widest(text)).toBeLessThanOrEqual(100);
    for (const c of Object.values(COMMANDS)) expect(text).toMatch(new RegExp(`^  ${c} +\\S`, 'm'));
    expect(text).toMatch(/^  inject +Serves the mutating admission webhook/m);
    expect(text).toMatch(/node agent\.js COMMAND --help/);
    expect(text).toMatch(/^Exit codes:\n  0  success.*\n  1  runtime failure(.|\n)*  2  bad configuration or usage/m);
    // Short enough to read: the variables are per command.
    expect(text.split('\n').length).toBeLessThan(60);
  });

  test.each(Object.values(COMMANDS))('%s --help and help %s: what it does and every variable it reads, with its default, within 100 columns', (command) => {
    const r = run([command, '--help']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(run(['help', command]).stdout).toBe(r.stdout);
    expect(run(['--help', command]).stdout).toBe(r.stdout);
    expect(widest(r.stdout)).toBeLessThanOrEqual(100);
    expect(r.stdout).toMatch(new RegExp(`^  ${command} +\\S`, 'm'));
    for (const [, s] of envSettings()) {
      const line = r.stdout.split('\n').find((l) => l.startsWith(`  ${s.env}  `));
      if (!(s.readBy ?? []).includes(command)) {
        expect({ env: s.env, line }).toEqual({ env: s.env, line: undefined });
        continue;
      }
      const shown = s.default !== undefined ? s.kind.env!.render(s.kind.fromProp(s.default)) || '""' : s.required ? '(required)' : '(unset)';
      expect({ env: s.env, line }).toEqual({ env: s.env, line: `  ${s.env}  ${shown}` });
    }
    // the other commands' descriptions are not repeated
    for (const other of Object.values(COMMANDS).filter((c) => c !== command)) expect(r.stdout).not.toMatch(new RegExp(`^  ${escapeRe(other)}  `, 'm'));
  });

  test('inject --help documents each INJECT_ variable', () => {
    const text = run(['inject', '--help']).stdout;
    for (const name of ['INJECT_PIPELINE_NAMESPACE', 'INJECT_HTTPS_PORT', 'INJECT_TLS_CERT_FILE', 'INJECT_TLS_KEY_FILE', 'INJECT_CERT_RELOAD_INTERVAL',
      'INJECT_MAX_BODY_BYTES', 'INJECT_POLICY', 'INJECT_AGENT_IMAGE', 'INJECT_IMAGE_PULL_POLICY', 'INJECT_DUMP_PATH', 'INJECT_LOG_LEVEL',
      'INJECT_WAIT_TIMEOUT', 'INJECT_GZIP_LEVEL', 'INJECT_ANNOTATION', 'INJECT_CONTAINERS_ANNOTATION']) {
      expect(text).toMatch(new RegExp(`^  ${name}  \\S+\\n      \\S`, 'm'));
    }
  });
});

test.each([['-v'], ['--version'], ['uploader', '--version'], ['mount-guard', '-v'], ['inject', '--version']])('%s %s prints the version', (...args) => {
  const r = run(args.filter((a) => a !== undefined));
  expect(r).toEqual({ code: 0, stdout: `heapdump-agent ${VERSION}\n`, stderr: '' });
});

describe('problems: every one at once, as text at a terminal and as JSON in a pod', () => {
  const BUCKET = 'S3_BUCKET is missing: expected an S3 bucket name';
  const NODE = 'NODE_NAME is missing: expected a Kubernetes name';

  test('at a terminal: one plain line per problem and where to read more, no JSON, exit 2', () => {
    const r = runOnTerminal(['uploader'], { WATCH_INTERVAL: '5s' });
    expect(r.code).toBe(2);
    const lines = r.output.split('\n').filter((l) => l !== '');
    expect(lines[0]).toBe('heapdump-agent uploader: 3 configuration errors:');
    expect(lines.slice(1, 4)).toHaveLength(3);
    expect(lines.slice(1, 4)).toEqual(expect.arrayContaining([
      expect.stringMatching(new RegExp(`^  ${BUCKET}`)),
      expect.stringMatching(new RegExp(`^  ${NODE}`)),
      '  WATCH_INTERVAL="5s" is invalid: expected a number of seconds between 1 and 86400',
    ]));
    expect(lines.slice(4)).toEqual(['See node agent.js uploader --help.']);
    expect(r.output).not.toContain('{');
  });

  test('at a terminal, a usage error is one plain line too', () => {
    const r = runOnTerminal(['upload']);
    expect(r.code).toBe(2);
    expect(r.output.split('\n').filter((l) => l !== '')).toEqual([
      'heapdump-agent: configuration error:',
      '  command "upload" is invalid: expected one of mount-guard, uploader, wait-ready, inject, api, analyzer',
      'See node agent.js --help.',
    ]);
  });

  test('LOG_FORMAT=text without a terminal: the same text, on stderr only', () => {
    const r = run(['uploader'], { NODE_NAME: 'n1', LOG_FORMAT: 'text' });
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(new RegExp(`^heapdump-agent uploader: configuration error:\\n  ${BUCKET}.*\\nSee node agent.js uploader --help.\\n$`));
  });

  test('piped (as in a pod): one JSON event per problem on stdout, nothing on stderr', () => {
    const r = run(['uploader'], { WATCH_INTERVAL: '5s' });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 2, stderr: '' });
    const events = r.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, string>);
    expect(events.map((e) => [e.level, e.msg, e.variable]).sort()).toEqual([
      ['error', 'invalid configuration', 'NODE_NAME'], ['error', 'invalid configuration', 'S3_BUCKET'], ['error', 'invalid configuration', 'WATCH_INTERVAL'],
    ]);
  });

  test('LOG_FORMAT=json at a terminal keeps JSON; a bad LOG_FORMAT is one of the problems', () => {
    const json = runOnTerminal(['wait-ready'], { LOG_FORMAT: 'json' });
    expect(json.code).toBe(2);
    expect(JSON.parse(json.output.trim())).toMatchObject({ level: 'error', msg: 'invalid configuration', variable: 'NODE_NAME' });
    const bad = run(['wait-ready'], { LOG_FORMAT: 'yaml' });
    expect(bad.code).toBe(2);
    expect(bad.stdout.split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { variable: string }).variable)).toEqual(['LOG_FORMAT', 'NODE_NAME']);
  });

  test('log lines of a running command are text at a terminal (time, level, component, message, fields)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-text-'));
    try {
      const r = runOnTerminal(['wait-ready'], { NODE_NAME: 'n1', DUMP_ROOT: dir, WAIT_TIMEOUT: '0.2', AGENT_HTTP_HOST: '127.0.0.1', AGENT_HTTP_PORT: '0' });
      expect(r.code).toBe(1);
      expect(r.output).toMatch(/^\d\d:\d\d:\d\d\.\d{3} ERROR wait-ready: timed out waiting for the mount guard command=wait-ready node=n1 missing=".+ is not a mount point; .+" waitedMs=\d+$/m);
      expect(r.output).not.toContain('{"time"');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('mount-guard by hand', () => {
  test('outside a pod it refuses (exit 2, one line) and mounts nothing, even as root with a real source and target', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-guard-'));
    try {
      fs.mkdirSync(path.join(dir, 'pv', 'n1'), { recursive: true });
      fs.mkdirSync(path.join(dir, 'target'));
      const before = fs.readFileSync('/proc/self/mountinfo', 'utf8');
      const r = run(['mount-guard'], { NODE_NAME: 'n1', MOUNT_SOURCE_ROOT: path.join(dir, 'pv'), MOUNT_TARGET: path.join(dir, 'target'), AGENT_HTTP_HOST: '127.0.0.1', AGENT_HTTP_PORT: '0' });
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 2, stderr: '' });
      const events = r.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, string>);
      expect(events).toEqual([expect.objectContaining({ variable: 'MOUNT_ALLOW_OUTSIDE_POD', problem: expect.stringMatching(/^mount-guard refuses to run outside a pod \(KUBERNETES_SERVICE_HOST is unset\).*MOUNT_ALLOW_OUTSIDE_POD=true/) })]);
      expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).toBe(before);
      expect(fs.readdirSync(path.join(dir, 'target'))).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
