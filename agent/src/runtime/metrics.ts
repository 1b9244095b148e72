/** The Prometheus registry served on /metrics, with a lean set of Node's default process metrics. */
import { Counter, DEFAULT_METRICS, Registry } from './prom';

export const METRIC_PREFIX = 'heapdump_agent_';

/**
 * How often the event-loop delay histogram samples the loop, in ms. prom-client's default (10 ms) is a
 * libuv timer that wakes the process 100 times a second: measured on the idle uploader (strace), those
 * wake-ups were nearly all of its system calls and most of its idle CPU. Once a second still catches
 * every stall longer than a second, which is what matters for these loops (hung reads, long scans).
 */
export const EVENT_LOOP_SAMPLE_MS = 1000;

export function createRegistry(labels: Record<string, string>): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  for (const register of DEFAULT_METRICS) register(registry, { prefix: METRIC_PREFIX, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  new Counter({
    name: `${METRIC_PREFIX}process_cpu_seconds_total`,
    help: 'Total user and system CPU time spent in seconds.',
    registers: [registry],
    collect() {
      const { user, system } = process.cpuUsage();
      this.reset();
      this.inc((user + system) / 1e6);
    },
  });
  return registry;
}
