/** Labels and scope helpers shared by the constructs. */
import { ApiObject, Chart, JsonPatch } from 'cdk8s';

export const PART_OF = 'heapdump-pipeline';

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
