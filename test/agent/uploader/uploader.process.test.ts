/**
 * The bundled agent (`node .build/agent/agent.js uploader`, as in the image) against s3rver:
 * SIGKILL in the middle of an upload and restart, readiness over HTTP, and a dump written by a JVM
 * running as another user, read with CAP_DAC_READ_SEARCH as the only capability.
 */
import { chmodSync, mkdirSync, readFileSync, mkdtempSync, rmSync, statSync } from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { AGENT_BUNDLE } from '../../../scripts/bundle-agent';
import { COMMANDS, ENV, HTTP, NODE_OPTIONS_BY_COMMAND, NODE_OPTIONS_ENV, OBJECT_METADATA } from '../../../agent/src/contract';
import { makeHeapDump, makeLargeHprof } from '../../support/jvm';
import { freePort, spawnTracked, TrackedProcess } from '../../support/procs';
import { disposeAll, getObjectSha256, S3Server, s3Env, sha256File, startS3Server } from '../../support/s3';
import { eventually } from './harness';

let s3: S3Server;
let tmp: string;

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'uploader-proc-test-'));
  chmodSync(tmp, 0o755); // a JVM running as another user must reach its dump dir
  s3 = await startS3Server('s3rver');
}, 60_000);

afterAll(async () => {
  await disposeAll();
  rmSync(tmp, { recursive: true, force: true });
});

interface Agent {
  proc: TrackedProcess;
  port: number;
  lines(): Array<Record<string, unknown>>;
  logged(msg: string): Array<Record<string, unknown>>;
}

async function startAgent(root: string, node: string, extraEnv: Record<string, string> = {}, wrap: string[] = []): Promise<Agent> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    ...s3Env(s3),
    [ENV.nodeName]: node,
    [ENV.dumpRoot]: root,
    [ENV.httpHost]: '127.0.0.1',
    [ENV.httpPort]: String(port),
    [ENV.s3Prefix]: 'proc/',
    [ENV.watchInterval]: '1',
    [ENV.fileStableTime]: '3',
    [ENV.completeQuietTime]: '0.3',
    // as the constructs run it
    ...(NODE_OPTIONS_BY_COMMAND[COMMANDS.uploader] ? { [NODE_OPTIONS_ENV]: NODE_OPTIONS_BY_COMMAND[COMMANDS.uploader] } : {}),
    ...extraEnv,
  };
  const cmd = wrap.length ? wrap[0] : 'node';
  const args = [...wrap.slice(1), ...(wrap.length ? ['node'] : []), AGENT_BUNDLE, 'uploader'];
  const proc = spawnTracked(cmd, args, { env, maxLines: 100_000 });
  const parse = () =>
    proc.stdout.flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  return { proc, port, lines: parse, logged: (msg) => parse().filter((e) => e.msg === msg) };
}

