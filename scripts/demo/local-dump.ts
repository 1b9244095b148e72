/**
 * The dump as the JVM writes it into its pod's folder (seen on the PVC): its size while it grows, and its
 * SHA-256 computed here, independently of the uploader, to check the object in S3 against. The file is
 * opened as soon as it appears, so the uploader moving it to the node's archive after the upload (a
 * rename) does not take it away from us.
 */
import { createHash } from 'crypto';
import { promises as fsp } from 'fs';
import * as path from 'path';

export class LocalDump {
  private fh: fsp.FileHandle | undefined;
  /** The dump's file name (java_pid1.hprof), once seen. */
  name: string | undefined;

  constructor(private readonly dir: string) {}

  /** The dump's size now, or undefined while there is none. */
  async size(): Promise<number | undefined> {
    if (!this.fh) {
      const names = await fsp.readdir(this.dir).catch(() => [] as string[]);
      const name = names.find((n) => n.endsWith('.hprof'));
      if (name === undefined) return undefined;
      this.fh = await fsp.open(path.join(this.dir, name), 'r').catch(() => undefined);
      if (!this.fh) return undefined;
      this.name = name;
    }
    return (await this.fh.stat()).size;
  }

  /** SHA-256 and size of the complete dump (call once the JVM has exited). */
  async digest(): Promise<{ sha256: string; size: number }> {
    if ((await this.size()) === undefined || !this.fh) throw new Error(`no dump appeared in ${this.dir}`);
    const hash = createHash('sha256');
    const buf = Buffer.alloc(4 * 2 ** 20);
    let pos = 0;
    for (;;) {
      const { bytesRead } = await this.fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    return { sha256: hash.digest('hex'), size: pos };
  }

  async close(): Promise<void> {
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
  }
}
