/**
 * The ValidatingAdmissionPolicy that narrows the application SCC's hostPath to the dump folder, and its
 * binding. Its CEL is lib/admission-policy-rules.ts (`dumpVolumePolicy`, plain data the tests evaluate);
 * this construct scopes it as docs/injection.md concludes: on OpenShift the pods admitted under the
 * application SCC (the SCC plugin's `openshift.io/scc` annotation, set in the mutating phase, before
 * validation) and every pod of a collected namespace, on Kubernetes the pods of the collected namespaces
 * (selected by name).
 */
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { celString, dumpVolumePolicy } from './admission-policy-rules';
import type { Platform } from './generated/settings';
import { makeClusterScoped, NAMESPACE_NAME_LABEL, NO_NAMESPACE, PART_OF } from './labels';
import { checkDnsLabel, checkDnsSubdomain, PipelinePropsError } from './validation';

export { celString, dumpVolumePolicy, type DumpVolumePolicy, type PolicyValidation, type PolicyVariable } from './admission-policy-rules';

const list = (xs: readonly string[]) => `[${xs.map(celString).join(', ')}]`;

/** The annotation OpenShift's SCC admission plugin sets on every pod: the SCC that admitted it. */
export const OPENSHIFT_SCC_ANNOTATION = 'openshift.io/scc';

export interface DumpVolumeAdmissionPolicyProps {
  /**
   * Name of the policy and of its binding (cluster-scoped).
   * @default 'heapdump-dump-volume'
   */
  readonly name?: string;
  /** The agent image: the only image the wait-ready init container may run. */
  readonly agentImage: string;
  /** @default 'openshift' */
  readonly platform?: Platform;
  /** OpenShift: the application SCC; the policy applies to the pods it admitted. Required on OpenShift. @default none */
  readonly sccName?: string;
  /**
   * The collected namespaces: the policy applies to all their pods (on OpenShift also to the pods the application SCC
   * admitted anywhere).
   * @default none
   */
  readonly namespaces?: readonly string[];
}

/**
 * The ValidatingAdmissionPolicy (and its binding, action Deny) that narrows hostPath to the dump folder: for
 * `pods` (CREATE, UPDATE) and `pods/ephemeralcontainers` (UPDATE), failurePolicy Fail.
 */
export class DumpVolumeAdmissionPolicy extends Construct {
  public readonly policyName: string;

  public constructor(scope: Construct, id: string, props: DumpVolumeAdmissionPolicyProps) {
    super(scope, id);
    this.policyName = checkDnsSubdomain('name', props.name ?? 'heapdump-dump-volume');
    const platform = props.platform ?? 'openshift';
    const labels = { 'app.kubernetes.io/part-of': PART_OF, 'app.kubernetes.io/component': 'admission-policy' };
    const policy = dumpVolumePolicy({ agentImage: props.agentImage });

    const namespaces = (props.namespaces ?? []).map((n, i) => checkDnsLabel(`namespaces[${i}]`, n));
    let matchConditions: { name: string; expression: string }[] = [];
    let namespaceSelector: Record<string, unknown> | undefined;
    if (platform === 'openshift') {
      if (props.sccName === undefined) throw new PipelinePropsError('sccName', undefined, 'the application SCC on OpenShift');
      const scc = checkDnsSubdomain('sccName', props.sccName);
      // The pods the application SCC admitted (the annotation the SCC plugin sets in the mutating phase), and every
      // pod of a collected namespace: annotations are mutable, so a pod whose annotation was edited afterwards
      // (then given an ephemeral container mounting the tree) is still checked where collection is on.
      matchConditions = [{
        name: 'application-scc-or-collected-namespace',
        expression: `(has(object.metadata.annotations) && '${OPENSHIFT_SCC_ANNOTATION}' in object.metadata.annotations && object.metadata.annotations['${OPENSHIFT_SCC_ANNOTATION}'] == ${celString(scc)})`
          + ` || request.namespace in ${list(namespaces)}`,
      }];
    } else {
      // Never without a selector (that would be every namespace); none collected yet: a value no name has.
      namespaceSelector = { matchExpressions: [{ key: NAMESPACE_NAME_LABEL, operator: 'In', values: namespaces.length > 0 ? namespaces : [NO_NAMESPACE] }] };
    }

    makeClusterScoped(new ApiObject(this, 'Resource', {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: this.policyName, labels },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [
            { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods', 'pods/ephemeralcontainers'] },
          ],
        },
        ...(matchConditions.length > 0 ? { matchConditions } : {}),
        variables: policy.variables.map((v) => ({ ...v })),
        validations: policy.validations.map((v) => ({ ...v })),
      },
    }));
    makeClusterScoped(new ApiObject(this, 'Binding', {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: this.policyName, labels },
      spec: {
        policyName: this.policyName,
        validationActions: ['Deny'],
        ...(namespaceSelector !== undefined ? { matchResources: { namespaceSelector } } : {}),
      },
    }));
  }
}
