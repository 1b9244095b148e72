import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { checkDnsSubdomain } from './validation';

export interface WorkloadIdentityProps {
  /** ServiceAccount name. */
  readonly name: string;
  /** Namespace of the ServiceAccount and of the RoleBinding. */
  readonly namespace: string;
  /** Labels for both objects. */
  readonly labels: Record<string, string>;
  /**
   * ClusterRole granting `use` of this workload's SCC; bound to this ServiceAccount only.
   * @default no RoleBinding (plain Kubernetes has no SCCs)
   */
  readonly sccClusterRoleName?: string;
  /**
   * ServiceAccount annotations, e.g. `eks.amazonaws.com/role-arn` for IRSA / workload identity.
   * @default none
   */
  readonly annotations?: Record<string, string>;
}

/**
 * A workload's ServiceAccount and, on OpenShift, the RoleBinding that lets exactly this account
 * use its SCC. A namespaced RoleBinding is enough for SCC admission and narrower than the
 * prototype's ClusterRoleBinding.
 */
export class WorkloadIdentity extends Construct {
  public readonly serviceAccountName: string;

  public constructor(scope: Construct, id: string, props: WorkloadIdentityProps) {
    super(scope, id);
    this.serviceAccountName = checkDnsSubdomain('serviceAccountName', props.name);
    const annotations = props.annotations && Object.keys(props.annotations).length > 0 ? props.annotations : undefined;

    new k8s.KubeServiceAccount(this, 'Resource', {
      metadata: { name: this.serviceAccountName, namespace: props.namespace, labels: props.labels, annotations },
      // No agent talks to the Kubernetes API: no token in the pods.
      automountServiceAccountToken: false,
    });
    if (props.sccClusterRoleName !== undefined) {
      new k8s.KubeRoleBinding(this, 'SccUse', {
        metadata: { name: `${this.serviceAccountName}-scc`, namespace: props.namespace, labels: props.labels },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: props.sccClusterRoleName },
        subjects: [{ kind: 'ServiceAccount', name: this.serviceAccountName, namespace: props.namespace }],
      });
    }
  }
}
