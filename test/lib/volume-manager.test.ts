import { PATHS } from '../../agent/src/contract';
import { synthPipeline } from '../../lib/synth';
import { container, envVar, find, podSpec } from '../support/manifests';

const IMAGE = 'registry.example.com/platform/heapdump-agent:0.1.0';

describe('VolumeManager (mount guard DaemonSet)', () => {
  const { objects } = synthPipeline({ agentImage: IMAGE });
  const ds = find(objects, 'DaemonSet', 'dump-volume-manager');
  const spec = podSpec(ds);
  const guard = container(ds, 'mount-guard');

  test('runs the agent image with only the mount-guard command', () => {
    expect(guard.image).toBe(IMAGE);
    expect(guard.args).toEqual(['mount-guard']);
    expect(guard.command).toBeUndefined();
  });

  test('takes the node name from spec.nodeName and mounts the per-node subdirectory of the PVC', () => {
    expect(envVar(guard, 'NODE_NAME')).toEqual({ name: 'NODE_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'spec.nodeName' } } });
    // The guard bind-mounts <MOUNT_SOURCE_ROOT>/<NODE_NAME>: the source root is where the PVC is mounted.
    expect(envVar(guard, 'MOUNT_SOURCE_ROOT').value).toBe(PATHS.guardSourceRoot);
    expect(envVar(guard, 'MOUNT_TARGET').value).toBe(PATHS.guardTarget);
    expect(envVar(guard, 'MARKER_NAME').value).toBe('.ready');
    expect(envVar(guard, 'MOUNT_CHECK_INTERVAL').value).toBe('30');
    expect(envVar(guard, 'SHUTDOWN_TIMEOUT').value).toBe('25');
    const pvcVolume = spec.volumes.find((v: { persistentVolumeClaim?: unknown }) => v.persistentVolumeClaim);
    expect(pvcVolume.persistentVolumeClaim).toEqual({ claimName: 'dump-storage-pvc' });
    expect(guard.volumeMounts.find((m: { name: string }) => m.name === pvcVolume.name)).toEqual({ name: pvcVolume.name, mountPath: '/pv-storage' });
  });

  test('binds onto the node /mnt/dump through the node /mnt (Bidirectional) in a privileged container with SYS_ADMIN', () => {
    // The parent, so that the target is never the runtime's own hostPath mount point (see PATHS.hostDumpParent).
    const hostVolume = spec.volumes.find((v: { hostPath?: unknown }) => v.hostPath);
    expect(hostVolume.hostPath).toEqual({ path: '/mnt', type: 'DirectoryOrCreate' });
    expect(guard.volumeMounts.find((m: { name: string }) => m.name === hostVolume.name))
      .toEqual({ name: hostVolume.name, mountPath: '/host/mnt', mountPropagation: 'Bidirectional' });
    expect(envVar(guard, 'MOUNT_TARGET').value).toBe('/host/mnt/dump');
    expect(guard.securityContext.privileged).toBe(true);
    expect(guard.securityContext.capabilities).toEqual({ add: ['SYS_ADMIN'], drop: ['ALL'] });
    expect(guard.securityContext.readOnlyRootFilesystem).toBe(true);
  });

  test('has HTTP probes against the agent, tolerations for all taints, priority and the prototype resources', () => {
    expect(guard.ports).toEqual([{ name: 'http', containerPort: 9090, protocol: 'TCP' }]);
    expect(guard.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(guard.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(envVar(guard, 'AGENT_HTTP_PORT').value).toBe('9090');
    expect(spec.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(spec.priorityClassName).toBe('dump-volume-critical');
    expect(spec.terminationGracePeriodSeconds).toBe(30);
    expect(guard.resources).toEqual({ requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '100m', memory: '128Mi' } });
    expect(spec.serviceAccountName).toBe('dump-volume-manager');
    expect(spec.automountServiceAccountToken).toBe(false);
  });

  test('the selector matches the template labels', () => {
    const selector = ds.spec.selector.matchLabels;
    for (const [k, v] of Object.entries(selector)) expect(ds.spec.template.metadata.labels[k]).toBe(v);
    expect(selector).toEqual({ app: 'dump-volume-manager' });
  });

  test('check interval and resources are configurable', () => {
    const custom = synthPipeline({
      agentImage: IMAGE,
      volumeManager: { checkIntervalSeconds: 5, resources: { requests: { cpu: '20m', memory: '32Mi' }, limits: { cpu: '1', memory: '256Mi' } } },
    }).objects;
    const c = container(find(custom, 'DaemonSet', 'dump-volume-manager'), 'mount-guard');
    expect(envVar(c, 'MOUNT_CHECK_INTERVAL').value).toBe('5');
    expect(c.resources.limits).toEqual({ cpu: '1', memory: '256Mi' });
  });
});
