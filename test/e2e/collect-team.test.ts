/**
 * Issue 9 end to end: a team's pod in ANOTHER namespace than the demo's, collected by the webhook alone.
 *
 * An AdmissionReview of the team's pod (as the API server sends it after OpenShift's SCC pass 1: the team's
 * namespace uid on each container) goes through the webhook's own review code with the settings the synthesized
 * injector Deployment gives it (parsed by the agent's resolver); the patch is applied by an independent RFC 6902
 * applier; the patched pod must pass the synthesized admission policy and the application SCC. Then it runs on the
 * simulated node (kubelet-sim / node-sim: the real guard, the real uploader, the pod's wait-ready, a real JVM as
 * the team's uid) until it runs out of memory: its dump arrives in S3 under `<prefix><node>/team-a/<pod>/`, and
 * another tenant's folder on the node is exactly as it was.
 *
 * Needs wait-ready's pod-folder mode (WAIT_CREATE_POD_FOLDER + HEAPDUMP_POD_*, branch `guard`): without it the
 * pod folder is not made by wait-ready as the team's uid, and the JVM cannot write its dump.
 */
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'fs';
import * as path from 'path';
import { COMMANDS, INJECT_ANNOTATIONS, OBJECT_METADATA } from '../../agent/src/contract';
import { resolveConfig } from '../../agent/src/config';
import { reviewAdmission } from '../../agent/src/inject/admission';
import { policyRefusals } from '../support/admission-policy';
import { applyPatch, type Operation } from '../support/json-patch';
import { describeWithMountNs } from '../support/mountns';
import { admissionReview, type Json } from '../support/pods';
import { disposeAll } from '../support/procs';
import { getObjectSha256, S3Server, startS3Server } from '../support/s3';
import { admissionErrors, type PodSpec, type Scc } from '../support/scc-admission';
import { resolveEnv, type Container, type K8sObject } from './kubelet-sim';
import { containerOf, loadManifests, type Manifests, type Workload } from './manifests';
import { NodeSim } from './node-sim';
import { listLocal, waitFor, waitForObject } from './observe';

jest.setTimeout(300_000);

const TEAM_NS = 'team-a';
/** What OpenShift's SCC pass 1 gives the team's containers: the first uid of team-a's range (not the demo's 1000). */
const TEAM_UID = 1000720000;
const TEAM_RANGE: [number, number] = [TEAM_UID, TEAM_UID + 9999];
/** Another tenant on the same node, with a folder the team's pod must not touch. */
const OTHER = { ns: 'team-b', pod: 'ledger-0', uid: 1000730000 };

function find(objects: readonly K8sObject[], kind: string, name: string): Json {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (o === undefined) throw new Error(`no ${kind}/${name} in the manifests`);
  return o as Json;
}

/** The team's pod as the API server sends it to the webhook: a Deployment's pod (generateName), opted in. */
function teamPod(manifests: Manifests): Json {
  // The demo's source ConfigMap stands in for the team's image: a JVM that leaks until OOM.
  const source = Object.keys(manifests.configMaps).find((n) => 'Leak.java' in manifests.configMaps[n]);
  if (source === undefined) throw new Error('no ConfigMap with Leak.java in the manifests');
  const sc = { runAsUser: TEAM_UID, runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      namespace: TEAM_NS,
      generateName: 'orders-api-6f7c9d8b5-',
      labels: { app: 'orders-api' },
      annotations: { [INJECT_ANNOTATIONS.inject]: 'true', 'openshift.io/scc': 'restricted-v2' },
    },
    spec: {
      serviceAccountName: 'orders-api',
      securityContext: { fsGroup: TEAM_UID, seLinuxOptions: { level: 's0:c27,c9' }, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [{
        name: 'app',
        image: 'registry.example.com/team-a/orders-api:1.4.2',
        command: ['java', '/app/Leak.java'],
        env: [{ name: 'JAVA_TOOL_OPTIONS', value: '-Xmx1g -Dfile.encoding=UTF-8' }],
        securityContext: sc,
        volumeMounts: [{ name: 'app-source', mountPath: '/app', readOnly: true }, { name: 'tmp', mountPath: '/tmp' }],
      }],
      volumes: [{ name: 'app-source', configMap: { name: source } }, { name: 'tmp', emptyDir: {} }],
    },
  };
}

/** A file's identity and content, to prove nothing touched it. */
function fingerprint(p: string): Json {
  const st = lstatSync(p);
  return { uid: st.uid, gid: st.gid, mode: st.mode, ino: st.ino, mtimeMs: st.mtimeMs, ...(st.isFile() ? { content: readFileSync(p, 'utf8') } : { entries: readdirSync(p).sort() }) };
}

