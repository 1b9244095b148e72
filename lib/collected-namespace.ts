import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { PART_OF } from './labels';
import { checkDnsLabel, checkDnsSubdomain } from './validation';

/** The RoleBinding a collected namespace gets (before namePrefix). */
export const COLLECTED_NAMESPACE_BINDING_NAME = 'heapdump-app-scc';

export interface CollectedNamespaceAccessProps {
  /** The collected namespace (it exists already, or the pipeline emits it before this). */
  readonly namespace: string;
  /** ClusterRole granting `use` of the application SCC (OpenShift). @default none: no RoleBinding (plain Kubernetes) */
  readonly sccClusterRoleName?: string;
  /**
   * The only ServiceAccounts of the namespace that may use the application SCC.
   * @default every ServiceAccount of the namespace (group `system:serviceaccounts:<namespace>`)
   */
  readonly serviceAccounts?: readonly string[];
  /**
   * Name of the RoleBinding.
   * @default 'heapdump-app-scc'
   */
  readonly name?: string;
}

/**
 * What one collected namespace needs from the pipeline on OpenShift: a RoleBinding, in that namespace, of the
 * application SCC's `use` ClusterRole to its ServiceAccounts. Without it the SCC plugin refuses every collected
 * pod there (the injected hostPath fits no other SCC), also with the webhook's failurePolicy Ignore
 * (docs/injection.md). Named `heapdump-app-scc`; nothing is emitted on plain Kubernetes (no SCCs).
 */
export class CollectedNamespaceAccess extends Construct {
  public readonly namespace: string;

  public constructor(scope: Construct, id: string, props: CollectedNamespaceAccessProps) {
    super(scope, id);
    this.namespace = checkDnsLabel('namespace', props.namespace);
    if (props.sccClusterRoleName === undefined) return;
    const role = checkDnsSubdomain('sccClusterRoleName', props.sccClusterRoleName);
    const subjects: k8s.Subject[] = props.serviceAccounts === undefined
      ? [{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: `system:serviceaccounts:${this.namespace}` }]
      : props.serviceAccounts.map((sa, i) => ({ kind: 'ServiceAccount', name: checkDnsSubdomain(`serviceAccounts[${i}]`, sa), namespace: this.namespace }));
    new k8s.KubeRoleBinding(this, 'Resource', {
      metadata: {
        name: checkDnsSubdomain('name', props.name ?? COLLECTED_NAMESPACE_BINDING_NAME),
        namespace: this.namespace,
        labels: { 'app.kubernetes.io/part-of': PART_OF, 'app.kubernetes.io/component': 'collected-namespace' },
      },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
      subjects,
    });
  }
}
