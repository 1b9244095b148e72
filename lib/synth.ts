/**
 * Building the pipeline's app and synthesizing it, shared by main.ts (writes dist/) and by tests
 * and the end-to-end suite (read the objects in memory).
 */
import { App, Chart } from 'cdk8s';
import { HeapDumpPipeline, HeapDumpPipelineProps } from './pipeline';
import { collectWarnings } from './warnings';

/** Chart id; cdk8s names the output file after it (`dist/heapdump-pipeline.k8s.yaml`). */
export const CHART_ID = 'heapdump-pipeline';

export interface PipelineApp {
  readonly app: App;
  readonly chart: Chart;
  readonly pipeline: HeapDumpPipeline;
}

/** One App, one Chart (without a default namespace: cluster-scoped objects must carry none), one pipeline. */
export function buildPipelineApp(props: HeapDumpPipelineProps, outdir?: string): PipelineApp {
  // Without an explicit outdir, cdk8s uses CDK8S_OUTDIR (set by `cdk8s synth` from cdk8s.yaml) or dist/.
  const app = new App(outdir === undefined ? {} : { outdir });
  const chart = new Chart(app, CHART_ID);
  const pipeline = new HeapDumpPipeline(chart, 'pipeline', props);
  return { app, chart, pipeline };
}

/** A synthesized Kubernetes object, as plain JSON. */
export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly [k: string]: unknown };
  readonly [k: string]: unknown;
}

export interface SynthResult {
  /** Objects in output (apply) order. */
  readonly objects: K8sObject[];
  readonly warnings: string[];
}

/** Synthesizes the pipeline in memory: the same objects, in the same order, as `dist/`. */
export function synthPipeline(props: HeapDumpPipelineProps): SynthResult {
  const { chart, pipeline } = buildPipelineApp(props);
  return { objects: chart.toJson() as K8sObject[], warnings: collectWarnings(pipeline) };
}
