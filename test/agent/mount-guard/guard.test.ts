/**
 * The bundled mount guard (`node .build/agent/agent.js mount-guard`, as the image runs it) making
 * real bind mounts inside private mount namespaces; the tests break the mount from outside the
 * guard (nsenter into the same namespace) and watch it repair.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { COMMANDS, NODE_OPTIONS_BY_COMMAND } from '../../../agent/src/contract';
import { AGENT_BUNDLE } from '../../../scripts/bundle-agent';
import { describeWithMountNs, type NsProcess, startInMountNamespace, waitFor } from '../../support/mountns';

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

async function startGuard(setup = ':', intervalS = INTERVAL_S, env: Record<string, string> = {}): Promise<Guard> {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'guard dir-')));
  dirs.push(dir);
  fs.mkdirSync(path.join(dir, 'pv'));
  fs.mkdirSync(path.join(dir, 'target'));
  fs.mkdirSync(path.join(dir, 'other'));
  const ns = startInMountNamespace({
    setup: `cd '${dir}'\n${setup}`,
    command: ['node', AGENT_BUNDLE, 'mount-guard'],
    env: {
      NODE_NAME: NODE,
      MOUNT_SOURCE_ROOT: path.join(dir, 'pv'),
      MOUNT_TARGET: path.join(dir, 'target'),
      MOUNT_CHECK_INTERVAL: String(intervalS),
      AGENT_HTTP_HOST: '127.0.0.1',
      AGENT_HTTP_PORT: '0',
      SHUTDOWN_TIMEOUT: '10',
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
  const r = await g.ns.exec(`cat '${g.target}/.ready'`);
  if (r.code !== 0) return undefined;
  return JSON.parse(r.stdout) as Record<string, unknown>;
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

/** Mounted correctly, marker right, ready: the full healthy state. */
async function healthy(g: Guard): Promise<boolean> {
  const marker = await markerThroughTarget(g);
  return (
    (await fsRootAtTarget(g)) === g.source &&
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
    expect(onDisk).toEqual({ node: NODE, source: g.source, target: g.target, since: expect.any(String) });
    expect(Date.parse(onDisk.since)).toBeGreaterThan(Date.now() - 60_000);
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
    expect((await g.ns.exec(`umount '${g.target}' && rmdir '${g.target}'`)).code).toBe(0);
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
