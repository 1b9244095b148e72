/**
 * The subset of the Pod API that the injection code reads or writes (an AdmissionReview's object or a
 * synthesized pod template, as plain JSON). Unknown fields are carried through untouched.
 */

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { apiVersion?: string; fieldPath: string }; [k: string]: unknown };
  [k: string]: unknown;
}
export interface VolumeMount {
  name: string;
  mountPath: string;
  subPath?: string;
  subPathExpr?: string;
  mountPropagation?: string;
  readOnly?: boolean;
  [k: string]: unknown;
}
export interface SecurityContext {
  runAsUser?: number;
  runAsNonRoot?: boolean;
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  capabilities?: { add?: string[]; drop?: string[] };
  seccompProfile?: { type: string; localhostProfile?: string };
  [k: string]: unknown;
}
export interface Container {
  name: string;
  image?: string;
  args?: string[];
  env?: EnvVar[];
  volumeMounts?: VolumeMount[];
  securityContext?: SecurityContext;
  [k: string]: unknown;
}
export interface Volume {
  name: string;
  hostPath?: { path: string; type?: string };
  projected?: { sources?: unknown[]; [k: string]: unknown };
  [k: string]: unknown;
}
export interface PodSecurityContext {
  runAsUser?: number;
  fsGroup?: number;
  [k: string]: unknown;
}
export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  securityContext?: PodSecurityContext;
  shareProcessNamespace?: boolean;
  hostPID?: boolean;
  [k: string]: unknown;
}
export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [k: string]: unknown;
}
/** A Pod, or a pod template (metadata + spec). */
export interface PodLike {
  metadata?: ObjectMeta;
  spec: PodSpec;
  [k: string]: unknown;
}
