/**
 * The dump-volume admission policy's CEL, evaluated with @bufbuild/cel (a conformance-tested CEL
 * evaluator) against pods: every pod collectPod produces is admitted (also with what the API server, the
 * ServiceAccount plugin and OpenShift's SCC add before validation), and every hostile pod spec of
 * test/support/hostile-pods.ts is refused as submitted; the same pods opted in go through the webhook's
 * review, and the policy then checks what the webhook made of them.
 */
import { readFileSync } from 'fs';
import * as path from 'path';
import { INJECT_ANNOTATIONS, POD_DUMP_SUBPATH_EXPR, WAIT_READY_CONTAINER_NAME } from '../../agent/src/contract';
import { type AdmissionSettings, reviewAdmission } from '../../agent/src/inject/admission';
import { collectPod, type PodLike } from '../../agent/src/inject/collect-pod';
import { WAIT_READY_FIELDS, WAIT_READY_SECURITY_FIELDS } from '../../agent/src/inject/wait-ready';
import { celString, dumpVolumePolicy } from '../../lib/admission-policy';
import { policyRefusals as refusals } from '../support/admission-policy';
import { asAdmitted, HOSTILE_PODS, MESSAGES } from '../support/hostile-pods';
import { applyPatch, type Operation } from '../support/json-patch';
import { admissionReview, type Json, OPENSHIFT_MCS, OPENSHIFT_UID, pod as fixture, WORKLOADS } from '../support/pods';

const IMAGE = 'registry.example.com/platform/heapdump-agent:0.2.0';
const POLICY = dumpVolumePolicy({ agentImage: IMAGE });

const collected = (p: Json, options: Json = {}) => collectPod(p as PodLike, { agentImage: IMAGE, ...options }).pod as Json;
const wait = (p: Json) => p.spec.initContainers.find((c: Json) => c.name === WAIT_READY_CONTAINER_NAME);
const app = (p: Json) => p.spec.containers[0];

describe('admitted', () => {
  test.each(WORKLOADS)('every collected %s pod (OpenShift and Kubernetes, with a sidecar, custom path), as written and as admission leaves it', (workload) => {
    for (const platform of ['openshift', 'kubernetes'] as const) {
      for (const options of [{}, { mountPath: '/heap', gzipLevel: 1 }]) {
        const p = collected(fixture({ workload, platform, sidecar: true, javaToolOptions: '-Xmx1g' }), options);
        const admitted = asAdmitted(p, platform === 'openshift' ? { seLinuxLevel: OPENSHIFT_MCS } : {});
        expect(wait(admitted).volumeMounts.map((m: Json) => m.mountPath)).toEqual(['/mnt/dump', '/var/run/secrets/kubernetes.io/serviceaccount']);
        expect({ workload, platform, options, written: refusals(POLICY, p), admitted: refusals(POLICY, admitted) })
          .toEqual({ workload, platform, options, written: [], admitted: [] });
      }
    }
  });

  test('a collected pod after the SCC filled in the init container (pass 2) and another webhook prepended its own init container', () => {
    const p = collected(fixture({ workload: 'Deployment' }));
    Object.assign(wait(p).securityContext, { runAsUser: OPENSHIFT_UID, seLinuxOptions: { level: OPENSHIFT_MCS }, procMount: 'Default', privileged: false });
    p.spec.initContainers.unshift({ name: 'istio-validation', image: 'istio/proxyv2', args: ['istio-iptables', '--run-validation'] });
    expect(refusals(POLICY, p)).toEqual([]);
  });

  test('pods without hostPath volumes, and a team init container with its own per-pod mount', () => {
    expect(refusals(POLICY, fixture({ workload: 'Job' }))).toEqual([]);
    const p = collected(fixture({ workload: 'Deployment' }));
    p.spec.initContainers.push({
      name: 'prepare', image: 'busybox',
      env: [...app(p).env.filter((e: Json) => e.name.startsWith('HEAPDUMP_'))],
      volumeMounts: [{ name: 'heapdump-host', mountPath: '/dumps', subPathExpr: POD_DUMP_SUBPATH_EXPR }],
    });
    expect(refusals(POLICY, p)).toEqual([]);
  });

  test('the agent image pinned by digest: the exact reference is admitted, the same repository by tag or another digest is not', () => {
    const digest = `sha256:${'5e'.repeat(32)}`;
    const pinned = `registry.example.com/platform/heapdump-agent@${digest}`;
    const policy = dumpVolumePolicy({ agentImage: pinned });
    const p = asAdmitted(collected(fixture({ workload: 'StatefulSet' }), { agentImage: pinned }));
    expect(wait(p).image).toBe(pinned);
    expect(refusals(policy, p)).toEqual([]);
    for (const other of ['registry.example.com/platform/heapdump-agent:0.2.0', `registry.example.com/platform/heapdump-agent@sha256:${'5f'.repeat(32)}`,
      `registry.example.com/platform/heapdump-agent:0.2.0@${digest}`]) {
      const q = structuredClone(p);
      wait(q).image = other;
      expect({ other, refusals: refusals(policy, q) }).toEqual({ other, refusals: [MESSAGES.init] });
    }
  });
});

describe('hostile pod specs, submitted as they are (no webhook: not opted in, webhook down, or an UPDATE)', () => {
  test.each(HOSTILE_PODS.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    for (const [form, base] of [['as written', collected(fixture({ workload: 'Deployment' }))], ['as admitted', asAdmitted(collected(fixture({ workload: 'Deployment' })))]] as const) {
      expect({ form, before: refusals(POLICY, base) }).toEqual({ form, before: [] });
      const p = structuredClone(base);
      c.attack(p);
      expect({ form, refusals: refusals(POLICY, JSON.parse(JSON.stringify(p))) }).toEqual({ form, refusals: c.refusals });
    }
  });
});

