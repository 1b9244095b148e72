/**
 * What the lifecycle scripts (lifecycle.ts) need to know about a synthesized manifest: the kinds an upgrade
 * may prune on its platform, the label selector of its pipeline, the agent image it pins.
 */
import type { HeapDumpPipelineProps } from '../../lib';
import type { Platform } from '../../lib/generated/settings';
import { INSTANCE_LABEL, PART_OF, PART_OF_LABEL } from '../../lib/labels';
import { synthPipeline } from '../../lib/synth';

export interface ManifestObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Readonly<Record<string, string>> };
}

/** Kinds whose objects hold or contain the dumps: never pruned, deleted only with --delete-dumps. */
export const KEPT_KINDS = ['PersistentVolumeClaim', 'Namespace'] as const;

/** `group/version/Kind` as `--prune-allowlist` takes it (`core/v1/ConfigMap` for the core group). */
export function allowlistEntry(o: Pick<ManifestObject, 'apiVersion' | 'kind'>): string {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['core', o.apiVersion];
  return `${group}/${version}/${o.kind}`;
}

/**
 * Configurations that between them create every kind the pipeline can create on a platform: an upgrade
 * must prune the kinds the new version no longer has at all (e.g. a PodMonitor after `monitoring.enabled:
 * false`), so the allow-list is every kind the pipeline could have created, not only this manifest's.
 */
function variants(platform: Platform): HeapDumpPipelineProps[] {
  const base = { agentImage: 'registry.example.com/heapdump-agent:0.0.0', platform, uploader: { bucket: 'variant-bucket', prefix: '' } };
  const events = { notifications: { kubernetesEvents: true } };
  return [
    { ...base },
    platform === 'openshift'
      ? { ...base, monitoring: { scrapeKind: 'ServiceMonitor' }, uploader: { ...base.uploader, ...events, caBundle: { source: 'openshift-trusted' } } }
      : { ...base, monitoring: { scrapeKind: 'ServiceMonitor' }, uploader: { ...base.uploader, ...events }, app: { ingress: { host: 'leak.example.com' } } },
  ];
}

/**
 * The prune allow-list for a platform: every kind the pipeline can create there (variants above) and every
 * kind of the manifest, but KEPT_KINDS, sorted. The scripts drop, at run time, kinds the cluster does not
 * serve (no such objects can exist; kubectl refuses an allow-list entry it cannot map).
 */
export function pruneAllowlist(platform: Platform, objects: readonly ManifestObject[] = []): string[] {
  const all = [...variants(platform).flatMap((p) => synthPipeline(p).objects as readonly ManifestObject[]), ...objects];
  return [...new Set(all.filter((o) => !(KEPT_KINDS as readonly string[]).includes(o.kind)).map(allowlistEntry))].sort();
}

/** The platform a manifest was synthesized for: OpenShift manifests have SecurityContextConstraints. */
export function platformOf(objects: readonly ManifestObject[]): Platform {
  return objects.some((o) => o.kind === 'SecurityContextConstraints') ? 'openshift' : 'kubernetes';
}

/**
 * The label selector of this pipeline's objects: PART_OF and the instance (its namespace). Throws when an
 * object lacks them, or when the manifest holds more than one pipeline: a selector that misses an object
 * would prune it, one that is too wide would prune another pipeline's.
 */
export function pipelineSelector(objects: readonly ManifestObject[]): string {
  const instances = new Set<string>();
  for (const o of objects) {
    const labels = o.metadata.labels ?? {};
    const instance = labels[INSTANCE_LABEL];
    if (labels[PART_OF_LABEL] !== PART_OF || instance === undefined) {
      throw new Error(`${o.kind}/${o.metadata.name} lacks the labels ${PART_OF_LABEL}=${PART_OF} and ${INSTANCE_LABEL}: not a heapdump-pipeline manifest`);
    }
    instances.add(instance);
  }
  if (instances.size !== 1) throw new Error(`the manifest holds ${instances.size} pipelines (${[...instances].join(', ')}): expected one`);
  return `${PART_OF_LABEL}=${PART_OF},${INSTANCE_LABEL}=${[...instances][0]}`;
}

/** The agent image the manifest pins by digest (its DaemonSets run it), if it is pinned. */
export function pinnedAgentImage(objects: readonly ManifestObject[]): string | undefined {
  for (const o of objects.filter((x) => x.kind === 'DaemonSet')) {
    const image = (o as unknown as { spec: { template: { spec: { containers: { image: string }[] } } } }).spec.template.spec.containers[0]?.image;
    if (image?.includes('@sha256:')) return image;
  }
  return undefined;
}
