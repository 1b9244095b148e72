/**
 * Reads that never came back. A read of a hung disk or NFS server (or a FUSE daemon that stopped
 * answering) blocks a libuv thread-pool thread until the storage answers, maybe forever; the agent
 * gives up waiting (a timeout) but cannot take the thread back. Two consequences are handled here:
 * - the same file is not read again while its earlier read is still stuck (each retry would cost
 *   another of the pool's few threads, and then every file operation of the process would wait);
 * - at exit, process.exit() would wait for those threads forever: main.ts asks `count()` and ends the
 *   process with a signal instead (runtime/exit.ts).
 * One instance per process, made by main.ts and handed to commands in their context (a module-level
 * map would not do: the uploader is compiled from its own embedded bundle, with its own module copies).
 */
export class StuckReads {
  private readonly stuck = new Map<string, number>();

  /** Records that a read of `key` (e.g. a file's id) timed out; `settled` resolves when it finally returns, if ever. */
  track(key: string, settled: Promise<unknown>): void {
    this.stuck.set(key, (this.stuck.get(key) ?? 0) + 1);
    const done = () => {
      const left = (this.stuck.get(key) ?? 1) - 1;
      if (left <= 0) this.stuck.delete(key);
      else this.stuck.set(key, left);
    };
    settled.then(done, done);
  }

  /** Whether a read of `key` is still stuck. */
  has(key: string): boolean {
    return this.stuck.has(key);
  }

  /** How many timed-out reads have not returned yet. */
  count(): number {
    let n = 0;
    for (const c of this.stuck.values()) n += c;
    return n;
  }
}
