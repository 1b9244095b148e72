/**
 * The bundled agent (`node .build/agent/agent.js uploader`, as in the image) against s3rver:
 * SIGKILL in the middle of an upload and restart, readiness over HTTP, and a dump written by a JVM
 * running as another user, read with CAP_DAC_READ_SEARCH as the only capability.
 */
import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { AGENT_BUNDLE } from '../../../scripts/bundle-agent';
import { COMMANDS, ENV, HTTP, NODE_OPTIONS_BY_COMMAND, NODE_OPTIONS_ENV, OBJECT_METADATA, PATHS } from '../../../agent/src/contract';
import { makeHeapDump, makeLargeHprof, tinyHprof } from '../../support/jvm';
import { describeWithMountNs, startInMountNamespace, waitFor } from '../../support/mountns';
import { nativeProgram } from '../../support/native';
import { freePort, spawnTracked, TrackedProcess } from '../../support/procs';
import { disposeAll, getObjectSha256, S3Server, s3Env, sha256File, startS3Server } from '../../support/s3';
import { eventually, stampedKey } from './harness';
import { note } from '../../support/notes';

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

/** The uploader's env as the constructs set it, for this server, root and node, with small windows. */
function agentEnv(root: string, node: string, port: number, extraEnv: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    ...s3Env(s3),
    [ENV.nodeName]: node,
    [ENV.dumpRoot]: root,
    // the pod's emptyDir: next to the root, so a restart on the same root finds its journal
    [ENV.uploaderStateDir]: `${root}.state`,
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
}

