/**
 * A small model of OpenShift's SCC admission, enough to check the pipeline's pod templates:
 * which SCCs a ServiceAccount may use (RBAC `use` grants, plus restricted-v2 for everyone), and
 * whether an SCC admits a pod (privileged, capabilities, volume types, host namespaces, run-as-user,
 * privilege escalation, seccomp, read-only root filesystem). It is stricter than OpenShift where
 * OpenShift would silently mutate the pod (e.g. required drops must already be in the manifest).
 */

export interface SccStrategy { type?: string; uid?: number; uidRangeMin?: number; uidRangeMax?: number }

export interface Scc {
  metadata: { name: string };
  allowPrivilegedContainer: boolean;
  allowPrivilegeEscalation?: boolean;
  allowHostDirVolumePlugin: boolean;
  allowHostNetwork: boolean;
  allowHostPID: boolean;
  allowHostIPC: boolean;
  allowHostPorts: boolean;
  allowedCapabilities: string[] | null;
  defaultAddCapabilities: string[] | null;
  requiredDropCapabilities: string[] | null;
  readOnlyRootFilesystem: boolean;
  runAsUser?: SccStrategy;
  seccompProfiles?: string[];
  volumes: string[];
}

/** OpenShift 4.11+ restricted-v2 as shipped, usable by every authenticated user (from `oc get scc restricted-v2 -o yaml`). */
export const RESTRICTED_V2_SCC: Scc = {
  metadata: { name: 'restricted-v2' },
  allowPrivilegedContainer: false,
  allowPrivilegeEscalation: false,
  allowHostDirVolumePlugin: false,
  allowHostNetwork: false,
  allowHostPID: false,
  allowHostIPC: false,
  allowHostPorts: false,
  allowedCapabilities: ['NET_BIND_SERVICE'],
  defaultAddCapabilities: null,
  requiredDropCapabilities: ['ALL'],
  readOnlyRootFilesystem: false,
  runAsUser: { type: 'MustRunAsRange' },
  seccompProfiles: ['runtime/default'],
  volumes: ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'],
};

/** A namespace's UID range (openshift.io/sa.scc.uid-range), used by MustRunAsRange without explicit bounds. */
export const DEFAULT_UID_RANGE: [number, number] = [1000650000, 1000659999];

interface SecurityContext {
  privileged?: boolean;
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  runAsUser?: number;
  runAsNonRoot?: boolean;
  capabilities?: { add?: string[]; drop?: string[] };
  seccompProfile?: { type: string; localhostProfile?: string };
}
interface Container { name: string; securityContext?: SecurityContext; ports?: { hostPort?: number }[] }
export interface PodSpec {
  serviceAccountName?: string;
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  securityContext?: SecurityContext;
  containers: Container[];
  initContainers?: Container[];
  volumes?: Record<string, unknown>[];
}

function seccompName(p: { type: string; localhostProfile?: string } | undefined): string | undefined {
  if (p === undefined) return undefined;
  if (p.type === 'RuntimeDefault') return 'runtime/default';
  if (p.type === 'Unconfined') return 'unconfined';
  return `localhost/${p.localhostProfile ?? ''}`;
}

/** Volume type as SCCs name it: the key of the volume source (hostPath, configMap, ...). */
function volumeType(v: Record<string, unknown>): string {
  return Object.keys(v).find((k) => k !== 'name') ?? 'unknown';
}

function checkRunAsUser(scc: Scc, who: string, uid: number | undefined, nonRoot: boolean | undefined, uidRange: [number, number]): string[] {
  const s = scc.runAsUser ?? { type: 'RunAsAny' };
  switch (s.type) {
    case 'MustRunAs': {
      if (uid !== undefined && uid !== s.uid) return [`${who}: runAsUser ${uid} is not the required ${s.uid}`];
      if (nonRoot === true && s.uid === 0) return [`${who}: runAsNonRoot conflicts with the required uid 0`];
      return [];
    }
    case 'MustRunAsRange': {
      const min = s.uidRangeMin ?? uidRange[0];
      const max = s.uidRangeMax ?? uidRange[1];
      if (uid !== undefined && (uid < min || uid > max)) return [`${who}: runAsUser ${uid} is outside ${min}-${max}`];
      return [];
    }
    case 'MustRunAsNonRoot':
      if (uid === 0 || (uid === undefined && nonRoot !== true)) return [`${who}: must run as non-root`];
      return [];
    default:
      return [];
  }
}

