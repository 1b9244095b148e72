/** Small helpers shared by the notifier tests. */
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Registry } from 'prom-client';
import type { NotifyConfig } from '../../../agent/src/report/config';
import { systemClock } from '../../../agent/src/runtime/clock';
import { memoryLogger } from '../../../agent/src/runtime/logger';

/** The value of one series (0 when the series does not exist). */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`metric ${name} is not registered`);
  const { values } = await metric.get();
  const hit = values.find((v) => Object.entries(labels).every(([k, l]) => (v.labels as Record<string, unknown>)[k] === l));
  return hit?.value ?? 0;
}

/** A ServiceAccount folder (token + ca.crt) as the kubelet mounts it. */
export function serviceAccountDir(ca: Buffer, token: string): { dir: string; setToken(t: string): void; dispose(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sa-'));
  writeFileSync(path.join(dir, 'ca.crt'), ca);
  writeFileSync(path.join(dir, 'token'), token + '\n');
  return {
    dir,
    setToken: (t) => writeFileSync(path.join(dir, 'token'), t + '\n'),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export const BASE_CONFIG: NotifyConfig = { timeoutMs: 5000, maxAttempts: 3, queueSize: 10, shutdownGraceMs: 1000 };

/** Everything a notifier needs, real parts: system clock, JSON logger into memory, a fresh registry. */
export function deps() {
  const logger = memoryLogger();
  const registry = new Registry();
  const shutdown = new AbortController();
  return { logger, registry, shutdown, clock: systemClock, signal: shutdown.signal, random: () => 0 };
}
