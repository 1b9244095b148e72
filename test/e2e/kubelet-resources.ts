/**
 * What the kubelet enforces on a container besides its process: the resource limits (a cgroup with a
 * CPU quota and a memory limit) and the httpGet probes (liveness restarts the container, readiness
 * only reports), read from the container's spec with the kubelet's defaults. Pure functions, unit-tested
 * in kubelet-resources.test.ts; node-sim.ts applies them (cgroup-v1.ts, prober.ts).
 */
import type { Container, Probe } from './kubelet-sim';

export interface Limits {
  /** CPU limit in millicores; undefined = none. */
  readonly cpuMillis?: number;
  /** Memory limit in bytes; undefined = none. */
  readonly memoryBytes?: number;
}

function fail(what: string, value: unknown, expected: string): never {
  throw new Error(`kubelet-sim: ${what} is ${JSON.stringify(value)}, expected ${expected}`);
}

/** A CPU quantity (`1`, `0.5`, `250m`) in millicores. */
export function parseCpu(q: string | number): number {
  const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(String(q));
  if (!m) return fail('CPU quantity', q, 'a number of cores or millicores (e.g. 1, 0.5, 250m)');
  return m[2] ? Number(m[1]) : Math.round(Number(m[1]) * 1000);
}

const UNITS: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };

/** A memory quantity (`256Mi`, `1Gi`, `128M`, `1000`) in bytes. */
export function parseMemory(q: string | number): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(String(q));
  if (!m) return fail('memory quantity', q, 'bytes with an optional suffix (Ki, Mi, Gi, Ti, k, M, G, T)');
  return Math.round(Number(m[1]) * UNITS[m[2] ?? '']);
}

export function limitsOf(c: Container): Limits {
  const l = c.resources?.limits ?? {};
  return {
    ...(l.cpu !== undefined ? { cpuMillis: parseCpu(l.cpu) } : {}),
    ...(l.memory !== undefined ? { memoryBytes: parseMemory(l.memory) } : {}),
  };
}

/** A probe with the kubelet's defaults filled in. */
export interface HttpProbe {
  readonly path: string;
  /** A container port name or number. */
  readonly port: string | number;
  readonly initialDelaySeconds: number;
  readonly periodSeconds: number;
  readonly timeoutSeconds: number;
  readonly failureThreshold: number;
  readonly successThreshold: number;
}

function httpProbe(p: Probe | undefined, which: string): HttpProbe | undefined {
  if (!p) return undefined;
  if (!p.httpGet) return fail(`${which} probe`, Object.keys(p), 'an httpGet probe (the only kind simulated)');
  return {
    path: p.httpGet.path ?? '/',
    port: p.httpGet.port,
    initialDelaySeconds: p.initialDelaySeconds ?? 0,
    periodSeconds: p.periodSeconds ?? 10,
    timeoutSeconds: p.timeoutSeconds ?? 1,
    failureThreshold: p.failureThreshold ?? 3,
    successThreshold: p.successThreshold ?? 1,
  };
}

export function probesOf(c: Container): { readonly liveness?: HttpProbe; readonly readiness?: HttpProbe } {
  const liveness = httpProbe(c.livenessProbe, 'liveness');
  const readiness = httpProbe(c.readinessProbe, 'readiness');
  return { ...(liveness ? { liveness } : {}), ...(readiness ? { readiness } : {}) };
}

/** The kubelet's restart back-off after the n-th restart of a container (10 s, doubling, at most 5 min). */
export function restartBackoffMs(restarts: number): number {
  return Math.min(300_000, 10_000 * 2 ** Math.max(0, restarts));
}
