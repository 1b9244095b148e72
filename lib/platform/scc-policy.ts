import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { SecurityContextConstraints, SecurityContextConstraintsProps } from '../imports/security.openshift.io';
import { makeClusterScoped, PART_OF } from '../labels';
import { checkDnsSubdomain } from '../validation';

export interface SccPolicyProps {
  /** SCC name (cluster-scoped). */
  readonly name: string;
  /** What the SCC allows; `metadata`, `users` and `groups` are set by this construct. */
  readonly constraints: Omit<SecurityContextConstraintsProps, 'metadata' | 'users' | 'groups'>;
  /**
   * Name of the ClusterRole that grants `use` on this SCC.
   * @default `${name}-scc-user`
   */
  readonly clusterRoleName?: string;
  /** Description annotation (`kubernetes.io/description`) shown by `oc describe scc`. */
  readonly description: string;
}

/**
 * One SecurityContextConstraints object plus the ClusterRole allowing `use` of exactly that SCC.
 * The SCC lists no users or groups: it is granted only through RBAC, by a RoleBinding in the
 * pipeline's namespace to one ServiceAccount (see WorkloadIdentity).
 */
export class SccPolicy extends Construct {
  public readonly sccName: string;
  public readonly clusterRoleName: string;

  public constructor(scope: Construct, id: string, props: SccPolicyProps) {
    super(scope, id);
    this.sccName = checkDnsSubdomain('name', props.name);
    this.clusterRoleName = checkDnsSubdomain('clusterRoleName', props.clusterRoleName ?? `${this.sccName}-scc-user`);
    const labels = { 'app.kubernetes.io/part-of': PART_OF };

    makeClusterScoped(new SecurityContextConstraints(this, 'Resource', {
      ...props.constraints,
      metadata: { name: this.sccName, labels, annotations: { 'kubernetes.io/description': props.description } },
      users: [],
      groups: [],
    }));
    makeClusterScoped(new k8s.KubeClusterRole(this, 'UseRole', {
      metadata: { name: this.clusterRoleName, labels },
      rules: [{
        apiGroups: ['security.openshift.io'],
        resources: ['securitycontextconstraints'],
        resourceNames: [this.sccName],
        verbs: ['use'],
      }],
    }));
  }
}
