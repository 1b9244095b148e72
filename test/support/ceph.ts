/**
 * Single-node Ceph (mon + OSD + radosgw) for tests, via scripts/ceph-up.sh / ceph-down.sh.
 *
 * stop()/start()/kill() act on radosgw only, so an "S3 outage" is an RGW outage while the cluster
 * (and the data) stays up. dispose() runs ceph-down.sh, which stops all three by PID and removes the dir.
 * Start takes ~20 s: start it once per test file (beforeAll with a 120 s timeout).
 *
 * `kmsKeys`: names of SSE-KMS keys for RGW's `testing` key backend (each a fresh random 256-bit key, made
 * here and written only into the cluster's temp config); `lcDebugIntervalSeconds`: a lifecycle "day" lasts
 * that many seconds and the lifecycle thread runs at any hour (RGW's `rgw lc debug interval`).
 */
import { spawn } from 'child_process';
import { randomBytes } from 'crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { S3Backend } from './s3';
import { freePort, pidAlive, repoPath, registerCleanup, runTracked, startWatchdog, stopPid, trackPid, untrackPid, waitForHttp } from './procs';

const CEPH_UP = (): string => repoPath('scripts', 'ceph-up.sh');
const CEPH_DOWN = (): string => repoPath('scripts', 'ceph-down.sh');
const CEPH_BINARIES = ['ceph-mon', 'ceph-osd', 'radosgw'];
const START_TIMEOUT_MS = 150_000;
const RGW_START_TIMEOUT_MS = 60_000;

export type CephStore = 'memstore' | 'bluestore';

export interface CephOptions {
  readonly store?: CephStore;
  readonly storeBytes?: number;
  /** SSE-KMS key names (RGW's testing backend; random keys). @default none: SSE-KMS refused */
  readonly kmsKeys?: readonly string[];
  /** Seconds per lifecycle day. @default RGW's (a day, processed at night) */
  readonly lcDebugIntervalSeconds?: number;
}

function onPath(bin: string): boolean {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/bin', '/usr/sbin', '/usr/local/bin']);
  return dirs.some((d) => d !== '' && existsSync(path.join(d, bin)));
}

export function cephBinariesPresent(): boolean {
  return CEPH_BINARIES.every(onPath);
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return `(no ${path.basename(file)})`;
  }
}

class CephBackend implements S3Backend {
  readonly kind = 'ceph' as const;
  readonly accessKeyId = 'TESTKEY';
  readonly secretAccessKey = 'TESTSECRET';
  private disposed = false;

  constructor(
    readonly port: number,
    /** The cluster dir (ceph.conf, run/, log/, mon/, osd/); its parent is our temp dir. */
    readonly dir: string,
    private readonly cancelWatchdog: () => void,
  ) {}

  private get rgwPidFile(): string {
    return path.join(this.dir, 'run', 'rgw.pid');
  }

  pid(): number | undefined {
    const pid = readPid(this.rgwPidFile);
    return pid !== undefined && pidAlive(pid) ? pid : undefined;
  }

  /** Starts radosgw again with the cluster's config, same port; waits until it answers HTTP. */
  async start(): Promise<void> {
    if (this.disposed) throw new Error('ceph: start() after dispose()');
    if (this.pid() !== undefined) return;
    const logFd = openSync(path.join(this.dir, 'log', 'rgw.out'), 'a');
    try {
      // detached like the daemons ceph-up.sh starts; stopped by PID (pid file) like them
      const child = spawn('radosgw', ['-n', 'client.rgw.a', '-f'], {
        env: { ...process.env, CEPH_CONF: path.join(this.dir, 'ceph.conf') },
        stdio: ['ignore', logFd, logFd],
        detached: true,
      });
      child.on('error', () => undefined); // surfaced below as "did not answer"
      child.unref();
      if (child.pid === undefined) throw new Error('ceph: could not spawn radosgw');
      writeFileSync(this.rgwPidFile, `${child.pid}\n`);
      trackPid(child.pid);
      const pid = child.pid;
      await waitForHttp(this.port, RGW_START_TIMEOUT_MS, () => !pidAlive(pid)).catch((err: Error) => {
        throw new Error(`radosgw did not come back on port ${this.port}: ${err.message}\n${tail(path.join(this.dir, 'log', 'client.rgw.a.log'), 30)}`);
      });
    } finally {
      closeSync(logFd);
    }
  }

