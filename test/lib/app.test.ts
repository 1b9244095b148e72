import * as fs from 'fs';
import * as path from 'path';
import { DEMO_APP_IMAGE } from '../../lib/app';
import { dumpVolumePolicy } from '../../lib/admission-policy';
import { synthPipeline } from '../../lib/synth';
import { policyRefusals } from '../support/admission-policy';
import { container, envVar, find, ofKind, podSpec } from '../support/manifests';

const IMAGE = 'registry.example.com/platform/heapdump-agent:0.1.0';

describe('Application', () => {
  const { objects } = synthPipeline({ agentImage: IMAGE });
  const dep = find(objects, 'Deployment', 'memory-leak-app');
  const spec = podSpec(dep);
  const app = container(dep, 'app');
  const init = container(dep, 'heapdump-wait-ready');

  test('the demo runs the shipped Java source with a stock JDK image', () => {
    expect(app.image).toBe(DEMO_APP_IMAGE);
    expect(app.command).toEqual(['java', '/app/Leak.java']);
    const source = find(objects, 'ConfigMap', 'memory-leak-app-source');
    expect(source.data['Leak.java']).toBe(fs.readFileSync(path.join(__dirname, '..', '..', 'lib', 'demo-app', 'Leak.java'), 'utf8'));
    expect(spec.volumes.find((v: { name: string }) => v.name === 'app-source').configMap).toEqual({ name: 'memory-leak-app-source' });
    expect(app.volumeMounts).toContainEqual({ name: 'app-source', mountPath: '/app', readOnly: true });
  });

  test('dumps go to /mnt/dump/<namespace>/<pod> through hostPath + subPathExpr, HostToContainer', () => {
    expect(spec.volumes.find((v: { name: string }) => v.name === 'host-dump').hostPath).toEqual({ path: '/mnt/dump', type: 'Directory' });
    expect(app.volumeMounts).toContainEqual({
      name: 'host-dump', mountPath: '/dumps', subPathExpr: '$(HEAPDUMP_POD_NAMESPACE)/$(HEAPDUMP_POD_NAME)', mountPropagation: 'HostToContainer',
    });
    // the pipeline's own names: an application's own POD_NAME never moves its dumps
    expect(envVar(app, 'HEAPDUMP_POD_NAME').valueFrom.fieldRef.fieldPath).toBe('metadata.name');
    expect(envVar(app, 'HEAPDUMP_POD_NAMESPACE').valueFrom.fieldRef.fieldPath).toBe('metadata.namespace');
    expect(envVar(app, 'POD_NAME')).toBeUndefined();
    expect(envVar(app, 'NODE_NAME').valueFrom.fieldRef.fieldPath).toBe('spec.nodeName');
  });

  test('JAVA_TOOL_OPTIONS dumps on OOM into the per-pod folder and exits; no shell substitutions or removed flags', () => {
    const opts = envVar(app, 'JAVA_TOOL_OPTIONS').value as string;
    expect(opts.split(' ')).toEqual(['-Xmx256m', '-XX:+HeapDumpOnOutOfMemoryError', '-XX:HeapDumpPath=/dumps', '-XX:+ExitOnOutOfMemoryError']);
    expect(opts).not.toMatch(/\$\(|PrintGCDateStamps/);
    expect(envVar(app, 'JAVA_OPTS')).toBeUndefined();
  });

  test('the init container waits for the marker and creates the per-pod folder as the app user (plan decision 4)', () => {
    expect(spec.initContainers.map((c: { name: string }) => c.name)).toEqual(['heapdump-wait-ready']);
    expect(init.args).toEqual(['wait-ready']);
    expect(init.command).toBeUndefined();
    expect(init.envFrom).toBeUndefined();
    expect(init.image).toBe(IMAGE);
    expect(init.env.map((e: { name: string }) => e.name)).toEqual([
      'NODE_NAME', 'HEAPDUMP_POD_NAMESPACE', 'HEAPDUMP_POD_NAME', 'LOG_LEVEL', 'WAIT_TIMEOUT', 'WAIT_CREATE_POD_FOLDER',
    ]);
    expect(envVar(init, 'NODE_NAME').valueFrom.fieldRef.fieldPath).toBe('spec.nodeName');
    expect(envVar(init, 'HEAPDUMP_POD_NAMESPACE').valueFrom.fieldRef.fieldPath).toBe('metadata.namespace');
    expect(envVar(init, 'HEAPDUMP_POD_NAME').valueFrom.fieldRef.fieldPath).toBe('metadata.name');
    expect(envVar(init, 'WAIT_CREATE_POD_FOLDER').value).toBe('true');
    expect(init.volumeMounts).toEqual([{ name: 'host-dump', mountPath: '/mnt/dump', mountPropagation: 'HostToContainer', readOnly: false }]);
    expect(init.securityContext.runAsNonRoot).toBe(true);
    expect(init.securityContext.runAsUser).toBeUndefined();
    expect(spec.securityContext.runAsUser).toBeUndefined(); // OpenShift assigns one UID to the whole pod
  });

  test('the demo pod passes the dump-volume admission policy (its init container is the exact one, its mount per pod)', () => {
    const pod = JSON.parse(JSON.stringify({ spec })) as unknown;
    expect(policyRefusals(dumpVolumePolicy({ agentImage: IMAGE }), pod)).toEqual([]);
  });

  test('probes hit /health on 8080; Service and edge-TLS Route with redirect', () => {
    expect(app.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    expect(app.readinessProbe.httpGet).toEqual({ path: '/health', port: 'http' });
    expect(app.livenessProbe.httpGet).toEqual({ path: '/health', port: 'http' });
    const svc = find(objects, 'Service', 'memory-leak-service');
    expect(svc.spec.selector).toEqual({ app: 'memory-leak-app' });
    expect(svc.spec.ports).toEqual([{ name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' }]);
    const route = find(objects, 'Route', 'memory-leak-app');
    expect(route.spec.to).toEqual({ kind: 'Service', name: 'memory-leak-service', weight: 100 });
    expect(route.spec.port).toEqual({ targetPort: 'http' });
    expect(route.spec.tls).toEqual({ termination: 'edge', insecureEdgeTerminationPolicy: 'Redirect' });
    expect(dep.metadata.labels['app.openshift.io/runtime']).toBe('java');
  });

  test('a custom image replaces the demo: no source ConfigMap, the image\'s own command', () => {
    const objs = synthPipeline({ agentImage: IMAGE, app: { image: 'registry.example.com/team/api:2.0.1', maxHeap: '1g', replicas: 2 } }).objects;
    const d = find(objs, 'Deployment', 'memory-leak-app');
    const c = container(d, 'app');
    expect(c.image).toBe('registry.example.com/team/api:2.0.1');
    expect(c.command).toBeUndefined();
    expect(envVar(c, 'JAVA_TOOL_OPTIONS').value).toMatch(/^-Xmx1g /);
    expect(d.spec.replicas).toBe(2);
    expect(ofKind(objs, 'ConfigMap').map((cm) => cm.metadata.name)).toEqual(['s3-uploader-config']);
    expect(JSON.stringify(podSpec(d))).not.toContain('app-source');
  });

  test('plain Kubernetes runs the pod as a fixed non-root UID', () => {
    const objs = synthPipeline({ agentImage: IMAGE, platform: 'kubernetes' }).objects;
    expect(podSpec(find(objs, 'Deployment', 'memory-leak-app')).securityContext).toEqual({
      runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' },
    });
  });
});
