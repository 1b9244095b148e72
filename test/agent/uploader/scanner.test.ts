import { execFileSync } from 'child_process';
import { closeSync, linkSync, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { PinnedDir } from '../../../agent/src/fs/pinned-dir';
import { globToRegExp, scanDumps, type ScanOptions } from '../../../agent/src/uploader/scanner';
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
  async function scan(opts: Partial<ScanOptions> = {}) {
    const dir = await PinnedDir.open(root);
    try {
      return await scanDumps(dir, { patterns: DEFAULT_DUMP_PATTERNS, markerName: '.ready', ...opts });
    } finally {
      await dir.close();
    }
  }

  it('finds dumps breadth first by pattern; skips hidden entries and the marker; never follows symlinks (files and dirs)', async () => {
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
    const r = await scan({ markerName: 'marker.hprof' });
    expect(r.files.map((f) => rel(f.segments)).sort()).toEqual(['ns/heapdump.phd', 'ns/pod-a/d.hprof.gz', 'ns/pod-a/java_pid1.hprof']);
    expect(rel(r.files[0].segments)).toBe('ns/heapdump.phd'); // breadth first: shallower levels before deeper ones
    expect(r.skipped).toEqual([expect.objectContaining({ id: 'ns/link.hprof', reason: 'symlink' })]);
    expect(r.dirCount).toBe(3); // root, ns, ns/pod-a: never outside/ through linkdir
  });

  it('skips FIFOs, sockets, hard links and sparse files with their reason', async () => {
    const dir = path.join(root, 'ns', 'pod-a');
    execFileSync('mkfifo', [path.join(dir, 'fifo.hprof')]);
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(path.join(dir, 'sock.hprof'), resolve));
    writeFileSync(path.join(dir, 'real.hprof'), 'dense');
    linkSync(path.join(dir, 'real.hprof'), path.join(dir, 'alias.hprof'));
    const sparse = path.join(dir, 'huge.hprof');
    closeSync(openSync(sparse, 'w'));
    truncateSync(sparse, 64 * 2 ** 30); // 64 GiB of holes
    const r = await scan().finally(() => new Promise((resolve) => server.close(resolve)));
    const reasons = Object.fromEntries(r.skipped.map((s) => [s.id.split('/').pop(), s.reason]));
    expect(reasons).toEqual({ 'fifo.hprof': 'fifo', 'sock.hprof': 'socket', 'real.hprof': 'hardlink', 'alias.hprof': 'hardlink', 'huge.hprof': 'sparse' });
    expect(r.files).toEqual([]);
  });

  it('handles names that are not valid UTF-8 (raw bytes kept)', async () => {
    const name = Buffer.concat([Buffer.from('bad'), Buffer.from([0xff, 0xfe]), Buffer.from('.hprof')]);
    writeFileSync(Buffer.concat([Buffer.from(path.join(root, 'ns') + '/'), name]), 'content');
    const r = await scan({ patterns: ['*.hprof'] });
    expect(r.files).toHaveLength(1);
    expect(r.files[0].segments[1].equals(name)).toBe(true);
    expect(r.files[0].state.size).toBe(7);
  });

  it('is bounded: depth, directories and files beyond the limits are counted as truncated', async () => {
    let deep = path.join(root, 'ns', 'pod-a');
    for (let i = 0; i < 5; i++) deep = path.join(deep, `d${i}`);
    mkdirSync(deep, { recursive: true });
    writeFileSync(path.join(deep, 'deep.hprof'), 'x');
    for (let i = 0; i < 5; i++) writeFileSync(path.join(root, 'ns', `f${i}.hprof`), 'x');
    const r = await scan({ limits: { maxDepth: 3, maxDirs: 100, maxFiles: 3 } });
    expect(r.truncated).toEqual({ dirs: false, files: true, depth: true });
    expect(r.files).toHaveLength(3);
    expect(r.files.every((f) => f.segments.length === 2)).toBe(true);
    const few = await scan({ limits: { maxDepth: 8, maxDirs: 2, maxFiles: 100 } });
    expect(few.truncated.dirs).toBe(true);
    expect(few.dirCount).toBe(2);
  });
});

