import { synthPipeline } from '../../lib/synth';
import { find } from '../support/manifests';

const IMAGE = 'registry.example.com/platform/heapdump-agent:0.1.0';
/** The defaults that warn when left unset (test/lib/default-warnings.test.ts), chosen: only storage's own warnings remain. */
const CHOSEN = { uploader: { bucket: 'heap-dumps', prefix: 'memory-leak-demo/', encryption: { mode: 'none' as const } }, app: { enabled: true }, monitoring: { enabled: true } };

describe('DumpStorage', () => {
  test('defaults: 10Gi ReadWriteMany dump-storage-pvc on the default StorageClass, no warning', () => {
    const { objects, warnings } = synthPipeline({ agentImage: IMAGE, ...CHOSEN });
    const pvc = find(objects, 'PersistentVolumeClaim', 'dump-storage-pvc');
    expect(pvc.spec).toEqual({ accessModes: ['ReadWriteMany'], resources: { requests: { storage: '10Gi' } } });
    expect(warnings).toEqual([]);
  });

  test('size, storage class and access mode are configurable', () => {
    const { objects } = synthPipeline({ agentImage: IMAGE, storage: { size: '200Gi', storageClassName: 'ocs-storagecluster-cephfs', claimName: 'dumps' } });
    const pvc = find(objects, 'PersistentVolumeClaim', 'dumps');
    expect(pvc.spec).toEqual({ accessModes: ['ReadWriteMany'], storageClassName: 'ocs-storagecluster-cephfs', resources: { requests: { storage: '200Gi' } } });
    // The guard mounts the renamed claim.
    const guard = find(objects, 'DaemonSet', 'dump-volume-manager');
    expect(guard.spec.template.spec.volumes).toContainEqual({ name: 'pv-storage', persistentVolumeClaim: { claimName: 'dumps' } });
  });

  test.each(['ReadWriteOnce', 'ReadWriteOncePod'] as const)('%s is allowed but warns at synth', (mode) => {
    const { objects, warnings } = synthPipeline({ agentImage: IMAGE, ...CHOSEN, storage: { accessMode: mode } });
    expect(find(objects, 'PersistentVolumeClaim', 'dump-storage-pvc').spec.accessModes).toEqual([mode]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`storage.accessMode is ${mode}`);
    expect(warnings[0]).toContain('multi-attach');
  });
});
