import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { makeClusterScoped, PART_OF } from '../labels';
import { checkDnsSubdomain, checkInteger } from '../validation';

export interface DumpPriorityClassProps {
  /**
   * PriorityClass name (cluster-scoped).
   * @default 'dump-volume-critical'
   */
  readonly name?: string;
  /**
   * Priority value; user-defined classes may go up to 1,000,000,000.
   * @default 1000000
   */
  readonly value?: number;
}

/**
 * Priority for both DaemonSets: the mount guard and the uploader must be scheduled on a full node
 * before ordinary workloads, or the node's dumps land on its root disk and are never shipped.
 */
export class DumpPriorityClass extends Construct {
  public readonly name: string;

  public constructor(scope: Construct, id: string, props: DumpPriorityClassProps = {}) {
    super(scope, id);
    this.name = checkDnsSubdomain('name', props.name ?? 'dump-volume-critical');
    const value = checkInteger('value', props.value ?? 1_000_000, 1, 1_000_000_000);

    makeClusterScoped(new k8s.KubePriorityClass(this, 'Resource', {
      metadata: { name: this.name, labels: { 'app.kubernetes.io/part-of': PART_OF } },
      value,
      globalDefault: false,
      preemptionPolicy: 'PreemptLowerPriority',
      description: 'Heap dump mount guard and uploader DaemonSets: scheduled before the workloads that write dumps.',
    }));
  }
}
