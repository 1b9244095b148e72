/**
 * dist/ is committed: it must equal a fresh synth of pipeline.config.json, apply in file order on
 * an empty cluster, and hold no credential.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as yaml from 'js-yaml';
import { readPipelineConfig } from '../lib/config-file';
import { buildPipelineApp, K8sObject } from '../lib/synth';
import { CLUSTER_SCOPED_KINDS } from './support/manifests';
import { schemaErrors } from './support/schemas';

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'dist');

function listYaml(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
}

/** All objects of dist/, in `oc apply -f dist/` order (files by name, documents in file order). */
function distObjects(): K8sObject[] {
  return listYaml(DIST).flatMap((f) => yaml.loadAll(fs.readFileSync(path.join(DIST, f), 'utf8')) as K8sObject[]);
}

describe('committed dist/', () => {
  test('equals a fresh synth of pipeline.config.json, file by file', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'dist-check-'));
    try {
      buildPipelineApp(readPipelineConfig(path.join(ROOT, 'pipeline.config.json')), out).app.synth();
      expect(listYaml(DIST)).toEqual(listYaml(out));
      for (const f of listYaml(out)) {
        // On failure: run `npx cdk8s synth` (or `npm run synth`) and commit dist/.
        expect(fs.readFileSync(path.join(DIST, f), 'utf8')).toBe(fs.readFileSync(path.join(out, f), 'utf8'));
      }
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  test('file order is a correct apply order on an empty cluster', () => {
    const objects = distObjects();
    expect(objects[0]).toMatchObject({ kind: 'Namespace', metadata: { name: 'heapdump-system' } });
    expect(objects[1]).toMatchObject({ kind: 'Namespace', metadata: { name: 'memory-leak-demo' } });
    const seen = new Set<string>();
    for (const o of objects) {
      if (!CLUSTER_SCOPED_KINDS.includes(o.kind)) {
        // Its namespace exists already (kube-system: in every cluster), and no cluster-scoped object comes after a namespaced one.
        expect(o.metadata.namespace === 'kube-system' || seen.has(`Namespace/${o.metadata.namespace}`)).toBe(true);
      } else {
        expect(objects.slice(0, objects.indexOf(o)).every((p) => CLUSTER_SCOPED_KINDS.includes(p.kind))).toBe(true);
      }
      seen.add(`${o.kind}/${o.metadata.name}`);
    }
    // Every SCC, ServiceAccount and ConfigMap a workload needs is created before the workload.
    const order = objects.map((o) => `${o.kind}/${o.metadata.name}`);
    const before = (a: string, b: string) => expect([a, order.indexOf(a) >= 0 && order.indexOf(a) < order.indexOf(b)]).toEqual([a, true]);
    before('SecurityContextConstraints/dump-volume-privileged', 'DaemonSet/dump-volume-manager');
    before('RoleBinding/dump-volume-manager-scc', 'DaemonSet/dump-volume-manager');
    before('PersistentVolumeClaim/dump-storage-pvc', 'DaemonSet/dump-volume-manager');
    before('ConfigMap/s3-uploader-config', 'DaemonSet/heap-dump-s3-uploader');
    before('RoleBinding/heap-dump-s3-uploader-scc', 'DaemonSet/heap-dump-s3-uploader');
    before('ServiceAccount/memory-leak-app', 'Deployment/memory-leak-app');
    before('ConfigMap/memory-leak-app-source', 'Deployment/memory-leak-app');
    before('Service/memory-leak-service', 'Route/memory-leak-app');
    before('ValidatingAdmissionPolicyBinding/heapdump-dump-volume', 'Deployment/memory-leak-app');
    before('Service/heapdump-injector', 'Deployment/heapdump-injector');
    before('RoleBinding/heapdump-app-scc', 'Deployment/memory-leak-app');
  });

  test('cluster-scoped objects carry no namespace', () => {
    const clusterScoped = distObjects().filter((o) => CLUSTER_SCOPED_KINDS.includes(o.kind));
    // + the event reporter ClusterRole (Events are on in pipeline.config.json), the exec guard, and the heapdumps API's APIService, two ClusterRoles and auth-delegator binding
    expect(clusterScoped.length).toBe(18);
    expect(clusterScoped.filter((o) => o.metadata.namespace !== undefined)).toEqual([]);
  });

  test('every object validates against its schema', () => {
    expect(distObjects().flatMap(schemaErrors)).toEqual([]);
  });

  test('holds only manifests, so `oc apply -f dist/` accepts every file', () => {
    expect(fs.readdirSync(DIST).sort()).toEqual(listYaml(DIST));
    for (const o of distObjects()) expect([o.apiVersion, o.kind]).toEqual([expect.any(String), expect.any(String)]);
  });

  test('patches/collect-patch.json is the pipeline\'s strategic merge patch for pipeline.config.json', () => {
    const { pipeline } = buildPipelineApp(readPipelineConfig(path.join(ROOT, 'pipeline.config.json')));
    expect(JSON.parse(fs.readFileSync(path.join(ROOT, 'patches', 'collect-patch.json'), 'utf8'))).toEqual(pipeline.collectPatch());
    expect(fs.readdirSync(path.join(ROOT, 'patches')).sort()).toEqual(['collect-patch.json']);
  });

  test('holds no credential: no Secret, no literal key values, only references to the Secret', () => {
    const objects = distObjects();
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    const text = listYaml(DIST).map((f) => fs.readFileSync(path.join(DIST, f), 'utf8')).join('\n');
    expect(text).not.toMatch(/\b(AKIA|ASIA)[0-9A-Z]{16}\b/); // AWS access key ids
    expect(text).not.toMatch(/stringData:/);
    expect(text).not.toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY-----/);
    // Credential variables only ever come from a secretKeyRef, never as a literal value.
    const credentialNames = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'];
    const literal: string[] = [];
    const visit = (node: unknown): void => {
      if (Array.isArray(node)) { node.forEach(visit); return; }
      if (node === null || typeof node !== 'object') return;
      const rec = node as Record<string, unknown>;
      if (typeof rec.name === 'string' && credentialNames.includes(rec.name) && 'value' in rec) literal.push(rec.name);
      for (const [k, v] of Object.entries(rec)) {
        if (credentialNames.includes(k)) literal.push(k); // e.g. a ConfigMap key
        visit(v);
      }
    };
    objects.forEach(visit);
    expect(literal).toEqual([]);
    expect(text).toContain('secretKeyRef');
  });
});
