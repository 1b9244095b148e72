/** Lookups over synthesized objects, shared by the construct tests and the end-to-end suite. */
import { K8sObject } from '../../lib/synth';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type AnyObj = Record<string, any> & {
  apiVersion: string;
  kind: string;
  metadata: Record<string, any> & { name: string; namespace?: string };
};

export function find(objects: K8sObject[], kind: string, name: string): AnyObj {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (found === undefined) {
    throw new Error(`no ${kind} ${name} among: ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  }
  return found as AnyObj;
}

export function ofKind(objects: K8sObject[], kind: string): AnyObj[] {
  return objects.filter((o) => o.kind === kind) as AnyObj[];
}

/** The pod spec of a Deployment or DaemonSet. */
export function podSpec(workload: AnyObj): any {
  return workload.spec.template.spec;
}

export function container(workload: AnyObj, name: string): any {
  const spec = podSpec(workload);
  const found = [...(spec.initContainers ?? []), ...spec.containers].find((c: any) => c.name === name);
  if (found === undefined) throw new Error(`no container ${name} in ${workload.kind}/${workload.metadata.name}`);
  return found;
}

export function envVar(c: any, name: string): any {
  return (c.env ?? []).find((e: any) => e.name === name);
}

/** Workloads with a pod template. */
export function workloads(objects: K8sObject[]): AnyObj[] {
  return objects.filter((o) => ['Deployment', 'DaemonSet', 'StatefulSet'].includes(o.kind)) as AnyObj[];
}

/** Kinds without a namespace. */
export const CLUSTER_SCOPED_KINDS = [
  'Namespace', 'PriorityClass', 'SecurityContextConstraints', 'ClusterRole', 'ClusterRoleBinding',
  'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration', 'APIService',
];
