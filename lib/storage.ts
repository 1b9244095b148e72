import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { componentLabels } from './labels';
import { SETTINGS } from '../agent/src/settings';
import type { DumpStorageSettings } from './generated/settings';
import { namedProp, prefixed } from './names';
import { optionalProp, prop } from './props';
import { addWarning } from './warnings';

export { DUMP_ACCESS_MODES } from '../agent/src/settings';
export type { DumpAccessMode, DumpStorageSettings } from './generated/settings';

export interface DumpStorageProps extends DumpStorageSettings {
  /** Namespace of the claim. */
  readonly namespace: string;
  /** Prefix of the default claim name (the settings table's `namePrefix`). @default '' */
  readonly namePrefix?: string;
}

/** The PersistentVolumeClaim holding every node's dump subdirectory. */
export class DumpStorage extends Construct {
  public readonly claimName: string;

  public constructor(scope: Construct, id: string, props: DumpStorageProps) {
    super(scope, id);
    this.claimName = namedProp(SETTINGS.storageClaimName, props.claimName, props.namePrefix ?? '');
    const size = prop(SETTINGS.storageSize, props.size);
    const accessMode = prop(SETTINGS.storageAccessMode, props.accessMode);
    const storageClassName = optionalProp(SETTINGS.storageClassName, props.storageClassName);

    if (accessMode !== 'ReadWriteMany') {
      addWarning(this, `storage.accessMode is ${accessMode}: the mount guard DaemonSet mounts ${this.claimName} on every node, `
        + 'so pods on a second node fail with a multi-attach error; use ReadWriteMany unless the cluster has one node');
    }

    new k8s.KubePersistentVolumeClaim(this, 'Resource', {
      metadata: { name: this.claimName, namespace: props.namespace, labels: componentLabels(prefixed(props.namePrefix ?? '', 'dump-volume-manager'), 'storage') },
      spec: {
        accessModes: [accessMode],
        storageClassName,
        resources: { requests: { storage: k8s.Quantity.fromString(size) } },
      },
    });
  }
}
