/**
 * RBAC for the uploader's Kubernetes Events (agent/src/report/kube-events.ts): a ClusterRole that
 * allows exactly `create` on events.k8s.io events and `get` on pods, bound by a RoleBinding in each
 * collected namespace only (a ClusterRoleBinding would let the uploader write events everywhere).
 * The agent creates events.k8s.io/v1 Events; RBAC is per API group, so core ("") events are not granted.
 *
 * The uploader's ServiceAccount has `automountServiceAccountToken: false` (no agent talked to the API
 * before); `serviceAccountTokenVolume()` gives it a projected token, the API server's CA and the
 * namespace, where the agent looks for them by default.
 */
import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { DEFAULT_KUBE_CREDENTIALS_DIR } from '../agent/src/report/config';
import { makeClusterScoped, PART_OF } from './labels';
import { integer } from '../agent/src/settings/kinds';
import { checkDnsLabel, checkDnsSubdomain, checkKind, PipelinePropsError } from './validation';

export const EVENT_REPORTER_ROLE_NAME = 'heapdump-event-reporter';

/** The rules, exactly: nothing else is needed to create an Event on a pod. */
export const EVENT_REPORTER_RULES: readonly k8s.PolicyRule[] = [
  { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create'] },
  { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
];

export interface EventReporterRoleProps {
  /**
   * ClusterRole name (cluster-scoped).
   * @default 'heapdump-event-reporter'
   */
  readonly name?: string;
  /** @default part-of label only */
  readonly labels?: Record<string, string>;
}

/** The ClusterRole. Bind it per namespace with `bindEventReporter`. */
export class EventReporterRole extends Construct {
  public readonly clusterRoleName: string;

  public constructor(scope: Construct, id: string, props: EventReporterRoleProps = {}) {
    super(scope, id);
    this.clusterRoleName = checkDnsSubdomain('name', props.name ?? EVENT_REPORTER_ROLE_NAME);
    makeClusterScoped(new k8s.KubeClusterRole(this, 'Resource', {
      metadata: { name: this.clusterRoleName, labels: { 'app.kubernetes.io/part-of': PART_OF, ...props.labels } },
      rules: EVENT_REPORTER_RULES.map((r) => ({ ...r })),
    }));
  }
}

export interface EventReporterBindingProps {
  /** The ClusterRole (EventReporterRole.clusterRoleName). */
  readonly clusterRoleName: string;
  /** The uploader's ServiceAccount ... */
  readonly serviceAccountName: string;
  /** ... in the pipeline namespace. */
  readonly serviceAccountNamespace: string;
  /** Collected namespaces: one RoleBinding in each. */
  readonly namespaces: readonly string[];
  /** @default part-of label only */
  readonly labels?: Record<string, string>;
}

/**
 * One RoleBinding per collected namespace, named after the ServiceAccount, in `scope`. Returns them
 * in the order of `namespaces` (duplicates are an error: they would be the same object twice).
 */
export function bindEventReporter(scope: Construct, id: string, props: EventReporterBindingProps): k8s.KubeRoleBinding[] {
  const role = checkDnsSubdomain('clusterRoleName', props.clusterRoleName);
  const sa = checkDnsSubdomain('serviceAccountName', props.serviceAccountName);
  const saNamespace = checkDnsLabel('serviceAccountNamespace', props.serviceAccountNamespace);
  if (!Array.isArray(props.namespaces)) throw new PipelinePropsError('namespaces', props.namespaces, 'a list of namespace names');
  const seen = new Set<string>();
  const group = new Construct(scope, id);
  return props.namespaces.map((raw, i) => {
    const namespace = checkDnsLabel(`namespaces[${i}]`, raw);
    if (seen.has(namespace)) throw new PipelinePropsError(`namespaces[${i}]`, raw, 'each namespace once');
    seen.add(namespace);
    return new k8s.KubeRoleBinding(group, namespace, {
      metadata: { name: `${sa}-events`.slice(0, 253), namespace, labels: { 'app.kubernetes.io/part-of': PART_OF, ...props.labels } },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
      subjects: [{ kind: 'ServiceAccount', name: sa, namespace: saNamespace }],
    });
  });
}

export interface TokenVolumeOptions {
  /** @default 'kube-api-access' */
  readonly volumeName?: string;
  /**
   * Token lifetime; the kubelet refreshes the file at 80% of it and the agent re-reads it per request.
   * @default 3600
   */
  readonly expirationSeconds?: number;
}

/**
 * A projected ServiceAccount token + the cluster CA + the namespace, mounted read-only where the
 * agent reads them (NOTIFY_KUBE_CREDENTIALS_DIR's default): what automountServiceAccountToken would
 * mount, for this one container only.
 */
export function serviceAccountTokenVolume(opts: TokenVolumeOptions = {}): { volume: k8s.Volume; volumeMount: k8s.VolumeMount } {
  const name = checkDnsLabel('volumeName', opts.volumeName ?? 'kube-api-access');
  const expirationSeconds = checkKind(integer({ min: 600, max: 86_400 }), 'expirationSeconds', opts.expirationSeconds ?? 3600);
  return {
    volume: {
      name,
      projected: {
        defaultMode: 0o444,
        sources: [
          { serviceAccountToken: { path: 'token', expirationSeconds } },
          { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          { downwardApi: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
        ],
      },
    },
    volumeMount: { name, mountPath: DEFAULT_KUBE_CREDENTIALS_DIR, readOnly: true },
  };
}