async function startAgent(root: string, node: string, extraEnv: Record<string, string> = {}, wrap: string[] = []): Promise<Agent> {
  const port = await freePort();
  const env = agentEnv(root, node, port, extraEnv);
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

function getText(port: number, p: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
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
    const smallKey = stampedKey('proc/node-k/ns/other/java_pid1.hprof', statSync(small).mtimeMs);
    const bigKey = stampedKey('proc/node-k/ns/pod/big.hprof', statSync(big).mtimeMs);
    // files stay in place (as after a crash between verification and the move): S3 alone says what is done
    const env = { [ENV.uploadMultipartThresholdMb]: '8', [ENV.uploadConcurrency]: '1', [ENV.uploadPartSizeMb]: '8', [ENV.afterUpload]: 'keep' };
    const first = await startAgent(root, 'node-k', env);
    await eventually('the big upload in flight', () => first.logged('uploading').some((e) => e.key === bigKey), 30_000);
    await new Promise((r) => setTimeout(r, 500));
    first.proc.signal('SIGKILL');
    await first.proc.exited;
    expect(first.logged('uploaded and verified').map((e) => e.key)).toEqual([smallKey]);
    expect((await s3.listKeys('proc/node-k/')).filter((k) => !k.includes('.summary.'))).toEqual([smallKey]);

    const second = await startAgent(root, 'node-k', env);
    try {
      await eventually('the big dump after restart', () => second.logged('uploaded and verified').length === 1, 60_000);
      expect(second.logged('uploaded and verified')[0].key).toBe(bigKey);
      expect(second.logged('already in S3: skipped').map((e) => e.key)).toEqual([smallKey]);
      expect((await getObjectSha256(s3, bigKey)).sha256).toBe(digest);
      expect(await sha256File(big)).toBe(digest);
      expect((await s3.listKeys('proc/node-k/')).filter((k) => !k.includes('.summary.')).sort()).toEqual([smallKey, bigKey].sort());
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

  describe('a dump written by another user (JVM as uid 1000 in its own 0700 folder, file mode 0600)', () => {
    let dumpBytes: Buffer;
    beforeAll(async () => {
      const dir = path.join(tmp, 'jvm-1000');
      mkdirSync(dir, { recursive: true });
      chownSync(dir, 1000, 1000);
      dumpBytes = readFileSync(await makeHeapDump(dir, { uid: 1000, gid: 1000, fileName: 'java_pid1.hprof' }));
    }, 120_000);

    /** `<root>/ns/pod/java_pid1.hprof` as wait-ready and HotSpot make them: pod folder uid 1000 0700, dump 0600. */
    function tenantTree(name: string): { root: string; file: string } {
      const root = path.join(tmp, name);
      const dir = path.join(root, 'ns', 'pod');
      mkdirSync(dir, { recursive: true });
      chmodSync(root, 0o1777);
      chmodSync(path.join(root, 'ns'), 0o1777);
      chownSync(dir, 1000, 1000);
      chmodSync(dir, 0o700);
      const file = path.join(dir, 'java_pid1.hprof');
      writeFileSync(file, dumpBytes, { mode: 0o600 });
      chownSync(file, 1000, 1000);
      return { root, file };
    }
    const caps = (...c: string[]) => {
      const list = c.map((x) => `+${x}`).join(',');
      return ['setpriv', `--inh-caps=-all${list ? `,${list}` : ''}`, `--ambient-caps=-all${list ? `,${list}` : ''}`, `--bounding-set=-all${list ? `,${list}` : ''}`, '--'];
    };

    it('without any capability the uploader cannot even see it: one error naming the missing capability (negative control)', async () => {
      const { root } = tenantTree('nocap');
      const agent = await startAgent(root, 'node-nocap', {}, caps());
      try {
        await eventually('the agent running (setpriv has exec-ed node)', () => agent.lines().length > 0, 10_000);
        expect(capEff(agent.proc.pid)).toBe(0n);
        await eventually('a permission error', () => agent.lines().some((e) => e.level === 'error'), 15_000);
        await new Promise((r) => setTimeout(r, 2000));
        expect(await s3.listKeys('proc/node-nocap/')).toEqual([]);
        // A folder we cannot read is not an S3 problem: still ready, one line, and the hint names what is missing.
        const errors = agent.lines().filter((e) => e.level === 'error');
        expect(errors).toHaveLength(1);
        expect(String(errors[0].hint)).toContain('CAP_DAC_READ_SEARCH');
        expect(await getStatus(agent.port, HTTP.ready)).toBe(200);
      } finally {
        await agent.proc.dispose();
      }
    });

    it('with the manifest\'s capabilities (DAC_READ_SEARCH + DAC_OVERRIDE): uploaded intact and moved into the archive', async () => {
      const { root, file } = tenantTree('cap');
      const key = stampedKey('proc/node-cap/ns/pod/java_pid1.hprof', statSync(file).mtimeMs);
      const agent = await startAgent(root, 'node-cap', {}, caps('dac_read_search', 'dac_override'));
      try {
        await eventually('the agent running (setpriv has exec-ed node)', () => agent.lines().length > 0, 10_000);
        expect(capEff(agent.proc.pid)).toBe((1n << 1n) | (1n << 2n)); // CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        await eventually('archived', () => agent.logged('verified dump moved to the archive').length === 1, 30_000);
        const obj = await getObjectSha256(s3, key);
        expect(obj.sha256).toBe(createHash('sha256').update(dumpBytes).digest('hex'));
        expect(obj.metadata[OBJECT_METADATA.complete]).toBe('true');
        expect(existsSync(file)).toBe(false);
        const archived = readFileSync(path.join(root, PATHS.archiveDir, 'ns', 'pod', key.split('/').pop()!));
        expect(archived.equals(dumpBytes)).toBe(true); // (toEqual on 17 MB buffers walks them byte by byte)
      } finally {
        await agent.proc.dispose();
      }
    });

    it('archive configured but DAC_OVERRIDE dropped (a hand-edited SCC): uploaded, kept in place, one error that names the move, not an upload failure', async () => {
      const { root, file } = tenantTree('nooverride');
      const key = stampedKey('proc/node-noov/ns/pod/java_pid1.hprof', statSync(file).mtimeMs);
      const agent = await startAgent(root, 'node-noov', {}, caps('dac_read_search'));
      try {
        await eventually('the agent running (setpriv has exec-ed node)', () => agent.lines().length > 0, 10_000);
        await eventually('the upload', () => agent.logged('uploaded and verified').length === 1, 20_000);
        expect((await getObjectSha256(s3, key)).sha256).toBe(createHash('sha256').update(dumpBytes).digest('hex'));
        await eventually('the failed move said', () => agent.lines().some((e) => e.level === 'error'), 10_000);
        // the move is retried only after the slow backoff (60 s): in the next 2.5 s, no second attempt and no second line
        await new Promise((r) => setTimeout(r, 2500));
        const errors = agent.lines().filter((e) => e.level === 'error');
        expect(errors).toEqual([expect.objectContaining({
          msg: 'a verified dump could not be moved out of its folder (it stays there; retrying slowly)', cause: 'EACCES', key,
        })]);
        expect(existsSync(file)).toBe(true);
        const metrics = await getText(agent.port, HTTP.metrics);
        expect(metrics).toMatch(/^heapdump_uploader_settle_errors_total\{[^}]*reason="EACCES"[^}]*\} 1$/m);
        expect(metrics).toMatch(/^heapdump_uploader_upload_failures_total\{[^}]*\} 0$/m);
        expect(await getStatus(agent.port, HTTP.ready)).toBe(200);
      } finally {
        await agent.proc.dispose();
      }
    });

    it('read-only (AFTER_UPLOAD=keep) with CAP_DAC_READ_SEARCH only: uploaded intact, left in place', async () => {
      const { root, file } = tenantTree('readonly');
      const key = stampedKey('proc/node-ro/ns/pod/java_pid1.hprof', statSync(file).mtimeMs);
      const agent = await startAgent(root, 'node-ro', { [ENV.afterUpload]: 'keep', [ENV.retentionMaxAge]: '0', [ENV.retentionMaxBytes]: '0' }, caps('dac_read_search'));
      try {
        await eventually('the agent running (setpriv has exec-ed node)', () => agent.lines().length > 0, 10_000);
        expect(capEff(agent.proc.pid)).toBe(1n << 2n); // CAP_DAC_READ_SEARCH only
        await eventually('the upload', () => agent.logged('uploaded and verified').length === 1, 20_000);
        expect((await getObjectSha256(s3, key)).sha256).toBe(createHash('sha256').update(dumpBytes).digest('hex'));
        await new Promise((r) => setTimeout(r, 1500));
        expect(existsSync(file)).toBe(true);
        expect(agent.lines().filter((e) => e.level === 'error')).toEqual([]);
      } finally {
        await agent.proc.dispose();
      }
    });
  });

  it('a tenant swapping a FIFO onto its dump\'s name, nonstop: other dumps keep flowing, SIGTERM ends the process at once', async () => {
    const root = path.join(tmp, 'fifo');
    const podA = path.join(root, 'team-a', 'app-a');
    mkdirSync(podA, { recursive: true });
    chmodSync(root, 0o1777);
    chownSync(podA, 2001, 2001);
    writeFileSync(path.join(podA, 'java_pid1.hprof'), tinyHprof('tenant A'), { mode: 0o600 });
    execFileSync('mkfifo', [path.join(podA, 'pipe')]);
    for (const f of ['java_pid1.hprof', 'pipe']) chownSync(path.join(podA, f), 2001, 2001);
    const exchange = await nativeProgram('exchange');
    const agent = await startAgent(root, 'node-fifo', { [ENV.shutdownTimeout]: '10' });
    try {
      await eventually('the loop started', () => agent.logged('uploader started').length === 1, 15_000);
      const attacker = spawnTracked('setpriv', ['--reuid=2001', '--regid=2001', '--clear-groups', '--', exchange, '8000',
        path.join(podA, 'java_pid1.hprof'), path.join(podA, 'pipe')]);
      // meanwhile another team's dump appears and must arrive as if nothing happened
      await new Promise((r) => setTimeout(r, 1500));
      const podB = path.join(root, 'team-b', 'app-b');
      mkdirSync(podB, { recursive: true });
      writeFileSync(path.join(podB, 'java_pid1.hprof'), tinyHprof('tenant B'));
      const keyB = stampedKey('proc/node-fifo/team-b/app-b/java_pid1.hprof', statSync(path.join(podB, 'java_pid1.hprof')).mtimeMs);
      await eventually('B\'s dump during the attack', async () => (await s3.listKeys('proc/node-fifo/')).includes(keyB), 15_000);
      const { code } = await attacker.exited;
      expect(code).toBe(0);
      note(`FIFO swap attack: ${/swaps=(\d+)/.exec(attacker.stdout.join(''))?.[1]} swaps; B's dump arrived during it`);
      expect(attacker.exitInfo()).toBeDefined();
      const t0 = Date.now();
      agent.proc.signal('SIGTERM');
      const exit = await agent.proc.exited;
      expect({ code: exit.code, fast: Date.now() - t0 < 5_000 }).toEqual({ code: 0, fast: true });
    } finally {
      await agent.proc.dispose();
    }
  }, 60_000);
});

