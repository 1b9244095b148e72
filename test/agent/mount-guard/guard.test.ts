/**
 * The bundled mount guard (`node .build/agent/agent.js mount-guard`, as the image runs it) making
 * real bind mounts inside private mount namespaces; the tests break the mount from outside the
 * guard (nsenter into the same namespace) and watch it repair.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { COMMANDS, NODE_OPTIONS_BY_COMMAND } from '../../../agent/src/contract';
import { AGENT_BUNDLE } from '../../../scripts/bundle-agent';
import { kindOf } from '../../../agent/src/fs/pinned-dir';
import { describeWithMountNs, type NsProcess, startInMountNamespace, waitFor } from '../../support/mountns';
import { sleep, spawnTracked } from '../../support/procs';
import { note } from '../../support/notes';

const NODE = 'worker-1.example';
// The temp dir name has a space: mountinfo escapes it (\040), so the guard's parsing is exercised for real.
const INTERVAL_S = 0.5;

interface Guard {
  readonly ns: NsProcess;
  readonly dir: string;
  readonly source: string;
  readonly target: string;
  readonly port: number;
}

let dirs: string[] = [];
let running: NsProcess[] = [];

function guardDir(): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'guard dir-')));
  dirs.push(dir);
  fs.chmodSync(dir, 0o711); // tenants (other uids) reach pv/<node> below it
  fs.mkdirSync(path.join(dir, 'pv'));
  fs.mkdirSync(path.join(dir, 'target'));
  fs.mkdirSync(path.join(dir, 'other'));
  return dir;
}

interface StartOptions {
  /** Run the guard as PID 1 of its own PID namespace, as in a pod. */
  readonly pid1?: boolean;
  /** An existing directory from guardDir() (prepared by the test before the guard starts). */
  readonly dir?: string;
}

async function startGuard(setup = ':', intervalS = INTERVAL_S, env: Record<string, string> = {}, opts: StartOptions = {}): Promise<Guard> {
  const dir = opts.dir ?? guardDir();
  const ns = startInMountNamespace({
    setup: `cd '${dir}'\n${setup}`,
    command: [...(opts.pid1 ? ['unshare', '--pid', '--fork', '--kill-child'] : []), 'node', AGENT_BUNDLE, 'mount-guard'],
    env: {
      NODE_NAME: NODE,
      MOUNT_SOURCE_ROOT: path.join(dir, 'pv'),
      MOUNT_TARGET: path.join(dir, 'target'),
      MOUNT_CHECK_INTERVAL: String(intervalS),
      AGENT_HTTP_HOST: '127.0.0.1',
      AGENT_HTTP_PORT: '0',
      SHUTDOWN_TIMEOUT: '10',
      // The private mount namespace stands in for the pod (no KUBERNETES_SERVICE_HOST here).
      MOUNT_ALLOW_OUTSIDE_POD: 'true',
      // As the constructs run it.
      NODE_OPTIONS: NODE_OPTIONS_BY_COMMAND[COMMANDS.mountGuard] ?? '',
      ...env,
    },
  });
  running.push(ns);
  const port = await waitFor('the guard to listen', () => ns.events().find((e) => e.msg === 'http server listening')?.port as number | undefined, 10_000);
  return { ns, dir, source: path.join(dir, 'pv', NODE), target: path.join(dir, 'target'), port };
}

/** FSROOT of the top mount at the target, as util-linux's findmnt sees it in the namespace ('' = none). */
async function fsRootAtTarget(g: Guard): Promise<string> {
  const r = await g.ns.exec(`findmnt -J -o FSROOT --mountpoint '${g.target}'`);
  if (r.code !== 0) return ''; // findmnt exits 1 when nothing is mounted there
  const fss = (JSON.parse(r.stdout) as { filesystems: Array<{ fsroot: string }> }).filesystems;
  return fss[fss.length - 1].fsroot;
}

/** The marker as seen through the target inside the namespace. */
async function markerThroughTarget(g: Guard): Promise<Record<string, unknown> | undefined> {
  // Only a regular file (a planted FIFO would block cat, a symlink point anywhere).
  const m = `${g.target}/.ready`;
  const r = await g.ns.exec(`[ -f '${m}' ] && [ ! -L '${m}' ] && cat '${m}'`);
  if (r.code !== 0) return undefined;
  try {
    return JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    return undefined; // not (yet) the guard's marker
  }
}

