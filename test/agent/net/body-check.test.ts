/**
 * body-check.ts as the download uses it for a body that is not read from its socket (the SDK's own stream, e.g.
 * a chunked answer): chunks pass on one behind, and the last only when the whole body hashed to the sha256
 * computed here from the bytes. direct-get.test.ts checks the same through DirectResponse against s3rver.
 */
import { createHash, randomBytes } from 'crypto';
import { Readable, Writable } from 'stream';
import { pipeline } from 'stream/promises';
import { BodyCheck, BodyMismatch, checkingStream } from '../../../agent/src/net/body-check';

const hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const chunks = Array.from({ length: 5 }, (_, i) => randomBytes(10_000 + i));
const whole = Buffer.concat(chunks);

async function through(parts: Buffer[], sha256: string): Promise<{ got: Buffer; error?: unknown }> {
  const got: Buffer[] = [];
  const sink = new Writable({ write: (c: Buffer, _e, cb) => (got.push(c), cb()) });
  try {
    await pipeline(Readable.from(parts), checkingStream(sha256), sink);
    return { got: Buffer.concat(got) };
  } catch (error) {
    return { got: Buffer.concat(got), error };
  }
}

test('the right bytes pass whole (any case of hex), in order', async () => {
  expect(await through(chunks, hex(whole).toUpperCase())).toEqual({ got: whole });
  expect(await through([whole], hex(whole))).toEqual({ got: whole });
  expect(await through([], hex(Buffer.alloc(0)))).toEqual({ got: Buffer.alloc(0) });
});

test('changed bytes anywhere: everything but the last chunk passed, and a BodyMismatch naming both hashes', async () => {
  for (const at of [0, 2, 4]) {
    const changed = chunks.map((c, i) => (i === at ? Buffer.concat([Buffer.from([c[0] ^ 0xff]), c.subarray(1)]) : c));
    const r = await through(changed, hex(whole));
    expect(r.error).toBeInstanceOf(BodyMismatch);
    expect((r.error as Error).message).toBe(`the ${whole.length} bytes S3 sent hash to sha256 ${hex(Buffer.concat(changed))}, not the dump's ${hex(whole)}: the object was changed or damaged`);
    expect(r.got.equals(Buffer.concat(changed.slice(0, -1)))).toBe(true);
  }
  // a body cut short is a mismatch too
  const short = await through(chunks.slice(0, 3), hex(whole));
  expect([short.error instanceof BodyMismatch, short.got.equals(Buffer.concat(chunks.slice(0, 2)))]).toEqual([true, true]);
});

test('BodyCheck: finish() of the last chunk says whether the whole body matched', () => {
  const ok = new BodyCheck(hex(whole));
  for (const c of chunks.slice(0, -1)) ok.update(c);
  expect(ok.finish(chunks[4])).toBeUndefined();
  const bad = new BodyCheck(hex(whole));
  expect(bad.finish(whole.subarray(1))).toMatchObject({ name: 'BodyMismatch', expected: hex(whole), actual: hex(whole.subarray(1)), bytes: whole.length - 1 });
});
