/**
 * End to end on one simulated node, as deployed: settings from the synthesized manifests, a private
 * mount namespace, the real mount guard, wait-ready gating the uploader and the application, a real
 * JVM (the demo source from the ConfigMap, JAVA_TOOL_OPTIONS from the Deployment, as the app's uid)
 * leaking until OOM, and the real uploader shipping the dump to s3rver on loopback.
 *
 * The only change to the manifests' settings besides the S3 location and HTTP ports: the heap size
 * flag (-Xmx48m instead of the Deployment's), so the OOM comes in ~15 s.
 */
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'fs';
import * as path from 'path';
import { COMMANDS, ENV, OBJECT_METADATA } from '../../agent/src/contract';
import { dumpKey } from '../../agent/src/uploader/keys';
import { describeWithMountNs } from '../support/mountns';
import { disposeAll, sleep } from '../support/procs';
import { getObjectSha256, S3Server, startS3Server } from '../support/s3';
import { processIdentity } from './kubelet-sim';
import { containerOf, loadManifests, Manifests } from './manifests';
import { NodeSim } from './node-sim';
import { headObject, listLocal, waitFor, waitForObject } from './observe';
import { note } from '../support/notes';

jest.setTimeout(240_000);

describeWithMountNs('end to end on one simulated node', () => {
  let manifests: Manifests;
  let s3: S3Server;
  let sim: NodeSim;
  let client: S3Client;

  beforeAll(async () => {
    manifests = loadManifests();
    s3 = await startS3Server('s3rver');
    client = s3.client();
    sim = await NodeSim.create({ manifests, s3, verbose: process.env.E2E_VERBOSE === '1' });
  }, 180_000);

  afterAll(async () => {
    client?.destroy();
    await sim?.dispose();
    await disposeAll();
  });

  test('the manifests give the simulation what it needs', () => {
    // the guard binds <MOUNT_SOURCE_ROOT>/<node> (a PVC) onto the node path the consumers read
    const mount = sim.guardMount();
    expect(mount.source).toBe(path.join(sim.pvcDir, sim.nodeName));
    expect(mount.target).toBe(sim.hostPath(sim.consumerDumpRoot()));
    expect(containerOf(manifests.uploader, COMMANDS.waitReady, true)).toBeDefined();
    expect(containerOf(manifests.app, COMMANDS.waitReady, true)).toBeDefined();
  });

  test('a JVM OOM dump reaches S3 once, byte-identical, with key and metadata', async () => {
    // wait-ready gates both pods: started before the guard, neither the uploader nor the JVM may start
    const uploaderStarting = sim.startUploader();
    const appStarting = sim.startApp();
    await sleep(2000);
    expect(sim.uploader).toBeUndefined();
    expect(sim.apps).toHaveLength(0);
    await sim.startGuard();
    const uploader = await uploaderStarting;
    const app = await appStarting;
    const dirs = sim.appDumpDirs(app.podName);

    // the uploader runs as the manifest says: uid 0 with only the capabilities the container adds
    const uploaderId = processIdentity(manifests.uploader.spec, containerOf(manifests.uploader, COMMANDS.uploader), 0);
    // the container's process starts as nsenter/setpriv, which drop the capabilities and then exec node
    const procStatus = () => readFileSync(`/proc/${uploader.proc.pid}/status`, 'utf8');
    const exe = () => { try { return readlinkSync(`/proc/${uploader.proc.pid}/exe`); } catch { return ''; } };
    await waitFor(async () => exe() === sim.agentNode, 10_000, 50);
    // the image's Node (24), not the one running jest
    expect(exe()).toBe(sim.agentNode);
    const status = procStatus();
    expect(status).toMatch(new RegExp(`^Uid:\\s+${uploaderId.uid}\\s`, 'm'));
    expect(status).toMatch(new RegExp(`^CapEff:\\s+${capMask(uploaderId.caps)}$`, 'm'));
    // archive (the default afterUpload) moves dumps out of the pods' 0700 folders: DAC_OVERRIDE too
    expect(uploaderId.caps).toEqual(['dac_read_search', 'dac_override']);

    const exit = await Promise.race([app.proc.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 120_000))]);
    if (exit === undefined) throw new Error(`the JVM did not run out of memory within 120 s:\n${app.proc.output()}`);
    // -XX:+ExitOnOutOfMemoryError: the JVM exits right after writing the dump
    const dumpDone = Date.now();
    expect(app.proc.output()).toMatch(/Heap dump file created/);

    // the dump is on the PVC, in the pod's own folder, named after the JVM's pid; nothing on the node's own disk
    const file = path.join(dirs.pvcDir, `java_pid${app.proc.pid}.hprof`);
    expect(readdirSync(dirs.pvcDir)).toEqual([path.basename(file)]);
    expect(existsSync(sim.hostPath(sim.consumerDumpRoot()))).toBe(true);
    expect(readdirSync(sim.hostPath(sim.consumerDumpRoot()))).toEqual([]); // outside the namespace: the bare node dir

    // written by the JVM as the app's uid, mode 0600 (HotSpot): the uploader (uid 0) reads it through CAP_DAC_READ_SEARCH only
    const appId = processIdentity(manifests.app.spec, containerOf(manifests.app), 1000);
    const st = statSync(file);
    expect({ uid: st.uid, mode: st.mode & 0o777 }).toEqual({ uid: appId.uid, mode: 0o600 });
    expect(appId.uid).not.toBe(uploaderId.uid);
    const lastWrite = st.mtimeMs;

    const [local] = await listLocal(dirs.pvcDir);
    const env = sim.uploaderEnv();
    const rel = path.relative(path.join(sim.pvcDir, sim.nodeName), file);
    // the occurrence (the dump's mtime) before the extension
    const key = dumpKey(env[ENV.s3Prefix] ?? '', sim.nodeName, rel.split('/').map((x) => Buffer.from(x)), st.mtimeMs);
    expect(rel).toBe(`${manifests.app.namespace}/${app.podName}/java_pid${app.proc.pid}.hprof`);

    const arrived = await waitForObject(client, s3.bucket, key, local, 120_000);
    if (arrived === undefined) {
      const keys = await s3.listKeys();
      throw new Error(`object ${key} did not arrive within 120 s; keys: ${JSON.stringify(keys)}\nuploader:\n${uploader.proc.output()}`);
    }
    note(`e2e: settings changed from the manifests: ${JSON.stringify(sim.overrides())}`);
    note(
      `e2e: dump ${local.size} bytes; JVM dump completion -> object in S3 (first HEAD with size + sha256): ` +
        `${arrived - dumpDone} ms after the JVM exited, ${Math.round(arrived - lastWrite)} ms after the dump's last write`,
    );

    const got = await getObjectSha256(s3, key);
    expect(got.size).toBe(local.size);
    expect(got.sha256).toBe(local.sha256);
    expect(got.metadata).toMatchObject({
      [OBJECT_METADATA.node]: sim.nodeName,
      [OBJECT_METADATA.namespace]: manifests.app.namespace,
      [OBJECT_METADATA.pod]: app.podName,
      [OBJECT_METADATA.complete]: 'true',
      [OBJECT_METADATA.originalSize]: String(local.size),
      [OBJECT_METADATA.sha256]: local.sha256,
    });

    // once: no other object (no duplicate under a suffixed key), and it stays that way
    await waitFor(async () => false, 3000);
    const listed = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket }));
    // the dump and its triage summary (`<dump key>.summary.json` / `.summary.txt`)
    expect((listed.Contents ?? []).map((o) => o.Key).filter((k) => !k!.startsWith(`${key}.summary.`))).toEqual([key]);
    expect((await headObject(client, s3.bucket, key))?.size).toBe(local.size);
    expect(uploader.proc.exitInfo()).toBeUndefined();
  });

  test('on SIGTERM the guard removes the marker and unmounts; the uploader exits cleanly', async () => {
    const mount = sim.guardMount();
    await sim.stop(sim.uploader);
    expect(sim.uploader?.proc.exitInfo()?.code).toBe(0);
    await sim.stop(sim.guard);
    expect(sim.guard?.proc.exitInfo()?.code).toBe(0);
    expect(await sim.isMounted(mount.target)).toBe(false);
    expect(existsSync(path.join(mount.source, markerNameOf(manifests)))).toBe(false);
  });
});

/** Linux capability numbers of the capabilities the manifests use (linux/capability.h). */
const CAP_NUMBERS: Record<string, number> = { chown: 0, dac_override: 1, dac_read_search: 2, fowner: 3, sys_admin: 21 };

/** The CapEff hex mask /proc/<pid>/status shows for these capabilities. */
function capMask(caps: readonly string[]): string {
  const mask = caps.reduce((m, c) => {
    if (CAP_NUMBERS[c] === undefined) throw new Error(`capMask: capability '${c}' has no number here, expected one of ${Object.keys(CAP_NUMBERS).join(', ')}`);
    return m | (1n << BigInt(CAP_NUMBERS[c]));
  }, 0n);
  return mask.toString(16).padStart(16, '0');
}

/** The marker file name the guard writes (from its env, default the contract's). */
function markerNameOf(m: Manifests): string {
  const c = containerOf(m.guard, COMMANDS.mountGuard);
  return c.env?.find((e) => e.name === ENV.markerName)?.value ?? '.ready';
}
