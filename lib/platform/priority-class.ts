import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { SETTINGS } from '../../agent/src/settings';
import type { PriorityClassSettings } from '../generated/settings';
import { makeClusterScoped, PART_OF } from '../labels';
import { prop } from '../props';

export type { PriorityClassSettings } from '../generated/settings';

/** The settings of the `priorityClass` object (generated from the settings table). */
export interface DumpPriorityClassProps extends PriorityClassSettings {
  // every prop comes from the settings table: see lib/generated/settings.ts
}

/**
 * Priority for both DaemonSets: the mount guard and the uploader must be scheduled on a full node
 * before ordinary workloads, or the node's dumps land on its root disk and are never shipped.
 */
export class DumpPriorityClass extends Construct {
  public readonly name: string;

  public constructor(scope: Construct, id: string, props: DumpPriorityClassProps = {}) {
    super(scope, id);
    this.name = prop(SETTINGS.priorityClassName, props.name);
    const value = prop(SETTINGS.priorityClassValue, props.value);

    makeClusterScoped(new k8s.KubePriorityClass(this, 'Resource', {
      metadata: { name: this.name, labels: { 'app.kubernetes.io/part-of': PART_OF } },
      value,
      globalDefault: false,
      preemptionPolicy: 'PreemptLowerPriority',
      description: 'Heap dump mount guard and uploader DaemonSets: scheduled before the workloads that write dumps.',
    }));
  }
}
