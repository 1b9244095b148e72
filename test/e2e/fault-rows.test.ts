/** The pure parts of the fault matrix: the independent HPROF completeness check and the table output. */
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { gzipSync } from 'zlib';
import { hprofLooksComplete, rowClean, RowResult, ROWS, rowById, TABLE_HEADER, tableRow } from './fault-rows';

const HEADER = Buffer.concat([Buffer.from('JAVA PROFILE 1.0.2\0', 'latin1'), Buffer.alloc(12)]);
const END = Buffer.from([0x2c, 0, 0, 0, 0, 0, 0, 0, 0]);

describe('hprofLooksComplete', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(path.join(os.tmpdir(), 'hprof-check-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, ...parts: Buffer[]) => {
    const f = path.join(dir, name);
    writeFileSync(f, Buffer.concat(parts));
    return f;
  };
  it('accepts a dump ending with HEAP DUMP END (any time field)', () => {
    expect(hprofLooksComplete(file('a', HEADER, Buffer.alloc(100, 7), END))).toBe(true);
    expect(hprofLooksComplete(file('b', HEADER, Buffer.alloc(100, 7), Buffer.from([0x2c, 1, 2, 3, 4, 0, 0, 0, 0])))).toBe(true);
  });
  it('decodes a .gz dump first: complete only when every member decodes and the HPROF inside ends right', () => {
    const whole = Buffer.concat([HEADER, Buffer.alloc(100, 7), END]);
    // HotSpot writes several members: two here
    const two = Buffer.concat([gzipSync(whole.subarray(0, 60)), gzipSync(whole.subarray(60))]);
    expect(hprofLooksComplete(file('g1.hprof.gz', two))).toBe(true);
    expect(hprofLooksComplete(file('g2.hprof.gz', two.subarray(0, two.length - 5)))).toBe(false);
    expect(hprofLooksComplete(file('g3.hprof.gz', gzipSync(Buffer.concat([HEADER, Buffer.alloc(100, 7)]))))).toBe(false);
  });
  it('rejects a truncated dump, a non-zero END length and a too short file', () => {
    expect(hprofLooksComplete(file('c', HEADER, Buffer.alloc(100, 7)))).toBe(false);
    expect(hprofLooksComplete(file('d', HEADER, Buffer.alloc(100, 7), Buffer.from([0x2c, 0, 0, 0, 0, 0, 0, 0, 1])))).toBe(false);
    expect(hprofLooksComplete(file('e', END))).toBe(false);
  });
});

describe('fault matrix table', () => {
  const clean: RowResult = {
    row: 's3-killed', run: 1, server: 'ceph', faults: ['x'], dumpsWritten: 2, objectsExpected: 2, objectsFound: 2,
    duplicates: 0, partial: 0, orphans: 0, localLost: 0, archived: 0, measured: {}, seconds: 1.5, notes: ['a|b'],
  };
  it('has one cell per header column, escapes pipes, and says n/a for unlisted orphans', () => {
    const columns = TABLE_HEADER.split('\n')[0].split(' | ').length;
    expect(tableRow(clean).split(' | ')).toHaveLength(columns);
    expect(tableRow(clean)).toContain('a\\|b');
    expect(tableRow({ ...clean, orphans: undefined })).toContain('n/a (s3rver)');
  });
  it('rowClean demands every target, and at least one dump', () => {
    expect(rowClean(clean)).toBe(true);
    for (const bad of [{ objectsFound: 1 }, { duplicates: 1 }, { partial: 1 }, { orphans: 1 }, { localLost: 1 }, { dumpsWritten: 0 }]) {
      expect(rowClean({ ...clean, ...bad })).toBe(false);
    }
  });
  it('knows every row of the issue, and names an unknown one', () => {
    expect(ROWS.map((r) => r.id)).toEqual(['s3-killed', 'uploader-killed', 's3-errors', 'mount-removed', 'guard-restarted', 'disk-full', 'gzip-disk-full', 'crash-loop', 'many-dumps', 'large-dump']);
    expect(() => rowById('nope')).toThrow(/'nope' is unknown/);
  });
});
