/**
 * prom-client classes, loaded from its submodules instead of the package index.
 *
 * Why: the index loads every default metric, and the process-CPU one requires @opentelemetry/api,
 * which alone costs ~6 MiB of resident memory (measured; the mount guard's budget is 48 MiB in
 * total, of which bare Node takes ~40). Same modules as the index, so `instanceof` and registries
 * interoperate with code that imports 'prom-client' directly.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
import type * as Prom from 'prom-client';

export const Registry: typeof Prom.Registry = require('prom-client/lib/registry');
export const Counter: typeof Prom.Counter = require('prom-client/lib/counter');
export const Gauge: typeof Prom.Gauge = require('prom-client/lib/gauge');
export const Histogram: typeof Prom.Histogram = require('prom-client/lib/histogram');
export type Registry = Prom.Registry;
export type Counter<T extends string = string> = Prom.Counter<T>;
export type Gauge<T extends string = string> = Prom.Gauge<T>;
export type Histogram<T extends string = string> = Prom.Histogram<T>;

type DefaultMetric = (registry: Prom.Registry, config: { prefix?: string; eventLoopMonitoringPrecision?: number }) => void;

/**
 * The default process metrics worth their memory: start time, resident memory, file descriptors,
 * heap, event-loop lag, Node version. (Not: GC and heap-space breakdowns, handles, and the CPU
 * counter that drags in OpenTelemetry; CPU is added by createRegistry below.)
 */
export const DEFAULT_METRICS: readonly DefaultMetric[] = [
  require('prom-client/lib/metrics/processStartTime'),
  require('prom-client/lib/metrics/osMemoryHeap'),
  require('prom-client/lib/metrics/processOpenFileDescriptors'),
  require('prom-client/lib/metrics/processMaxFileDescriptors'),
  require('prom-client/lib/metrics/heapSizeAndUsed'),
  require('prom-client/lib/metrics/eventLoopLag'),
  require('prom-client/lib/metrics/version'),
];
