/**
 * The CEL of the ValidatingAdmissionPolicy that narrows the application SCC's hostPath to the dump folder
 * (docs/security.md, "The admission policy"). The application SCC allows hostPath volumes at all; this policy
 * admits a pod with hostPath volumes only when:
 *
 * 1. every hostPath volume is exactly `/mnt/dump`, type Directory;
 * 2. every mount of such a volume, in any init container or container, is either
 *    (a) in the exact `heapdump-wait-ready` init container: every field of core/v1 Container and of its
 *        SecurityContext is held to the rule of agent/src/inject/wait-ready.ts (`WAIT_READY_FIELDS`): the
 *        agent image, `args: [wait-ready]`, only its own env (the pod identity and NODE_NAME as their
 *        fieldRefs), only the dump volume whole at /mnt/dump (plus the ServiceAccount token the API server
 *        adds), non-root, read-only root, RuntimeDefault seccomp, no capabilities, and no command,
 *        workingDir, ports, envFrom, volumeDevices, probes, lifecycle, stdin/tty, other termination message
 *        path or resource claims; or
 *    (b) a mount with `subPathExpr: $(HEAPDUMP_POD_NAMESPACE)/$(HEAPDUMP_POD_NAME)` (no subPath) in a
 *        container whose env defines both names ONLY as the fieldRefs metadata.namespace / metadata.name
 *        (a later literal definition would win, so every definition of the name is checked);
 * 3. no ephemeral container mounts such a volume, or targets the wait-ready container (it would share its
 *    process namespace, and with it `/proc/<pid>/root`, the whole tree);
 * 4. the pod shares no process namespace among its containers or with the node (for the same reason).
 *
 * Why (a) is a whitelist: that container sees every tenant's folder. A configMap over /opt/heapdump, a
 * `command`, NODE_OPTIONS, a workingDir, a device or a termination message file in the tree would each be
 * the pod owner's code or writes there, as the pod's uid.
 *
 * Plain data (expressions and messages), evaluated in the tests with a conformance-tested CEL evaluator
 * (@bufbuild/cel). Every field named here exists in the Pod schema of Kubernetes 1.30 (the first with
 * admissionregistration.k8s.io/v1 policies): the API server type-checks the expressions against it.
 */
import { COMMANDS, PATHS, POD_DUMP_SUBPATH_EXPR, POD_ENV, WAIT_READY_CONTAINER_NAME } from '../agent/src/contract';
import {
  type FieldRule, SERVICE_ACCOUNT_MOUNT_PATH, TERMINATION_MESSAGE_DEFAULTS, WAIT_READY_ENV, WAIT_READY_FIELDS, WAIT_READY_SECURITY_FIELDS,
} from '../agent/src/inject/wait-ready';

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
const and = (xs: readonly string[]) => xs.map((x) => `(${x})`).join(' && ');
const absentOr = (field: string, test: string) => `!has(${field}) || ${test}`;

/** `e` is exactly the fieldRef `path` (no literal value). */
const isRef = (e: string, path: string) =>
  `has(${e}.valueFrom) && has(${e}.valueFrom.fieldRef) && ${e}.valueFrom.fieldRef.fieldPath == ${celString(path)} && !has(${e}.value)`;

/** Every definition of `name` in `c.env` is the fieldRef `path`, and there is at least one. */
function onlyFieldRef(c: string, name: string, path: string): string {
  return `(has(${c}.env) && ${c}.env.exists(e, e.name == ${celString(name)}) && ${c}.env.all(e, e.name != ${celString(name)} || (${isRef('e', path)})))`;
}

/** One CEL test per field that is not `any`: `forbidden` ones must be absent, the others hold to their rule. */
function fieldTests(target: string, rules: Readonly<Record<string, FieldRule>>, checks: Readonly<Record<string, string>>): string[] {
  const named = Object.keys(rules).filter((f) => rules[f] === 'exact' || rules[f] === 'admission');
  const missing = named.filter((f) => checks[f] === undefined);
  const stray = Object.keys(checks).filter((f) => !named.includes(f));
  if (missing.length > 0 || stray.length > 0) {
    throw new Error(`admission policy: the CEL checks do not match wait-ready.ts's rules (missing: ${missing.join(', ') || '-'}; not in the rules: ${stray.join(', ') || '-'})`);
  }
  return Object.keys(rules).flatMap((f) => (rules[f] === 'forbidden' ? [`!has(${target}.${f})`] : rules[f] === 'any' ? [] : [checks[f]]));
}

