/**
 * The cdk8s side of "what a collected pod gets": `collectPod` (agent/src/inject/collect-pod.ts, THE definition,
 * also run by the `inject` webhook at admission) applied at synth to a workload's pod template, and the
 * strategic merge patch for YAML users (`patches/collect-patch.json`, written by `npm run synth`). Pure functions; HeapDumpPipeline.collect()
 * is the public entry point.
 */
import { ApiObject } from 'cdk8s';
import type { IConstruct } from 'constructs';
import { CollectError, collectPod, type CollectOptions, type CollectReport, type PodLike } from '../agent/src/inject/collect-pod';
import { addWarning } from './warnings';

export { CollectError } from '../agent/src/inject/collect-pod';
export type { CollectOptions, CollectReport, PodLike } from '../agent/src/inject/collect-pod';

/** Options of one `collect()` call. */
export interface CollectWorkloadOptions {
  /**
   * Containers to instrument (their JVMs get the dump flags and the dump folder). A name that is not a container of
   * the pod (or is an init container) is a synth error.
   * @default every container, or those named by the template's `heapdump-pipeline.io/containers` annotation
   */
  readonly containers?: readonly string[];
}

/** A cdk8s-plus workload (a construct whose default child is its ApiObject), an ApiObject (`k8s.KubeDeployment` ...), or a plain pod template. */
export type CollectTarget = ApiObject | IConstruct | PodLike;

/** What collect() did: the collected pod template and collectPod's report. */
export interface CollectedWorkload {
  /** The pod template as it is synthesized (for a plain template: the new template; the argument is not changed). */
  readonly template: PodLike;
  readonly report: CollectReport;
}

/** Where the pod template is, by kind (JSON pointer). */
const TEMPLATE_PATHS: Readonly<Record<string, string>> = {
  Deployment: '/spec/template',
  StatefulSet: '/spec/template',
  DaemonSet: '/spec/template',
  ReplicaSet: '/spec/template',
  Job: '/spec/template',
  CronJob: '/spec/jobTemplate/spec/template',
};

function isApiObject(x: unknown): x is ApiObject {
  return typeof x === 'object' && x !== null && typeof (x as ApiObject).toJson === 'function'
    && typeof (x as ApiObject).addJsonPatch === 'function' && typeof (x as ApiObject).kind === 'string';
}

/** The ApiObject behind a target, or undefined for a plain template. */
export function apiObjectOf(target: CollectTarget): ApiObject | undefined {
  if (isApiObject(target)) return target;
  const node = (target as IConstruct).node;
  if (node === undefined || typeof node.findAll !== 'function') return undefined;
  try {
    return ApiObject.of(target as IConstruct);
  } catch {
    throw new CollectError(`collect(${node.path}): no Kubernetes object found in this construct (expected a workload, an ApiObject or a pod template)`);
  }
}

function at(doc: unknown, pointer: string): unknown {
  return pointer.split('/').slice(1).reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], doc);
}

/**
 * collectPod on a pod template with the cdk8s API's rules: strictness 'error' (an unknown container is a synth
 * error), warnings returned. `who` names the workload in errors.
 */
export function collectTemplate(template: PodLike, options: CollectOptions, who: string, containers?: readonly string[]): { pod: PodLike; report: CollectReport } {
  try {
    return collectPod(template, { ...options, ...(containers !== undefined ? { containers } : {}), strictness: 'error' });
  } catch (err) {
    if (err instanceof CollectError) throw new CollectError(`collect(${who}): ${err.message}`);
    throw err;
  }
}

/**
 * Applies the definition to `target`. An ApiObject's pod template is collected as the object is synthesized (the
 * template as it is then; an error here, e.g. an unknown container, is reported now already); a plain template is
 * returned collected. `keepWarning` filters collectPod's warnings (e.g. the uid warning on OpenShift,
 * where the SCC assigns the same uid to every container).
 */
