/**
 * The bundled `wait-ready` (what init containers run) in private mount namespaces: it must
 * return only once the marker is the guard's (root-owned regular file, fresh, this node) AND the
 * dump root is a mount point; then it makes the pod's folder by the rules of pod-folder.ts, as the
 * pod's uid, and refuses a folder another tenant made.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AGENT_BUNDLE } from '../../../scripts/bundle-agent';
import { makeHeapDump } from '../../support/jvm';
import { describeWithMountNs, type NsProcess, startInMountNamespace, waitFor } from '../../support/mountns';
import { sleep, spawnTracked, type TrackedProcess } from '../../support/procs';

const NODE = 'worker-1';

let dirs: string[] = [];
let running: NsProcess[] = [];

function tempDir(): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'wait-ready-')));
  dirs.push(dir);
  for (const d of ['root', `pv/${NODE}`, 'pv/worker-2']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  return dir;
}

function marker(dir: string, node: string, fields: Record<string, unknown> = {}): string {
  const now = new Date().toISOString();
  return JSON.stringify({ node, source: `${dir}/pv/${node}`, target: `${dir}/root`, since: now, checkedAt: now, checkIntervalMs: 30_000, ...fields });
}

/** The env that makes wait-ready create the pod folder `<ns>/<pod>`. */
function podFolderEnv(namespace: string, pod: string): Record<string, string> {
  return { WAIT_CREATE_POD_FOLDER: 'true', HEAPDUMP_POD_NAMESPACE: namespace, HEAPDUMP_POD_NAME: pod };
}

function start(dir: string, env: Record<string, string>, setup = ':'): NsProcess {
  const ns = startInMountNamespace({
    setup: `cd ${dir}\n${setup}`,
    command: ['node', AGENT_BUNDLE, 'wait-ready'],
    env: { NODE_NAME: NODE, DUMP_ROOT: `${dir}/root`, AGENT_HTTP_HOST: '127.0.0.1', AGENT_HTTP_PORT: '0', ...env },
  });
  running.push(ns);
  return ns;
}

const exited = async (ns: NsProcess, ms: number): Promise<boolean> => Promise.race([ns.childExit.then(() => true), sleep(ms).then(() => false)]);

afterEach(async () => {
  for (const ns of running) await ns.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  running = [];
  dirs = [];
});

