import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { globToRegExp, scanDumps } from '../../../agent/src/uploader/scanner';
import { DEFAULT_DUMP_PATTERNS } from '../../../agent/src/contract';

describe('scanDumps', () => {
  let tmp: string;
  let root: string;
  beforeEach(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'scan-test-'));
    root = path.join(tmp, 'root');
    mkdirSync(path.join(root, 'ns', 'pod-a'), { recursive: true });
    mkdirSync(path.join(root, '.hidden-dir'), { recursive: true });
    mkdirSync(path.join(tmp, 'outside'), { recursive: true });
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  const rel = (segs: readonly Buffer[]) => segs.map((s) => s.toString('latin1')).join('/');

  it('finds dumps recursively by pattern; skips hidden entries, the marker and symlinks (files and dirs)', async () => {
    writeFileSync(path.join(root, 'ns', 'pod-a', 'java_pid1.hprof'), 'x');
    writeFileSync(path.join(root, 'ns', 'pod-a', 'd.hprof.gz'), 'x');
    writeFileSync(path.join(root, 'ns', 'heapdump.phd'), 'x');
    writeFileSync(path.join(root, 'ns', 'pod-a', 'notes.txt'), 'x');
    writeFileSync(path.join(root, 'ns', 'pod-a', '.tmp.hprof'), 'x');
    writeFileSync(path.join(root, '.hidden-dir', 'in-hidden.hprof'), 'x');
    writeFileSync(path.join(root, 'marker.hprof'), 'x'); // configured marker name: ignored even if it matches
    writeFileSync(path.join(tmp, 'outside', 'secret.hprof'), 'x');
    symlinkSync(path.join(tmp, 'outside', 'secret.hprof'), path.join(root, 'ns', 'link.hprof'));
    symlinkSync(path.join(tmp, 'outside'), path.join(root, 'ns', 'linkdir'));
    const r = await scanDumps(root, DEFAULT_DUMP_PATTERNS, 'marker.hprof');
    expect(r.files.map((f) => rel(f.segments)).sort()).toEqual(['ns/heapdump.phd', 'ns/pod-a/d.hprof.gz', 'ns/pod-a/java_pid1.hprof']);
    expect(r.dirs.map((d) => d.toString()).sort()).toEqual([root, path.join(root, 'ns'), path.join(root, 'ns', 'pod-a')]);
  });

  it('handles names that are not valid UTF-8 (raw bytes kept, file readable)', async () => {
    const name = Buffer.concat([Buffer.from('bad'), Buffer.from([0xff, 0xfe]), Buffer.from('.hprof')]);
    writeFileSync(Buffer.concat([Buffer.from(path.join(root, 'ns') + '/'), name]), 'content');
    const r = await scanDumps(root, ['*.hprof'], '.ready');
    expect(r.files).toHaveLength(1);
    expect(r.files[0].segments[1].equals(name)).toBe(true);
    expect(r.files[0].size).toBe(7);
  });

  it('reports an unreadable root instead of throwing', async () => {
    const r = await scanDumps(path.join(tmp, 'missing'), ['*.hprof'], '.ready');
    expect(r.files).toEqual([]);
    expect(r.errors[0].error.code).toBe('ENOENT');
  });
});

describe('globToRegExp', () => {
  it('supports * and ? and treats the rest literally', () => {
    expect(globToRegExp('*.hprof').test('java_pid1.hprof')).toBe(true);
    expect(globToRegExp('*.hprof').test('java_pid1.hprof.gz')).toBe(false);
    expect(globToRegExp('*.hprof').test('xhprof')).toBe(false);
    expect(globToRegExp('dump?.phd').test('dump1.phd')).toBe(true);
    expect(globToRegExp('a+b(*)').test('a+b(x)')).toBe(true);
  });
});
