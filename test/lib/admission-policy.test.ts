/**
 * The dump-volume admission policy's CEL, evaluated with @bufbuild/cel (a conformance-tested CEL
 * evaluator) against pods: every pod collectPod produces is admitted (also after OpenShift's SCC has
 * filled in its fields), and each way of reaching another tenant's folder through the hostPath is refused.
 */
import { POD_DUMP_SUBPATH_EXPR } from '../../agent/src/contract';
import { collectPod, type PodLike } from '../../agent/src/inject/collect-pod';
import { celString, dumpVolumePolicy } from '../../lib/admission-policy';
import { policyRefusals } from '../support/admission-policy';
import { type Json, OPENSHIFT_MCS, OPENSHIFT_UID, pod as fixture, WORKLOADS } from '../support/pods';

const IMAGE = 'registry.example.com/platform/heapdump-agent:0.2.0';
const POLICY = dumpVolumePolicy({ agentImage: IMAGE });

const refusals = policyRefusals;

const collected = (p: Json, options: Json = {}) => collectPod(p as PodLike, { agentImage: IMAGE, ...options }).pod as Json;
const wait = (p: Json) => p.spec.initContainers.find((c: Json) => c.name === 'heapdump-wait-ready');
const app = (p: Json) => p.spec.containers[0];

