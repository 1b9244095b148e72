import { createHash, randomBytes } from 'crypto';
import { PartDigester } from '../../../agent/src/uploader/part-digests';
import type { PositionedRead } from '../../../agent/src/uploader/read-pass';

const MIB = 1024 * 1024;
const data = randomBytes(5 * MIB + 777);
const hash = (algo: string, b: Buffer) => createHash(algo).update(b).digest();
const readOf = (bytes: Buffer, log?: number[]): PositionedRead => async (b, p, l) => {
  log?.push(p);
  return bytes.copy(b, 0, p, Math.min(bytes.length, p + l));
};
const parts = (b: Buffer, size: number) => Array.from({ length: Math.ceil(b.length / size) }, (_, i) => b.subarray(i * size, Math.min(b.length, (i + 1) * size)));

describe('PartDigester: each part digested just before it is sent, the whole re-hashed', () => {
  it.each(['md5', 'sha256'] as const)('%s: one digest per part (the last short), and the sha256 of all of them', async (digest) => {
    const d = new PartDigester(readOf(data), data.length, 2 * MIB, digest, 0);
    expect(d.partCount).toBe(3);
    // asked for at once, as the upload's workers do: computed one at a time, in order
    const got = await Promise.all([d.part(1), d.part(2), d.part(3)]);
    expect(got).toEqual(parts(data, 2 * MIB).map((p) => hash(digest, p)));
    expect(d.all()).toEqual(got);
    expect(d.sha256()).toBe(hash('sha256', data).toString('hex'));
  });

  it('reads each part in order, in chunks of at most 512 KiB, without overlap', async () => {
    const log: number[] = [];
    const d = new PartDigester(readOf(data, log), data.length, 2 * MIB, 'md5', 0);
    await Promise.all([d.part(1), d.part(2), d.part(3)]);
    expect(log).toEqual(Array.from({ length: Math.ceil(data.length / (512 * 1024)) }, (_, i) => i * 512 * 1024));
  });

  it('digests `lookahead` parts ahead of the one asked for (ready when a request is free), never past the last', async () => {
    const log: number[] = [];
    const d = new PartDigester(readOf(data, log), data.length, 2 * MIB, 'md5', 1);
    await d.part(1);
    await new Promise((r) => setTimeout(r, 50));
    // part 2 was read too (4 chunks of 512 KiB each), part 3 not yet
    expect(log).toEqual(Array.from({ length: 8 }, (_, i) => i * 512 * 1024));
    await d.part(2);
    await d.part(3);
    expect(d.sha256()).toBe(hash('sha256', data).toString('hex'));
    await expect(d.part(4)).rejects.toThrow('part 4 asked for out of order (expected 4 of 3)');
  });

  it('bytes that differ from the read pass\'s give another sha256 (the upload then refuses to commit)', async () => {
    const changed = Buffer.from(data);
    changed.fill(0x5a, 3 * MIB, 3 * MIB + 4096);
    const d = new PartDigester(readOf(changed), data.length, 2 * MIB, 'md5', 0);
    const got = await Promise.all([d.part(1), d.part(2), d.part(3)]);
    expect(got[1]).toEqual(hash('md5', changed.subarray(2 * MIB, 4 * MIB)));
    expect(d.sha256()).toBe(hash('sha256', changed).toString('hex'));
    expect(d.sha256()).not.toBe(hash('sha256', data).toString('hex'));
  });

  it('a part asked for out of order is refused; the sha256 is not given before every part was digested', async () => {
    const d = new PartDigester(readOf(data), data.length, 2 * MIB, 'md5', 0);
    await expect(d.part(2)).rejects.toThrow('part 2 asked for out of order (expected 1 of 3)');
    const e = new PartDigester(readOf(data), data.length, 2 * MIB, 'md5', 0);
    await e.part(1);
    expect(() => e.sha256()).toThrow('1 of 3 parts digested');
  });

  it('a file that shrank fails the part with ESHRUNK; an aborted upload stops digesting', async () => {
    const short = data.subarray(0, 3 * MIB);
    const d = new PartDigester(readOf(short), data.length, 2 * MIB, 'md5', 0);
    await d.part(1);
    await expect(d.part(2)).rejects.toMatchObject({ code: 'ESHRUNK' });
    // the whole sha256 can no longer be completed: every later part fails the same way, without reading
    await expect(d.part(3)).rejects.toMatchObject({ code: 'ESHRUNK' });
    const ctl = new AbortController();
    ctl.abort();
    const e = new PartDigester(readOf(data), data.length, 2 * MIB, 'md5', 0);
    await expect(e.part(1, ctl.signal)).rejects.toMatchObject({ name: 'AbortError' });
  });
});
