/**
 * main.ts as `npm run synth` runs it: bundled with esbuild, run with node, writing where cdk8s
 * tells it (CDK8S_OUTDIR). Checks the output equals dist/, and that a bad config file stops the
 * synth with one line naming the setting.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildSync } from 'esbuild';

const ROOT = path.resolve(__dirname, '..');
let work: string;
let bundle: string;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'main-test-'));
  bundle = path.join(work, 'main.js');
  buildSync({ entryPoints: [path.join(ROOT, 'main.ts')], bundle: true, platform: 'node', target: 'node20', outfile: bundle, logLevel: 'warning' });
  fs.copyFileSync(path.join(ROOT, 'lib', 'demo-app', 'Leak.java'), path.join(work, 'Leak.java'));
});

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

function runMain(config: unknown | undefined, outdir: string) {
  const env: NodeJS.ProcessEnv = { ...process.env, CDK8S_OUTDIR: outdir };
  if (config !== undefined) {
    const file = path.join(work, `config-${Math.random().toString(36).slice(2)}.json`);
    fs.writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config));
    env.PIPELINE_CONFIG = file;
  }
  return spawnSync(process.execPath, [bundle], { cwd: ROOT, env, encoding: 'utf8', timeout: 30_000 });
}

const GOOD = JSON.parse(fs.readFileSync(path.join(ROOT, 'pipeline.config.json'), 'utf8'));

describe('main.ts', () => {
  test('synthesizes pipeline.config.json to exactly the committed dist/', () => {
    const out = path.join(work, 'out-default');
    const r = runMain(undefined, out);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    const files = fs.readdirSync(out).sort();
    expect(files).toEqual(fs.readdirSync(path.join(ROOT, 'dist')).sort());
    for (const f of files) expect(fs.readFileSync(path.join(out, f), 'utf8')).toBe(fs.readFileSync(path.join(ROOT, 'dist', f), 'utf8'));
  });

  test.each([
    ['an invalid bucket', { ...GOOD, uploader: { ...GOOD.uploader, bucket: 'Heap_Dumps' } }, /^test-config: Invalid uploader\.bucket: "Heap_Dumps" \(expected an S3 bucket name/],
    ['a non-numeric interval', { ...GOOD, uploader: { ...GOOD.uploader, watchIntervalSeconds: '60s' } }, /Invalid uploader\.watchIntervalSeconds: "60s" \(expected a whole number/],
    ['a missing agent image', { ...GOOD, agentImage: undefined }, /Invalid agentImage: undefined \(missing\)/],
    ['credentials in the config file', { ...GOOD, uploader: { ...GOOD.uploader, credentials: { secretValues: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI' } } } },
      /Invalid uploader\.credentials\.secretValues: "<redacted>" \(expected no credentials in a config file/],
    ['malformed JSON', '{ "agentImage": ', /JSON/],
  ])('fails with one line on %s, writing nothing', (_name, config, message) => {
    const out = path.join(work, `out-bad-${Math.random().toString(36).slice(2)}`);
    const r = runMain(config, out);
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0].replace(/^config-\w+\.json/, 'test-config')).toMatch(message);
    expect(r.stderr).not.toContain('wJalrXUtnFEMI');
    expect(r.stderr).not.toContain('AKIAIOSFODNN7EXAMPLE');
    expect(fs.existsSync(out)).toBe(false);
  });

  test('prints the ReadWriteOnce warning and still synthesizes', () => {
    const out = path.join(work, 'out-rwo');
    const r = runMain({ ...GOOD, storage: { accessMode: 'ReadWriteOnce' } }, out);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^WARNING \[.*\] storage\.accessMode is ReadWriteOnce: .*multi-attach/m);
    expect(fs.readFileSync(path.join(out, fs.readdirSync(out)[0]), 'utf8')).toContain('- ReadWriteOnce');
  });
});
