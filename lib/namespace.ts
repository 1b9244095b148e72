import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { makeClusterScoped, COLLECT_NAMESPACE_LABEL, PART_OF } from './labels';
import { SETTINGS } from '../agent/src/settings';
import type { Platform } from './generated/settings';
import { prop } from './props';
import { checkDnsLabel } from './validation';

/** What a namespace is for: the agents' own, or one whose Java services are collected (the demo's). */
export type NamespaceRole = 'pipeline' | 'collected';

export interface PipelineNamespaceProps {
  /** Namespace name. */
  readonly name: string;
  /**
   * OpenShift gets display annotations (and no `openshift.io/cluster-monitoring` label: user-workload
   * monitoring scrapes it); plain Kubernetes gets Pod Security admission labels instead.
   * @default 'openshift'
   */
  readonly platform?: Platform;
  /**
   * `pipeline`: the agents' namespace (Pod Security `privileged` on Kubernetes: the mount guard).
   * `collected`: an application namespace, labelled for the injector (Pod Security `privileged` on Kubernetes too:
   * no lower level admits a hostPath volume; the dump-volume admission policy narrows it to the dump folder).
   * @default 'pipeline'
   */
  readonly role?: NamespaceRole;
  /**
   * Free-text description shown by the OpenShift console.
   * @default by role: 'JVM heap dumps: mount guard, S3 uploader and injector' or 'JVM heap dumps collected from this namespace'
   */
  readonly description?: string;
  /**
   * `collected` only: the value of the collection label, which names the pipeline that collects the namespace.
   * @default 'true'
   */
  readonly collectLabelValue?: string;
}

/** A namespace the pipeline emits: its own, or the demo application's. */
export class PipelineNamespace extends Construct {
  public readonly name: string;

  public constructor(scope: Construct, id: string, props: PipelineNamespaceProps) {
    super(scope, id);
    this.name = checkDnsLabel('name', props.name);
    const platform = prop(SETTINGS.platform, props.platform);
    const role = props.role ?? 'pipeline';
    const description = props.description ?? (role === 'pipeline'
      ? 'JVM heap dumps: mount guard, S3 uploader and injector'
      : 'JVM heap dumps collected from this namespace');

    const labels: Record<string, string> = { 'app.kubernetes.io/part-of': PART_OF };
    if (role === 'collected') labels[COLLECT_NAMESPACE_LABEL] = props.collectLabelValue ?? 'true';
    const annotations: Record<string, string> = {};
    if (platform === 'openshift') {
      // No `openshift.io/cluster-monitoring: "true"`: that label hands the namespace to the platform's
      // Prometheus; user-workload monitoring scrapes the agents' PodMonitor only without it (lib/monitoring.ts).
      annotations['openshift.io/description'] = description;
      annotations['openshift.io/display-name'] = role === 'pipeline' ? 'Heap dump pipeline' : `Heap dumps collected: ${this.name}`;
    } else {
      // The mount guard (pipeline) and every collected pod (a hostPath volume) need `privileged`: Pod Security
      // has no level that allows hostPath but forbids the rest of privileged. The ValidatingAdmissionPolicy
      // (lib/admission-policy.ts) narrows hostPath to the dump folder in collected namespaces. Audit at
      // `restricted` records every pod that is less locked down than that (no `warn`: every collected pod
      // has the hostPath, so warnings would fire on every apply).
      labels['pod-security.kubernetes.io/enforce'] = 'privileged';
      labels['pod-security.kubernetes.io/enforce-version'] = 'latest';
      labels['pod-security.kubernetes.io/audit'] = 'restricted';
      labels['pod-security.kubernetes.io/audit-version'] = 'latest';
      annotations['description'] = description;
    }

    makeClusterScoped(new k8s.KubeNamespace(this, 'Resource', {
      metadata: { name: this.name, labels, annotations },
    }));
  }
}