describe('scanDumps: per-tenant budgets (issue 20)', () => {
  let tmp: string;
  let root: string;
  beforeEach(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'scan-budget-'));
    root = path.join(tmp, 'root');
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  const rel = (segs: readonly Buffer[]) => segs.map((s) => s.toString('latin1')).join('/');
  async function scan(limits: Parameters<typeof scanDumps>[1]['limits']) {
    const dir = await PinnedDir.open(root);
    try {
      return await scanDumps(dir, { patterns: DEFAULT_DUMP_PATTERNS, markerName: '.ready', limits });
    } finally {
      await dir.close();
    }
  }
  const pod = (ns: string, name: string) => {
    const d = path.join(root, ns, name);
    mkdirSync(d, { recursive: true });
    return d;
  };

  it('a pod folder stops at its entry budget (its subfolders included); other pod folders are read whole', async () => {
    const evil = pod('evil', 'pod');
    for (let i = 0; i < 300; i++) writeFileSync(path.join(evil, `junk${i}`), '');
    mkdirSync(path.join(evil, 'deeper'));
    for (let i = 0; i < 300; i++) writeFileSync(path.join(evil, 'deeper', `junk${i}`), '');
    writeFileSync(path.join(pod('shop', 'web'), 'java_pid1.hprof'), 'x');
    const small = await scan({ maxDepth: 8, maxDirs: 100, maxFiles: 100, maxEntriesPerPod: 200 });
    expect(small.truncatedPods).toEqual(['evil/pod']);
    expect(small.files.map((f) => rel(f.segments))).toEqual(['shop/web/java_pid1.hprof']);
    // 301 entries in the pod folder, 300 more below: a budget of 700 reads them all
    const enough = await scan({ maxDepth: 8, maxDirs: 100, maxFiles: 100, maxEntriesPerPod: 700 });
    expect(enough.truncatedPods).toEqual([]);
    expect(enough.dirCount).toBe(6); // root, evil, shop, evil/pod, shop/web, evil/pod/deeper
  });

  it('files per namespace are bounded, and the node-wide bound is shared so that no namespace is crowded out', async () => {
    const evil = pod('evil', 'pod');
    for (let i = 0; i < 50; i++) writeFileSync(path.join(evil, `bomb${i}.hprof`), 'x');
    writeFileSync(path.join(pod('shop', 'web'), 'java_pid1.hprof'), 'x');
    const perNs = await scan({ maxDepth: 8, maxDirs: 100, maxFiles: 1000, maxFilesPerNamespace: 10 });
    expect(perNs.files.filter((f) => rel(f.segments).startsWith('evil/'))).toHaveLength(10);
    expect(perNs.files.some((f) => rel(f.segments) === 'shop/web/java_pid1.hprof')).toBe(true);
    expect(Object.fromEntries(perNs.unreported)).toEqual({ evil: 40 });
    const node = await scan({ maxDepth: 8, maxDirs: 100, maxFiles: 5, maxFilesPerNamespace: 100 });
    expect(node.files.filter((f) => rel(f.segments).startsWith('evil/'))).toHaveLength(4);
    expect(node.files.some((f) => rel(f.segments) === 'shop/web/java_pid1.hprof')).toBe(true);
    expect(node.truncated.files).toBe(true);
  });

  it('skipped entries are counted, a bounded number of them listed, none reported as files', async () => {
    const evil = pod('evil', 'pod');
    for (let i = 0; i < 1500; i++) symlinkSync('/nonexistent', path.join(evil, `x${i}.hprof`));
    writeFileSync(path.join(pod('shop', 'web'), 'java_pid1.hprof'), 'x');
    const r = await scan(undefined);
    expect(r.skippedCount).toEqual({ symlink: 1500 });
    expect(r.skipped).toHaveLength(1000);
    expect(r.files.map((f) => rel(f.segments))).toEqual(['shop/web/java_pid1.hprof']);
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
