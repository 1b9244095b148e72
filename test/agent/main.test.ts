/**
 * The bundled CLI (as the image runs it, output piped as in a pod: JSON): config errors, typo warnings,
 * runtime warnings. Help, version, text output at a terminal: test/agent/cli.test.ts.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AGENT_BUNDLE } from '../../scripts/bundle-agent';

function run(args: string[], env: Record<string, string>, nodeArgs: string[] = []) {
  const r = spawnSync('node', [...nodeArgs, AGENT_BUNDLE, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  return { code: r.status, stderr: r.stderr, lines, events: lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('agent CLI (bundle)', () => {
  /** [what, args, env, exit code, variable, problem]: every user-facing error of the CLI. */
  const FAILURES: Array<[string, string[], Record<string, string>, number, string, string]> = [
    ['an unknown option', ['--verbose', 'uploader'], {}, 2, 'argument', 'option "--verbose" is unknown: expected --help, --version, or a command: mount-guard, uploader, wait-ready, inject, api, analyzer'],
    ['an unknown option after the command', ['uploader', '--dry-run'], {}, 2, 'argument', 'option "--dry-run" is unknown: expected --help, --version, or a command: mount-guard, uploader, wait-ready, inject, api, analyzer'],
    ['an extra argument', ['uploader', 'now'], {}, 2, 'argument', 'argument "now" is unexpected: expected only a command (mount-guard, uploader, wait-ready, inject, api, analyzer); settings come from the environment (see --help)'],
    ['an unknown command', ['mountguard'], { NODE_NAME: 'n1' }, 2, 'command', 'command "mountguard" is invalid: expected one of mount-guard, uploader, wait-ready, inject, api, analyzer'],
    ['help for an unknown command', ['--help', 'uplaoder'], {}, 2, 'command', 'command "uplaoder" is invalid: expected one of mount-guard, uploader, wait-ready, inject, api, analyzer'],
    ['a missing command', [], {}, 2, 'command', 'command is missing: expected one of mount-guard, uploader, wait-ready, inject, api, analyzer'],
    ['a bad value', ['mount-guard'], { NODE_NAME: 'n1', KUBERNETES_SERVICE_HOST: '172.30.0.1', MOUNT_CHECK_INTERVAL: '30s' }, 2, 'MOUNT_CHECK_INTERVAL', 'MOUNT_CHECK_INTERVAL="30s" is invalid: expected a number of seconds > 0 and <= 3600'],
    ['a missing required variable', ['wait-ready'], {}, 2, 'NODE_NAME', 'NODE_NAME is missing: expected a Kubernetes name (RFC 1123 subdomain): at most 253 lowercase letters, digits, \'-\' and \'.\', starting and ending with a letter or digit'],
    ['a missing bucket', ['uploader'], { NODE_NAME: 'n1' }, 2, 'S3_BUCKET', 'S3_BUCKET is missing: expected an S3 bucket name: 3-63 lowercase letters, digits, \'.\' and \'-\', starting and ending with a letter or digit, not an IP address'],
    ['credentials in the endpoint URL (not echoed)', ['uploader'], { NODE_NAME: 'n1', S3_BUCKET: 'dumps', S3_ENDPOINT_URL: 'https://AKIDEXAMPLE:s3cr3t-value@s3.example.com' }, 2, 'S3_ENDPOINT_URL', 'S3_ENDPOINT_URL="https://<redacted>@s3.example.com" is invalid: expected an http:// or https:// URL without credentials, e.g. https://s3.example.com:9000'],
    ['a blank secret key (not echoed)', ['uploader'], { NODE_NAME: 'n1', S3_BUCKET: 'dumps', AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: ' \t ' }, 2, 'AWS_SECRET_ACCESS_KEY', 'AWS_SECRET_ACCESS_KEY is invalid: expected a non-empty string'],
    ['a secret key without its id (not echoed)', ['uploader'], { NODE_NAME: 'n1', S3_BUCKET: 'dumps', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' }, 2, 'AWS_ACCESS_KEY_ID', 'AWS_ACCESS_KEY_ID is missing: expected it to be set because AWS_SECRET_ACCESS_KEY is set (set both, or neither to use the SDK default credential chain)'],
    ['a key id without its secret', ['uploader'], { NODE_NAME: 'n1', S3_BUCKET: 'dumps', AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE' }, 2, 'AWS_SECRET_ACCESS_KEY', 'AWS_SECRET_ACCESS_KEY is missing: expected it to be set because AWS_ACCESS_KEY_ID is set (set both, or neither to use the SDK default credential chain)'],
  ];

  test.each(FAILURES)('fails on %s: one JSON error line, exit 2, no stack trace', (_what, args, env, code, variable, problem) => {
    const r = run(args, env);
    expect(r.code).toBe(code);
    expect(r.stderr).toBe('');
    expect(r.events).toEqual([expect.objectContaining({ level: 'error', msg: 'invalid configuration', variable, problem })]);
    expect(r.lines.join('\n')).not.toMatch(/\n\s+at |s3cr3t-value|wJalrXUtnFEMI|\\t/);
  });

  test('typos are warned about (before validation, so they explain a missing value)', () => {
    const r = run(['uploader'], { NODE_NAME: 'n1', S3_BUKET: 'dumps', WATCH_INTERVALL: '5' });
    expect(r.code).toBe(2);
    expect(r.events.map((e) => [e.level, e.msg, e.variable, e.suggestion ?? e.problem])).toEqual([
      ['warn', 'unknown variable looks like a typo', 'S3_BUKET', 'S3_BUCKET'],
      ['warn', 'unknown variable looks like a typo', 'WATCH_INTERVALL', 'WATCH_INTERVAL'],
      ['error', 'invalid configuration', 'S3_BUCKET', 'S3_BUCKET is missing: expected an S3 bucket name: 3-63 lowercase letters, digits, \'.\' and \'-\', starting and ending with a letter or digit, not an IP address'],
    ]);
  });

  test('the secret key never appears in output', () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const r = run(['uploader'], { NODE_NAME: 'n1', S3_BUCKET: 'dumps', AWS_SECRET_ACCESS_KEY: secret });
    expect(r.code).toBe(2);
    expect(r.events[0]).toMatchObject({ variable: 'AWS_ACCESS_KEY_ID' });
    expect(r.lines.join('\n') + r.stderr).not.toContain(secret);
  });

  test('runtime warnings (e.g. an SDK NodeVersionSupportWarning) become warn events on stdout, not raw stderr', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-warn-'));
    try {
      const preload = path.join(dir, 'warn.js');
      fs.writeFileSync(preload, "process.emitWarning('node 20 support ends soon', 'NodeVersionSupportWarning');\n");
      const r = run(['wait-ready'], { NODE_NAME: 'n1', DUMP_ROOT: dir, WAIT_TIMEOUT: '0.1', AGENT_HTTP_HOST: '127.0.0.1', AGENT_HTTP_PORT: '0' }, ['--require', preload]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('');
      expect(r.events).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'runtime warning', warning: 'NodeVersionSupportWarning', detail: 'node 20 support ends soon' }));
      expect(r.events).toContainEqual(expect.objectContaining({ level: 'error', msg: 'timed out waiting for the mount guard' }));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('deprecation warnings (a dependency\'s url.parse() on Node 24) are for maintainers: debug, once per code, never a warning', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-deprecation-'));
    try {
      const preload = path.join(dir, 'deprecate.js');
      fs.writeFileSync(preload, [
        "process.emitWarning('url.parse() behavior is not standardized', 'DeprecationWarning', 'DEP0169');",
        "process.emitWarning('url.parse() behavior is not standardized', 'DeprecationWarning', 'DEP0169');",
        "process.emitWarning('The punycode module is deprecated.', 'DeprecationWarning', 'DEP0040');",
      ].join('\n'));
      const env = { NODE_NAME: 'n1', DUMP_ROOT: dir, WAIT_TIMEOUT: '0.1', AGENT_HTTP_HOST: '127.0.0.1', AGENT_HTTP_PORT: '0' };
      const atInfo = run(['wait-ready'], env, ['--require', preload]);
      expect(atInfo.stderr).toBe('');
      expect(atInfo.events.filter((e) => /runtime/.test(String(e.msg)))).toEqual([]);
      const atDebug = run(['wait-ready'], { ...env, LOG_LEVEL: 'debug' }, ['--require', preload]);
      expect(atDebug.stderr).toBe('');
      expect(atDebug.events.filter((e) => /runtime/.test(String(e.msg))).map((e) => ({ level: e.level, code: e.code }))).toEqual([
        { level: 'debug', code: 'DEP0169' },
        { level: 'debug', code: 'DEP0040' },
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('HTTP port already in use: logged, exit 1', async () => {
    const net = await import('net');
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    try {
      const port = (srv.address() as { port: number }).port;
      const r = run(['wait-ready'], { NODE_NAME: 'n1', AGENT_HTTP_HOST: '127.0.0.1', AGENT_HTTP_PORT: String(port) });
      expect(r.code).toBe(1);
      expect(r.events).toContainEqual(expect.objectContaining({ level: 'error', msg: 'http server failed to start', port }));
    } finally {
      srv.close();
    }
  });
});

describe('bundle layout (memory: the guard must not parse the uploader)', () => {
  // The uploader and the analyzer share one lazily compiled module (agent/src/s3-commands.ts): the SDK once.
  const text = fs.readFileSync(AGENT_BUNDLE, 'utf8');

  test('the AWS SDK is not in the bundle as code, only inside the lazily compiled text of the S3 commands (uploader, api, analyzer)', () => {
    expect(text).toContain('lazy-module:./s3-commands');
    expect(text).not.toMatch(/^\/\/ node_modules\/@aws-sdk\//m);
    expect(text).not.toMatch(/^\/\/ agent\/src\/uploader\//m);
    // of the API server, only what every command's config resolution needs (its variables, the session key file)
    expect([...new Set(text.match(/^\/\/ agent\/src\/api\/.*$/gm))].sort()).toEqual(['// agent/src/api/config.ts', '// agent/src/api/web/session.ts']);
    expect(text.length).toBeLessThan(1024 * 1024);
  });

  test('the uploader command still loads from the embedded text and stops cleanly on SIGTERM', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-uploader-'));
    const { spawn } = await import('child_process');
    const child = spawn('node', [AGENT_BUNDLE, 'uploader'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NODE_NAME: 'n1', S3_BUCKET: 'dumps', S3_ENDPOINT_URL: 'http://127.0.0.1:9', DUMP_ROOT: dir, AGENT_HTTP_HOST: '127.0.0.1', AGENT_HTTP_PORT: '0', AWS_ACCESS_KEY_ID: 'id', AWS_SECRET_ACCESS_KEY: 'not-a-real-secret' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const exit = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    try {
      // The uploader's own component logs once its module was compiled and started.
      for (let i = 0; i < 100 && !/"component":"uploader"/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
      expect(out).toMatch(/"component":"uploader"/);
      // Let its start-up S3 check finish first: a SIGTERM during that check currently waits for
      // the shutdown deadline (an uploader issue, reported; not what this test is about).
      await new Promise((r) => setTimeout(r, 1500));
      child.kill('SIGTERM');
      expect(await exit).toBe(0);
      expect(out).not.toMatch(/"msg":"command failed"/);
      expect(out).not.toContain('not-a-real-secret');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
