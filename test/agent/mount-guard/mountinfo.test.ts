import { expectedBindOf, mountAt, mountContaining, parseMountinfo, parseMountinfoLine, unescapeMountPath, verifyBind } from '../../../agent/src/mount-guard/mountinfo';

// Shaped like a real /proc/self/mountinfo inside a guard container: the PVC at /pv-storage
// (itself a bind with a root deep inside the node's filesystem), the node dir bound onto /host/mnt/dump.
const MOUNTINFO = [
  '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
  '30 22 0:5 / /dev rw,nosuid shared:2 - devtmpfs udev rw,size=1000k',
  '40 22 0:52 /volumes/pvc-1 /pv-storage rw,relatime shared:20 - nfs4 srv:/export rw,vers=4.2',
  '41 22 254:0 /mnt /host/mnt rw,relatime shared:1 - ext4 /dev/vda rw',
  '42 41 0:52 /volumes/pvc-1/worker-1 /host/mnt/dump rw,relatime shared:20 - nfs4 srv:/export rw,vers=4.2',
].join('\n');

describe('unescapeMountPath', () => {
  test('decodes the kernel octal escapes for space, tab, newline and backslash', () => {
    expect(unescapeMountPath('/a\\040b\\011c\\012d\\134e')).toBe('/a b\tc\nd\\e');
  });
  test('leaves other text alone', () => {
    expect(unescapeMountPath('/plain/path-1.2')).toBe('/plain/path-1.2');
  });
});

describe('parseMountinfoLine', () => {
  test('reads every field, with optional fields present', () => {
    expect(parseMountinfoLine('36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue')).toEqual({
      id: 36, parentId: 35, major: 98, minor: 0, root: '/mnt1', mountPoint: '/mnt2', options: 'rw,noatime', fsType: 'ext3', source: '/dev/root',
    });
  });
  test('works without optional fields and with several of them', () => {
    expect(parseMountinfoLine('1 0 8:1 / / rw - ext4 /dev/sda1 rw')).toMatchObject({ mountPoint: '/', fsType: 'ext4' });
    expect(parseMountinfoLine('2 1 0:3 / /x rw shared:4 master:2 propagate_from:1 - tmpfs tmpfs rw')).toMatchObject({ mountPoint: '/x', fsType: 'tmpfs', source: 'tmpfs' });
  });
  test('unescapes root and mount point with spaces, tabs, newlines and backslashes', () => {
    const e = parseMountinfoLine('50 22 254:0 /data/my\\040dir/x\\134y /mnt/a\\011tab\\012nl rw - ext4 /dev/my\\040disk rw');
    expect(e.root).toBe('/data/my dir/x\\y');
    expect(e.mountPoint).toBe('/mnt/a\ttab\nnl');
    expect(e.source).toBe('/dev/my disk');
  });
  test('a malformed line is an error quoting the line', () => {
    expect(() => parseMountinfoLine('36 35 98:0 /mnt1')).toThrow('mountinfo line is malformed: expected "id parent major:minor root mount-point options ... - fstype source options", got "36 35 98:0 /mnt1"');
    expect(() => parseMountinfoLine('36 35 x /a /b rw - ext4 /dev/x rw')).toThrow(/malformed/);
  });
});

describe('lookups', () => {
  const entries = parseMountinfo(MOUNTINFO + '\n');
  test('parseMountinfo skips blank lines', () => {
    expect(entries).toHaveLength(5);
  });
  test('mountAt: the last (top) of stacked mounts wins', () => {
    const stacked = parseMountinfo(MOUNTINFO + '\n43 42 0:60 / /host/mnt/dump rw - tmpfs t rw');
    expect(mountAt(stacked, '/host/mnt/dump')?.fsType).toBe('tmpfs');
    expect(mountAt(entries, '/host/mnt/dump')?.id).toBe(42);
    expect(mountAt(entries, '/host/mnt/dump/sub')).toBeUndefined();
  });
  test('mountContaining: longest mount-point prefix, on path boundaries', () => {
    expect(mountContaining(entries, '/pv-storage/worker-1')?.id).toBe(40);
    expect(mountContaining(entries, '/pv-storage')?.id).toBe(40);
    expect(mountContaining(entries, '/pv-storage-other/x')?.id).toBe(22);
    expect(mountContaining(entries, '/')?.id).toBe(22);
  });
  test('expectedBindOf: holder device and holder root + path below the mount point', () => {
    expect(expectedBindOf(entries, '/pv-storage/worker-1')).toEqual({ major: 0, minor: 52, root: '/volumes/pvc-1/worker-1' });
    expect(expectedBindOf(entries, '/var/x')).toEqual({ major: 254, minor: 0, root: '/var/x' });
  });
});

describe('verifyBind', () => {
  test('ok when the target shows the source device and root', () => {
    expect(verifyBind(parseMountinfo(MOUNTINFO), '/pv-storage/worker-1', '/host/mnt/dump')).toEqual({ ok: true });
  });
  test('not a mount point', () => {
    const entries = parseMountinfo(MOUNTINFO.split('\n').slice(0, 4).join('\n'));
    expect(verifyBind(entries, '/pv-storage/worker-1', '/host/mnt/dump')).toEqual({ ok: false, reason: '/host/mnt/dump is not a mount point' });
  });
  test('some other filesystem mounted there (not merely "a mount point")', () => {
    const entries = parseMountinfo(MOUNTINFO + '\n43 42 0:60 / /host/mnt/dump rw - tmpfs t rw');
    expect(verifyBind(entries, '/pv-storage/worker-1', '/host/mnt/dump')).toEqual({ ok: false, reason: '/host/mnt/dump is device 0:60 (tmpfs t), expected 0:52' });
  });
  test('same filesystem, wrong directory (e.g. the whole PVC, or another node)', () => {
    const whole = MOUNTINFO.replace('/volumes/pvc-1/worker-1 /host', '/volumes/pvc-1 /host');
    expect(verifyBind(parseMountinfo(whole), '/pv-storage/worker-1', '/host/mnt/dump')).toEqual({
      ok: false, reason: '/host/mnt/dump shows /volumes/pvc-1 of its filesystem, expected /volumes/pvc-1/worker-1',
    });
    const other = MOUNTINFO.replace('/volumes/pvc-1/worker-1 /host', '/volumes/pvc-1/worker-2 /host');
    expect(verifyBind(parseMountinfo(other), '/pv-storage/worker-1', '/host/mnt/dump').ok).toBe(false);
  });
  test('paths with escaped characters compare after unescaping', () => {
    const text = '1 0 254:0 / / rw - ext4 /dev/vda rw\n2 1 254:0 /pv\\040root/n\\0111 /mnt/my\\040dump rw - ext4 /dev/vda rw';
    expect(verifyBind(parseMountinfo(text), '/pv root/n\t1', '/mnt/my dump')).toEqual({ ok: true });
  });
});
