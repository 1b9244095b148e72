import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { SETTINGS } from '../../agent/src/settings';
import type { PriorityClassSettings } from '../generated/settings';
import { makeClusterScoped, PART_OF } from '../labels';
import { namedProp } from '../names';
import { prop } from '../props';

export type { PriorityClassSettings } from '../generated/settings';

/** The settings of the `priorityClass` object (generated from the settings table). */
export interface DumpPriorityClassProps extends PriorityClassSettings {
  /** Prefix of the default name (the settings table's `namePrefix`). @default '' */
  readonly namePrefix?: string;
}

/**
 * Priority for both DaemonSets: the mount guard and the uploader must be scheduled on a full node
 * before ordinary workloads, or the node's dumps land on its root disk and are never shipped.
 */
export class DumpPriorityClass extends Construct {
  public readonly name: string;

  public constructor(scope: Construct, id: string, props: DumpPriorityClassProps = {}) {
    super(scope, id);
    const { namePrefix = '', ...settings } = props;
    this.name = namedProp(SETTINGS.priorityClassName, settings.name, namePrefix);
    const value = prop(SETTINGS.priorityClassValue, settings.value);

    makeClusterScoped(new k8s.KubePriorityClass(this, 'Resource', {
      metadata: { name: this.name, labels: { 'app.kubernetes.io/part-of': PART_OF } },
      value,
      globalDefault: false,
      preemptionPolicy: 'PreemptLowerPriority',
      description: 'Heap dump mount guard and uploader DaemonSets: scheduled before the workloads that write dumps.',
    }));
  }
}
