/**
 * The CEL of the ValidatingAdmissionPolicy that narrows the application SCC's hostPath to the dump folder
 * (see docs/security.md). The application SCC allows hostPath volumes at all; this policy admits a pod
 * with hostPath volumes only when:
 *
 * 1. every hostPath volume is exactly `/mnt/dump`, type Directory;
 * 2. every mount of such a volume, in any init container or container, is either
 *    (a) the exact `heapdump-wait-ready` init container (agent image, `args: [wait-ready]`, no command, no
 *        envFrom, only its own env names with the pod-identity pair as fieldRefs, no lifecycle/probes/
 *        restartPolicy, non-root, no escalation, drop ALL and nothing added), mounting the volume whole at
 *        /mnt/dump; or
 *    (b) a mount with `subPathExpr: $(HEAPDUMP_POD_NAMESPACE)/$(HEAPDUMP_POD_NAME)` (no subPath) in a
 *        container whose env defines both names ONLY as the fieldRefs metadata.namespace / metadata.name
 *        (a later literal definition would win, so every definition of the name is checked);
 * 3. no ephemeral container mounts such a volume (ephemeral containers cannot use subPath).
 *
 * Why (a) is so strict: that container sees every tenant's folder; NODE_OPTIONS (`--import data:...`), a
 * `command`, envFrom or a postStart hook would be code execution with the whole tree mounted, and a
 * literal HEAPDUMP_POD_NAME would make it create another pod's folder.
 *
 * `dumpVolumePolicy` is plain data (expressions and messages), evaluated in the tests with a conformance-tested
 * CEL evaluator (@bufbuild/cel); `DumpVolumeAdmissionPolicy` wraps it into admissionregistration.k8s.io/v1 objects,
 * scoped as docs/injection.md concludes: on OpenShift the pods admitted under the application SCC (the SCC
 * plugin's `openshift.io/scc` annotation, set in the mutating phase, before validation), on Kubernetes the pods of
 * the collected namespaces (selected by name).
 */
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { COMMANDS, ENV, PATHS, POD_DUMP_SUBPATH_EXPR, POD_ENV, WAIT_READY_CONTAINER_NAME, WAIT_READY_POD_ENV } from '../agent/src/contract';
import type { Platform } from './generated/settings';
import { makeClusterScoped, NAMESPACE_NAME_LABEL, NO_NAMESPACE, PART_OF } from './labels';
import { checkDnsLabel, checkDnsSubdomain, PipelinePropsError } from './validation';

export interface PolicyVariable {
  readonly name: string;
  readonly expression: string;
}

export interface PolicyValidation {
  readonly expression: string;
  readonly message: string;
  readonly reason: 'Forbidden';
}

export interface DumpVolumePolicy {
  readonly variables: readonly PolicyVariable[];
  readonly validations: readonly PolicyValidation[];
}

/** A CEL string literal. */
export function celString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
}

const list = (xs: readonly string[]) => `[${xs.map(celString).join(', ')}]`;

/** Every definition of `name` in `c.env` is the fieldRef `path`, and there is at least one. */
function onlyFieldRef(c: string, name: string, path: string): string {
  const isRef = `has(e.valueFrom) && has(e.valueFrom.fieldRef) && e.valueFrom.fieldRef.fieldPath == ${celString(path)} && !has(e.value)`;
  return `(has(${c}.env) && ${c}.env.exists(e, e.name == ${celString(name)}) && ${c}.env.all(e, e.name != ${celString(name)} || (${isRef})))`;
}

