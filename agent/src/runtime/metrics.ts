/** The Prometheus registry served on /metrics, with a lean set of Node's default process metrics. */
import { Counter, DEFAULT_METRICS, Registry } from './prom';

export const METRIC_PREFIX = 'heapdump_agent_';

export function createRegistry(labels: Record<string, string>): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  for (const register of DEFAULT_METRICS) register(registry, { prefix: METRIC_PREFIX });
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
