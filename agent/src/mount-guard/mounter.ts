/**
 * Making and removing bind mounts with the `mount`/`umount` binaries (util-linux, in the image).
 * Behind a small interface so the guard loop receives it; the tests use this real one.
 *
 * The bind names its source and target by the guard's pinned directory descriptors, handed to
 * `mount` as its fds 3 and 4 (`/proc/self/fd/3`, `--no-canonicalize`): the kernel mounts exactly the
 * directories the guard checked, whatever happened to their paths since.
 */
import { execFile, spawn } from 'node:child_process';
import type { PinnedDir } from '../fs/pinned-dir';

const TIMEOUT_MS = 30_000;

export interface Mounter {
  /** `mount --bind <source> <target>`, both given as pinned directories. */
  bind(source: PinnedDir, target: PinnedDir): Promise<void>;
  /** `umount target`; when the mount is busy, a lazy `umount -l` detaches it anyway. Returns how. */
  unmount(target: string): Promise<'unmounted' | 'lazy'>;
}

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly stderr: string,
    readonly exitCode: number | null,
  ) {
    super(`${command} failed (exit ${exitCode}): ${stderr.trim() || 'no output'}`);
    this.name = 'CommandError';
  }
}

function run(file: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: TIMEOUT_MS }, (error, _stdout, stderr) => {
      if (!error) return resolve();
      const code = typeof error.code === 'number' ? error.code : null;
      reject(new CommandError([file, ...args].join(' '), String(stderr || error.message), code));
    });
  });
}

/** Runs `file args` with `fds` as its descriptors 3, 4, ... */
function runWithFds(file: string, args: string[], fds: number[], shown: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe', ...fds], timeout: TIMEOUT_MS });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < 4096) stderr += d.toString();
    });
    child.on('error', (error) => reject(new CommandError(shown, error.message, null)));
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new CommandError(shown, stderr || (signal ? `killed by ${signal}` : ''), code));
    });
  });
}

export function commandMounter(bins: { mount: string; umount: string } = { mount: 'mount', umount: 'umount' }): Mounter {
  return {
    bind: (source, target) =>
      runWithFds(bins.mount, ['--no-canonicalize', '--bind', '/proc/self/fd/3', '/proc/self/fd/4'], [source.fd, target.fd], `mount --bind ${source.display} ${target.display}`),
    async unmount(target) {
      try {
        await run(bins.umount, [target]);
        return 'unmounted';
      } catch (error) {
        // A process with an open file or cwd below the target makes umount fail with EBUSY;
        // a lazy unmount detaches it now and frees it when the last user goes away.
        if (error instanceof CommandError && /busy/i.test(error.stderr)) {
          await run(bins.umount, ['-l', target]);
          return 'lazy';
        }
        throw error;
      }
    },
  };
}