/**
 * Unmount the target and remove its directory, as a node losing a hostPath would. The guard checks
 * and repairs all the while: a check that lands between the umount and the rmdir mounts again (the
 * rmdir then fails with EBUSY), which is the guard doing its job, so the pair is tried again.
 */
async function takeTargetAway(g: Guard, opts: { lazy?: boolean } = {}): Promise<{ code: number; stderr: string }> {
  const umount = opts.lazy ? 'umount -l' : 'umount';
  const r = await g.ns.exec(
    `for i in $(seq 1 50); do ${umount} '${g.target}' 2>/dev/null; err=$(rmdir '${g.target}' 2>&1) && exit 0; done; echo "$err" >&2; exit 1`,
  );
  return { code: r.code, stderr: r.stderr };
}

async function httpStatus(g: Guard, p: string): Promise<number> {
  return (await fetch(`http://127.0.0.1:${g.port}${p}`)).status;
}

async function metric(g: Guard, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${g.port}/metrics`)).text();
  const m = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`metric ${name} not found in:\n${text}`);
  return Number(m[2]);
}

/** Mounted correctly, marker right, ready: the full healthy state. `fsRoot`: where the source lies in its filesystem. */
async function healthy(g: Guard, fsRoot = g.source): Promise<boolean> {
  const marker = await markerThroughTarget(g);
  return (
    (await fsRootAtTarget(g)) === fsRoot &&
    marker?.node === NODE &&
    marker?.source === g.source &&
    marker?.target === g.target &&
    (await httpStatus(g, '/readyz')) === 200
  );
}

afterEach(async () => {
  for (const ns of running) await ns.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  running = [];
  dirs = [];
});

describeWithMountNs('mount guard (bundle, real bind mounts)', () => {
  test('fresh start: node directory created (01777), bind verified, marker written through the mount, ready', async () => {
    const g = await startGuard();
    await waitFor('healthy', () => healthy(g), 10_000);
    expect(fs.statSync(g.source).mode & 0o7777).toBe(0o1777);
    // The marker lives on the "PVC" (the source), written through the mount.
    const onDisk = JSON.parse(fs.readFileSync(path.join(g.source, '.ready'), 'utf8'));
    expect(onDisk).toEqual({
      node: NODE, source: g.source, target: g.target, since: expect.any(String), checkedAt: expect.any(String), checkIntervalMs: INTERVAL_S * 1000,
    });
    expect(Date.parse(onDisk.since)).toBeGreaterThan(Date.now() - 60_000);
    // root-owned, one link, 0644: the only kind of file a reader accepts
    const st = fs.lstatSync(path.join(g.source, '.ready'));
    expect({ file: st.isFile(), uid: st.uid, nlink: st.nlink, mode: st.mode & 0o7777 }).toEqual({ file: true, uid: 0, nlink: 1, mode: 0o644 });
    expect(fs.statSync(g.source).uid).toBe(0);
    // rewritten at every check (the write probe): the last check time moves
    await waitFor('a later check in the marker', () => Date.parse(JSON.parse(fs.readFileSync(path.join(g.source, '.ready'), 'utf8')).checkedAt) > Date.parse(onDisk.checkedAt), 5_000);
    expect(fs.readdirSync(g.source)).toEqual(['.ready']); // no temporary file left behind
    expect(await metric(g, 'heapdump_mount_guard_volume_writable')).toBe(1);
    // Outside the namespace nothing is mounted: the target is the empty directory.
    expect(fs.readdirSync(g.target)).toEqual([]);
    expect(await httpStatus(g, '/healthz')).toBe(200);
    expect(await metric(g, 'heapdump_mount_guard_mounted')).toBe(1);
    expect(await metric(g, 'heapdump_mount_guard_remounts_total')).toBe(0);
  });

  test('stale mount at start (busy): lazily unmounted, then the right bind is made', async () => {
    // A stale bind of another directory, kept busy by a process whose cwd is inside it.
    const g = await startGuard('touch other/stale-file\nmount --bind other target\n(cd target && exec sleep 3600) &\necho $! > holder.pid');
    try {
      await waitFor('healthy', () => healthy(g), 10_000);
      const stale = g.ns.events().find((e) => e.msg === 'stale mount removed at start');
      expect(stale).toMatchObject({ mounts: 1 });
      expect(g.ns.events().some((e) => e.msg === 'unmounted' && e.how === 'lazy')).toBe(true);
      const ls = await g.ns.exec(`ls -A '${g.target}'`);
      expect(ls.stdout.split('\n')).not.toContain('stale-file');
    } finally {
      const holder = Number(fs.readFileSync(path.join(g.dir, 'holder.pid'), 'utf8'));
      process.kill(holder, 'SIGKILL');
    }
  });

  test('mount removed from outside: remounted and marker back within one interval', async () => {
    const g = await startGuard('', 1);
    await waitFor('healthy', () => healthy(g), 10_000);
    const r = await g.ns.exec(`umount '${g.target}'`);
    expect(r).toMatchObject({ code: 0 });
    expect(await fsRootAtTarget(g)).toBe('');
    const t0 = Date.now();
    await waitFor('remount', async () => (await fsRootAtTarget(g)) === g.source && (await markerThroughTarget(g)) !== undefined, 5_000, 20);
    // One interval (1 s) plus the time for nsenter/findmnt polls.
    expect(Date.now() - t0).toBeLessThanOrEqual(1_000 + 400);
    await waitFor('healthy', () => healthy(g), 5_000);
    // the mount and marker are visible before the guard has counted the remount: its 'remounted' line comes after
    await waitFor('the remount done', () => g.ns.events().some((e) => e.msg === 'remounted'), 5_000);
    expect(await metric(g, 'heapdump_mount_guard_remounts_total')).toBe(1);
  });

  test('target replaced by a wrong mount (tmpfs, then a bind of another directory): detected and fixed', async () => {
    const g = await startGuard();
    await waitFor('healthy', () => healthy(g), 10_000);
    expect((await g.ns.exec(`umount '${g.target}' && mount -t tmpfs wrong '${g.target}'`)).code).toBe(0);
    expect(await fsRootAtTarget(g)).toBe('/');
    await waitFor('fixed after tmpfs', () => healthy(g), 5_000);
    // Same filesystem, wrong directory, stacked on top of the right bind: only the root path differs.
    expect((await g.ns.exec(`mount --bind '${g.dir}/other' '${g.target}'`)).code).toBe(0);
    expect(await fsRootAtTarget(g)).toBe(`${g.dir}/other`);
    await waitFor('fixed after wrong bind', () => healthy(g), 5_000);
    // the mount and marker are visible before the guard has counted the remount: its 'remounted' line comes after
    await waitFor('both remounts done', () => g.ns.events().filter((e) => e.msg === 'remounted').length === 2, 5_000);
    expect(g.ns.events().filter((e) => e.msg === 'mount lost or wrong, remounting').map((e) => e.reason)).toEqual([
      expect.stringMatching(/is device .* expected/),
      expect.stringMatching(/shows .*\/other of its filesystem, expected .*\/pv\//),
    ]);
    expect(await metric(g, 'heapdump_mount_guard_remounts_total')).toBe(2);
  });

  test('remount impossible: marker removed, /readyz 503; recovers once possible again', async () => {
    const g = await startGuard();
    await waitFor('healthy', () => healthy(g), 10_000);
    // Take the target away (it is a hostPath directory on a node): mount --bind has nowhere to go.
    expect(await takeTargetAway(g)).toMatchObject({ code: 0 });
    await waitFor('not ready', async () => (await httpStatus(g, '/readyz')) === 503, 5_000);
    expect(fs.existsSync(path.join(g.source, '.ready'))).toBe(false);
    const body = await (await fetch(`http://127.0.0.1:${g.port}/readyz`)).json();
    expect(body).toMatchObject({ ready: false, reason: expect.stringMatching(/^remount failed: /) });
    expect(await metric(g, 'heapdump_mount_guard_failures_total')).toBeGreaterThanOrEqual(1);
    expect(await metric(g, 'heapdump_mount_guard_mounted')).toBe(0);
    expect(await httpStatus(g, '/healthz')).toBe(200);
    expect((await g.ns.exec(`mkdir '${g.target}'`)).code).toBe(0);
    await waitFor('recovered', () => healthy(g), 5_000);
  });

  test('mounted but the marker cannot be written (immutable volume directory): not ready until it can', async () => {
    const g = await startGuard();
    await waitFor('healthy', () => healthy(g), 10_000);
    fs.rmSync(path.join(g.source, '.ready'));
    execFileSync('chattr', ['+i', g.source]); // even root cannot create files in it now
    try {
      await waitFor('not ready', async () => (await httpStatus(g, '/readyz')) === 503, 5_000);
      const body = await (await fetch(`http://127.0.0.1:${g.port}/readyz`)).json();
      expect(body).toMatchObject({ ready: false, reason: expect.stringMatching(/^marker write failed: .*EPERM/) });
      expect(await fsRootAtTarget(g)).toBe(g.source); // the mount itself is fine and left alone
      expect(await metric(g, 'heapdump_mount_guard_mounted')).toBe(0);
    } finally {
      execFileSync('chattr', ['-i', g.source]);
    }
    await waitFor('recovered', () => healthy(g), 5_000);
    expect(await metric(g, 'heapdump_mount_guard_remounts_total')).toBe(0);
  });

  test('the mount cannot be made at start: exit 1 naming the problem, no marker left', async () => {
    // A missing target directory is created (it lies below the node's /mnt); a FILE in its place
    // cannot be bind-mounted over by a directory.
    const g = await startGuard('rmdir target && touch target');
    expect(await g.ns.childExit).toBe(1);
    const failed = g.ns.events().find((e) => e.msg === 'command failed') as { error?: { message?: string } } | undefined;
    expect(failed?.error?.message).toMatch(/mount.*target/i);
    expect(fs.existsSync(path.join(g.source, '.ready'))).toBe(false);
  });

  test('a missing target directory (fresh node: only /mnt exists) is created and mounted', async () => {
    const g = await startGuard('rmdir target');
    await waitFor('healthy', () => healthy(g), 10_000);
    expect(fs.existsSync(path.join(g.source, '.ready'))).toBe(true);
    await g.ns.signalChild('SIGTERM');
    expect(await g.ns.childExit).toBe(0);
  });

  test('SIGTERM: marker removed first, then unmounted, exit 0', async () => {
    const g = await startGuard();
    await waitFor('healthy', () => healthy(g), 10_000);
    await g.ns.signalChild('SIGTERM');
    expect(await g.ns.childExit).toBe(0);
    expect(await fsRootAtTarget(g)).toBe('');
    expect(fs.existsSync(path.join(g.source, '.ready'))).toBe(false);
    const steps = g.ns.events().filter((e) => e.msg === 'shutdown step done').map((e) => e.step);
    expect(steps).toEqual(['remove marker', 'unmount']);
  });

  test('a second SIGTERM during shutdown is logged and ignored', async () => {
    // The real umount, behind a wrapper that takes 1 s: the shutdown is still running when the
    // second signal arrives.
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'slow-umount-'));
    dirs.push(bin);
    fs.writeFileSync(path.join(bin, 'umount'), '#!/bin/sh\nsleep 1\nexec /usr/bin/umount "$@"\n', { mode: 0o755 });
    const g = await startGuard(':', INTERVAL_S, { PATH: `${bin}:${process.env.PATH}` });
    await waitFor('healthy', () => healthy(g), 10_000);
    await g.ns.signalChild('SIGTERM');
    await waitFor('shutdown started', () => g.ns.events().some((e) => e.msg === 'shutdown step done'), 5_000);
    await g.ns.signalChild('SIGTERM');
    expect(await g.ns.childExit).toBe(0);
    expect(await fsRootAtTarget(g)).toBe('');
    expect(g.ns.events().filter((e) => e.msg === 'shutdown requested')).toHaveLength(1);
    expect(g.ns.events().filter((e) => e.msg === 'signal ignored: shutdown already in progress')).toHaveLength(1);
    expect(g.ns.events().filter((e) => e.msg === 'shutdown step done').map((e) => e.step)).toEqual(['remove marker', 'unmount']);
  });

  test('a shutdown that overruns SHUTDOWN_TIMEOUT is cut off: logged, then the process kills itself', async () => {
    // umount hangs for 30 s (it records its PID so the test can stop it).
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'hung-umount-'));
    dirs.push(bin);
    fs.writeFileSync(path.join(bin, 'umount'), `#!/bin/sh\necho $$ > '${bin}/pid'\nexec sleep 30\n`, { mode: 0o755 });
    const g = await startGuard(':', INTERVAL_S, { PATH: `${bin}:${process.env.PATH}`, SHUTDOWN_TIMEOUT: '0.5' });
    try {
      await waitFor('healthy', () => healthy(g), 10_000);
      const t0 = Date.now();
      await g.ns.signalChild('SIGTERM');
      expect(await g.ns.childExit).toBe(128 + 9); // SIGKILL, as the shell reports it
      expect(Date.now() - t0).toBeLessThan(5_000);
      expect(g.ns.events()).toContainEqual(expect.objectContaining({ level: 'error', msg: 'shutdown deadline exceeded, exiting', timeoutMs: 500 }));
      expect(fs.existsSync(path.join(g.source, '.ready'))).toBe(false); // the first step still ran
    } finally {
      const pidFile = path.join(bin, 'pid');
      if (fs.existsSync(pidFile)) process.kill(Number(fs.readFileSync(pidFile, 'utf8')), 'SIGKILL');
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Hostile tenants (issue 8): the tree below the node root is writable by every application uid.

/** A tenant's uid (real uid and gid, no supplementary groups), as an application pod runs. */
const TENANT = 2001;
const HOST_DATA = 'precious host data\n';

function asTenant(script: string, cwd: string, uid = TENANT): { status: number | null; stderr: string } {
  const r = spawnSync('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', 'sh', '-c', script], { cwd, encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

/** Names the guard moved things aside to: `.ready.<24 hex>.aside`. */
function asideEntries(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => /^\.ready\.[0-9a-f]{24}\.aside$/.test(n));
}

/** Sum of a metric's samples whose labels contain `labels` (e.g. `kind="dir"`), 0 when none. */
async function metricSum(g: Guard, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${g.port}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, 'gm'))) if ((m[1] ?? '').includes(labels)) sum += Number(m[2]);
  return sum;
}