/** The effective capability set of a running process. */
function capEff(pid: number): bigint {
  const m = /CapEff:\s+([0-9a-f]+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no CapEff in /proc/${pid}/status`);
  return BigInt(`0x${m[1]}`);
}

function getStatus(port: number, p: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}

describe('bundled agent: uploader', () => {
  it('SIGKILL during an upload, restart: the dump arrives exactly once, intact; the rest is not uploaded twice', async () => {
    const root = path.join(tmp, 'kill');
    // the small dump is older, so it goes first; then the big one is in flight when we kill
    const small = path.join(root, 'ns', 'other', 'java_pid1.hprof');
    mkdirSync(path.dirname(small), { recursive: true });
    await makeLargeHprof(small, 2 ** 20);
    const big = path.join(root, 'ns', 'pod', 'big.hprof');
    mkdirSync(path.dirname(big), { recursive: true });
    await makeLargeHprof(big, 300 * 2 ** 20);
    const digest = await sha256File(big);
    const env = { [ENV.uploadMultipartThresholdMb]: '8', [ENV.uploadConcurrency]: '1', [ENV.uploadPartSizeMb]: '8' };
    const first = await startAgent(root, 'node-k', env);
    await eventually('the big upload in flight', () => first.logged('uploading').some((e) => e.key === 'proc/node-k/ns/pod/big.hprof'), 30_000);
    await new Promise((r) => setTimeout(r, 500));
    first.proc.signal('SIGKILL');
    await first.proc.exited;
    expect(first.logged('uploaded and verified').map((e) => e.key)).toEqual(['proc/node-k/ns/other/java_pid1.hprof']);
    expect(await s3.listKeys('proc/node-k/')).toEqual(['proc/node-k/ns/other/java_pid1.hprof']);

    const second = await startAgent(root, 'node-k', env);
    try {
      await eventually('the big dump after restart', () => second.logged('uploaded and verified').length === 1, 60_000);
      expect(second.logged('uploaded and verified')[0].key).toBe('proc/node-k/ns/pod/big.hprof');
      expect(second.logged('already in S3: skipped').map((e) => e.key)).toEqual(['proc/node-k/ns/other/java_pid1.hprof']);
      expect((await getObjectSha256(s3, 'proc/node-k/ns/pod/big.hprof')).sha256).toBe(digest);
      expect(await sha256File(big)).toBe(digest);
      expect((await s3.listKeys('proc/node-k/')).sort()).toEqual(['proc/node-k/ns/other/java_pid1.hprof', 'proc/node-k/ns/pod/big.hprof']);
      expect(await getStatus(second.port, HTTP.ready)).toBe(200);
    } finally {
      await second.proc.dispose();
    }
    expect(second.proc.exitInfo()?.code).toBe(0);
  });

  it('SIGTERM while the start-up S3 check hangs: stops at once with exit 0, not at the shutdown deadline', async () => {
    const root = path.join(tmp, 'hang');
    mkdirSync(root, { recursive: true });
    // A loopback server that accepts connections and never answers: the HeadBucket hangs.
    const silent = net.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const endpoint = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    // Production's 60 s scan interval: the loop's sleep must not outlast the signal.
    const agent = await startAgent(root, 'node-h', { [ENV.s3EndpointUrl]: endpoint, [ENV.shutdownTimeout]: '20', [ENV.watchInterval]: '60' });
    try {
      await eventually('the loop started', () => agent.logged('uploader started').length === 1, 15_000);
      await new Promise((r) => setTimeout(r, 300));
      const t0 = Date.now();
      agent.proc.signal('SIGTERM');
      const exit = await agent.proc.exited;
      expect({ code: exit.code, fast: Date.now() - t0 < 5_000 }).toEqual({ code: 0, fast: true });
    } finally {
      await agent.proc.dispose();
      silent.close();
    }
  });

  it('a missing bucket: one error line, /readyz not ready, /healthz fine, no crash', async () => {
    const root = path.join(tmp, 'nobucket');
    mkdirSync(root, { recursive: true });
    const agent = await startAgent(root, 'node-nb', { [ENV.s3Bucket]: 'no-such-bucket' });
    try {
      await eventually('the error line', () => agent.lines().some((e) => e.level === 'error'), 15_000);
      await new Promise((r) => setTimeout(r, 2500));
      const errors = agent.lines().filter((e) => e.level === 'error');
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ cause: 'NoSuchBucket', bucket: 'no-such-bucket' });
      expect(await getStatus(agent.port, HTTP.ready)).toBe(503);
      expect(await getStatus(agent.port, HTTP.health)).toBe(200);
      expect(agent.proc.exitInfo()).toBeUndefined();
      // nothing on stderr but V8's own start-up notice about --jitless (no stack trace, no raw SDK warning)
      expect(agent.proc.stderr.filter((l) => l !== '' && !/^Warning: disabling flag --expose_wasm/.test(l))).toEqual([]);
    } finally {
      await agent.proc.dispose();
    }
  });

  describe('a dump written by another user (JVM as uid 1000, file mode 0600)', () => {
    let root: string;
    let dumpFile: string;
    beforeAll(async () => {
      root = path.join(tmp, 'otheruser');
      const dir = path.join(root, 'ns', 'pod');
      mkdirSync(dir, { recursive: true });
      chmodSync(root, 0o755);
      chmodSync(path.join(root, 'ns'), 0o755);
      dumpFile = await makeHeapDump(dir, { uid: 1000, gid: 1000, fileName: 'java_pid1.hprof' });
      const st = statSync(dumpFile);
      expect(st.uid).toBe(1000);
      expect(st.mode & 0o777).toBe(0o600);
    }, 120_000);

    // uid 0 but no capabilities at all: the file is unreadable (the negative control)
    const noCaps = ['setpriv', '--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all', '--'];
    // uid 0 with only CAP_DAC_READ_SEARCH (what the uploader's SCC grants)
    const readSearch = ['setpriv', '--inh-caps=-all,+dac_read_search', '--ambient-caps=-all,+dac_read_search', '--bounding-set=-all,+dac_read_search', '--'];

    it('without any capability the uploader cannot read it (negative control)', async () => {
      const agent = await startAgent(root, 'node-nocap', {}, noCaps);
      try {
        await eventually('the agent running (setpriv has exec-ed node)', () => agent.lines().length > 0, 10_000);
        expect(capEff(agent.proc.pid)).toBe(0n);
        await eventually('a permission error', () => agent.lines().some((e) => e.level === 'error' && String(e.cause).includes('EACCES')), 15_000);
        expect(await s3.listKeys('proc/node-nocap/')).toEqual([]);
        // An unreadable file is not an S3 problem: still ready, and the hint names what is missing.
        const errors = agent.lines().filter((e) => e.level === 'error');
        expect(errors).toHaveLength(1);
        expect(String(errors[0].hint)).toContain('CAP_DAC_READ_SEARCH');
        expect(await getStatus(agent.port, HTTP.ready)).toBe(200);
      } finally {
        await agent.proc.dispose();
      }
    });

    it('with CAP_DAC_READ_SEARCH only, it is uploaded intact', async () => {
      const agent = await startAgent(root, 'node-cap', {}, readSearch);
      try {
        await eventually('the agent running (setpriv has exec-ed node)', () => agent.lines().length > 0, 10_000);
        expect(capEff(agent.proc.pid)).toBe(1n << 2n); // CAP_DAC_READ_SEARCH only
        await eventually('the upload', () => agent.logged('uploaded and verified').length === 1, 20_000);
        const obj = await getObjectSha256(s3, 'proc/node-cap/ns/pod/java_pid1.hprof');
        expect(obj.sha256).toBe(await sha256File(dumpFile));
        expect(obj.metadata[OBJECT_METADATA.complete]).toBe('true');
      } finally {
        await agent.proc.dispose();
      }
    });
  });
});
