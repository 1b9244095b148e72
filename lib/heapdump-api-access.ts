import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { API_GROUP, API_VERSION, RESOURCE, SUBRESOURCE_NAMES, SUBRESOURCES, VERBS } from '../agent/src/api/paths';
import { makeClusterScoped, PART_OF } from './labels';
import { prefixed } from './names';
import { checkDnsLabel, checkDnsSubdomain } from './validation';

/** Cluster-scoped names of the heapdumps API (before `namePrefix`; the APIService's name is fixed by Kubernetes). */
export const API_ACCESS_NAMES = {
  /** Aggregated to `admin` and `edit`: list, get and download a namespace's dumps. */
  editRole: 'heapdump-pipeline-heapdumps-edit',
  /** Opt-in for `view`: list and read the reports, not the dumps' bytes. */
  viewRole: 'heapdump-pipeline-heapdumps-view',
  /** The API server's `system:auth-delegator` binding (TokenReview, SubjectAccessReview). */
  authDelegator: 'heapdump-api-auth-delegator',
} as const;

export const API_SERVICE_NAME = `${API_VERSION}.${API_GROUP}`;

/** What namespace owners get: everything the API serves (it is read-only). */
export const EDIT_RULES: readonly k8s.PolicyRule[] = [
  { apiGroups: [API_GROUP], resources: [RESOURCE, ...SUBRESOURCE_NAMES.map((s) => `${RESOURCE}/${s}`)], verbs: [...VERBS] },
];

/** What the opt-in view role gets: that dumps exist, their summary and leak report; not their bytes (every secret of the JVM). */
export const VIEW_RULES: readonly k8s.PolicyRule[] = [
  { apiGroups: [API_GROUP], resources: [RESOURCE, `${RESOURCE}/${SUBRESOURCES.summary}`, `${RESOURCE}/${SUBRESOURCES.leaks}`], verbs: [...VERBS] },
];

export interface HeapDumpApiAccessProps {
  /** The pipeline namespace (the Service and the ServiceAccount). */
  readonly namespace: string;
  /** The API server's Service and ServiceAccount. */
  readonly serviceName: string;
  /** @default 'openshift' */
  readonly platform?: 'openshift' | 'kubernetes';
  /** cert-manager Certificate whose CA the APIService trusts (Kubernetes only). @default none */
  readonly certificateName?: string;
  /** Label the edit role for aggregation into `admin` and `edit`. @default true */
  readonly aggregateToEdit?: boolean;
  /** Label the view role for aggregation into `view`. @default false */
  readonly aggregateToView?: boolean;
  /** Prefix of every name. @default '' */
  readonly namePrefix?: string;
}

/**
 * The cluster-scoped half of the heapdumps API: the APIService that makes the API server part of the cluster's
 * API (`oc get heapdumps`), its CA bundle injected by the OpenShift service CA or cert-manager; the ClusterRoles
 * aggregated to `admin` and `edit` (and the opt-in view role); the API server's `system:auth-delegator` binding.
 */
export class HeapDumpApiAccess extends Construct {
  public readonly editRoleName: string;
  public readonly viewRoleName: string;

  public constructor(scope: Construct, id: string, props: HeapDumpApiAccessProps) {
    super(scope, id);
    const namespace = checkDnsLabel('namespace', props.namespace);
    const service = checkDnsSubdomain('serviceName', props.serviceName);
    const platform = props.platform ?? 'openshift';
    const prefix = props.namePrefix ?? '';
    const labels = { 'app.kubernetes.io/part-of': PART_OF, 'app.kubernetes.io/component': 'api' };
    this.editRoleName = prefixed(prefix, API_ACCESS_NAMES.editRole);
    this.viewRoleName = prefixed(prefix, API_ACCESS_NAMES.viewRole);

    const caAnnotation: Record<string, string> = platform === 'openshift'
      ? { 'service.alpha.openshift.io/inject-cabundle': 'true' }
      : { 'cert-manager.io/inject-ca-from': `${namespace}/${props.certificateName ?? service}` };
    makeClusterScoped(new ApiObject(this, 'Resource', {
      apiVersion: 'apiregistration.k8s.io/v1',
      kind: 'APIService',
      metadata: { name: API_SERVICE_NAME, labels, annotations: caAnnotation },
      spec: {
        group: API_GROUP,
        version: API_VERSION,
        // Below the built-in groups (which use 17000-18000): listed after them in discovery.
        groupPriorityMinimum: 1000,
        versionPriority: 15,
        service: { name: service, namespace, port: 443 },
        insecureSkipTLSVerify: false,
      },
    }));
    makeClusterScoped(new k8s.KubeClusterRole(this, 'EditRole', {
      metadata: {
        name: this.editRoleName,
        labels: { ...labels, ...(props.aggregateToEdit !== false ? { 'rbac.authorization.k8s.io/aggregate-to-admin': 'true', 'rbac.authorization.k8s.io/aggregate-to-edit': 'true' } : {}) },
      },
      rules: EDIT_RULES.map((r) => ({ ...r })),
    }));
    makeClusterScoped(new k8s.KubeClusterRole(this, 'ViewRole', {
      metadata: { name: this.viewRoleName, labels: { ...labels, ...(props.aggregateToView === true ? { 'rbac.authorization.k8s.io/aggregate-to-view': 'true' } : {}) } },
      rules: VIEW_RULES.map((r) => ({ ...r })),
    }));
    makeClusterScoped(new k8s.KubeClusterRoleBinding(this, 'AuthDelegator', {
      metadata: { name: prefixed(prefix, API_ACCESS_NAMES.authDelegator), labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' },
      subjects: [{ kind: 'ServiceAccount', name: service, namespace }],
    }));
  }
}
