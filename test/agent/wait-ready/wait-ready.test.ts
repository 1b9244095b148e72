/**
 * The bundled `wait-ready` (what init containers run) in private mount namespaces: it must
 * return only once the marker is right AND the dump root is a mount point.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AGENT_BUNDLE } from '../../../scripts/bundle-agent';
import { describeWithMountNs, type NsProcess, startInMountNamespace, waitFor } from '../../support/mountns';
import { sleep } from '../../support/procs';

const NODE = 'worker-1';

let dirs: string[] = [];
let running: NsProcess[] = [];

function tempDir(): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'wait-ready-')));
  dirs.push(dir);
  for (const d of ['root', `pv/${NODE}`, 'pv/worker-2']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  return dir;
}

function marker(dir: string, node: string): string {
  return JSON.stringify({ node, source: `${dir}/pv/${node}`, target: `${dir}/root`, since: new Date().toISOString() });
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
    fs.writeFileSync(path.join(dir, 'pv', NODE, '.ready'), marker(dir, NODE));
    fs.writeFileSync(path.join(dir, 'pv', 'worker-2', '.ready'), marker(dir, 'worker-2'));
    const ns = start(dir, { WAIT_TIMEOUT: '30', WAIT_CREATE_SUBDIR: 'ns-a/pod-1' });

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
    expect(fs.statSync(path.join(nsDir, 'pod-1')).mode & 0o7777).toBe(0o755);
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
    const guardEnv = `MOUNT_SOURCE_ROOT=${dir}/pv MOUNT_TARGET=${dir}/root MOUNT_CHECK_INTERVAL=0.5`;
    const ns = start(dir, { WAIT_TIMEOUT: '30', WAIT_CREATE_SUBDIR: 'ns-b/pod-2' }, `(sleep 2; ${guardEnv} exec node ${AGENT_BUNDLE} mount-guard > guard.log) &\necho $! > guard.pid`);
    try {
      expect(await ns.childExit).toBe(0);
      expect(fs.statSync(path.join(dir, 'pv', NODE, 'ns-b', 'pod-2')).isDirectory()).toBe(true);
      expect(fs.readFileSync(path.join(dir, 'guard.log'), 'utf8')).toMatch(/"msg":"mounted"/);
    } finally {
      process.kill(Number(fs.readFileSync(path.join(dir, 'guard.pid'), 'utf8')), 'SIGKILL');
    }
  });
});
