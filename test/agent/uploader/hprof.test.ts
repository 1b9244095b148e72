import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { open } from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import { checkHprof, checkHprofFile } from '../../../agent/src/uploader/hprof';
import { makeHeapDump, makeLargeHprof, truncatedCopy } from '../../support/jvm';

const fromBuffer = (b: Buffer) => checkHprof(async (buf, pos, len) => b.copy(buf, 0, pos, Math.min(b.length, pos + len)), b.length);

function record(tag: number, body: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h[0] = tag;
  h.writeUInt32BE(body.length, 5);
  return Buffer.concat([h, body]);
}
const header = () => {
  const h = Buffer.alloc(19 + 12);
  h.write('JAVA PROFILE 1.0.2\0', 'latin1');
  h.writeUInt32BE(8, 19);
  return h;
};

describe('checkHprof (synthetic)', () => {
  it('accepts header + records + HEAP DUMP END landing exactly on EOF', async () => {
    const b = Buffer.concat([header(), record(0x01, Buffer.alloc(20, 1)), record(0x1c, Buffer.alloc(1000, 2)), record(0x2c, Buffer.alloc(0))]);
    expect(await fromBuffer(b)).toEqual({ kind: 'complete' });
  });

  it('rejects a file whose last record overruns EOF even if its last 9 bytes look like an end record', async () => {
    // the segment claims 2000 bytes but only 1000 + a fake end record follow
    const seg = record(0x1c, Buffer.alloc(1000, 2));
    seg.writeUInt32BE(2000, 5);
    const b = Buffer.concat([header(), seg, record(0x2c, Buffer.alloc(0))]);
    expect((await fromBuffer(b)).kind).toBe('incomplete');
  });

  it('rejects a dump cut in the middle of a record header', async () => {
    const b = Buffer.concat([header(), record(0x01, Buffer.alloc(20, 1)), Buffer.from([0x1c, 0, 0])]);
    expect((await fromBuffer(b)).kind).toBe('incomplete');
  });

  it('says not-hprof for other content and for an unknown version', async () => {
    expect((await fromBuffer(Buffer.from('hello world, not a dump'))).kind).toBe('not-hprof');
    const other = header();
    other.write('JAVA PROFILE 9.9.9', 'latin1');
    expect((await fromBuffer(other)).kind).toBe('not-hprof');
  });

  it('walks thousands of small records (window reads, not one read per record)', async () => {
    const recs = Array.from({ length: 20000 }, (_, i) => record(0x01, Buffer.alloc(8 + (i % 40), 3)));
    const b = Buffer.concat([header(), ...recs, record(0x2c, Buffer.alloc(0))]);
    let reads = 0;
    const v = await checkHprof(async (buf, pos, len) => {
      reads++;
      return b.copy(buf, 0, pos, Math.min(b.length, pos + len));
    }, b.length);
    expect(v).toEqual({ kind: 'complete' });
    expect(reads).toBeLessThan(b.length / (64 * 1024) + 20);
  });
});

describe('checkHprof (real JVM dumps)', () => {
  let dir: string;
  let dump: string;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hprof-test-'));
    dump = await makeHeapDump(dir);
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a finished HotSpot dump is complete', async () => {
    expect(await checkHprofFile(dump)).toEqual({ kind: 'complete' });
  });

  it('the same dump cut short anywhere is incomplete', async () => {
    const size = readFileSync(dump).length;
    for (const keep of [31, 1000, Math.floor(size / 2), size - 1]) {
      const cut = path.join(dir, `cut-${keep}.hprof`);
      await truncatedCopy(dump, cut, keep);
      expect((await checkHprofFile(cut)).kind).toBe('incomplete');
    }
  });

  it('a dump with garbage appended is incomplete', async () => {
    const grown = path.join(dir, 'grown.hprof');
    writeFileSync(grown, Buffer.concat([readFileSync(dump), Buffer.alloc(100, 7)]));
    expect((await checkHprofFile(grown)).kind).toBe('incomplete');
  });

  it('a large (1 GiB, sparse) dump is complete after a handful of header reads', async () => {
    const big = path.join(dir, 'big.hprof');
    await makeLargeHprof(big, 1024 ** 3, { sparse: true });
    const fh = await open(big, 'r');
    let reads = 0;
    try {
      const v = await checkHprof(async (buf, pos, len) => {
        reads++;
        return (await fh.read(buf, 0, len, pos)).bytesRead;
      }, (await fh.stat()).size);
      expect(v).toEqual({ kind: 'complete' });
    } finally {
      await fh.close();
    }
    expect(reads).toBeLessThan(20);
  });
});
