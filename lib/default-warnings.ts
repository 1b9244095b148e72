/**
 * The defaults a user should not get without noticing: the prototype's bucket and prefix, no server-side encryption, the demo
 * application (a JVM that runs out of memory on purpose, reachable from outside), and monitoring objects
 * that need CRDs. A synth whose props leave one of them unset gets one warning line for it, naming the
 * value it got and the key that chooses; setting the key (even to the default value) silences it.
 */
import { propDefault, SETTINGS } from '../agent/src/settings';
import type { Platform } from './generated/settings';
import type { HeapDumpPipelineProps } from './pipeline';

export interface DefaultWarningContext {
  readonly platform: Platform;
  /** The demo application's namespace and Deployment name, when it is deployed. */
  readonly app?: { readonly namespace: string; readonly deployment: string; readonly exposed: 'Route' | 'Ingress' | undefined };
  /** The monitoring objects' kinds, when they are created. */
  readonly monitoring?: { readonly scrapeKind: string };
}

/** One warning per important default the props did not choose (in this order: bucket, prefix, encryption, demo, monitoring). */
export function unchosenDefaultWarnings(props: HeapDumpPipelineProps, c: DefaultWarningContext): string[] {
  const out: string[] = [];
  if (props.uploader?.bucket === undefined) {
    out.push(`uploader.bucket is not set: dumps go to the bucket "${propDefault(SETTINGS.s3Bucket)}" (the prototype's); set uploader.bucket to yours`);
  }
  if (props.uploader?.prefix === undefined) {
    out.push(`uploader.prefix is not set: object keys start with "${propDefault(SETTINGS.s3Prefix)}" (the prototype's); set uploader.prefix ("" for none)`);
  }
  if (props.uploader?.encryption === undefined) {
    out.push('uploader.encryption is not set: dumps, which hold every secret their JVM had, are stored as the bucket\'s default encryption '
      + 'decides, unchecked; set uploader.encryption to {"mode": "SSE-KMS", "kmsKeyId": "..."} or {"mode": "SSE-S3"} (docs/access-control.md), '
      + 'or {"mode": "none"} to keep it so');
  }
  if (c.app !== undefined && props.app?.enabled === undefined) {
    const exposed = c.app.exposed === undefined ? '' : ` and ${c.app.exposed}`;
    out.push(`app.enabled is not set: the demo application is deployed, Deployment ${c.app.namespace}/${c.app.deployment} whose JVM runs `
      + `out of memory every few minutes on purpose, with its Service${exposed}; set app.enabled to false for a real install (true keeps it)`);
  }
  if (c.monitoring !== undefined && props.monitoring?.enabled === undefined) {
    out.push(`monitoring.enabled is not set: a ${c.monitoring.scrapeKind} and a PrometheusRule are created, which need the monitoring.coreos.com `
      + `CRDs (${c.platform === 'openshift' ? 'OpenShift user-workload monitoring' : 'the Prometheus Operator'}); set monitoring.enabled to false without them (true keeps them)`);
  }
  return out;
}