export function dumpVolumePolicy(opts: { readonly agentImage: string }): DumpVolumePolicy {
  const waitEnv = [ENV.nodeName, POD_ENV.namespace, POD_ENV.name, ENV.logLevel, ENV.waitTimeout, WAIT_READY_POD_ENV.createPodFolder, WAIT_READY_POD_ENV.folderGroup];
  const identity = (c: string) => `${onlyFieldRef(c, POD_ENV.namespace, 'metadata.namespace')} && ${onlyFieldRef(c, POD_ENV.name, 'metadata.name')}`;
  const usesHost = (c: string) => `(has(${c}.volumeMounts) && ${c}.volumeMounts.exists(m, m.name in variables.hostVolumes))`;

  // (b): a per-pod mount in a container with the pod-identity env.
  const perPodMounts = (c: string) =>
    `${c}.volumeMounts.all(m, !(m.name in variables.hostVolumes) || (has(m.subPathExpr) && m.subPathExpr == ${celString(POD_DUMP_SUBPATH_EXPR)} && !has(m.subPath)))`
    + ` && ${identity(c)}`;

  // (a): the exact wait-ready init container.
  const sc = 'c.securityContext';
  const exactWaitReady = [
    `c.name == ${celString(WAIT_READY_CONTAINER_NAME)}`,
    `has(c.image) && c.image == ${celString(opts.agentImage)}`,
    `!has(c.command) && has(c.args) && c.args == ${list([COMMANDS.waitReady])}`,
    `!has(c.envFrom) && !has(c.lifecycle) && !has(c.restartPolicy) && !has(c.startupProbe) && !has(c.livenessProbe) && !has(c.readinessProbe)`,
    `has(c.env) && c.env.all(e, e.name in ${list(waitEnv)})`,
    identity('c'),
    `c.env.all(e, e.name != ${celString(ENV.nodeName)} || (has(e.valueFrom) && has(e.valueFrom.fieldRef) && e.valueFrom.fieldRef.fieldPath == 'spec.nodeName'))`,
    `c.volumeMounts.all(m, !(m.name in variables.hostVolumes) || (m.mountPath == ${celString(PATHS.consumerDumpRoot)} && !has(m.subPath) && !has(m.subPathExpr)))`,
    `has(${sc}) && has(${sc}.runAsNonRoot) && ${sc}.runAsNonRoot == true`,
    `has(${sc}.allowPrivilegeEscalation) && ${sc}.allowPrivilegeEscalation == false`,
    `!(has(${sc}.privileged) && ${sc}.privileged == true)`,
    `has(${sc}.capabilities) && has(${sc}.capabilities.drop) && 'ALL' in ${sc}.capabilities.drop`,
    `!has(${sc}.capabilities.add) || size(${sc}.capabilities.add) == 0`,
  ].map((x) => `(${x})`).join(' && ');

  return {
    variables: [
      {
        name: 'hostVolumes',
        expression: 'has(object.spec.volumes) ? object.spec.volumes.filter(v, has(v.hostPath)).map(v, v.name) : []',
      },
    ],
    validations: [
      {
        expression: `!has(object.spec.volumes) || object.spec.volumes.all(v, !has(v.hostPath) || (v.hostPath.path == ${celString(PATHS.hostDumpDir)} && has(v.hostPath.type) && v.hostPath.type == 'Directory'))`,
        message: `hostPath volumes are allowed only for ${PATHS.hostDumpDir} with type Directory`,
        reason: 'Forbidden',
      },
      {
        expression: `!has(object.spec.initContainers) || object.spec.initContainers.all(c, !${usesHost('c')} || (${exactWaitReady}) || (${perPodMounts('c')}))`,
        message: `an init container mounts ${PATHS.hostDumpDir} but is neither the exact ${WAIT_READY_CONTAINER_NAME} container nor a per-pod mount (subPathExpr ${POD_DUMP_SUBPATH_EXPR} with both variables as fieldRefs)`,
        reason: 'Forbidden',
      },
      {
        expression: `object.spec.containers.all(c, !${usesHost('c')} || (${perPodMounts('c')}))`,
        message: `a container mounts ${PATHS.hostDumpDir} other than with subPathExpr ${POD_DUMP_SUBPATH_EXPR} and both variables as fieldRefs of its own pod`,
        reason: 'Forbidden',
      },
      {
        expression: `!has(object.spec.ephemeralContainers) || object.spec.ephemeralContainers.all(c, !${usesHost('c')})`,
        message: `ephemeral containers may not mount ${PATHS.hostDumpDir}`,
        reason: 'Forbidden',
      },
    ],
  };
}

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