async function readyzBody(g: Guard): Promise<{ ready: boolean; reason?: string }> {
  return (await fetch(`http://127.0.0.1:${g.port}/readyz`)).json() as Promise<{ ready: boolean; reason?: string }>;
}

/** The guard's marker as a consumer must accept it: a regular file, root-owned, one link, right content. */
function expectGuardMarker(g: Guard): void {
  const p = path.join(g.source, '.ready');
  const st = fs.lstatSync(p);
  expect({ file: st.isFile(), uid: st.uid, nlink: st.nlink }).toEqual({ file: true, uid: 0, nlink: 1 });
  expect(JSON.parse(fs.readFileSync(p, 'utf8'))).toMatchObject({ node: NODE, source: g.source, target: g.target });
}

/** Runs the bundled wait-ready once inside the guard's namespace, against the target. */
async function waitReadyOnce(g: Guard, timeoutS: number): Promise<{ code: number; events: Array<Record<string, unknown>> }> {
  const r = await g.ns.exec(
    `NODE_NAME=${NODE} DUMP_ROOT='${g.target}' WAIT_TIMEOUT=${timeoutS} AGENT_HTTP_HOST=127.0.0.1 AGENT_HTTP_PORT=0 node '${AGENT_BUNDLE}' wait-ready`,
  );
  const events = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code: r.code, events };
}