describeWithMountNs('a team\'s pod in another namespace, collected by the webhook, on the simulated node', () => {
  let manifests: Manifests;
  let s3: S3Server;
  let sim: NodeSim;
  let client: S3Client;
  let patched: Json;

  beforeAll(async () => {
    manifests = loadManifests();
    s3 = await startS3Server('s3rver');
    client = s3.client();
  }, 180_000);

  afterAll(async () => {
    client?.destroy();
    await sim?.dispose();
    await disposeAll();
  });

  test('the webhook, with the synthesized injector\'s settings, patches the team\'s pod; policy and SCC admit it', () => {
    const injector = find(manifests.objects, 'Deployment', 'heapdump-injector');
    const c = injector.spec.template.spec.containers.find((x: Container) => x.name === COMMANDS.inject) as Container;
    const env = resolveEnv(c, { nodeName: 'sim-node-1', namespace: injector.metadata.namespace, podName: 'heapdump-injector-0', configMaps: {}, secrets: {} });
    const r = resolveConfig(COMMANDS.inject, env);
    if (r.command !== COMMANDS.inject) throw new Error('the injector does not run inject');
    const pod = teamPod(manifests);
    const out = reviewAdmission(JSON.stringify(admissionReview(pod)), { pipelineNamespace: r.config.pipelineNamespace, policy: r.config.policy, collect: r.config.collect });
    expect(out.result).toBe('injected');
    const ops = JSON.parse(Buffer.from((out.body as Json).response.patch, 'base64').toString()) as Operation[];
    patched = applyPatch(structuredClone(pod), ops);
    // SCC pass 2 picks the application SCC (the namespace's ServiceAccounts are granted it when team-a is collected).
    patched.metadata.annotations['openshift.io/scc'] = 'heap-dump-app';
    const vap = find(manifests.objects, 'ValidatingAdmissionPolicy', 'heapdump-dump-volume');
    expect(policyRefusals({ variables: vap.spec.variables, validations: vap.spec.validations }, patched)).toEqual([]);
    const appScc = find(manifests.objects, 'SecurityContextConstraints', 'heap-dump-app') as unknown as Scc;
    expect(admissionErrors(appScc, patched.spec as PodSpec, TEAM_RANGE)).toEqual([]);
    // The init container runs as the team's uid (copied from the app container), creating the pod folder.
    const init = patched.spec.initContainers[0];
    expect([init.name, init.securityContext.runAsUser]).toEqual(['heapdump-wait-ready', TEAM_UID]);
  });

  test('its OOM dump reaches S3 under team-a\'s key; team-b\'s folder is untouched', async () => {
    const podName = 'orders-api-6f7c9d8b5-x7k2p';
    const team: Workload = { object: { ...patched, metadata: { ...patched.metadata, name: podName } } as K8sObject, name: 'orders-api', namespace: TEAM_NS, spec: patched.spec };
    sim = await NodeSim.create({ manifests: { ...manifests, app: team }, s3, appUid: TEAM_UID, verbose: process.env.E2E_VERBOSE === '1' });
    await sim.startGuard();
    await sim.startUploader();

    // Another tenant's pod folder, made as its uid (what its own wait-ready would have made), with a file in it.
    const nodeDir = path.join(sim.pvcDir, sim.nodeName);
    const otherDir = path.join(nodeDir, OTHER.ns, OTHER.pod);
    mkdirSync(otherDir, { recursive: true });
    chmodSync(path.dirname(otherDir), 0o1777);
    writeFileSync(path.join(otherDir, 'notes.txt'), 'team-b was here\n');
    chownSync(path.join(otherDir, 'notes.txt'), OTHER.uid, OTHER.uid);
    chmodSync(path.join(otherDir, 'notes.txt'), 0o600);
    chownSync(otherDir, OTHER.uid, OTHER.uid);
    chmodSync(otherDir, 0o700);
    const before = { dir: fingerprint(otherDir), file: fingerprint(path.join(otherDir, 'notes.txt')) };

    const app = await sim.startApp(podName);
    const exit = await Promise.race([app.proc.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 150_000))]);
    if (exit === undefined) throw new Error(`the JVM did not run out of memory within 150 s:\n${app.proc.output()}`);
    expect(app.proc.output()).toMatch(/Heap dump file created/);

    // In the team's own pod folder, written by the team's uid.
    const podDir = path.join(nodeDir, TEAM_NS, podName);
    const [local] = await listLocal(podDir);
    expect(local).toBeDefined();
    expect(statSync(local.abs).uid).toBe(TEAM_UID);
    expect(statSync(podDir).uid).toBe(TEAM_UID);

    const prefix = manifests.configMaps['s3-uploader-config']?.S3_PREFIX ?? '';
    const under = `${prefix}${sim.nodeName}/${TEAM_NS}/${podName}/`;
    // s3rver lists an object while its PUT is still running: wait until it is whole (size and sha256 metadata)
    const key = await waitFor(async () => {
      const listed = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: under }));
      const k = (listed.Contents ?? []).map((o) => o.Key!).find((x) => /\.hprof$/.test(x));
      return k !== undefined && (await waitForObject(client, s3.bucket, k, local, 100)) !== undefined ? k : undefined;
    }, 120_000, 500);
    if (key === undefined) throw new Error(`no dump under ${under} within 120 s; keys: ${JSON.stringify(await s3.listKeys())}\nuploader:\n${sim.uploader?.proc.output()}`);
    const got = await getObjectSha256(s3, key);
    expect({ size: got.size, sha256: got.sha256 }).toEqual({ size: local.size, sha256: local.sha256 });
    expect(got.metadata).toMatchObject({ [OBJECT_METADATA.namespace]: TEAM_NS, [OBJECT_METADATA.pod]: podName, [OBJECT_METADATA.node]: sim.nodeName });

    // Nothing else in S3 from this node but team-a's objects (team-b had no dump), and team-b's folder as it was.
    const all = await s3.listKeys();
    expect(all.filter((k) => !k.startsWith(under))).toEqual([]);
    expect({ dir: fingerprint(otherDir), file: fingerprint(path.join(otherDir, 'notes.txt')) }).toEqual(before);
    expect(existsSync(path.join(nodeDir, OTHER.ns, podName))).toBe(false);
    expect(containerOf(team, COMMANDS.waitReady, true).name).toBe('heapdump-wait-ready');
  });
});
