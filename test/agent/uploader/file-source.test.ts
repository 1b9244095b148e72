import { randomBytes } from 'crypto';
import * as fs from 'fs';
import { open } from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import { ONE_STREAM, PART_STREAM, rangeStream, ReadBudget, type ReadShape } from '../../../agent/src/uploader/file-source';

/** Every chunk a range stream gives, and the error it reported, if any. */
async function drain(file: string, start: number, end: number, shape: ReadShape, budget = new ReadBudget()) {
  const fh = await open(file, 'r');
  const chunks: Buffer[] = [];
  const seen: number[] = [];
  let reported: Error | undefined;
  try {
    const s = rangeStream(fh, start, end, (n) => seen.push(n), (e) => (reported = e), shape, budget);
    try {
      for await (const c of s) chunks.push(c as Buffer);
    } catch (error) {
      reported ??= error as Error;
    }
  } finally {
    await fh.close();
  }
  return { chunks, seen, reported };
}

describe('rangeStream', () => {
  let dir: string;
  let file: string;
  const data = randomBytes(3 * 1024 * 1024 + 12_345);

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'file-source-'));
    file = path.join(dir, 'dump.hprof');
    fs.writeFileSync(file, data);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['one stream', ONE_STREAM],
    ['a part', PART_STREAM],
  ])('gives exactly the bytes of the range, in chunks of at most the shape\'s size (%s)', async (_name, shape) => {
    const start = 4321;
    const end = data.length - 999;
    const { chunks, seen, reported } = await drain(file, start, end, shape);
    expect(reported).toBeUndefined();
    expect(Buffer.concat(chunks).equals(data.subarray(start, end))).toBe(true);
    expect(Math.max(...chunks.map((c) => c.length))).toBe(shape.chunkBytes);
    expect(chunks.length).toBe(Math.ceil((end - start) / shape.chunkBytes));
    expect(seen.reduce((a, b) => a + b, 0)).toBe(end - start);
  });

  it('fails with ESHRUNK, reported to the upload, when the file is shorter than the range', async () => {
    const { chunks, reported } = await drain(file, 0, data.length + 1, ONE_STREAM);
    expect((reported as NodeJS.ErrnoException | undefined)?.code).toBe('ESHRUNK');
    expect(Buffer.concat(chunks).equals(data.subarray(0, Buffer.concat(chunks).length))).toBe(true);
  });

  it('accounts every chunk to the shared read budget with its own stream\'s collection interval', async () => {
    const budget = new ReadBudget();
    const gcs: number[] = [];
    const spy = jest.spyOn(budget, 'account').mockImplementation((_n, every) => gcs.push(every));
    await drain(file, 0, 1024 * 1024, ONE_STREAM, budget);
    await drain(file, 0, 1024 * 1024, PART_STREAM, budget);
    spy.mockRestore();
    expect(gcs).toEqual([...Array(2).fill(ONE_STREAM.gcEveryBytes), ...Array(8).fill(PART_STREAM.gcEveryBytes)]);
  });
});