describeWithMountNs('wait-ready (bundle, real mounts)', () => {
  test('returns only once the marker is right and the root is a mount point; then creates the pod folder', async () => {
    const dir = tempDir();
    fs.chmodSync(path.join(dir, 'pv', NODE), 0o1777); // as the guard makes it
    fs.writeFileSync(path.join(dir, 'pv', NODE, '.ready'), marker(dir, NODE));
    fs.writeFileSync(path.join(dir, 'pv', 'worker-2', '.ready'), marker(dir, 'worker-2'));
    const ns = start(dir, { WAIT_TIMEOUT: '30', ...podFolderEnv('ns-a', 'pod-1') });

    // 1. nothing there: waits, and says what is missing
    const waiting = await waitFor('a waiting message', () => ns.events().find((e) => e.msg === 'still waiting for the mount guard'), 5_000);
    expect(waiting.missing).toBe(`${dir}/root is not a mount point; marker ${dir}/root/.ready is missing`);

    // 2. a correct marker on the node's own disk (no mount): still waiting
    fs.writeFileSync(path.join(dir, 'root', '.ready'), marker(dir, NODE));
    expect(await exited(ns, 2_500)).toBe(false);
    fs.rmSync(path.join(dir, 'root', '.ready'));

    // 3. mounted, but another node's directory: still waiting, and the message names the node
    expect((await ns.exec(`mount --bind ${dir}/pv/worker-2 ${dir}/root`)).code).toBe(0);
    await waitFor('the wrong-node message', () => ns.events().some((e) => /marker names node "worker-2", expected "worker-1"/.test(String(e.missing))), 8_000);
    expect(ns.events().find((e) => e.msg === 'timed out waiting for the mount guard')).toBeUndefined();
    expect(await exited(ns, 0)).toBe(false);

    // 4. the right bind: exits 0 and creates ns-a/pod-1 through the mount (on the "PVC")
    expect((await ns.exec(`umount ${dir}/root && mount --bind ${dir}/pv/${NODE} ${dir}/root`)).code).toBe(0);
    expect(await ns.childExit).toBe(0);
    const nsDir = path.join(dir, 'pv', NODE, 'ns-a');
    expect(fs.statSync(nsDir).mode & 0o7777).toBe(0o1777);
    expect(fs.statSync(path.join(nsDir, 'pod-1')).mode & 0o7777).toBe(0o700);
    expect(fs.existsSync(path.join(dir, 'root', 'ns-a'))).toBe(false); // not on the node's disk
  });

  test('times out with exit 1 and a message naming what was missing', async () => {
    const dir = tempDir();
    const ns = start(dir, { WAIT_TIMEOUT: '1.5' });
    expect(await ns.childExit).toBe(1);
    const timeout = ns.events().find((e) => e.msg === 'timed out waiting for the mount guard');
    expect(timeout).toMatchObject({ level: 'error', missing: `${dir}/root is not a mount point; marker ${dir}/root/.ready is missing` });
  });

  test('with the real mount guard in the same namespace: ready as soon as the guard has mounted', async () => {
    const dir = tempDir();
    // The guard starts 2 s late, in the background; wait-ready is the command under test.
    // MOUNT_ALLOW_OUTSIDE_POD: the private mount namespace stands in for the pod.
    const guardEnv = `MOUNT_SOURCE_ROOT=${dir}/pv MOUNT_TARGET=${dir}/root MOUNT_CHECK_INTERVAL=0.5 MOUNT_ALLOW_OUTSIDE_POD=true`;
    const ns = start(dir, { WAIT_TIMEOUT: '30', ...podFolderEnv('ns-b', 'pod-2') }, `(sleep 2; ${guardEnv} exec node ${AGENT_BUNDLE} mount-guard > guard.log) &\necho $! > guard.pid`);
    try {
      expect(await ns.childExit).toBe(0);
      expect(fs.statSync(path.join(dir, 'pv', NODE, 'ns-b', 'pod-2')).isDirectory()).toBe(true);
      expect(fs.readFileSync(path.join(dir, 'guard.log'), 'utf8')).toMatch(/"msg":"mounted"/);
    } finally {
      process.kill(Number(fs.readFileSync(path.join(dir, 'guard.pid'), 'utf8')), 'SIGKILL');
    }
  });

  test('refuses a marker that is not the guard\'s file or not fresh: stale, old format, symlink, FIFO, foreign owner, oversized', async () => {
    const dir = tempDir();
    const m = path.join(dir, 'pv', NODE, '.ready');
    const old = new Date(Date.now() - 60_000).toISOString();
    fs.writeFileSync(path.join(dir, 'good-marker'), marker(dir, NODE));
    const variants: Array<[string, () => void, RegExp]> = [
      ['stale (the guard stopped checking 60 s ago, interval 0.5 s)', () => fs.writeFileSync(m, marker(dir, NODE, { checkedAt: old, checkIntervalMs: 500 })),
        /marker is stale: the guard's last check was 6\d s ago \(more than 7 s\)/],
      ['an older guard\'s format (no last check)', () => fs.writeFileSync(m, JSON.stringify({ node: NODE, source: `${dir}/pv/${NODE}`, target: `${dir}/root`, since: old })),
        /marker has no last check time and interval/],
      ['a symlink to a good marker', () => fs.symlinkSync(path.join(dir, 'good-marker'), m), /marker .*\/\.ready is a symlink, not the guard's file/],
      ['a FIFO (must not block)', () => execOk('mkfifo', [m]), /marker .*\/\.ready is not a regular file/],
      ['a good marker owned by a tenant', () => {
        fs.writeFileSync(m, marker(dir, NODE));
        fs.chownSync(m, TENANT_A, TENANT_A);
      }, /marker .*\/\.ready is owned by uid 2001, not by root/],
      ['more than 4 KiB', () => fs.writeFileSync(m, marker(dir, NODE, { padding: 'x'.repeat(5000) })), /marker .*\/\.ready is \d+ bytes, more than 4096/],
    ];
    for (const [what, plant, expected] of variants) {
      fs.rmSync(m, { force: true });
      plant();
      const ns = start(dir, { WAIT_TIMEOUT: '1' }, `mount --bind pv/${NODE} root`);
      const code = await Promise.race([ns.childExit, sleep(10_000).then(() => 'hung')]);
      const timeout = ns.events().find((e) => e.msg === 'timed out waiting for the mount guard');
      expect({ what, code, missing: timeout?.missing }).toEqual({ what, code: 1, missing: expect.stringMatching(expected) });
    }
    // and the good one is accepted
    fs.rmSync(m, { force: true });
    fs.writeFileSync(m, marker(dir, NODE));
    expect(await start(dir, { WAIT_TIMEOUT: '1' }, `mount --bind pv/${NODE} root`).childExit).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// Dump folders against hostile tenants (issue 8): real uids, the real guard, a real JVM.

const TENANT_A = 2001;
const TENANT_B = 2002;

function execOk(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}

/** Runs a shell script as uid:gid (no supplementary groups), as an application's process runs. */
function asUser(uid: number, script: string, cwd: string, gid = uid): { status: number | null; stderr: string } {
  const r = spawnSync('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', 'sh', '-c', script], { cwd, encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

interface GuardedNode {
  readonly dir: string;
  /** Holder of the namespace where the guard runs and wait-ready is started. */
  readonly ns: NsProcess;
  /** The dump root (the guard's target) as wait-ready sees it inside the namespace. */
  readonly root: string;
  /** The same directory on the "PVC", as the test and the tenants reach it. */
  readonly pvNode: string;
  /** A copy of the bundle every uid can read. */
  readonly bundle: string;
}

/** The real guard (root) in a namespace, with a short check interval; resolves once it has mounted. */
async function guardedNode(intervalS = 0.5): Promise<GuardedNode> {
  const dir = tempDir();
  fs.chmodSync(dir, 0o711);
  const bundle = path.join(dir, 'agent.js');
  fs.copyFileSync(AGENT_BUNDLE, bundle);
  fs.chmodSync(bundle, 0o644);
  const ns = startInMountNamespace({
    setup: `cd '${dir}'`,
    command: ['node', bundle, 'mount-guard'],
    env: {
      NODE_NAME: NODE, MOUNT_SOURCE_ROOT: `${dir}/pv`, MOUNT_TARGET: `${dir}/root`, MOUNT_CHECK_INTERVAL: String(intervalS),
      AGENT_HTTP_HOST: '127.0.0.1', AGENT_HTTP_PORT: '0',
      // the private mount namespace stands in for the pod
      MOUNT_ALLOW_OUTSIDE_POD: 'true',
    },
  });
  running.push(ns);
  await waitFor('the guard to mount', () => ns.events().some((e) => e.msg === 'mounted'), 10_000);
  return { dir, ns, root: `${dir}/root`, pvNode: `${dir}/pv/${NODE}`, bundle };
}

/** wait-ready as `uid` (gid `gid`) inside the guard's namespace, making `<ns>/<pod>`. */
function waitReadyAs(n: GuardedNode, uid: number, namespace: string, pod: string, env: Record<string, string> = {}, gid = uid): TrackedProcess {
  return spawnTracked('nsenter', [
    '--target', String(n.ns.holderPid), '--mount', '--',
    'setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', process.execPath, n.bundle, 'wait-ready',
  ], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin', NODE_NAME: NODE, DUMP_ROOT: n.root, WAIT_TIMEOUT: '20',
      AGENT_HTTP_HOST: '127.0.0.1', AGENT_HTTP_PORT: '0', ...podFolderEnv(namespace, pod), ...env,
    },
  });
}

function eventsOf(p: TrackedProcess): Array<Record<string, unknown>> {
  return p.stdout.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

function ownerOf(p: string): { uid: number; gid: number; mode: number } {
  const st = fs.lstatSync(p);
  return { uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 };
}

const asRoot = process.getuid?.() === 0;
const tenantTest = asRoot ? test : test.skip;
if (!asRoot) console.warn('SKIPPED dump-folder tenant tests: they need root to run processes as other uids (setpriv)');

describeWithMountNs('dump folders against hostile tenants (real uids, the real guard)', () => {
  tenantTest('a squatted pod folder is refused (one line, exit 1); the folder B makes is B\'s alone: A can neither write, delete, rename nor remove, B\'s JVM dumps there', async () => {
    const n = await guardedNode();
    const nsDir = path.join(n.pvNode, 'ns-b');
    const podDir = path.join(nsDir, 'pod-b');
    // Tenant A pre-creates B's namespace and pod folders, world-writable, with a dump name in B's
    expect(asUser(TENANT_A, 'mkdir -m 0777 ns-b && mkdir -m 0777 ns-b/pod-b && touch ns-b/pod-b/java_pid1.hprof && chmod 0666 ns-b/pod-b/java_pid1.hprof', n.pvNode)).toMatchObject({ status: 0 });
    // the guard adopts the namespace folder A made (root:root 01777) at its next check
    await waitFor('ns-b adopted by the guard', () => ownerOf(nsDir).uid === 0, 5_000, 20);
    expect(ownerOf(nsDir)).toEqual({ uid: 0, gid: 0, mode: 0o1777 });

    const refused = waitReadyAs(n, TENANT_B, 'ns-b', 'pod-b');
    expect((await refused.exited).code).toBe(1);
    const errors = eventsOf(refused).filter((e) => e.level === 'error');
    expect(errors).toEqual([expect.objectContaining({
      msg: 'dump folder refused',
      folder: `${n.root}/ns-b/pod-b`,
      problem: `${n.root}/ns-b/pod-b is owned by uid ${TENANT_A}, not by this pod's uid ${TENANT_B} (owner uid ${TENANT_A} gid ${TENANT_A}, mode 0777): refused, not used`,
    })]);
    expect(ownerOf(podDir)).toEqual({ uid: TENANT_A, gid: TENANT_A, mode: 0o777 }); // untouched
    expect(fs.readdirSync(podDir)).toEqual(['java_pid1.hprof']);

    // the squat cleared (an admin), B's wait-ready makes B's folder
    fs.rmSync(podDir, { recursive: true });
    const made = waitReadyAs(n, TENANT_B, 'ns-b', 'pod-b');
    expect((await made.exited).code).toBe(0);
    expect(eventsOf(made).find((e) => e.msg === 'dump folder ready')).toMatchObject({ path: `${n.root}/ns-b/pod-b` });
    expect(ownerOf(podDir)).toEqual({ uid: TENANT_B, gid: TENANT_B, mode: 0o700 });

    // B's JVM (uid 2002, -XX:+HeapDumpOnOutOfMemoryError) writes its dump there
    const dump = await makeHeapDump(podDir, { uid: TENANT_B });
    expect(path.dirname(dump)).toBe(podDir);
    const before = fs.statSync(dump);
    expect(before.uid).toBe(TENANT_B);

    // tenant A: no file in B's folder, B's dump neither deleted nor renamed, B's folder neither removed nor renamed
    const attacks = [
      `touch '${podDir}/evil'`,
      `rm -f '${dump}'`,
      `mv '${dump}' '${nsDir}/stolen.hprof'`,
      `mv '${podDir}' '${nsDir}/stolen'`,
      `rm -rf '${podDir}'`,
      `mv '${nsDir}' '${n.pvNode}/stolen-ns'`,
    ];
    for (const attack of attacks) expect({ attack, status: asUser(TENANT_A, attack, n.pvNode).status }).toEqual({ attack, status: 1 });
    const after = fs.statSync(dump);
    expect({ ino: after.ino, size: after.size, mtime: after.mtimeMs }).toEqual({ ino: before.ino, size: before.size, mtime: before.mtimeMs });
    expect(fs.readdirSync(podDir)).toEqual([path.basename(dump)]);
    expect(fs.readdirSync(nsDir)).toEqual(['pod-b']);
  });

  tenantTest('a namespace folder another uid made is not trusted until the guard adopts it: wait-ready waits, says so, then proceeds', async () => {
    const n = await guardedNode(1);
    const guardPid = await n.ns.childPid();
    // hold the guard between two checks, so the folder A makes now is not adopted yet
    process.kill(guardPid, 'SIGSTOP');
    let waiter: TrackedProcess;
    try {
      expect(asUser(TENANT_A, 'mkdir -m 0777 ns-c', n.pvNode)).toMatchObject({ status: 0 });
      waiter = waitReadyAs(n, TENANT_B, 'ns-c', 'pod-c');
      const line = await waitFor('a still-waiting line about the namespace folder', () =>
        eventsOf(waiter).find((e) => e.msg === 'still waiting for the mount guard' && /namespace folder/.test(String(e.missing))), 10_000, 20);
      expect(line.missing).toBe(`namespace folder ${n.root}/ns-c is owned by uid ${TENANT_A}, not root or this uid ${TENANT_B} (owner uid ${TENANT_A} gid ${TENANT_A}, mode 0777): waiting for the mount guard to adopt it`);
      await sleep(1_500);
      expect(waiter.exitInfo()).toBeUndefined();
      expect(fs.existsSync(path.join(n.pvNode, 'ns-c', 'pod-c'))).toBe(false); // nothing made in A's folder
    } finally {
      process.kill(guardPid, 'SIGCONT');
    }
    expect((await waiter.exited).code).toBe(0);
    expect(ownerOf(path.join(n.pvNode, 'ns-c'))).toEqual({ uid: 0, gid: 0, mode: 0o1777 });
    expect(ownerOf(path.join(n.pvNode, 'ns-c', 'pod-c'))).toEqual({ uid: TENANT_B, gid: TENANT_B, mode: 0o700 });
    // A, who made the namespace folder, can no longer remove or rename B's folder in it
    for (const attack of ['rmdir ns-c/pod-c', 'mv ns-c/pod-c ns-c/gone']) {
      expect({ attack, status: asUser(TENANT_A, attack, n.pvNode).status }).toEqual({ attack, status: 1 });
    }
    expect(fs.existsSync(path.join(n.pvNode, 'ns-c', 'pod-c'))).toBe(true);
  });

  tenantTest('WAIT_FOLDER_GROUP: the pod folder is 02770 with that group; another uid of the group writes, other tenants do not', async () => {
    const n = await guardedNode();
    const GROUP = 3000;
    const w = waitReadyAs(n, TENANT_B, 'ns-g', 'pod-g', { WAIT_FOLDER_GROUP: String(GROUP) }, GROUP);
    expect((await w.exited).code).toBe(0);
    const podDir = path.join(n.pvNode, 'ns-g', 'pod-g');
    expect(ownerOf(podDir)).toEqual({ uid: TENANT_B, gid: GROUP, mode: 0o2770 });
    expect(asUser(2003, 'touch ns-g/pod-g/java_pid1.hprof', n.pvNode, GROUP)).toMatchObject({ status: 0 });
    expect(fs.statSync(path.join(podDir, 'java_pid1.hprof')).gid).toBe(GROUP); // setgid: files inherit the group
    expect(asUser(TENANT_A, 'touch ns-g/pod-g/evil', n.pvNode).status).toBe(1);
    // the same folder is accepted again by B (a restarted pod), also without the group it is refused as group-writable
    expect((await waitReadyAs(n, TENANT_B, 'ns-g', 'pod-g', { WAIT_FOLDER_GROUP: String(GROUP) }, GROUP).exited).code).toBe(0);
    const noGroup = waitReadyAs(n, TENANT_B, 'ns-g', 'pod-g');
    expect((await noGroup.exited).code).toBe(1);
    expect(eventsOf(noGroup).find((e) => e.level === 'error')?.problem).toMatch(/is group-writable \(no WAIT_FOLDER_GROUP configured\)/);
  });

  tenantTest('whatever is planted at a pod or namespace folder name is refused, never used: symlink, file, a folder writable by others', async () => {
    const n = await guardedNode();
    const hostDir = path.join(n.dir, 'host-dir');
    fs.mkdirSync(hostDir, { mode: 0o755 });
    expect(asUser(TENANT_A, `mkdir -m 0755 ns-d && ln -s '${hostDir}' ns-d/pod-sym && touch ns-d/pod-file && ln -s '${hostDir}' ns-link`, n.pvNode)).toMatchObject({ status: 0 });
    await waitFor('ns-d adopted', () => ownerOf(path.join(n.pvNode, 'ns-d')).uid === 0, 5_000, 20);
    expect(asUser(TENANT_B, 'mkdir -m 0777 ns-d/pod-open && mkdir -m 0770 ns-d/pod-gw', n.pvNode)).toMatchObject({ status: 0 });
    const cases: Array<[string, string, RegExp]> = [
      ['ns-d', 'pod-sym', /\/ns-d\/pod-sym is a symlink \(owner uid 2001 .*\), not a directory: refused, not used$/],
      ['ns-d', 'pod-file', /\/ns-d\/pod-file is a file \(owner uid 2001 .*\), not a directory: refused, not used$/],
      ['ns-d', 'pod-open', /\/ns-d\/pod-open is writable by others \(owner uid 2002 gid 2002, mode 0777\): refused, not used$/],
      ['ns-d', 'pod-gw', /\/ns-d\/pod-gw is group-writable \(no WAIT_FOLDER_GROUP configured\) \(owner uid 2002 gid 2002, mode 0770\): refused, not used$/],
      ['ns-link', 'pod-x', /\/ns-link is a symlink \(owner uid 2001 .*\), not a directory: refused, not used$/],
    ];
    for (const [namespace, pod, expected] of cases) {
      const w = waitReadyAs(n, TENANT_B, namespace, pod);
      const code = (await w.exited).code;
      const errors = eventsOf(w).filter((e) => e.level === 'error');
      expect({ namespace, pod, code, errors: errors.length, problem: errors[0]?.problem }).toEqual({ namespace, pod, code: 1, errors: 1, problem: expect.stringMatching(expected) });
    }
    expect(fs.readdirSync(hostDir)).toEqual([]); // nothing made through the symlinks
    expect(ownerOf(hostDir)).toEqual({ uid: 0, gid: 0, mode: 0o755 });
  });
});
