/**
 * Resource limits for `npm run bench`: the uploader container's resources.limits read from the
 * synthesized manifests, applied to each measured client with a cgroup of its own (cgroup v1: the
 * cpu and memory controllers; v2: cpu.max and memory.max in a child of this process's cgroup).
 * Every client runs as `bash -c 'echo $$ > .../cgroup.procs; exec "$@"'`, so the limit holds from
 * its first instruction, and its PID is the client's own.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseAllDocuments } from 'yaml';

export interface Limits {
  /** CPU limit in millicores; undefined = none. */
  readonly cpuMillis?: number;
  /** Memory limit in bytes; undefined = none. */
  readonly memoryBytes?: number;
  /** Where they came from, for the report. */
  readonly source: string;
}

export function parseCpu(q: string | number): number {
  const s = String(q);
  return s.endsWith('m') ? Number(s.slice(0, -1)) : Math.round(Number(s) * 1000);
}

const UNITS: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
export function parseMemory(q: string | number): number {
  const m = /^(\d+(?:\.\d+)?)([KMGT]i?|k)?$/.exec(String(q));
  if (!m) throw new Error(`not a memory quantity: ${q}`);
  return Math.round(Number(m[1]) * (m[2] ? UNITS[m[2]] : 1));
}

/* eslint-disable @typescript-eslint/no-explicit-any */
/** The `uploader` container's resources.limits of the DaemonSet that runs `agent uploader`. */
export function uploaderLimitsFromManifest(file: string): Limits {
  for (const doc of parseAllDocuments(fs.readFileSync(file, 'utf8'))) {
    const o = doc.toJS() as any;
    if (o?.kind !== 'DaemonSet') continue;
    for (const c of o.spec?.template?.spec?.containers ?? []) {
      if (c.name !== 'uploader') continue;
      const l = c.resources?.limits ?? {};
      return {
        ...(l.cpu !== undefined ? { cpuMillis: parseCpu(l.cpu) } : {}),
        ...(l.memory !== undefined ? { memoryBytes: parseMemory(l.memory) } : {}),
        source: `${path.relative(process.cwd(), file)}: DaemonSet/${o.metadata.name} container uploader resources.limits ${JSON.stringify(l)}`,
      };
    }
  }
  throw new Error(`${file}: no DaemonSet with a container named 'uploader'`);
}

export function describeLimits(l: Limits): string {
  const cpu = l.cpuMillis === undefined ? 'no CPU limit' : `CPU ${l.cpuMillis}m`;
  const mem = l.memoryBytes === undefined ? 'no memory limit' : `memory ${(l.memoryBytes / 2 ** 20).toFixed(0)} MiB`;
  return `${cpu}, ${mem}`;
}

const CFS_PERIOD_US = 100_000;

/** One cgroup with the limits; dispose() removes it (it must be empty: clients have exited). */
export class LimitGroup {
  private constructor(
    private readonly dirs: string[],
    readonly limits: Limits,
  ) {}

  static create(name: string, limits: Limits): LimitGroup {
    const unified = fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
    const dirs: string[] = [];
    try {
      if (unified) {
        const own = /^0::(.*)$/m.exec(fs.readFileSync('/proc/self/cgroup', 'utf8'))?.[1] ?? '/';
        const parent = path.join('/sys/fs/cgroup', own);
        // the v2 "no internal processes" rule: the controllers are enabled for children of our cgroup
        fs.writeFileSync(path.join(parent, 'cgroup.subtree_control'), '+cpu +memory');
        const dir = path.join(parent, name);
        fs.mkdirSync(dir);
        dirs.push(dir);
        fs.writeFileSync(path.join(dir, 'cpu.max'), limits.cpuMillis === undefined ? `max ${CFS_PERIOD_US}` : `${Math.round((limits.cpuMillis / 1000) * CFS_PERIOD_US)} ${CFS_PERIOD_US}`);
        fs.writeFileSync(path.join(dir, 'memory.max'), limits.memoryBytes === undefined ? 'max' : String(limits.memoryBytes));
      } else {
        const own = (ctl: string) => new RegExp(`^\\d+:[^:]*\\b${ctl}\\b[^:]*:(.*)$`, 'm').exec(fs.readFileSync('/proc/self/cgroup', 'utf8'))?.[1] ?? '/';
        const cpu = path.join('/sys/fs/cgroup/cpu', own('cpu'), name);
        const mem = path.join('/sys/fs/cgroup/memory', own('memory'), name);
        fs.mkdirSync(cpu);
        dirs.push(cpu);
        fs.writeFileSync(path.join(cpu, 'cpu.cfs_period_us'), String(CFS_PERIOD_US));
        fs.writeFileSync(path.join(cpu, 'cpu.cfs_quota_us'), limits.cpuMillis === undefined ? '-1' : String(Math.round((limits.cpuMillis / 1000) * CFS_PERIOD_US)));
        fs.mkdirSync(mem);
        dirs.push(mem);
        fs.writeFileSync(path.join(mem, 'memory.limit_in_bytes'), limits.memoryBytes === undefined ? '-1' : String(limits.memoryBytes));
      }
    } catch (e) {
      for (const d of dirs.reverse()) fs.rmSync(d, { recursive: false, force: true });
      throw new Error(`cannot create cgroup ${name} (${unified ? 'v2' : 'v1'}): ${(e as Error).message}`);
    }
    return new LimitGroup(dirs, limits);
  }

  /** The command line that runs cmd inside this group. */
  wrap(cmd: string, args: string[]): [string, string[]] {
    const join = this.dirs.map((d) => `echo $$ > '${d}/cgroup.procs'`).join(' && ');
    return ['bash', ['-c', `${join} && exec "$@"`, 'bash', cmd, ...args]];
  }

  /** CPU throttling so far (v1 cpu.stat nr_throttled/throttled_time, v2 nr_throttled/throttled_usec), for the report. */
  throttled(): { periods: number; seconds: number } | undefined {
    for (const d of this.dirs) {
      const f = path.join(d, 'cpu.stat');
      if (!fs.existsSync(f)) continue;
      const s = fs.readFileSync(f, 'utf8');
      const n = Number(/nr_throttled (\d+)/.exec(s)?.[1] ?? 0);
      const ns = /throttled_time (\d+)/.exec(s);
      const us = /throttled_usec (\d+)/.exec(s);
      return { periods: n, seconds: ns ? Number(ns[1]) / 1e9 : us ? Number(us[1]) / 1e6 : 0 };
    }
    return undefined;
  }

  dispose(): void {
    for (const d of [...this.dirs].reverse()) {
      try {
        fs.rmdirSync(d);
      } catch {
        // still has a process (should not happen: clients are waited for); leave it
      }
    }
  }
}