/**
 * A tenant that races the guard: plants directories and symlinks (to a host file) at `.ready` and at
 * every `*ready*` name it sees, and tries to rename or remove the guard's marker, until the stop
 * file appears. Prints its counts as JSON.
 */
const TENANT_LOOP = `
const fs = require('fs');
const path = require('path');
const [root, hostFile, stopFile] = process.argv.slice(2);
const n = { attempts: 0, planted: 0, markerTaken: 0 };
let names = ['.ready'];
for (let i = 0; ; i++) {
  if ((i & 255) === 0) {
    if (fs.existsSync(stopFile)) break;
    try { names = [...new Set(['.ready', ...fs.readdirSync(root).filter((x) => x.includes('ready'))])]; } catch {}
  }
  for (const name of names) {
    const p = path.join(root, name);
    n.attempts++;
    try { fs.mkdirSync(p); n.planted++; } catch {}
    n.attempts++;
    try { fs.symlinkSync(hostFile, p); n.planted++; } catch {}
  }
  const marker = path.join(root, '.ready');
  let st;
  try { st = fs.lstatSync(marker); } catch {}
  if (st && st.uid === 0) {
    n.attempts++;
    try { fs.renameSync(marker, path.join(root, 'stolen-' + i)); n.markerTaken++; } catch {}
    n.attempts++;
    try { fs.unlinkSync(marker); n.markerTaken++; } catch {}
  }
}
console.log(JSON.stringify(n));
`;