describe('the same hostile pods opted in, through the webhook\'s review; then the policy on its result', () => {
  const settings: AdmissionSettings = {
    pipelineNamespace: 'heapdump-system',
    policy: 'opt-in',
    collect: { agentImage: IMAGE, annotations: { inject: INJECT_ANNOTATIONS.inject, containers: INJECT_ANNOTATIONS.containers } },
  };
  const REPLACED = `heapdump-pipeline: the pod's own init container ${WAIT_READY_CONTAINER_NAME} was replaced by the pipeline's (that name is reserved: the container sees every pod's dump folder on the node)`;

  test.each(HOSTILE_PODS.filter((c) => c.webhook !== 'update').map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const submitted = collected(fixture({ workload: 'Deployment', annotations: { [INJECT_ANNOTATIONS.inject]: 'true' } }));
    c.attack(submitted);
    const outcome = reviewAdmission(JSON.stringify(admissionReview(submitted)), settings);
    const response = (outcome.body as Json).response;
    expect(response.allowed).toBe(true);
    const patch = response.patch === undefined ? [] : JSON.parse(Buffer.from(response.patch, 'base64').toString()) as Operation[];
    const result = asAdmitted(applyPatch(JSON.parse(JSON.stringify(submitted)), patch), { seLinuxLevel: OPENSHIFT_MCS });
    switch (c.webhook) {
      case 'replaced':
        expect({ result: outcome.result, warnings: outcome.warnings }).toEqual({ result: 'injected', warnings: [REPLACED] });
        expect(result.spec.initContainers.filter((x: Json) => x.name === WAIT_READY_CONTAINER_NAME)).toHaveLength(1);
        expect(refusals(POLICY, result)).toEqual([]);
        break;
      case 'left':
        expect(refusals(POLICY, result)).toEqual(c.refusals);
        break;
      case 'not-collected':
        expect({ result: outcome.result, patch }).toEqual({ result: 'no-container', patch: [] });
        expect(outcome.warnings).toEqual([expect.stringMatching(/^heapdump-pipeline: .*: not collected$/)]);
        expect(refusals(POLICY, result)).toEqual(c.refusals);
        break;
    }
  });

  test('a pod whose own heapdump-wait-ready IS the pipeline\'s (a re-review after admission) is left unchanged', () => {
    const admitted = asAdmitted(collected(fixture({ workload: 'Deployment', annotations: { [INJECT_ANNOTATIONS.inject]: 'true' } })), { seLinuxLevel: OPENSHIFT_MCS });
    const outcome = reviewAdmission(JSON.stringify(admissionReview(admitted)), settings);
    expect({ result: outcome.result, patch: (outcome.body as Json).response.patch, warnings: outcome.warnings }).toEqual({ result: 'unchanged', patch: undefined, warnings: [] });
  });
});

describe('the whitelist covers the Kubernetes schema', () => {
  /** Property names of a kubernetes-models interface (the upstream OpenAPI schema), from its declaration file. */
  function schemaFields(file: string): string[] {
    const text = readFileSync(path.join(path.dirname(require.resolve('kubernetes-models/package.json')), file), 'utf8');
    const body = text.slice(text.indexOf('export interface I'), text.indexOf('\n}', text.indexOf('export interface I')));
    return [...body.matchAll(/^ {4}"(\w+)"\??:/gm)].map((m) => m[1]).sort();
  }

  test('every field of core/v1 Container and SecurityContext has a rule (a field Kubernetes adds fails here until it is given one)', () => {
    expect(Object.keys(WAIT_READY_FIELDS).sort()).toEqual(schemaFields('v1/Container.d.ts'));
    expect(Object.keys(WAIT_READY_SECURITY_FIELDS).sort()).toEqual(schemaFields('v1/SecurityContext.d.ts'));
  });

  test('every field the CEL reads exists in the Pod schema (the API server type-checks the expressions; a misspelt field would be a compile error)', () => {
    const types = ['Pod', 'PodSpec', 'Container', 'EphemeralContainer', 'SecurityContext', 'SELinuxOptions', 'AppArmorProfile', 'SeccompProfile', 'Capabilities',
      'VolumeMount', 'Volume', 'HostPathVolumeSource', 'EnvVar', 'EnvVarSource', 'ObjectFieldSelector', 'ResourceRequirements'];
    const known = new Set(types.flatMap((t) => schemaFields(`v1/${t}.d.ts`)));
    const cel = [...POLICY.variables, ...POLICY.validations].map((x) => x.expression).join('\n').replace(/'(?:[^'\\]|\\.)*'/g, "''");
    const macros = new Set(['all', 'exists', 'exists_one', 'filter', 'map']);
    const read = new Set([...cel.matchAll(/\.([A-Za-z_]\w*)/g)].map((m) => m[1]).filter((f) => !macros.has(f) && f !== 'hostVolumes' && f !== 'projectedVolumes'));
    expect([...read].filter((f) => !known.has(f))).toEqual([]);
    expect(read.size).toBeGreaterThan(40);
  });
});

test('the image literal is escaped', () => {
  expect(celString("a'b\\c")).toBe("'a\\'b\\\\c'");
  const tricky = dumpVolumePolicy({ agentImage: "x' || true || '" });
  expect(refusals(tricky, collected(fixture({ workload: 'Deployment' })))).toEqual([MESSAGES.init]);
});
