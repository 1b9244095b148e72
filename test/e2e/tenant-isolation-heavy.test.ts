/**
 * Heavier variants of the isolation tests (tenant-isolation.test.ts): more files, more tenants, bigger
 * dumps, everything at once. Minutes each and GiBs of disk: skipped unless HEAPDUMP_HEAVY=1, which
 * `npm run test:isolation-heavy` sets. Same invariant (isolation.ts).
 */
import { S3Client } from '@aws-sdk/client-s3';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { collidingClassesHprof, recordBombGz } from '../support/hostile-dumps';
import { makeLargeHprof } from '../support/jvm';
import { describeWithMountNs } from '../support/mountns';
import { disposeAll } from '../support/procs';
import { S3Server, startS3Server } from '../support/s3';
import { realDump } from './fault-rows';
import { ATTACKER_UID, expectInvariant, type IsolationNode, metric, verifiedAt, withIsolationNode, writeVictimDump } from './isolation';
import { loadManifests, Manifests } from './manifests';
import { waitFor } from './observe';
import { note } from '../support/notes';
import { offerToTenants, Tenant } from './tenants';

jest.setTimeout(1_800_000);

const heavy = process.env.HEAPDUMP_HEAVY === '1';
const describeHeavy = heavy ? describeWithMountNs : (name: string, fn: () => void) => describe.skip(`${name} [HEAPDUMP_HEAVY=1: npm run test:isolation-heavy]`, fn);

describeHeavy('one tenant cannot stop another tenant\'s dump: heavy variants', () => {
  let manifests: Manifests;
  let s3: S3Server;
  let client: S3Client;
  let work: string;
  let victimSrc: string;

  beforeAll(async () => {
    manifests = loadManifests();
    work = mkdtempSync(path.join(os.tmpdir(), 'isolation-heavy-'));
    [s3, victimSrc] = await Promise.all([startS3Server('s3rver'), realDump(work)]);
    client = s3.client();
  }, 300_000);

  afterAll(async () => {
    client?.destroy();
    await disposeAll();
    rmSync(work, { recursive: true, force: true });
  });

  const node = (run: (n: IsolationNode) => Promise<void>) => withIsolationNode(manifests, s3, victimSrc, run);

  test('a 4 GiB dump of one tenant (multipart) beside a small dump of another: the small one does not wait for the transfer', () => node(async ({ sim, attacker, victim, health, victimSrc: src, observeUntil }) => {
    const big = path.join(work, 'big.hprof');
    await makeLargeHprof(big, 4096 * 2 ** 20);
    const offered = offerToTenants(sim, big);
    rmSync(big);
    const { dir } = await attacker.newPod();
    await attacker.copyIn(offered, path.join(dir, 'java_pid1.hprof'));
    rmSync(offered);
    await waitFor(() => sim.uploaderLog().some((l) => l.includes('"uploading"') && l.includes('/evil/')), 120_000, 50);
    const v = await writeVictimDump(sim, victim, src);
    await expectInvariant(sim, client, s3.bucket, v, health, observeUntil);
    expect(verifiedAt(sim, v.key)).toBeLessThan(verifiedAt(sim, '/evil/') ?? Infinity);
    await waitFor(() => sim.uploaderLog().some((l) => l.includes('"uploaded and verified"') && l.includes('/evil/')), 600_000, 500);
    const r = sim.kubeletReport('uploader');
    note(`isolation heavy: 4 GiB + small: peak memory charged to the uploader's cgroup ${(r.peakRssBytes / 2 ** 20).toFixed(1)} MiB, `
      + `peak sum of its processes' RSS ${(r.peakProcessRssBytes / 2 ** 20).toFixed(1)} MiB, of ${(r.memoryLimitBytes ?? 0) / 2 ** 20} MiB; OOM kills ${r.oomKills}`);
    expect(r.peakProcessRssBytes).toBeLessThan(r.memoryLimitBytes as number);
    expect(r.oomKills).toBe(0);
  }));

  test('400,000 empty files named *.hprof in one pod folder, 100,000 in each of two more namespaces', () => node(async ({ sim, attacker, victim, health, victimSrc: src, observeUntil }) => {
    const { dir } = await attacker.newPod();
    await attacker.node(`const fs = require('fs'); for (let i = 0; i < 400000; i++) fs.closeSync(fs.openSync(${JSON.stringify(dir)} + '/x' + i + '.hprof', 'w'));`, 900_000);
    for (const ns of ['evil-b', 'evil-c']) {
      const t = new Tenant(sim, ns, ATTACKER_UID);
      const pod = await t.newPod();
      await t.node(`const fs = require('fs'); for (let i = 0; i < 100000; i++) fs.closeSync(fs.openSync(${JSON.stringify(pod.dir)} + '/y' + i + '.hprof', 'w'));`, 900_000);
    }
    await waitFor(async () => (await metric(sim, 'heapdump_uploader_scan_truncated_pod_folders')) === 3, 120_000, 500);
    const v = await writeVictimDump(sim, victim, src);
    await expectInvariant(sim, client, s3.bucket, v, health, observeUntil);
    // each attacker namespace tracks at most DUMP_MAX_FILES_PER_NAMESPACE of its files
    expect(await metric(sim, 'heapdump_uploader_backlog_files')).toBeLessThanOrEqual(3 * 100);
  }));

  test('everything at once, from five namespaces: colliding ids, 20 gzip bombs, 50,000 symlinks, 1970 mtimes', () => node(async ({ sim, victim, health, victimSrc: src, observeUntil }) => {
    const colliding = path.join(work, 'colliding.hprof');
    writeFileSync(colliding, collidingClassesHprof(160_000));
    const gz = path.join(work, 'bomb.hprof.gz');
    await recordBombGz(gz, 20_000_000);
    const offeredCol = offerToTenants(sim, colliding);
    const offeredGz = offerToTenants(sim, gz);
    for (let n = 0; n < 5; n++) {
      const t = new Tenant(sim, `evil-${n}`, ATTACKER_UID + n);
      const { dir } = await t.newPod();
      for (let i = 0; i < 4; i++) {
        await t.copyIn(offeredGz, path.join(dir, `bomb${i}.hprof.gz`));
        await t.copyIn(offeredCol, path.join(dir, `collide${i}.hprof`));
      }
      await t.node(`const fs = require('fs'); for (let i = 0; i < 10000; i++) fs.symlinkSync('/nonexistent', ${JSON.stringify(dir)} + '/s' + i + '.hprof');`);
      await t.run(['sh', '-c', 'touch -h -m -d "1970-01-01" "$1"/*.hprof*', 'sh', dir]);
    }
    const v = await writeVictimDump(sim, victim, src);
    await expectInvariant(sim, client, s3.bucket, v, health, Math.max(observeUntil, Date.now() + 60_000));
  }));
});
