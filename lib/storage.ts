import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { componentLabels } from './labels';
import { checkDnsSubdomain, checkOneOf, checkQuantity } from './validation';
import { addWarning } from './warnings';

export type DumpAccessMode = 'ReadWriteMany' | 'ReadWriteOnce' | 'ReadWriteOncePod';
export const DUMP_ACCESS_MODES: readonly DumpAccessMode[] = ['ReadWriteMany', 'ReadWriteOnce', 'ReadWriteOncePod'];

/** Storage settings a user can set (the JSON config's `storage` object). */
export interface DumpStorageSettings {
  /**
   * Requested size of the shared dump volume.
   * @default '10Gi'
   */
  readonly size?: string;
  /**
   * StorageClass of the PVC; it must support the access mode.
   * @default the cluster's default StorageClass
   */
  readonly storageClassName?: string;
  /**
   * ReadWriteMany because the mount guard DaemonSet mounts the claim on every node; a single-node
   * access mode works only on a one-node cluster (multi-attach errors elsewhere) and gives a warning.
   * @default 'ReadWriteMany'
   */
  readonly accessMode?: DumpAccessMode;
  /**
   * PVC name.
   * @default 'dump-storage-pvc'
   */
  readonly claimName?: string;
}

export const DUMP_STORAGE_SETTINGS: readonly (keyof DumpStorageSettings)[] = ['size', 'storageClassName', 'accessMode', 'claimName'];

export interface DumpStorageProps extends DumpStorageSettings {
  /** Namespace of the claim. */
  readonly namespace: string;
}

/** The PersistentVolumeClaim holding every node's dump subdirectory. */
export class DumpStorage extends Construct {
  public readonly claimName: string;

  public constructor(scope: Construct, id: string, props: DumpStorageProps) {
    super(scope, id);
    this.claimName = checkDnsSubdomain('claimName', props.claimName ?? 'dump-storage-pvc');
    const size = checkQuantity('size', props.size ?? '10Gi');
    const accessMode = checkOneOf('accessMode', props.accessMode ?? 'ReadWriteMany', DUMP_ACCESS_MODES);
    const storageClassName = props.storageClassName === undefined
      ? undefined : checkDnsSubdomain('storageClassName', props.storageClassName);

    if (accessMode !== 'ReadWriteMany') {
      addWarning(this, `storage.accessMode is ${accessMode}: the mount guard DaemonSet mounts ${this.claimName} on every node, `
        + 'so pods on a second node fail with a multi-attach error; use ReadWriteMany unless the cluster has one node');
    }

    new k8s.KubePersistentVolumeClaim(this, 'Resource', {
      metadata: { name: this.claimName, namespace: props.namespace, labels: componentLabels('dump-volume-manager', 'storage') },
      spec: {
        accessModes: [accessMode],
        storageClassName,
        resources: { requests: { storage: k8s.Quantity.fromString(size) } },
      },
    });
  }
}