const healthyAt = (g: Guard, fsRoot: string) => healthy(g, fsRoot);
const asRoot = process.getuid?.() === 0;
const tenantTest = asRoot ? test : test.skip;
if (!asRoot) console.warn('SKIPPED hostile-tenant guard tests: they need root to run processes as other uids (setpriv)');

describeWithMountNs('mount guard against hostile tenants (real uids, real races)', () => {
  tenantTest.each(['dir', 'fifo', 'symlink'] as const)('%s planted at the marker name and at the old predictable temp name (guard is PID 1): moved aside, nothing followed, ready', async (kind) => {
    const dir = guardDir();
    const hostFile = path.join(dir, 'host-secret');
    fs.writeFileSync(hostFile, HOST_DATA, { mode: 0o644 });
    const source = path.join(dir, 'pv', NODE);
    fs.mkdirSync(source);
    fs.chmodSync(source, 0o1777); // as a previous guard left it
    const plant = { dir: 'mkdir', fifo: 'mkfifo', symlink: `ln -s '${hostFile}'` }[kind];
    // `..ready.1.tmp` is where the old guard wrote first: predictable, the guard being PID 1 in its pod.
    expect(asTenant(`${plant} .ready && ${plant} ..ready.1.tmp`, source)).toMatchObject({ status: 0 });

    const g = await startGuard(':', INTERVAL_S, {}, { pid1: true, dir });
    await waitFor('healthy', () => healthy(g), 10_000);
    expectGuardMarker(g);
    expect(fs.readFileSync(hostFile, 'utf8')).toBe(HOST_DATA);
    // moved aside (the entry itself: never followed, never deleted), the old temp name left as it was
    const aside = asideEntries(source);
    expect(aside).toHaveLength(1);
    const moved = fs.lstatSync(path.join(source, aside[0]));
    expect({ kind: kindOf(moved), uid: moved.uid }).toEqual({ kind, uid: TENANT });
    if (kind === 'symlink') expect(fs.readlinkSync(path.join(source, aside[0]))).toBe(hostFile);
    expect(kindOf(fs.lstatSync(path.join(source, '..ready.1.tmp')))).toBe(kind);
    expect(await metricSum(g, 'heapdump_mount_guard_planted_total', `kind="${kind}"`)).toBe(1);
    // a few more checks: still ready, still one warning for the one occurrence
    await sleep(3 * INTERVAL_S * 1000);
    expect(await healthy(g)).toBe(true);
    expect(g.ns.events().filter((e) => e.msg === 'foreign object at the marker name moved aside')).toEqual([
      expect.objectContaining({ level: 'warn', kind, uid: TENANT, movedTo: aside[0] }),
    ]);
    expect(fs.readFileSync(hostFile, 'utf8')).toBe(HOST_DATA);
  });

  tenantTest('a tenant loop racing the marker (at start, across many checks, and while the guard recovers from failures): the guard stays ready', async () => {
    const dir = guardDir();
    const hostFile = path.join(dir, 'host-secret');
    fs.writeFileSync(hostFile, HOST_DATA, { mode: 0o644 });
    const source = path.join(dir, 'pv', NODE);
    fs.mkdirSync(source);
    fs.chmodSync(source, 0o1777);
    const loop = path.join(dir, 'tenant-loop.js');
    fs.writeFileSync(loop, TENANT_LOOP, { mode: 0o644 });
    const stop = path.join(dir, 'stop');
    const tenant = spawnTracked('setpriv', [`--reuid=${TENANT}`, `--regid=${TENANT}`, '--clear-groups', process.execPath, loop, source, hostFile, stop]);
    try {
      await waitFor('the tenant to plant at .ready', () => fs.existsSync(path.join(source, '.ready')), 5_000, 10);
      const intervalS = 0.2;
      const g = await startGuard(':', intervalS, {}, { dir });
      await waitFor('healthy despite the tenant', () => healthy(g), 10_000);

      // steady state: ready at every poll, many checks (each rewrites the marker while the tenant races)
      const checks = new Set<string>();
      const notReady: number[] = [];
      const until = Date.now() + 6_000;
      while (Date.now() < until) {
        const status = await httpStatus(g, '/readyz');
        if (status !== 200) notReady.push(status);
        checks.add(String(JSON.parse(fs.readFileSync(path.join(source, '.ready'), 'utf8')).checkedAt));
        await sleep(25);
      }
      expect(notReady).toEqual([]);
      expect(checks.size).toBeGreaterThanOrEqual(15);

      // three failures that remove the marker (the name is free again, the tenant plants at once), each repaired
      for (let cycle = 0; cycle < 3; cycle++) {
        // lazy: a check may hold the mount open for an instant
        expect(await takeTargetAway(g, { lazy: true })).toMatchObject({ code: 0 });
        await waitFor('not ready', async () => (await httpStatus(g, '/readyz')) === 503, 5_000);
        await sleep(3 * intervalS * 1000);
        expect((await g.ns.exec(`mkdir '${g.target}'`)).code).toBe(0);
        await waitFor('recovered despite the tenant', () => healthy(g), 5_000);
      }
      fs.writeFileSync(stop, '');
      const exit = await tenant.exited;
      expect(exit.code).toBe(0);
      const counts = JSON.parse(tenant.stdout.find((l) => l.startsWith('{')) ?? '{}') as { attempts: number; planted: number; markerTaken: number };
      const moved = await metricSum(g, 'heapdump_mount_guard_planted_total');
      note(
        `tenant race: ${counts.attempts} attempts, ${counts.planted} objects planted, guard's marker taken ${counts.markerTaken} times; ` +
          `guard: ${checks.size} checks seen in 6 s, ${moved} planted objects moved aside, 3 failure/recovery cycles`,
      );
      expect(counts.attempts).toBeGreaterThan(10_000);
      expect(counts.markerTaken).toBe(0); // the sticky root protects the guard's file
      expect(moved).toBeGreaterThanOrEqual(1);
      expect(asideEntries(source)).toHaveLength(moved);
      expect(await healthy(g)).toBe(true);
      expectGuardMarker(g);
      expect(fs.readFileSync(hostFile, 'utf8')).toBe(HOST_DATA);
    } finally {
      fs.writeFileSync(stop, '');
      await tenant.dispose(2_000);
    }
  });

  test('a read-only volume: not ready within one check (reason, gauge, one log line), wait-ready refuses the stale marker; ready again once writable', async () => {
    // The PVC is a tmpfs here, so it can turn read-only as a whole (superblock), as a failing disk does.
    const g = await startGuard(`mount -t tmpfs -o size=16m,mode=0755 heapdump-pvc pv`);
    const healthy = (x: Guard) => healthyAt(x, `/${NODE}`);
    await waitFor('healthy', () => healthy(g), 10_000);
    expect((await waitReadyOnce(g, 5)).code).toBe(0);

    // 1. the guard's bind turns read-only
    expect((await g.ns.exec(`mount -o remount,bind,ro '${g.target}'`)).code).toBe(0);
    let t0 = Date.now();
    await waitFor('not ready', async () => (await httpStatus(g, '/readyz')) === 503, 5_000, 20);
    expect(Date.now() - t0).toBeLessThanOrEqual(INTERVAL_S * 1000 + 500);
    expect(await readyzBody(g)).toMatchObject({ ready: false, reason: expect.stringMatching(/^marker write failed: EROFS/) });
    expect(await metric(g, 'heapdump_mount_guard_volume_writable')).toBe(0);
    expect(await metric(g, 'heapdump_mount_guard_mounted')).toBe(0);
    await sleep(4 * INTERVAL_S * 1000);
    expect(g.ns.events().filter((e) => e.level === 'error' && e.msg === 'marker write failed')).toHaveLength(1);
    expect((await waitReadyOnce(g, 1)).code).toBe(1);
    expect((await g.ns.exec(`mount -o remount,bind,rw '${g.target}'`)).code).toBe(0);
    await waitFor('recovered', () => healthy(g), 5_000);
    expect(await metric(g, 'heapdump_mount_guard_volume_writable')).toBe(1);
    expect((await waitReadyOnce(g, 5)).code).toBe(0);

    // 2. the whole volume turns read-only: the marker cannot even be removed, it goes stale
    expect((await g.ns.exec(`mount -o remount,ro '${g.dir}/pv'`)).code).toBe(0);
    t0 = Date.now();
    await waitFor('not ready', async () => (await httpStatus(g, '/readyz')) === 503, 5_000, 20);
    expect(Date.now() - t0).toBeLessThanOrEqual(INTERVAL_S * 1000 + 500);
    // the tmpfs is mounted in the namespace only: read it through the holder's root
    const last = JSON.parse(fs.readFileSync(`/proc/${g.ns.holderPid}/root${g.source}/.ready`, 'utf8')) as { checkedAt: string; checkIntervalMs: number };
    // stale after 3 intervals + 5 s
    await waitFor('the marker to age', () => Date.now() - Date.parse(last.checkedAt) > 3 * last.checkIntervalMs + 5_000 + 200, 15_000, 200);
    const refused = await waitReadyOnce(g, 1);
    expect(refused.code).toBe(1);
    expect(refused.events.find((e) => e.msg === 'timed out waiting for the mount guard')?.missing).toMatch(/marker is stale: the guard's last check was \d+ s ago/);
    expect((await g.ns.exec(`mount -o remount,rw '${g.dir}/pv'`)).code).toBe(0);
    await waitFor('recovered', () => healthy(g), 5_000);
    expect((await waitReadyOnce(g, 5)).code).toBe(0);
    expect(g.ns.events().filter((e) => e.msg === 'recovered')).toHaveLength(2);
  });

  test('a symlink at the PVC node directory or at the target is refused: nothing followed, chmod-ed or mounted', async () => {
    const dir = guardDir();
    const hostDir = path.join(dir, 'host-dir');
    fs.mkdirSync(hostDir, { mode: 0o755 });
    fs.symlinkSync(hostDir, path.join(dir, 'pv', NODE));
    const g = await startGuard(':', INTERVAL_S, {}, { dir });
    expect(await g.ns.childExit).toBe(1);
    const failed = g.ns.events().find((e) => e.msg === 'command failed') as { error?: { message?: string } } | undefined;
    expect(failed?.error?.message).toBe(`the node directory on the PVC ${g.source} is a symlink (refused: never followed)`);
    expect(fs.statSync(hostDir).mode & 0o7777).toBe(0o755);
    expect(await fsRootAtTarget(g)).toBe('');

    const dir2 = guardDir();
    fs.rmdirSync(path.join(dir2, 'target'));
    fs.symlinkSync(path.join(dir2, 'other'), path.join(dir2, 'target'));
    const g2 = await startGuard(':', INTERVAL_S, {}, { dir: dir2 });
    expect(await g2.ns.childExit).toBe(1);
    const failed2 = g2.ns.events().find((e) => e.msg === 'command failed') as { error?: { message?: string } } | undefined;
    expect(failed2?.error?.message).toBe(`MOUNT_TARGET (the node directory) ${g2.target} is a symlink (refused: never followed)`);
    expect((await g2.ns.exec(`findmnt --mountpoint '${dir2}/other'`)).code).toBe(1); // nothing mounted where it points
  });

  tenantTest('the node root and every namespace folder become root:root 01777 through a descriptor; hidden entries, symlinks and files are left alone', async () => {
    const dir = guardDir();
    const hostDir = path.join(dir, 'host-dir');
    fs.mkdirSync(hostDir, { mode: 0o755 });
    const source = path.join(dir, 'pv', NODE);
    fs.mkdirSync(source);
    fs.chownSync(source, TENANT, TENANT); // a node directory a tenant got to own (older setup)
    fs.chmodSync(source, 0o777);
    expect(asTenant(`mkdir -m 0700 ns-a && mkdir -m 0755 .hidden && ln -s '${hostDir}' ns-link && touch plain-file`, source)).toMatchObject({ status: 0 });

    const g = await startGuard(':', INTERVAL_S, { LOG_LEVEL: 'debug' }, { dir });
    await waitFor('healthy', () => healthy(g), 10_000);
    const owner = (p: string) => {
      const st = fs.lstatSync(path.join(source, p));
      return { uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 };
    };
    expect(owner('.')).toEqual({ uid: 0, gid: 0, mode: 0o1777 });
    expect(owner('ns-a')).toEqual({ uid: 0, gid: 0, mode: 0o1777 });
    expect(owner('.hidden')).toEqual({ uid: TENANT, gid: TENANT, mode: 0o755 });
    expect(fs.lstatSync(path.join(source, 'ns-link')).isSymbolicLink()).toBe(true);
    expect(fs.statSync(hostDir).mode & 0o7777).toBe(0o755);
    expect(owner('plain-file').uid).toBe(TENANT);
    expect(g.ns.events().filter((e) => e.msg === 'namespace folder adopted')).toEqual([
      expect.objectContaining({ path: `${g.source}/ns-a`, uid: TENANT, gid: TENANT, mode: '0700' }),
    ]);
    expect(g.ns.events().some((e) => e.msg === 'not a folder below the dump root, left alone' && e.path === `${g.source}/ns-link` && e.kind === 'symlink')).toBe(true);
    expect(g.ns.events().some((e) => e.msg === 'dump root owner or mode fixed' && e.uid === TENANT)).toBe(true);

    // a namespace folder made later (by a wait-ready, as its uid) is adopted at the next check
    expect(asTenant('mkdir -m 0755 ns-b', source)).toMatchObject({ status: 0 });
    const t0 = Date.now();
    await waitFor('ns-b adopted', () => owner('ns-b').uid === 0, 5_000, 20);
    expect(Date.now() - t0).toBeLessThanOrEqual(INTERVAL_S * 1000 + 500);
    expect(owner('ns-b')).toEqual({ uid: 0, gid: 0, mode: 0o1777 });
    expect(await metric(g, 'heapdump_mount_guard_folders_adopted_total')).toBe(2);
  });
});