describe('admitted', () => {
  test.each(WORKLOADS)('every collected %s pod (OpenShift and Kubernetes, with a sidecar, custom path)', (workload) => {
    for (const platform of ['openshift', 'kubernetes'] as const) {
      for (const options of [{}, { mountPath: '/heap', gzipLevel: 1 }]) {
        const p = collected(fixture({ workload, platform, sidecar: true, javaToolOptions: '-Xmx1g' }), options);
        expect({ workload, platform, options, refusals: refusals(POLICY, p) }).toEqual({ workload, platform, options, refusals: [] });
      }
    }
  });

  test('a collected pod after the SCC filled in the init container (pass 2) and another webhook prepended its own init container', () => {
    const p = collected(fixture({ workload: 'Deployment' }));
    Object.assign(wait(p).securityContext, { runAsUser: OPENSHIFT_UID, seLinuxOptions: { level: OPENSHIFT_MCS } });
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
});

describe('refused', () => {
  const HOSTPATH = 'hostPath volumes are allowed only for /mnt/dump with type Directory';
  const CONTAINER = 'a container mounts /mnt/dump other than with subPathExpr $(HEAPDUMP_POD_NAMESPACE)/$(HEAPDUMP_POD_NAME) and both variables as fieldRefs of its own pod';
  const INIT = 'an init container mounts /mnt/dump but is neither the exact heapdump-wait-ready container nor a per-pod mount (subPathExpr $(HEAPDUMP_POD_NAMESPACE)/$(HEAPDUMP_POD_NAME) with both variables as fieldRefs)';

  const cases: Array<[string, (p: Json) => void, string[]?]> = [
    ['a hostPath of /etc', (p) => {
      p.spec.volumes.push({ name: 'etc', hostPath: { path: '/etc', type: 'Directory' } });
      app(p).volumeMounts.push({ name: 'etc', mountPath: '/host-etc', readOnly: true });
    }, [HOSTPATH, CONTAINER]],
    ['/mnt/dump/ spelled with a slash, or its parent', (p) => {
      p.spec.volumes.push({ name: 'parent', hostPath: { path: '/mnt', type: 'Directory' } });
    }, [HOSTPATH]],
    ['/mnt/dump with type DirectoryOrCreate', (p) => {
      p.spec.volumes.find((v: Json) => v.hostPath).hostPath.type = 'DirectoryOrCreate';
    }, [HOSTPATH]],
    ['/mnt/dump mounted whole in the app (no subPathExpr)', (p) => {
      const m = app(p).volumeMounts.find((x: Json) => x.name === 'heapdump-host');
      delete m.subPathExpr;
    }, [CONTAINER]],
    ['another pod\'s folder through a literal subPath', (p) => {
      const m = app(p).volumeMounts.find((x: Json) => x.name === 'heapdump-host');
      delete m.subPathExpr;
      m.subPath = 'team-b/payments-7c9d-x2x4z';
    }, [CONTAINER]],
    ['the right subPathExpr with HEAPDUMP_POD_NAME as a literal', (p) => {
      app(p).env.find((e: Json) => e.name === 'HEAPDUMP_POD_NAME').valueFrom = undefined;
      app(p).env.find((e: Json) => e.name === 'HEAPDUMP_POD_NAME').value = 'payments-7c9d-x2x4z';
    }, [CONTAINER]],
    ['the fieldRef, then a later literal definition of the same name (the later one wins)', (p) => {
      app(p).env.push({ name: 'HEAPDUMP_POD_NAMESPACE', value: 'team-b' });
    }, [CONTAINER]],
    ['HEAPDUMP_POD_NAME from another field (spec.nodeName)', (p) => {
      app(p).env.find((e: Json) => e.name === 'HEAPDUMP_POD_NAME').valueFrom.fieldRef.fieldPath = 'spec.serviceAccountName';
    }, [CONTAINER]],
    ['a subPathExpr with another variable', (p) => {
      app(p).volumeMounts.find((x: Json) => x.name === 'heapdump-host').subPathExpr = '$(HEAPDUMP_POD_NAMESPACE)/$(TARGET)';
    }, [CONTAINER]],
    ['a fake wait-ready: another image', (p) => void (wait(p).image = 'registry.example.com/evil/agent:1')],
    ['a fake wait-ready: a command', (p) => void (wait(p).command = ['sh', '-c', 'cat /mnt/dump/*/*/*'])],
    ['a fake wait-ready: NODE_OPTIONS', (p) => void wait(p).env.push({ name: 'NODE_OPTIONS', value: '--import data:text/javascript,process.exit(0)' })],
    ['a fake wait-ready: envFrom', (p) => void (wait(p).envFrom = [{ configMapRef: { name: 'evil' } }])],
    ['a fake wait-ready: other args', (p) => void (wait(p).args = ['uploader'])],
    ['a fake wait-ready: a literal pod name (would create another pod\'s folder)', (p) => {
      const e = wait(p).env.find((x: Json) => x.name === 'HEAPDUMP_POD_NAME');
      delete e.valueFrom;
      e.value = 'payments-7c9d-x2x4z';
    }],
    ['a fake wait-ready: a restartable sidecar with a postStart hook', (p) => Object.assign(wait(p), { restartPolicy: 'Always', lifecycle: { postStart: { exec: { command: ['sh', '-c', 'id'] } } } })],
    ['a fake wait-ready: an added capability', (p) => void (wait(p).securityContext.capabilities.add = ['DAC_OVERRIDE'])],
    ['a fake wait-ready: privilege escalation allowed', (p) => void (wait(p).securityContext.allowPrivilegeEscalation = true)],
    ['a fake wait-ready: mounting a subPath of the tree elsewhere', (p) => void (wait(p).volumeMounts[0].mountPath = '/data')],
    ['another init container mounting the tree whole', (p) => {
      p.spec.initContainers.push({ name: 'helper', image: IMAGE, args: ['wait-ready'], volumeMounts: [{ name: 'heapdump-host', mountPath: '/mnt/dump' }] });
    }],
  ];

  test.each(cases)('%s', (_name, mutate, expected = [INIT]) => {
    const p = collected(fixture({ workload: 'Deployment', platform: 'openshift' }));
    expect(refusals(POLICY, p)).toEqual([]);
    mutate(p);
    expect(refusals(POLICY, JSON.parse(JSON.stringify(p)))).toEqual(expected);
  });

  test('an ephemeral container (kubectl debug) mounting the tree', () => {
    const p = collected(fixture({ workload: 'Deployment' }));
    p.spec.ephemeralContainers = [{ name: 'debugger', image: 'busybox', volumeMounts: [{ name: 'heapdump-host', mountPath: '/mnt/dump' }] }];
    expect(refusals(POLICY, p)).toEqual(['ephemeral containers may not mount /mnt/dump']);
  });

  test('the image literal is escaped', () => {
    expect(celString("a'b\\c")).toBe("'a\\'b\\\\c'");
    const tricky = dumpVolumePolicy({ agentImage: "x' || true || '" });
    const p = collected(fixture({ workload: 'Deployment' }));
    expect(refusals(tricky, p)).toEqual(['an init container mounts /mnt/dump but is neither the exact heapdump-wait-ready container nor a per-pod mount (subPathExpr $(HEAPDUMP_POD_NAMESPACE)/$(HEAPDUMP_POD_NAME) with both variables as fieldRefs)']);
  });
});