  async radosgwAdmin(args: string[]): Promise<string> {
    const r = await runTracked('radosgw-admin', args, { env: { ...process.env, CEPH_CONF: path.join(this.dir, 'ceph.conf') }, timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`radosgw-admin ${args.join(' ')} failed (code ${r.code}): ${r.stderr}`);
    return r.stdout;
  }

  async stop(): Promise<void> {
    const pid = this.pid();
    if (pid !== undefined) await stopPid(pid, 10_000);
  }

  async kill(): Promise<void> {
    const pid = this.pid();
    if (pid !== undefined) await stopPid(pid, 10_000, 'SIGKILL');
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await cephDown(this.dir);
    this.cancelWatchdog();
  }
}

async function cephDown(dir: string): Promise<void> {
  const pids = ['rgw', 'osd', 'mon'].map((p) => readPid(path.join(dir, 'run', `${p}.pid`)));
  const r = await runTracked('bash', [CEPH_DOWN(), dir], { timeoutMs: 60_000 });
  for (const pid of pids) {
    if (pid === undefined) continue;
    if (pidAlive(pid)) await stopPid(pid, 0, 'SIGKILL'); // only when ceph-down did not do its job
    untrackPid(pid); // gone: the exit hook must not SIGKILL a reused PID
  }
  rmSync(path.dirname(dir), { recursive: true, force: true });
  if (r.code !== 0) throw new Error(`ceph-down.sh ${dir} failed (code ${r.code}): ${r.stderr}`);
}

/** Starts a fresh cluster on a free RGW port in a temp dir (user TESTKEY/TESTSECRET, no buckets). */
export async function startCeph(opts: CephOptions = {}): Promise<S3Backend> {
  const store = opts.store ?? 'memstore';
  if (!cephBinariesPresent()) {
    throw new Error(`startCeph: ${CEPH_BINARIES.join(', ')} not all found on PATH; check cephAvailable() and skip`);
  }
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'ceph-')), 'cluster');
  const port = await freePort();
  // registered before the script runs: a failed or interrupted start is still cleaned up by PID;
  // the watchdog runs ceph-down if this jest worker dies without cleaning up (the daemons are not our children)
  const cancelWatchdog = startWatchdog(`bash '${CEPH_DOWN()}' '${dir}'; rm -rf '${path.dirname(dir)}'`);
  const unregister = registerCleanup(async () => {
    await cephDown(dir);
    cancelWatchdog();
  });
  const r = await runTracked('bash', [CEPH_UP(), dir, String(port), store], {
    env: {
      ...process.env,
      PRECREATE_POOLS: '1',
      ...(opts.storeBytes !== undefined ? { STORE_BYTES: String(opts.storeBytes) } : {}),
      ...(opts.kmsKeys?.length ? { RGW_KMS_TEST_KEYS: opts.kmsKeys.map((k) => `${k}=${randomBytes(32).toString('base64')}`).join(' ') } : {}),
      ...(opts.lcDebugIntervalSeconds !== undefined ? { RGW_LC_DEBUG_INTERVAL: String(opts.lcDebugIntervalSeconds) } : {}),
    },
    timeoutMs: START_TIMEOUT_MS,
  });
  if (r.code !== 0) {
    const logs = tail(path.join(dir, 'log', 'client.rgw.a.log'), 20);
    unregister();
    await cephDown(dir).catch(() => undefined);
    cancelWatchdog();
    throw new Error(`ceph-up.sh failed (code ${r.code}):\n${r.stdout}\n${r.stderr}\nrgw log tail:\n${logs}`);
  }
  for (const p of ['rgw', 'osd', 'mon']) {
    const pid = readPid(path.join(dir, 'run', `${p}.pid`));
    if (pid !== undefined) trackPid(pid);
  }
  unregister(); // the S3Server registers its own dispose, which runs cephDown
  return new CephBackend(port, dir, cancelWatchdog);
}
