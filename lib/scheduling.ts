/**
 * Where the agents' pods run: the `scheduling` settings of the two DaemonSets, and the injector's own.
 *
 * The mount guard and the uploader share ONE scheduling (not a setting per DaemonSet): the uploader's init
 * container waits for the guard's mount on its node, and a node with the guard but without the uploader keeps
 * its dumps forever. Their default is "wherever an application may run": every taint is tolerated (a tainted,
 * dedicated worker pool needs its guard too, or its collected pods wait in `heapdump-wait-ready`), and a
 * required node affinity keeps them off control-plane nodes, unless such a node is also a worker
 * (OpenShift's compact three-node and single-node clusters label their masters `node-role.kubernetes.io/worker`
 * and run applications there). `scheduling.includeControlPlane: true` drops the exclusion.
 */
import type { k8s } from 'cdk8s-plus-28';
import { type AffinityValue, type NodeSelectorTermValue, SETTINGS, type TolerationValue } from '../agent/src/settings';
import type { InjectorSettings, SchedulingSettings } from './generated/settings';
import { optionalProp, prop } from './props';
import { withPropScope } from './validation';

/** Role labels of control-plane nodes (kubeadm and OpenShift 4 set the first; OpenShift 4 and older clusters the second). */
export const CONTROL_PLANE_ROLE_LABELS = ['node-role.kubernetes.io/control-plane', 'node-role.kubernetes.io/master'] as const;
/** Role label of worker nodes; OpenShift sets it on masters that run applications (compact and single-node clusters). */
export const WORKER_ROLE_LABEL = 'node-role.kubernetes.io/worker';

/** The pod spec fields of a scheduling, ready for a pod template (undefined fields are left out). */
export interface PodScheduling {
  readonly nodeSelector?: Record<string, string>;
  readonly tolerations?: k8s.Toleration[];
  readonly affinity?: k8s.Affinity;
}

/** The terms that keep a pod off control-plane nodes that are not also workers (any one must match). */
export function controlPlaneExclusion(): NodeSelectorTermValue[] {
  return [
    { matchExpressions: CONTROL_PLANE_ROLE_LABELS.map((key) => ({ key, operator: 'DoesNotExist' })) },
    { matchExpressions: [{ key: WORKER_ROLE_LABEL, operator: 'Exists' }] },
  ];
}

/**
 * `affinity` with the control-plane exclusion ANDed to its required node affinity: each of the user's terms (any
 * one matches) is combined with each exclusion term, so a node must match one of the user's terms and be no
 * control-plane node (or a worker too). Everything else of `affinity` is kept as it is.
 */
export function excludeControlPlane(affinity: AffinityValue | undefined): AffinityValue {
  const exclusion = controlPlaneExclusion();
  const own = affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  const terms = own === undefined ? exclusion : own.flatMap((t) => exclusion.map((e) => ({
    ...t,
    matchExpressions: [...(t.matchExpressions ?? []), ...(e.matchExpressions ?? [])],
  })));
  return {
    ...affinity,
    nodeAffinity: { ...affinity?.nodeAffinity, requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } },
  };
}

function podScheduling(nodeSelector: Readonly<Record<string, string>> | undefined, tolerations: readonly TolerationValue[], affinity: AffinityValue | undefined): PodScheduling {
  // The validated values are plain JSON of the API's own shape: a deep copy is what the pod spec takes.
  const copy = <T>(v: T) => JSON.parse(JSON.stringify(v)) as T;
  return {
    ...(nodeSelector !== undefined && Object.keys(nodeSelector).length > 0 ? { nodeSelector: { ...nodeSelector } } : {}),
    ...(tolerations.length > 0 ? { tolerations: copy(tolerations) as k8s.Toleration[] } : {}),
    ...(affinity !== undefined && Object.keys(affinity).length > 0 ? { affinity: copy(affinity) as k8s.Affinity } : {}),
  };
}

/** The DaemonSets' scheduling from the `scheduling` settings (validated; errors name `scheduling.<key>`). */
export function resolveAgentScheduling(s: SchedulingSettings | undefined): PodScheduling {
  return withPropScope('scheduling', () => {
    const nodeSelector = optionalProp(SETTINGS.schedulingNodeSelector, s?.nodeSelector);
    const tolerations = prop(SETTINGS.schedulingTolerations, s?.tolerations);
    const affinity = optionalProp(SETTINGS.schedulingAffinity, s?.affinity);
    const includeControlPlane = prop(SETTINGS.schedulingIncludeControlPlane, s?.includeControlPlane);
    return podScheduling(nodeSelector, tolerations, includeControlPlane ? affinity : excludeControlPlane(affinity));
  });
}

/**
 * The injector's scheduling: its node selector and tolerations, and its affinity on top of the default
 * spreading of its replicas (`spread`), which a `podAntiAffinity` of its own replaces. Errors name the key.
 */
export function resolveInjectorScheduling(s: Pick<InjectorSettings, 'nodeSelector' | 'tolerations' | 'affinity'>, spread: AffinityValue['podAntiAffinity']): PodScheduling {
  const nodeSelector = optionalProp(SETTINGS.injectorNodeSelector, s.nodeSelector, 'nodeSelector');
  const tolerations = prop(SETTINGS.injectorTolerations, s.tolerations, 'tolerations');
  const affinity = optionalProp(SETTINGS.injectorAffinity, s.affinity, 'affinity') ?? {};
  return podScheduling(nodeSelector, tolerations, { ...affinity, podAntiAffinity: affinity.podAntiAffinity ?? spread });
}