export function collectInto(target: CollectTarget, options: CollectOptions, o: CollectWorkloadOptions & {
  readonly keepWarning?: (warning: string, template: PodLike) => boolean;
  /** Where warnings are recorded (an ApiObject target records them on itself). */
  readonly warningScope?: IConstruct;
} = {}): CollectedWorkload {
  const api = apiObjectOf(target);
  if (api === undefined) {
    const template = target as PodLike;
    const { pod, report } = collectTemplate(template, options, 'pod template', o.containers);
    const warnings = report.warnings.filter((w) => o.keepWarning?.(w, template) ?? true);
    if (o.warningScope !== undefined) for (const w of warnings) addWarning(o.warningScope, `collect(pod template): ${w}`);
    return { template: pod, report: { ...report, warnings } };
  }
  const who = `${api.kind}/${api.name}`;
  const path = TEMPLATE_PATHS[api.kind];
  if (path === undefined) {
    throw new CollectError(`collect(${who}): kind ${api.kind} has no pod template (expected one of ${Object.keys(TEMPLATE_PATHS).join(', ')})`);
  }
  const template = at(api.toJson(), path) as PodLike | undefined;
  if (template === undefined || typeof template !== 'object' || template.spec === undefined) {
    throw new CollectError(`collect(${who}): no pod template at ${path}`);
  }
  const { pod, report } = collectTemplate(template, options, who, o.containers);
  const warnings = report.warnings.filter((w) => o.keepWarning?.(w, template) ?? true);
  for (const w of warnings) addWarning(api, `collect(${who}): ${w}`);
  // Applied to the object's JSON as it is synthesized, after cdk8s' own conversion (a JSON patch on an L1 object
  // would go through its typed conversion again, which drops plain IntOrString and Quantity values), and to the
  // template as it is THEN: containers added after this call are collected too.
  const base = api.toJson.bind(api);
  const collected = (): Record<string, unknown> => {
    const json = base() as Record<string, unknown>;
    const parts = path.split('/').slice(1);
    const parent = at(json, `/${parts.slice(0, -1).join('/')}`) as Record<string, unknown>;
    parent[parts[parts.length - 1]] = collectTemplate(parent[parts[parts.length - 1]] as PodLike, options, who, o.containers).pod;
    return json;
  };
  Object.defineProperty(api, 'toJson', { value: collected, configurable: true, writable: true });
  return { template: pod, report: { ...report, warnings } };
}

/** Placeholder for the container name in the strategic merge patch (not a valid name: a forgotten substitution fails). */
export const PATCH_CONTAINER_PLACEHOLDER = 'CONTAINER_NAME';

/**
 * A strategic merge patch (`kubectl patch deployment <name> --type strategic --patch-file ...`) that gives an
 * existing Deployment's container `CONTAINER_NAME` what collectPod gives it: the parts collectPod adds to a
 * template with that one container and nothing else. Strategic merge keys (containers, initContainers, volumes
 * and env by `name`, volumeMounts by `mountPath`, maps merged) make it add to whatever the Deployment has. What it
 * cannot do (collectPod can): extend an existing JAVA_TOOL_OPTIONS (a strategic merge replaces the value), copy the
 * container's uid to the init container, put the init container before existing ones. See docs/collect-your-service.md.
 */
export function collectPatch(options: CollectOptions): Record<string, unknown> {
  const blank: PodLike = { metadata: { labels: {} }, spec: { containers: [{ name: PATCH_CONTAINER_PLACEHOLDER }] } };
  const { pod } = collectPod(blank, { ...options, strictness: 'error' });
  const container = pod.spec.containers[0];
  return {
    spec: {
      template: {
        metadata: { labels: pod.metadata?.labels, annotations: pod.metadata?.annotations },
        spec: {
          initContainers: pod.spec.initContainers,
          containers: [{ name: container.name, env: container.env, volumeMounts: container.volumeMounts }],
          volumes: pod.spec.volumes,
        },
      },
    },
  };
}
