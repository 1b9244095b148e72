/** Self-test of the heap dump helpers, checked by a minimal HPROF record walker of our own. */
import { mkdtempSync, rmSync, statSync, mkdirSync, chmodSync } from 'fs';
import * as fsp from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import { makeHeapDump, makeLargeHprof, slowCopy, truncatedCopy } from '../support/jvm';
import { sha256File } from '../support/s3';
import { note } from '../support/notes';

interface Walk {
  readonly version: string;
  readonly records: number;
  readonly lastTag?: number;
  readonly maxLength: number;
  /** The last record header ends exactly at EOF and is HEAP DUMP END. */
  readonly complete: boolean;
}

/** Reads only the header and the 9-byte record headers, skipping each body by its length. */
async function walkHprof(file: string): Promise<Walk> {
  const fh = await fsp.open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const head = Buffer.alloc(64);
    await fh.read(head, 0, 64, 0);
    const nul = head.indexOf(0);
    const version = head.toString('latin1', 0, nul);
    let pos = nul + 1 + 4 + 8;
    let records = 0;
    let lastTag: number | undefined;
    let maxLength = 0;
    const h = Buffer.alloc(9);
    while (pos < size) {
      const { bytesRead } = await fh.read(h, 0, 9, pos);
      if (bytesRead < 9) return { version, records, lastTag, maxLength, complete: false };
      lastTag = h[0];
      records++;
      maxLength = Math.max(maxLength, h.readUInt32BE(5));
      pos += 9 + h.readUInt32BE(5);
    }
    return { version, records, lastTag, maxLength, complete: pos === size && lastTag === 0x2c };
  } finally {
    await fh.close();
  }
}

describe('heap dump helpers', () => {
  let dir: string;
  let dump: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'jvm-selftest-'));
    const t0 = Date.now();
    dump = await makeHeapDump(path.join(dir, 'root'));
    note(`makeHeapDump: ${statSync(dump).size} bytes in ${Date.now() - t0} ms (includes javac on a cold cache)`);
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('makeHeapDump writes a complete HotSpot dump named java_pid<PID>.hprof', async () => {
    expect(path.basename(dump)).toMatch(/^java_pid\d+\.hprof$/);
    const w = await walkHprof(dump);
    expect(w).toMatchObject({ version: 'JAVA PROFILE 1.0.2', lastTag: 0x2c, complete: true });
    expect(w.records).toBeGreaterThan(10);
    expect(statSync(dump).size).toBeGreaterThan(16 * 1024 * 1024); // most of a 32 MiB heap
  });

  it('makeHeapDump honours fileName and runs as another uid (file owned by it, mode 0600)', async () => {
    const d = path.join(dir, 'u1000');
    mkdirSync(d);
    chmodSync(d, 0o700); // root-only: the helper must make it writable for uid 1000
    const t0 = Date.now();
    const p = await makeHeapDump(d, { uid: 1000, gid: 1000, fileName: 'app.hprof' });
    note(`makeHeapDump as uid 1000: ${Date.now() - t0} ms`);
    expect(p).toBe(path.join(d, 'app.hprof'));
    const st = statSync(p);
    expect(st.uid).toBe(1000);
    expect(st.gid).toBe(1000);
    expect(st.mode & 0o777).toBe(0o600);
    expect((await walkHprof(p)).complete).toBe(true);
  }, 60_000);

  it('truncatedCopy is not complete; a copy of the whole is', async () => {
    const cut = path.join(dir, 'cut.hprof');
    await truncatedCopy(dump, cut, Math.floor(statSync(dump).size / 2));
    expect(statSync(cut).size).toBe(Math.floor(statSync(dump).size / 2));
    expect((await walkHprof(cut)).complete).toBe(false);
    const cut9 = path.join(dir, 'cut9.hprof');
    await truncatedCopy(dump, cut9, statSync(dump).size - 9); // without exactly the END record
    expect((await walkHprof(cut9)).complete).toBe(false);
    await expect(truncatedCopy(dump, cut, statSync(dump).size)).rejects.toThrow(/keepBytes/);
  });

  it('slowCopy grows the file gradually and ends identical; it stops on abort', async () => {
    const dst = path.join(dir, 'slow.hprof');
    const chunk = 4 * 1024 * 1024;
    const copying = slowCopy(dump, dst, { chunkBytes: chunk, delayMs: 50 });
    await new Promise((r) => setTimeout(r, 75));
    const midway = statSync(dst).size;
    expect(midway).toBeGreaterThan(0);
    expect(midway).toBeLessThan(statSync(dump).size);
    await copying;
    expect(await sha256File(dst)).toBe(await sha256File(dump));

    const ac = new AbortController();
    const aborted = slowCopy(dump, path.join(dir, 'aborted.hprof'), { chunkBytes: chunk, delayMs: 50, signal: ac.signal });
    setTimeout(() => ac.abort(), 60);
    await expect(aborted).rejects.toThrow();
    expect(statSync(path.join(dir, 'aborted.hprof')).size).toBeLessThan(statSync(dump).size);
  });

  it('makeLargeHprof(256 MiB) is complete and exactly that size', async () => {
    const big = path.join(dir, 'big.hprof');
    const bytes = 256 * 1024 * 1024;
    const t0 = Date.now();
    await makeLargeHprof(big, bytes);
    const ms = Date.now() - t0;
    note(`makeLargeHprof 256 MiB: ${ms} ms (${Math.round(256 / (ms / 1000))} MiB/s)`);
    expect(statSync(big).size).toBe(bytes);
    expect(await walkHprof(big)).toMatchObject({ version: 'JAVA PROFILE 1.0.2', complete: true, lastTag: 0x2c });
    rmSync(big);
  });

  it('makeLargeHprof sparse 5 GiB is complete (segments stay under the u4 length limit)', async () => {
    const big = path.join(dir, 'sparse.hprof');
    const bytes = 5 * 1024 * 1024 * 1024 + 12345;
    await makeLargeHprof(big, bytes, { sparse: true });
    const w = await walkHprof(big);
    expect(statSync(big).size).toBe(bytes);
    expect(w.complete).toBe(true);
    expect(w.maxLength).toBeLessThanOrEqual(256 * 1024 * 1024);
    expect(w.records).toBe(1 + 21 + 1); // UTF8, 21 segments of <= 256 MiB, END
    rmSync(big);
  });

  it('makeLargeHprof rejects a size too small to hold a record', async () => {
    await expect(makeLargeHprof(path.join(dir, 'tiny'), 10)).rejects.toThrow(/bytes is 10/);
  });
});
