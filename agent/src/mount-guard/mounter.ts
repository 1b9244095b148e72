/**
 * Making and removing bind mounts with the `mount`/`umount` binaries (util-linux, in the image).
 * Behind a small interface so the guard loop receives it; the tests use this real one.
 */
import { execFile } from 'node:child_process';

export interface Mounter {
  /** `mount --bind source target`. */
  bind(source: string, target: string): Promise<void>;
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
    execFile(file, args, { timeout: 30_000 }, (error, _stdout, stderr) => {
      if (!error) return resolve();
      const code = typeof error.code === 'number' ? error.code : null;
      reject(new CommandError([file, ...args].join(' '), String(stderr || error.message), code));
    });
  });
}

export function commandMounter(bins: { mount: string; umount: string } = { mount: 'mount', umount: 'umount' }): Mounter {
  return {
    bind: (source, target) => run(bins.mount, ['--bind', source, target]),
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
