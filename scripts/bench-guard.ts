/**
 * `npm run bench:guard`: resident memory of the bundled mount guard (target: under 48 MiB).
 *
 * Starts `node .build/agent/agent.js mount-guard` in a private mount namespace with a 0.2 s check
 * interval and the NODE_OPTIONS the constructs give it (contract), lets it run ~20 s (about 100
 * verify cycles) while probing /readyz and /healthz every second, scraping /metrics every 2 s and
 * breaking the mount twice so the remount path runs too; samples VmRSS/VmHWM from
 * /proc/<pid>/status and prints the peak. Exit 1 when over budget. Stops everything by PID.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { COMMANDS, NODE_OPTIONS_BY_COMMAND } from '../agent/src/contract';
import { mountNamespaceSupport, startInMountNamespace } from '../test/support/mountns';
import { sleep } from '../test/support/procs';

// This script runs bundled itself (npm run bench:guard), so paths come from the repo root (cwd).
// BENCH_BUNDLE=<file> measures another build of the agent (e.g. an experiment without the uploader).
const AGENT_BUNDLE = path.resolve(process.env.BENCH_BUNDLE ?? '.build/agent/agent.js');
const TARGET_MIB = 48;
// What the constructs give the guard's container (contract); BENCH_NODE_OPTIONS overrides ('' = none).
const NODE_OPTIONS = process.env.BENCH_NODE_OPTIONS ?? NODE_OPTIONS_BY_COMMAND[COMMANDS.mountGuard] ?? '';
const RUN_MS = 20_000;

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM' | 'RssAnon' | 'RssFile'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`${field} not found in /proc/${pid}/status`);
  return Number(m[1]);
}

async function main(): Promise<number> {
  const support = mountNamespaceSupport();
  if (!support.mode) {
    console.error(`bench:guard needs a private mount namespace: ${support.reason}`);
    return 1;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-guard-'));
  fs.mkdirSync(path.join(dir, 'pv'));
  fs.mkdirSync(path.join(dir, 'target'));
  const ns = startInMountNamespace({
    command: ['node', AGENT_BUNDLE, 'mount-guard'],
    env: {
      NODE_NAME: 'bench-node',
      MOUNT_SOURCE_ROOT: path.join(dir, 'pv'),
      MOUNT_TARGET: path.join(dir, 'target'),
      MOUNT_CHECK_INTERVAL: '0.2',
      AGENT_HTTP_HOST: '127.0.0.1',
      AGENT_HTTP_PORT: '0',
      // The private mount namespace stands in for the pod.
      MOUNT_ALLOW_OUTSIDE_POD: 'true',
      ...(NODE_OPTIONS ? { NODE_OPTIONS } : {}),
    },
  });
  try {
    const pid = await ns.childPid();
    let port: number | undefined;
    const t0 = Date.now();
    let peakRss = 0;
    let breaks = 0;
    const exited = ns.childExit.then(() => true);
    while (Date.now() - t0 < RUN_MS) {
      await sleep(250);
      if (await Promise.race([exited, sleep(0).then(() => false)])) throw new Error(`the guard exited:\n${ns.lines().join('\n')}`);
      peakRss = Math.max(peakRss, statusKb(pid, 'VmRSS'));
      port ??= ns.events().find((e) => e.msg === 'http server listening')?.port as number | undefined;
      // Probes every 1 s and a scrape every 2 s: several times what kubelet (5-10 s) and
      // Prometheus (15-30 s) do. Plus the remount path below.
      const tick = Math.round((Date.now() - t0) / 250);
      if (port && tick % 4 === 0) {
        await (await fetch(`http://127.0.0.1:${port}/readyz`)).text();
        await (await fetch(`http://127.0.0.1:${port}/healthz`)).text();
      }
      if (port && tick % 8 === 0) await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      if (Date.now() - t0 > (breaks + 1) * 7_000) {
        await ns.exec(`umount ${path.join(dir, 'target')}`);
        breaks++;
      }
    }
    const hwm = statusKb(pid, 'VmHWM');
    const anon = statusKb(pid, 'RssAnon');
    const file = statusKb(pid, 'RssFile');
    const baseline = await bareNodeRssKb();
    const remounts = ns.events().filter((e) => e.msg === 'remounted').length;
    const peakMiB = Math.max(peakRss, hwm) / 1024;
    console.log(`NODE_OPTIONS="${NODE_OPTIONS}"`);
    console.log(`bundle: ${AGENT_BUNDLE} (${(fs.statSync(AGENT_BUNDLE).size / 2 ** 20).toFixed(2)} MiB)`);
    console.log(`mount-guard: ran ${(RUN_MS / 1000).toFixed(0)} s, interval 0.2 s, remounts ${remounts}/${breaks}`);
    console.log(`  VmRSS peak (sampled): ${(peakRss / 1024).toFixed(1)} MiB`);
    console.log(`  VmHWM (kernel peak):  ${(hwm / 1024).toFixed(1)} MiB`);
    console.log(`  now: RssAnon ${(anon / 1024).toFixed(1)} MiB (private) + RssFile ${(file / 1024).toFixed(1)} MiB (node binary and libraries, shared)`);
    console.log(`  for scale, a bare \`node -e 'setTimeout(()=>{},1e4)'\` here: VmRSS ${(baseline / 1024).toFixed(1)} MiB`);
    console.log(`  target: < ${TARGET_MIB} MiB -> ${peakMiB < TARGET_MIB ? 'OK' : 'OVER'}`);
    return peakMiB < TARGET_MIB && remounts === breaks ? 0 : 1;
  } finally {
    await ns.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** VmRSS of an idle bare node process, sampled after 1.5 s (the floor every agent command sits on). */
async function bareNodeRssKb(): Promise<number> {
  const { spawn } = await import('child_process');
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'], { stdio: 'ignore' });
  try {
    await sleep(1500);
    return statusKb(child.pid!, 'VmRSS');
  } finally {
    child.kill('SIGKILL');
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