/** (a): the exact wait-ready init container, as `c`. */
function exactWaitReady(agentImage: string): string {
  const sc = 'c.securityContext';
  const envNames = [...Object.keys(WAIT_READY_ENV.fieldRefs), ...WAIT_READY_ENV.literals];
  const dumpMount = (m: string) => and([
    `${m}.name in variables.hostVolumes`, `${m}.mountPath == ${celString(PATHS.consumerDumpRoot)}`, `!has(${m}.subPath)`, `!has(${m}.subPathExpr)`,
    `has(${m}.mountPropagation) && ${m}.mountPropagation == 'HostToContainer'`,
  ]);
  const tokenMount = (m: string) => and([
    `${m}.name in variables.projectedVolumes`, `${m}.mountPath == ${celString(SERVICE_ACCOUNT_MOUNT_PATH)}`, `has(${m}.readOnly) && ${m}.readOnly == true`,
    `!has(${m}.subPath)`, `!has(${m}.subPathExpr)`, `!has(${m}.mountPropagation)`,
  ]);
  const security = fieldTests(sc, WAIT_READY_SECURITY_FIELDS, {
    runAsNonRoot: `has(${sc}.runAsNonRoot) && ${sc}.runAsNonRoot == true`,
    allowPrivilegeEscalation: `has(${sc}.allowPrivilegeEscalation) && ${sc}.allowPrivilegeEscalation == false`,
    capabilities: `has(${sc}.capabilities) && has(${sc}.capabilities.drop) && 'ALL' in ${sc}.capabilities.drop && (${absentOr(`${sc}.capabilities.add`, `size(${sc}.capabilities.add) == 0`)})`,
    readOnlyRootFilesystem: `has(${sc}.readOnlyRootFilesystem) && ${sc}.readOnlyRootFilesystem == true`,
    seccompProfile: `has(${sc}.seccompProfile) && ${sc}.seccompProfile.type == 'RuntimeDefault'`,
    seLinuxOptions: absentOr(`${sc}.seLinuxOptions`, `!has(${sc}.seLinuxOptions.user) && !has(${sc}.seLinuxOptions.role) && !has(${sc}.seLinuxOptions.type)`),
    privileged: absentOr(`${sc}.privileged`, `${sc}.privileged == false`),
    procMount: absentOr(`${sc}.procMount`, `${sc}.procMount == 'Default'`),
    appArmorProfile: absentOr(`${sc}.appArmorProfile`, `${sc}.appArmorProfile.type == 'RuntimeDefault'`),
  });
  const container = fieldTests('c', WAIT_READY_FIELDS, {
    name: `c.name == ${celString(WAIT_READY_CONTAINER_NAME)}`,
    image: `has(c.image) && c.image == ${celString(agentImage)}`,
    args: `has(c.args) && c.args == ${list([COMMANDS.waitReady])}`,
    env: and([
      `has(c.env) && c.env.all(e, e.name in ${list(envNames)})`,
      ...Object.entries(WAIT_READY_ENV.fieldRefs).map(([name, path]) => onlyFieldRef('c', name, path)),
      `c.env.all(e, !(e.name in ${list(WAIT_READY_ENV.literals)}) || !has(e.valueFrom))`,
      ...Object.entries(WAIT_READY_ENV.fixed).map(([name, value]) => `c.env.all(e, e.name != ${celString(name)} || (has(e.value) && e.value == ${celString(value)}))`),
    ]),
    volumeMounts: and([
      'has(c.volumeMounts)', `c.volumeMounts.exists_one(m, ${dumpMount('m')})`,
      `c.volumeMounts.all(m, (${dumpMount('m')}) || (${tokenMount('m')}))`, `size(c.volumeMounts) <= 2`,
    ]),
    securityContext: `has(${sc}) && ${and(security)}`,
    terminationMessagePath: absentOr('c.terminationMessagePath', `c.terminationMessagePath == ${celString(TERMINATION_MESSAGE_DEFAULTS.path)}`),
    terminationMessagePolicy: absentOr('c.terminationMessagePolicy', `c.terminationMessagePolicy == ${celString(TERMINATION_MESSAGE_DEFAULTS.policy)}`),
  });
  // `resources` is `any` but for claims: a claim hands the container a device.
  return and([...container, absentOr('c.resources', '!has(c.resources.claims)')]);
}

