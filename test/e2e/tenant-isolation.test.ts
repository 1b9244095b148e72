/**
 * Issue 20, the uploader side: each attack a tenant can make from its own pod folder, on the simulated
 * node as deployed (the manifests' uploader, its --jitless Node, uid 0 with its capabilities only, in a
 * cgroup with its limits, probed by the manifest's liveness and readiness probes), against another
 * tenant's real JVM dump written at the same time. The attacker and the victim are different uids in
 * different namespaces (setpriv); the attacks' files are computed in test/support/hostile-dumps.ts.
 * Every test asserts the invariant (isolation.ts): the victim's dump verified in S3 within 30 s of its
 * last write plus its own transfer time, no restart, no OOM kill, peak memory within the limit.
 * Heavier variants: tenant-isolation-heavy.test.ts (`npm run test:isolation-heavy`).
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { collidingClassesHprof, recordBomb, recordBombGz } from '../support/hostile-dumps';
import { describeWithMountNs } from '../support/mountns';
import { disposeAll } from '../support/procs';
import { S3Server, startS3Server } from '../support/s3';
import { realDump } from './fault-rows';
import { ATTACKER_UID, expectInvariant, type IsolationNode, metric, verifiedAt, withIsolationNode, writeVictimDump } from './isolation';
import { loadManifests, Manifests } from './manifests';
import { waitFor } from './observe';
import { offerToTenants, Tenant } from './tenants';

jest.setTimeout(300_000);

const ATTACKER = ATTACKER_UID;

describeWithMountNs('one tenant cannot stop another tenant\'s dump (issue 20)', () => {
  let manifests: Manifests;
  let s3: S3Server;
  let client: S3Client;
  let work: string;
  let victimSrc: string;

  beforeAll(async () => {
    manifests = loadManifests();
    work = mkdtempSync(path.join(os.tmpdir(), 'isolation-'));
    [s3, victimSrc] = await Promise.all([startS3Server('s3rver'), realDump(work)]);
    client = s3.client();
  }, 180_000);

  afterAll(async () => {
    client?.destroy();
    await disposeAll();
    rmSync(work, { recursive: true, force: true });
  });

  /** A fresh node: guard, uploader, an attacker and a victim tenant, a /healthz watch. */
  const node = (run: (n: IsolationNode) => Promise<void>) => withIsolationNode(manifests, s3, victimSrc, run);

  test('attack 1, hash collisions in the id table: three 4 MB dumps of 160,000 colliding class ids, mtimes in 1970', () => node(async ({ sim, attacker, victim, health, victimSrc: src, observeUntil }: IsolationNode) => {
    const colliding = path.join(work, 'colliding.hprof');
    writeFileSync(colliding, collidingClassesHprof(160_000));
    const offered = offerToTenants(sim, colliding);
    const { dir } = await attacker.newPod();
    for (let i = 0; i < 3; i++) {
      await attacker.copyIn(offered, path.join(dir, `collide${i}.hprof`));
      await attacker.setMtime(path.join(dir, `collide${i}.hprof`), '1970-01-01 00:00:0' + i);
    }
    // the victim's JVM dies while the uploader is busy with the attacker's dumps
    await waitFor(() => sim.uploaderLog().some((l) => l.includes('"uploading"') && l.includes('/evil/')), 30_000, 50);
    const v = await writeVictimDump(sim, victim, src);
    await expectInvariant(sim, client, s3.bucket, v, health, observeUntil);
    // the attacker's dumps themselves: analysed to their end, each in well under its CPU budget
    await waitFor(() => sim.uploaderLog().filter((l) => l.includes('"dump analysed"') && l.includes('evil/')).length === 3, 60_000, 200);
    const analysed = sim.uploaderLog().filter((l) => l.includes('"dump analysed"') && l.includes('evil/')).map((l) => JSON.parse(l) as { cpuSeconds: number });
    expect(analysed.every((a) => a.cpuSeconds < 10)).toBe(true);
  }));

  test('attack 2, tracker exhaustion: 10,000 dangling *.hprof symlinks, and 2 x 1,000 more in another namespace\'s pods', () => node(async ({ sim, attacker, victim, health, victimSrc: src, observeUntil }: IsolationNode) => {
    const { dir } = await attacker.newPod();
    await attacker.node(`const fs = require('fs'); for (let i = 0; i < 10000; i++) fs.symlinkSync('/nonexistent/' + i, ${JSON.stringify(dir)} + '/x' + i + '.hprof');`);
    const second = new Tenant(sim, 'evil-two', ATTACKER);
    for (let p = 0; p < 2; p++) {
      const pod = await second.newPod();
      await second.node(`const fs = require('fs'); for (let i = 0; i < 1000; i++) fs.symlinkSync('/nonexistent/' + i, ${JSON.stringify(pod.dir)} + '/y' + i + '.hprof');`);
    }
    const seen = await waitFor(async () => (await metric(sim, 'heapdump_uploader_skipped_files', 'reason="symlink"')) === 12_000, 60_000, 250);
    expect(seen).toBe(true);
    const v = await writeVictimDump(sim, victim, src);
    await expectInvariant(sim, client, s3.bucket, v, health, observeUntil);
    // counted per scan, said once per pod folder: three lines, not 12,000
    expect(sim.uploaderLog().filter((l) => l.includes('not uploading a matching entry that is not a plain dump file'))).toHaveLength(3);
  }));

  test('attack 3, inflate and record bombs: four .hprof.gz of 20 million empty records each and a plain one of 6 million, mtimes in 1970', () => node(async ({ sim, attacker, victim, health, victimSrc: src, observeUntil }: IsolationNode) => {
    const gz = path.join(work, 'bomb.hprof.gz');
    const gzSize = await recordBombGz(gz, 20_000_000);
    expect(gzSize).toBeLessThan(400_000);
    const plain = path.join(work, 'bomb.hprof');
    writeFileSync(plain, recordBomb(6_000_000));
    const offeredGz = offerToTenants(sim, gz);
    const offeredPlain = offerToTenants(sim, plain);
    const { dir } = await attacker.newPod();
    for (let i = 0; i < 4; i++) {
      await attacker.copyIn(offeredGz, path.join(dir, `bomb${i}.hprof.gz`));
      await attacker.setMtime(path.join(dir, `bomb${i}.hprof.gz`), `1970-01-01 00:00:0${i}`);
    }
    await attacker.copyIn(offeredPlain, path.join(dir, 'bomb.hprof'));
    await attacker.setMtime(path.join(dir, 'bomb.hprof'), '1970-01-01 00:00:09');
    const v = await writeVictimDump(sim, victim, src);
    const r = await expectInvariant(sim, client, s3.bucket, v, health, observeUntil);
    expect(r.latencyMs).toBeLessThan(30_000);
  }));

  test('attack 4, directory size: 400,000 empty files in one pod folder (the scan reads 10,000 of them, says so, and goes on)', () => node(async ({ sim, attacker, victim, health, victimSrc: src, observeUntil }: IsolationNode) => {
    const { pod, dir } = await attacker.newPod();
    await attacker.node(`const fs = require('fs'); for (let i = 0; i < 400000; i++) fs.closeSync(fs.openSync(${JSON.stringify(dir)} + '/f' + i, 'w'));`, 600_000);
    expect(readdirSync(sim.view(dir)).length).toBe(400_000);
    await waitFor(async () => (await metric(sim, 'heapdump_uploader_scan_truncated_pod_folders')) === 1, 60_000, 250);
    const v = await writeVictimDump(sim, victim, src);
    await expectInvariant(sim, client, s3.bucket, v, health, observeUntil);
    const said = sim.uploaderLog().filter((l) => l.includes('a pod folder holds more entries than one scan reads'));
    expect(said).toHaveLength(1);
    expect(JSON.parse(said[0])).toMatchObject({ folder: `evil/${pod}`, limit: 10_000 });
  }));

  test('a multi-GiB dump of one tenant does not hold another tenant\'s small dump for its transfer (two upload slots)', () => node(async ({ sim, attacker, victim, health, victimSrc: src, observeUntil }: IsolationNode) => {
    const { makeLargeHprof } = await import('../support/jvm');
    const big = path.join(work, 'big.hprof');
    await makeLargeHprof(big, 1536 * 2 ** 20);
    const offered = offerToTenants(sim, big);
    rmSync(big);
    const { dir } = await attacker.newPod();
    await attacker.copyIn(offered, path.join(dir, 'java_pid1.hprof'));
    await waitFor(() => sim.uploaderLog().some((l) => l.includes('"uploading"') && l.includes('/evil/')), 60_000, 50);
    const v = await writeVictimDump(sim, victim, src);
    await expectInvariant(sim, client, s3.bucket, v, health, observeUntil);
    // the victim's dump was verified while the big one was still on its way
    expect(verifiedAt(sim, v.key)).toBeLessThan(verifiedAt(sim, '/evil/') ?? Infinity);
  }));

  test('no crash loop: the uploader killed while it analyses a dump does not analyse that dump again after its restart', () => node(async ({ sim, victim, victimSrc: src }: IsolationNode) => {
    const v = await writeVictimDump(sim, victim, src);
    // catch the analysis process (a child of the uploader running --analysis-process), freeze it, kill the uploader (as an OOM kill would)
    const uploaderPid = sim.uploader!.proc.pid;
    const child = await waitFor(() => analysisChildOf(uploaderPid), 30_000, 5);
    expect(child).toBeDefined();
    process.kill(child as number, 'SIGSTOP');
    await sim.kill(sim.uploader);
    process.kill(child as number, 'SIGKILL');
    await sim.restartUploader();
    await waitFor(() => sim.uploaderLog().some((l) => l.includes('"dump summary written"') && l.includes(v.key)), 60_000, 200);
    const summary = JSON.parse(await getText(client, s3.bucket, `${v.key}.summary.json`)) as { heap: { issues: string[]; complete: boolean } };
    expect(summary.heap.complete).toBe(false);
    expect(summary.heap.issues[0]).toMatch(/^not analysed: (its analysis was running when the uploader stopped|the uploader restarted while analysing this dump)/);
    // the restarted uploader never ran the analysis of that file again
    const second = sim.uploader!.proc.stdout;
    expect(second.filter((l) => l.includes('"dump analysed"'))).toEqual([]);
  }));
});

/** The PID of a process whose parent is `ppid` and whose command line has --analysis-process. */
function analysisChildOf(ppid: number): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent === ppid && readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').includes('--analysis-process')) return Number(name);
    } catch {
      // gone
    }
  }
  return undefined;
}

async function getText(client: S3Client, bucket: string, key: string): Promise<string> {
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return out.Body!.transformToString('utf8');
}
