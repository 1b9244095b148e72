/**
 * The part of the fault matrix that fits in CI time (one run per row); `npm run faults` runs every row
 * several times. Ceph RGW is the server: it lists multipart uploads, so orphans are counted.
 */
import { chmodSync, mkdtempSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describeWithMountNs } from '../support/mountns';
import { disposeAll } from '../support/procs';
import { cephAvailable, S3Server, startS3Server } from '../support/s3';
import { MatrixEnv, rowById, RowResult, runRowOnce, tableRow } from './fault-rows';
import { loadManifests } from './manifests';
import { note } from '../support/notes';

const CI_ROWS = ['uploader-killed', 's3-killed', 's3-errors', 'mount-removed', 'gzip-disk-full'];

jest.setTimeout(300_000);

const describeCeph = cephAvailable() ? describeWithMountNs : (name: string, fn: () => void) => {
  console.warn(`SKIPPED "${name}": Ceph (ceph-mon, ceph-osd, radosgw) is not installed; scripts/setup-test.sh installs it`);
  describe.skip(`${name} [SKIPPED: no Ceph]`, fn);
};

describeCeph('fault matrix (CI subset, one run per row)', () => {
  let ceph: S3Server;
  let env: MatrixEnv;
  let workDir: string;

  beforeAll(async () => {
    workDir = mkdtempSync(path.join(os.tmpdir(), 'faults-ci-'));
    chmodSync(workDir, 0o755);
    ceph = await startS3Server('ceph');
    env = { manifests: loadManifests(), ceph, workDir, log: () => undefined };
  }, 180_000);

  afterAll(async () => {
    await disposeAll();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  test.each(CI_ROWS)('%s: nothing lost, duplicated, partial or orphaned', async (id) => {
    const r: RowResult = await runRowOnce(rowById(id), env, 1);
    note(tableRow(r));
    expect(r.faults.length).toBeGreaterThan(0);
    expect(r.dumpsWritten).toBeGreaterThan(0);
    expect({
      found: r.objectsFound, duplicates: r.duplicates, partial: r.partial, orphans: r.orphans, lost: r.localLost,
    }).toEqual({ found: r.objectsExpected, duplicates: 0, partial: 0, orphans: 0, lost: 0 });
  });

  test('crash-loop (issue 15): every OOM of a PID-1 JVM in the same pod folder reaches S3 as its own object, within 5 s, once; the folder ends empty', async () => {
    const r: RowResult = await runRowOnce(rowById('crash-loop'), env, 1);
    note(tableRow(r));
    expect({ written: r.dumpsWritten, found: r.objectsFound, duplicates: r.duplicates, partial: r.partial, orphans: r.orphans, lost: r.localLost })
      .toEqual({ written: 3, found: 3, duplicates: 0, partial: 0, orphans: 0, lost: 0 });
    expect(r.measured.secondsFromExitToS3).toHaveLength(3);
    for (const s of r.measured.secondsFromExitToS3) expect(s).toBeLessThan(5);
    // the pod folder holds nothing (each verified dump moved to the archive, far below the retention bounds)
    expect(r.archived).toBe(3);
  });
});