export function dumpVolumePolicy(opts: { readonly agentImage: string }): DumpVolumePolicy {
  const identity = (c: string) => `${onlyFieldRef(c, POD_ENV.namespace, 'metadata.namespace')} && ${onlyFieldRef(c, POD_ENV.name, 'metadata.name')}`;
  const usesHost = (c: string) => `(has(${c}.volumeMounts) && ${c}.volumeMounts.exists(m, m.name in variables.hostVolumes))`;
  // (b): a per-pod mount in a container with the pod-identity env.
  const perPodMounts = (c: string) =>
    `${c}.volumeMounts.all(m, !(m.name in variables.hostVolumes) || (has(m.subPathExpr) && m.subPathExpr == ${celString(POD_DUMP_SUBPATH_EXPR)} && !has(m.subPath)))`
    + ` && ${identity(c)}`;
  const withTree = 'size(variables.hostVolumes) == 0';

  return {
    variables: [
      { name: 'hostVolumes', expression: 'has(object.spec.volumes) ? object.spec.volumes.filter(v, has(v.hostPath)).map(v, v.name) : []' },
      { name: 'projectedVolumes', expression: 'has(object.spec.volumes) ? object.spec.volumes.filter(v, has(v.projected)).map(v, v.name) : []' },
    ],
    validations: [
      {
        expression: `!has(object.spec.volumes) || object.spec.volumes.all(v, !has(v.hostPath) || (v.hostPath.path == ${celString(PATHS.hostDumpDir)} && has(v.hostPath.type) && v.hostPath.type == 'Directory'))`,
        message: `hostPath volumes are allowed only for ${PATHS.hostDumpDir} with type Directory`,
        reason: 'Forbidden',
      },
      {
        expression: `!has(object.spec.initContainers) || object.spec.initContainers.all(c, !${usesHost('c')} || (${exactWaitReady(opts.agentImage)}) || (${perPodMounts('c')}))`,
        message: `an init container mounts ${PATHS.hostDumpDir} but is neither the exact ${WAIT_READY_CONTAINER_NAME} container (the agent image, args [wait-ready], `
          + 'only its own env, only that volume at /mnt/dump, the security context the webhook writes, no command, workingDir, ports, '
          + 'envFrom, volumeDevices, probes, lifecycle, stdin or tty) nor a per-pod mount '
          + `(subPathExpr ${POD_DUMP_SUBPATH_EXPR} with both variables as fieldRefs)`,
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
      {
        expression: `${withTree} || !has(object.spec.ephemeralContainers) || object.spec.ephemeralContainers.all(c, !has(c.targetContainerName) || c.targetContainerName != ${celString(WAIT_READY_CONTAINER_NAME)})`,
        message: `ephemeral containers may not target ${WAIT_READY_CONTAINER_NAME} (its process sees every pod's folder)`,
        reason: 'Forbidden',
      },
      {
        expression: `${withTree} || (!(has(object.spec.shareProcessNamespace) && object.spec.shareProcessNamespace == true) && !(has(object.spec.hostPID) && object.spec.hostPID == true))`,
        message: `a pod that mounts ${PATHS.hostDumpDir} may not share a process namespace among its containers or with the node (${WAIT_READY_CONTAINER_NAME}'s process sees every pod's folder)`,
        reason: 'Forbidden',
      },
    ],
  };
}
