/**
 * A dump's bytes checked against the sha256 recorded at upload while they are sent: each chunk goes through the hash
 * just before it is written (the same memory, no copy), and the last one is written only once everything hashed to
 * what was expected. Bytes that do not (a changed or damaged object) fail with a BodyMismatch before the last chunk
 * goes out, so the receiver is left short of its Content-Length and never holds a whole, wrong file.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform } from 'node:stream';

/** The body's bytes do not hash to the sha256 they were sent under. */
export class BodyMismatch extends Error {
  public constructor(readonly expected: string, readonly actual: string, readonly bytes: number) {
    super(`the ${bytes} bytes S3 sent hash to sha256 ${actual}, not the dump's ${expected}: the object was changed or damaged`);
    this.name = 'BodyMismatch';
  }
}

export class BodyCheck {
  private readonly hash: Hash = createHash('sha256');
  private readonly expected: string;
  private bytes = 0;

  /** `sha256`: hex, of the whole body. */
  public constructor(sha256: string) {
    this.expected = sha256.toLowerCase();
  }

  /** A chunk about to be written (not the last). */
  public update(chunk: Buffer): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
  }

  /** The last chunk, before it is written: a BodyMismatch when the whole body is not what was expected. */
  public finish(last: Buffer): BodyMismatch | undefined {
    this.update(last);
    const actual = this.hash.digest('hex');
    return actual === this.expected ? undefined : new BodyMismatch(this.expected, actual, this.bytes);
  }
}

/** For a body read as a stream: passes chunks on one behind, and the last one only if the whole body checks out. */
export function checkingStream(sha256: string): Transform {
  const check = new BodyCheck(sha256);
  let held: Buffer | undefined;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (held !== undefined) check.update(held);
      const out = held;
      held = chunk;
      callback(null, out);
    },
    flush(callback) {
      const error = check.finish(held ?? Buffer.alloc(0));
      callback(error ?? null, error === undefined ? held : undefined);
    },
  });
}
