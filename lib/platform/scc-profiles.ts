/**
 * What each role's SCC allows. The uploader's and the application's start from OpenShift's
 * `restricted-v2` and add only what the role demonstrably needs; only the mount guard is privileged.
 */
import { SecurityContextConstraintsProps } from '../imports/security.openshift.io';

type Constraints = Omit<SecurityContextConstraintsProps, 'metadata' | 'users' | 'groups'>;

/** OpenShift 4.11+ `restricted-v2`, as shipped (the baseline every authenticated user may use). */
export const RESTRICTED_V2: Constraints = {
  allowHostDirVolumePlugin: false,
  allowHostIpc: false,
  allowHostNetwork: false,
  allowHostPid: false,
  allowHostPorts: false,
  allowPrivilegeEscalation: false,
  allowPrivilegedContainer: false,
  allowedCapabilities: ['NET_BIND_SERVICE'],
  defaultAddCapabilities: [],
  fsGroup: { type: 'MustRunAs' },
  priority: 0,
  readOnlyRootFilesystem: false,
  requiredDropCapabilities: ['ALL'],
  runAsUser: { type: 'MustRunAsRange' },
  seLinuxContext: { type: 'MustRunAs' },
  seccompProfiles: ['runtime/default'],
  supplementalGroups: { type: 'RunAsAny' },
  volumes: ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'],
};

/**
 * Mount guard: a bind mount with Bidirectional propagation needs a privileged container (the
 * kubelet refuses Bidirectional otherwise) and SYS_ADMIN; volumes are only the PVC and the node's
 * /mnt/dump. It runs as root (uid 0 exactly), never with host namespaces or host ports.
 */
export function mountGuardConstraints(): Constraints {
  return {
    allowHostDirVolumePlugin: true,
    allowHostIpc: false,
    allowHostNetwork: false,
    allowHostPid: false,
    allowHostPorts: false,
    allowPrivilegeEscalation: true, // implied by privileged; the API rejects privileged + no escalation
    allowPrivilegedContainer: true,
    allowedCapabilities: ['SYS_ADMIN'],
    defaultAddCapabilities: [],
    fsGroup: { type: 'RunAsAny' },
    priority: 0,
    readOnlyRootFilesystem: true,
    requiredDropCapabilities: [],
    runAsUser: { type: 'MustRunAs', uid: 0 },
    seLinuxContext: { type: 'MustRunAs' },
    seccompProfiles: ['runtime/default'],
    supplementalGroups: { type: 'RunAsAny' },
    volumes: ['hostPath', 'persistentVolumeClaim'],
  };
}

/** Capabilities the uploader container adds (and its SCC allows). */
export function uploaderCapabilities(removesLocalDumps: boolean): string[] {
  // DAC_READ_SEARCH: read dumps (mode 0600) owned by any application UID, without write access.
  // Moving a verified dump out of the application's folder (or deleting it) needs write on that
  // app-owned, non-sticky folder: DAC_OVERRIDE. (No FOWNER: the agents never rename or remove in a
  // sticky directory they do not own, and every move goes through pinned directories.)
  return removesLocalDumps ? ['DAC_READ_SEARCH', 'DAC_OVERRIDE'] : ['DAC_READ_SEARCH'];
}

/**
 * Uploader: restricted-v2 plus hostPath volumes, uid 0 (exactly) and the DAC capabilities above.
 * It stays unprivileged, without escalation, with a read-only root filesystem and RuntimeDefault
 * seccomp; no NET_BIND_SERVICE (it listens on an unprivileged port).
 */
export function uploaderConstraints(removesLocalDumps: boolean): Constraints {
  return {
    ...RESTRICTED_V2,
    allowHostDirVolumePlugin: true,
    allowedCapabilities: uploaderCapabilities(removesLocalDumps),
    readOnlyRootFilesystem: true,
    runAsUser: { type: 'MustRunAs', uid: 0 },
    volumes: [...RESTRICTED_V2.volumes, 'hostPath'].sort(),
  };
}

/** Application: restricted-v2 plus the hostPath volume its dump folder lives on; nothing else. */
export function applicationConstraints(): Constraints {
  return {
    ...RESTRICTED_V2,
    allowHostDirVolumePlugin: true,
    volumes: [...RESTRICTED_V2.volumes, 'hostPath'].sort(),
  };
}
