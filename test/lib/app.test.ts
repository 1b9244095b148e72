import * as fs from 'fs';
import * as path from 'path';
import { DEMO_APP_IMAGE } from '../../lib/app';
import { collectPod, type PodLike } from '../../agent/src/inject/collect-pod';
import { synthPipeline } from '../../lib/synth';
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

  test('lives in its own namespace, apart from the agents', () => {
    expect(dep.metadata.namespace).toBe('memory-leak-demo');
    expect(find(objects, 'Namespace', 'memory-leak-demo').metadata.labels['heapdump-pipeline.io/collect']).toBe('true');
    expect(find(objects, 'DaemonSet', 'heap-dump-s3-uploader').metadata.namespace).toBe('heapdump-system');
  });

  test('is collected by exactly collectPod: the template equals collectPod of the uncollected Deployment', () => {
    // The demo's own template: without the dump pieces collectPod adds.
    const own = structuredClone(spec);
    own.initContainers = own.initContainers.filter((c: { name: string }) => c.name !== 'heapdump-wait-ready');
    if (own.initContainers.length === 0) delete own.initContainers;
    own.volumes = own.volumes.filter((v: { name: string }) => v.name !== 'heapdump-host');
    own.containers[0].volumeMounts = own.containers[0].volumeMounts.filter((m: { name: string }) => m.name !== 'heapdump-host');
    own.containers[0].env = own.containers[0].env.filter((e: { name: string }) => !e.name.startsWith('HEAPDUMP_'))
      .map((e: { name: string; value?: string }) => (e.name === 'JAVA_TOOL_OPTIONS' ? { ...e, value: '-Xmx256m' } : e));
    const meta = structuredClone(dep.spec.template.metadata);
    delete meta.labels['heapdump-pipeline.io/collected'];
    meta.annotations = undefined;
    const again = collectPod({ metadata: meta, spec: own } as PodLike, { agentImage: IMAGE, strictness: 'error' }).pod;
    expect(JSON.parse(JSON.stringify(again))).toEqual(dep.spec.template);
  });

  test('dumps go to /mnt/dump/<namespace>/<pod> through hostPath + subPathExpr over the pipeline\'s own pod variables', () => {
    expect(spec.volumes.find((v: { name: string }) => v.name === 'heapdump-host').hostPath).toEqual({ path: '/mnt/dump', type: 'Directory' });
    expect(app.volumeMounts).toContainEqual({
      name: 'heapdump-host', mountPath: '/dumps', subPathExpr: '$(HEAPDUMP_POD_NAMESPACE)/$(HEAPDUMP_POD_NAME)', mountPropagation: 'HostToContainer',
    });
    expect(envVar(app, 'HEAPDUMP_POD_NAME').valueFrom.fieldRef.fieldPath).toBe('metadata.name');
    expect(envVar(app, 'HEAPDUMP_POD_NAMESPACE').valueFrom.fieldRef.fieldPath).toBe('metadata.namespace');
    expect(envVar(app, 'NODE_NAME').valueFrom.fieldRef.fieldPath).toBe('spec.nodeName');
  });

  test('JAVA_TOOL_OPTIONS: the heap size, extended with the dump flags; no shell substitutions', () => {
    const opts = envVar(app, 'JAVA_TOOL_OPTIONS').value as string;
    expect(opts.split(' ')).toEqual(['-Xmx256m', '-XX:+HeapDumpOnOutOfMemoryError', '-XX:HeapDumpPath=/dumps', '-XX:+ExitOnOutOfMemoryError']);
    expect(opts).not.toMatch(/\$\(|PrintGCDateStamps/);
    expect(envVar(app, 'JAVA_OPTS')).toBeUndefined();
  });

  test('the wait-ready init container creates the per-pod folder', () => {
    expect(spec.initContainers.map((c: { name: string }) => c.name)).toEqual(['heapdump-wait-ready']);
    expect(init.args).toEqual(['wait-ready']);
    expect(init.command).toBeUndefined();
    expect(init.image).toBe(IMAGE);
    expect(init.env.map((e: { name: string }) => e.name)).toEqual(['NODE_NAME', 'HEAPDUMP_POD_NAMESPACE', 'HEAPDUMP_POD_NAME', 'LOG_LEVEL', 'WAIT_TIMEOUT', 'WAIT_CREATE_POD_FOLDER']);
    expect(envVar(init, 'WAIT_CREATE_POD_FOLDER').value).toBe('true');
    expect(init.volumeMounts).toEqual([{ name: 'heapdump-host', mountPath: '/mnt/dump', mountPropagation: 'HostToContainer' }]);
    expect(init.securityContext).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(init.securityContext.runAsUser).toBeUndefined();
    expect(spec.securityContext.runAsUser).toBeUndefined(); // OpenShift assigns one UID to both containers
  });

  test('names come from its settings', () => {
    const objs = synthPipeline({ agentImage: IMAGE, app: { namespace: 'orders-demo', name: 'orders', serviceName: 'orders-http' } }).objects;
    expect(objs.filter((o) => o.metadata.namespace === 'orders-demo').map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'RoleBinding/heapdump-app-scc', 'ServiceAccount/orders', 'ConfigMap/orders-source', 'Deployment/orders', 'Service/orders-http', 'Route/orders',
    ]);
    expect(JSON.stringify(objs)).not.toContain('memory-leak-app');
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
    expect(envVar(c, 'JAVA_TOOL_OPTIONS').value).toMatch(/^-Xmx1g -XX:\+HeapDumpOnOutOfMemoryError /);
    expect(d.spec.replicas).toBe(2);
    expect(ofKind(objs, 'ConfigMap').map((cm) => cm.metadata.name)).toEqual(['s3-uploader-config', 'heapdump-analyzer-config']);
    expect(JSON.stringify(podSpec(d))).not.toContain('app-source');
  });

  test('plain Kubernetes runs the pod as a fixed non-root UID', () => {
    const objs = synthPipeline({ agentImage: IMAGE, platform: 'kubernetes' }).objects;
    expect(podSpec(find(objs, 'Deployment', 'memory-leak-app')).securityContext).toEqual({
      runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' },
    });
  });
});
