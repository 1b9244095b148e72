/** Labels and scope helpers shared by the constructs. */
import { ApiObject, Chart, JsonPatch } from 'cdk8s';

export const PART_OF = 'heapdump-pipeline';
export const PART_OF_LABEL = 'app.kubernetes.io/part-of';
/**
 * On every object of a pipeline, the pipeline's namespace as value: two pipelines in one cluster
 * (`namePrefix`) share PART_OF, so upgrade pruning and uninstall select `part-of` AND this label.
 */
export const INSTANCE_LABEL = 'app.kubernetes.io/instance';

/** Labels on every object of one component; `app` keeps the prototype's selectors (`-l app=s3-uploader`). */
export function componentLabels(app: string, component: string): Record<string, string> {
  return {
    'app': app,
    'app.kubernetes.io/name': app,
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/part-of': PART_OF,
  };
}

/**
 * cdk8s gives every ApiObject its chart's namespace; a cluster-scoped object must carry none
 * (the API server rejects or ignores it, and `oc apply` diffs stay noisy), so strip it when the
 * chart that the pipeline was placed in has a namespace.
 */
export function makeClusterScoped(obj: ApiObject): ApiObject {
  if (Chart.of(obj).namespace !== undefined) {
    obj.addJsonPatch(JsonPatch.remove('/metadata/namespace'));
  }
  return obj;
}

/**
 * Namespace label the injector's MutatingWebhookConfiguration selects on. The pipeline sets it on
 * the namespaces it emits (the demo's); a team sets it on its own (`oc label namespace <ns> heapdump-pipeline.io/collect=true`).
 * It is not enough on its own: the webhook also requires the namespace to be listed in `collect.namespaces` (the
 * namespaces that have the application SCC's RoleBinding).
 */
export const COLLECT_NAMESPACE_LABEL = 'heapdump-pipeline.io/collect';

/** The label every namespace has (Kubernetes 1.21+, set by the API server, immutable): selects namespaces by name. */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/** A valid label value that is no namespace name (names have no dots): `In [NO_NAMESPACE]` selects nothing. */
export const NO_NAMESPACE = 'none.invalid';
