/**
 * Run things inside a private mount namespace, so tests make real bind mounts without touching
 * the host's mount table: `unshare --mount --propagation private` as root, or
 * `unshare --user --map-root-user --mount` where unprivileged user namespaces are allowed.
 *
 * A namespace is held by a small shell (the "holder"): it runs an optional setup script, starts
 * the command under test in the background, reports its PID and exit code on stdout, and then
 * keeps the namespace alive (`exec sleep`) so tests can still inspect mounts after the command
 * exited. `exec()` runs further commands in the same namespace through nsenter. Everything is
 * stopped by PID.
 */
import { spawnSync } from 'child_process';
import { spawnTracked, sleep, stopPid, trackPid, type TrackedProcess } from './procs';

export type NsMode = 'root' | 'user';

export interface NsSupport {
  /** The form of unshare that works here, or undefined when neither does. */
  readonly mode?: NsMode;
  /** Why not, when mode is undefined (printed by skipped suites). */
  readonly reason: string;
}

const UNSHARE_ARGS: Record<NsMode, string[]> = {
  root: ['--mount', '--propagation', 'private'],
  user: ['--user', '--map-root-user', '--mount', '--propagation', 'private'],
};

const NSENTER_ARGS: Record<NsMode, string[]> = {
  root: ['--mount'],
  user: ['--user', '--mount', '--preserve-credentials'],
};

let cached: NsSupport | undefined;

/** Probes (once) whether a private mount namespace with a working bind mount can be made. */
export function mountNamespaceSupport(): NsSupport {
  if (cached) return cached;
  const probe = 'd=$(mktemp -d) && mkdir "$d/a" "$d/b" && mount --bind "$d/a" "$d/b" && umount "$d/b"; r=$?; rm -rf "$d"; exit $r';
  const reasons: string[] = [];
  for (const mode of ['root', 'user'] as const) {
    const r = spawnSync('unshare', [...UNSHARE_ARGS[mode], 'sh', '-c', probe], { encoding: 'utf8', timeout: 10_000 });
    if (r.status === 0) return (cached = { mode, reason: '' });
    reasons.push(`unshare ${UNSHARE_ARGS[mode].join(' ')}: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`);
  }
  return (cached = { reason: reasons.join('; ') });
}

/**
 * `describe` for suites that need mount namespaces. Where none can be made the suite is skipped
 * LOUDLY (a console warning and "SKIPPED" in its name) - except as root, where it must run, so
 * the failure surfaces instead of a silent skip.
 */
export function describeWithMountNs(name: string, fn: () => void): void {
  const support = mountNamespaceSupport();
  if (support.mode || process.getuid?.() === 0) {
    describe(name, () => {
      if (!support.mode) test('mount namespaces are available (we are root)', () => { throw new Error(support.reason); });
      else fn();
    });
    return;
  }
  console.warn(`SKIPPED "${name}": no private mount namespace can be made here: ${support.reason}`);
  describe.skip(`${name} [SKIPPED: no mount namespace: ${support.reason}]`, fn);
}

export interface NsStartOptions {
  /** Shell commands run in the namespace before the command starts (`set -e`). */
  readonly setup?: string;
  /** The command under test, argv form. */
  readonly command: readonly string[];
  /** Environment of the command (merged over a minimal PATH/HOME). */
  readonly env?: Record<string, string>;
  readonly mode?: NsMode;
}

export interface NsProcess {
  /** PID of the holder shell (the namespace lives as long as it does). */
  readonly holderPid: number;
  readonly holder: TrackedProcess;
  /** PID of the command under test (known once the holder printed it). */
  childPid(): Promise<number>;
  /** Exit code of the command under test, once it exited. */
  readonly childExit: Promise<number>;
  /** stdout lines of holder + command (the command's stdout goes there). */
  lines(): string[];
  /** stdout lines that parse as JSON objects (the agent's log events). */
  events(): Array<Record<string, unknown>>;
  /** Send a signal to the command under test by PID. */
  signalChild(sig: NodeJS.Signals): Promise<void>;
  /** Run a shell command inside the namespace (nsenter); never rejects on non-zero exit. */
  exec(script: string): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Kill the command (if still running) and the holder, by PID. Idempotent. */
  stop(): Promise<void>;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

const CHILD_PID = 'NS_CHILD_PID=';
const CHILD_EXIT = 'NS_CHILD_EXIT=';

export function startInMountNamespace(opts: NsStartOptions): NsProcess {
  const mode = opts.mode ?? mountNamespaceSupport().mode ?? 'root';
  const script = [
    'set -e',
    opts.setup ?? ':',
    'set +e',
    `${opts.command.map(shellQuote).join(' ')} &`,
    `echo "${CHILD_PID}$!"`,
    'wait $!',
    `echo "${CHILD_EXIT}$?"`,
    'exec sleep 3600',
  ].join('\n');
  const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: process.env.HOME ?? '/root', ...opts.env };
  const holder = spawnTracked('unshare', [...UNSHARE_ARGS[mode], 'sh', '-c', script], { env });

  const fromOutput = (prefix: string): Promise<number> =>
    (async () => {
      for (;;) {
        const line = holder.stdout.find((l) => l.startsWith(prefix));
        if (line) return Number(line.slice(prefix.length));
        if (holder.exitInfo()) throw new Error(`namespace holder exited before printing ${prefix}\n${holder.output()}`);
        await sleep(20);
      }
    })();
  const childPid = fromOutput(CHILD_PID);
  childPid.then((pid) => trackPid(pid), () => undefined);
  const childExit = fromOutput(CHILD_EXIT);
  childExit.catch(() => undefined);

  const proc: NsProcess = {
    holderPid: holder.pid,
    holder,
    childPid: () => childPid,
    childExit,
    lines: () => [...holder.stdout],
    events: () =>
      holder.stdout.flatMap((l) => {
        if (!l.startsWith('{')) return [];
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      }),
    async signalChild(sig) {
      process.kill(await childPid, sig);
    },
    async exec(cmd) {
      const r = spawnSync('nsenter', ['--target', String(holder.pid), ...NSENTER_ARGS[mode], 'sh', '-c', cmd], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? r.error?.message ?? '' };
    },
    async stop() {
      const exited = await Promise.race([childExit.then(() => true, () => true), sleep(0).then(() => false)]);
      if (!exited) {
        const pid = await Promise.race([childPid, sleep(2000).then(() => undefined)]).catch(() => undefined);
        if (pid !== undefined) await stopPid(pid, 2000, 'SIGKILL');
      }
      await holder.dispose(2000);
    },
  };
  return proc;
}

/** Polls `check` until it returns a value other than undefined/false, or throws after timeoutMs. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