describeWithMountNs('bundled agent: uploader over hung storage', () => {
  it('a dump whose reads never return (a stuck FUSE file, as a hung NFS server): other dumps flow; SIGTERM still ends the process within its deadline', async () => {
    const root = path.join(tmp, 'stuck');
    const stuckDir = path.join(root, 'team-s', 'app-s');
    const okDir = path.join(root, 'team-c', 'app-c');
    mkdirSync(stuckDir, { recursive: true });
    mkdirSync(okDir, { recursive: true });
    const stuckfs = await nativeProgram('stuckfs');
    const pidFile = path.join(tmp, 'stuckfs.pid');
    const port = await freePort();
    const ns = startInMountNamespace({
      setup: [
        `${stuckfs} ${stuckDir} 1048576 & echo $! > ${pidFile}`,
        `for i in $(seq 1 100); do grep -q ' ${stuckDir} ' /proc/self/mountinfo && break; sleep 0.05; done`,
      ].join('\n'),
      command: ['node', AGENT_BUNDLE, 'uploader'],
      env: agentEnv(root, 'node-stuck', port, { [ENV.fileReadTimeout]: '1', [ENV.shutdownTimeout]: '3' }),
    });
    try {
      await waitFor('the stuck read timed out', () => ns.events().some((e) => e.msg === 'cannot read a dump (local file kept, retrying slowly)' && String(e.cause).includes('EREADTIMEOUT')), 20_000);
      writeFileSync(path.join(okDir, 'java_pid1.hprof'), tinyHprof('healthy'));
      await waitFor('the healthy dump', () => ns.events().some((e) => e.msg === 'uploaded and verified' && String(e.key).includes('team-c/app-c/')), 20_000);
      // the stuck file is not read again while its first read has not returned (each would cost a thread)
      const t0 = Date.now();
      await ns.signalChild('SIGTERM');
      const code = await ns.childExit;
      expect(Date.now() - t0).toBeLessThan(3_000 + 3_000);
      expect(code).toBe(128 + 9); // it had to kill itself: a plain exit would wait for the stuck thread forever
      expect(ns.events()).toContainEqual(expect.objectContaining({ level: 'error', msg: 'stopped, but reads of the dump storage never returned: ending the process with SIGKILL' }));
    } finally {
      if (existsSync(pidFile)) {
        const pid = Number(readFileSync(pidFile, 'utf8'));
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await ns.stop();
    }
  }, 60_000);
});