function containerErrors(scc: Scc, pod: PodSpec, c: Container, uidRange: [number, number]): string[] {
  const who = `container ${c.name}`;
  const sc = c.securityContext ?? {};
  const errors: string[] = [];
  if (sc.privileged === true && !scc.allowPrivilegedContainer) errors.push(`${who}: privileged is not allowed`);

  const add = sc.capabilities?.add ?? [];
  const drop = sc.capabilities?.drop ?? [];
  const allowed = [...(scc.allowedCapabilities ?? []), ...(scc.defaultAddCapabilities ?? [])];
  for (const cap of add) {
    if (!allowed.includes('*') && !allowed.includes(cap)) errors.push(`${who}: capability ${cap} is not allowed`);
    if ((scc.requiredDropCapabilities ?? []).includes(cap)) errors.push(`${who}: capability ${cap} must be dropped`);
  }
  for (const cap of scc.requiredDropCapabilities ?? []) {
    if (!drop.includes(cap) && !drop.includes('ALL')) errors.push(`${who}: required drop of ${cap} is missing`);
  }

  const escalation = sc.allowPrivilegeEscalation ?? sc.privileged === true;
  if (scc.allowPrivilegeEscalation === false && (escalation === true || sc.privileged === true)) {
    errors.push(`${who}: privilege escalation is not allowed`);
  }
  if (scc.readOnlyRootFilesystem && sc.readOnlyRootFilesystem !== true) errors.push(`${who}: root filesystem must be read-only`);

  const profile = seccompName(sc.seccompProfile ?? pod.securityContext?.seccompProfile);
  const profiles = scc.seccompProfiles ?? [];
  if (profile !== undefined && !profiles.includes('*') && !profiles.includes(profile)) {
    errors.push(`${who}: seccomp profile ${profile} is not allowed`);
  }

  const uid = sc.runAsUser ?? pod.securityContext?.runAsUser;
  const nonRoot = sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot;
  errors.push(...checkRunAsUser(scc, who, uid, nonRoot, uidRange));
  if (!scc.allowHostPorts && (c.ports ?? []).some((p) => p.hostPort !== undefined)) errors.push(`${who}: host ports are not allowed`);
  return errors;
}

/** Why `scc` would reject the pod; [] when it admits it. */
export function admissionErrors(scc: Scc, pod: PodSpec, uidRange: [number, number] = DEFAULT_UID_RANGE): string[] {
  const errors: string[] = [];
  if (pod.hostNetwork === true && !scc.allowHostNetwork) errors.push('hostNetwork is not allowed');
  if (pod.hostPID === true && !scc.allowHostPID) errors.push('hostPID is not allowed');
  if (pod.hostIPC === true && !scc.allowHostIPC) errors.push('hostIPC is not allowed');
  for (const v of pod.volumes ?? []) {
    const type = volumeType(v);
    if (!scc.volumes.includes('*') && !scc.volumes.includes(type)) errors.push(`volume ${String(v.name)}: type ${type} is not allowed`);
    if (type === 'hostPath' && !scc.allowHostDirVolumePlugin) errors.push(`volume ${String(v.name)}: host directories are not allowed`);
  }
  for (const c of [...(pod.initContainers ?? []), ...pod.containers]) errors.push(...containerErrors(scc, pod, c, uidRange));
  return errors;
}

interface RbacObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  roleRef?: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
  rules?: { apiGroups?: string[]; resources?: string[]; resourceNames?: string[]; verbs?: string[] }[];
}

/** SCC names a ClusterRole/Role grants `use` of ('*' for all). */
function sccsGrantedBy(role: RbacObject): string[] {
  return (role.rules ?? [])
    .filter((r) => (r.apiGroups ?? []).some((g) => g === 'security.openshift.io' || g === '*')
      && (r.resources ?? []).some((res) => res === 'securitycontextconstraints' || res === '*')
      && (r.verbs ?? []).some((v) => v === 'use' || v === '*'))
    .flatMap((r) => r.resourceNames ?? ['*']);
}

/**
 * The SCCs a ServiceAccount may use given the synthesized RBAC objects and SCCs: everything
 * granted through a RoleBinding in its namespace or a ClusterRoleBinding naming it (or a group it is in:
 * `system:serviceaccounts`, `system:serviceaccounts:<namespace>`), plus
 * restricted-v2 (granted to system:authenticated on every cluster).
 */
export function usableSccs(objects: unknown[], serviceAccount: string, namespace: string, clusterSccs: Scc[] = [RESTRICTED_V2_SCC]): Scc[] {
  const all = objects as RbacObject[];
  const sccs = [...clusterSccs, ...(objects as (Scc & { kind: string })[]).filter((o) => o.kind === 'SecurityContextConstraints')];
  const names = new Set<string>(clusterSccs.map((s) => s.metadata.name));
  for (const binding of all.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')) {
    if (binding.kind === 'RoleBinding' && binding.metadata.namespace !== namespace) continue;
    // A ServiceAccount subject, or the groups every ServiceAccount is in (all of them, or those of its namespace).
    const subjectMatches = (binding.subjects ?? []).some((s) => (s.kind === 'ServiceAccount' && s.name === serviceAccount
      && (s.namespace ?? binding.metadata.namespace) === namespace)
      || (s.kind === 'Group' && (s.name === 'system:serviceaccounts' || s.name === `system:serviceaccounts:${namespace}`)));
    if (!subjectMatches || binding.roleRef === undefined) continue;
    const role = all.find((o) => o.kind === binding.roleRef!.kind && o.metadata.name === binding.roleRef!.name
      && (o.kind === 'ClusterRole' || o.metadata.namespace === namespace));
    if (role === undefined) continue;
    for (const name of sccsGrantedBy(role)) {
      if (name === '*') sccs.forEach((s) => names.add(s.metadata.name));
      else names.add(name);
    }
  }
  return sccs.filter((s) => names.has(s.metadata.name));
}
