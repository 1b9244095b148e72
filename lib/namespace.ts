import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { makeClusterScoped, PART_OF } from './labels';
import { SETTINGS } from '../agent/src/settings';
import type { Platform } from './generated/settings';
import { prop } from './props';

export interface PipelineNamespaceProps {
  /** Namespace name. */
  readonly name: string;
  /**
   * OpenShift gets the prototype's monitoring label and display annotations; plain Kubernetes gets
   * Pod Security admission labels instead.
   * @default 'openshift'
   */
  readonly platform?: Platform;
  /**
   * Free-text description shown by the OpenShift console.
   * @default 'JVM heap dumps: mount guard, S3 uploader and the demo application'
   */
  readonly description?: string;
}

/** The namespace every namespaced object of the pipeline lives in. */
export class PipelineNamespace extends Construct {
  public readonly name: string;

  public constructor(scope: Construct, id: string, props: PipelineNamespaceProps) {
    super(scope, id);
    this.name = prop(SETTINGS.namespace, props.name);
    const platform = prop(SETTINGS.platform, props.platform);
    const description = props.description ?? 'JVM heap dumps: mount guard, S3 uploader and the demo application';

    const labels: Record<string, string> = { 'app.kubernetes.io/part-of': PART_OF };
    const annotations: Record<string, string> = {};
    if (platform === 'openshift') {
      labels['openshift.io/cluster-monitoring'] = 'true';
      annotations['openshift.io/description'] = description;
      annotations['openshift.io/display-name'] = 'Heap dump pipeline';
    } else {
      // The mount guard must be privileged (Bidirectional propagation), so this namespace cannot
      // enforce more than `privileged`. Audit at `restricted` records every pod that is less
      // locked down than that in the audit log (no `warn`: every pod here needs hostPath, so
      // warnings would fire on each apply of the pipeline itself).
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
