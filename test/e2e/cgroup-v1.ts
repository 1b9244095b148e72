/**
 * A container's cgroup on the simulated node, as the kubelet makes one from `resources.limits`: a child
 * group in the cgroup v1 `memory` and `cpu` hierarchies (below this process's own groups), with
 * memory.limit_in_bytes and a CFS quota. The container's process joins them before it execs (so the
 * limit holds from its first instruction, and every child it starts is in them too). What the kernel
 * does there is read back: OOM kills (memory.oom_control's oom_kill), the resident memory of all its
 * processes (memory.stat total_rss + total_mapped_file, sampled every 100 ms), CPU throttling. dispose() kills what is left in the
 * groups (by PID) and removes them.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Limits } from './kubelet-resources';

const CFS_PERIOD_US = 100_000;
const ROOT = '/sys/fs/cgroup';

/** This process's group in a v1 hierarchy (`memory`, `cpu`). */
function ownGroup(controller: string): string {
  const line = fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.split(':')[1]?.split(',').includes(controller));
  if (!line) throw new Error(`cgroup v1 controller ${controller} is not mounted (expected ${ROOT}/${controller})`);
  return line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
}

export function cgroupV1Available(): boolean {
  return fs.existsSync(path.join(ROOT, 'memory', 'memory.limit_in_bytes')) && fs.existsSync(path.join(ROOT, 'cpu', 'cpu.cfs_quota_us'));
}

export interface CgroupStats {
  /** Processes the kernel's OOM killer killed in the group. */
  readonly oomKills: number;
  /** Times usage hit the limit (page cache reclaim included: not an OOM by itself). */
  readonly failcnt: number;
  /** Peak of the sampled memory charged to the group for its processes (anonymous + mapped files, no page cache): what the limit counts. */
  readonly peakRssBytes: number;
  /** Peak of the sampled sum of its processes' VmRSS (shared pages, e.g. Node's binary, counted in each). */
  readonly peakProcessRssBytes: number;
  /** Usage peak as the kernel reports it (page cache included, so up to the limit). */
  readonly maxUsageBytes: number;
  readonly throttledPeriods: number;
  readonly throttledSeconds: number;
}

export class ContainerCgroup {
  private peakRss = 0;
  private peakProcRss = 0;
  private timer?: NodeJS.Timeout;

  private constructor(
    readonly name: string,
    private readonly memDir: string,
    private readonly cpuDir: string,
    readonly limits: Limits,
  ) {}

  static create(name: string, limits: Limits): ContainerCgroup {
    const memDir = path.join(ROOT, 'memory', ownGroup('memory'), name);
    const cpuDir = path.join(ROOT, 'cpu', ownGroup('cpu'), name);
    fs.mkdirSync(memDir);
    try {
      fs.mkdirSync(cpuDir);
      fs.writeFileSync(path.join(memDir, 'memory.limit_in_bytes'), limits.memoryBytes === undefined ? '-1' : String(limits.memoryBytes));
      fs.writeFileSync(path.join(cpuDir, 'cpu.cfs_period_us'), String(CFS_PERIOD_US));
      fs.writeFileSync(path.join(cpuDir, 'cpu.cfs_quota_us'), limits.cpuMillis === undefined ? '-1' : String(Math.round((limits.cpuMillis / 1000) * CFS_PERIOD_US)));
    } catch (error) {
      for (const d of [cpuDir, memDir]) fs.rmSync(d, { recursive: false, force: true });
      throw new Error(`cannot create cgroup ${name}: ${(error as Error).message}`);
    }
    const g = new ContainerCgroup(name, memDir, cpuDir, limits);
    // total_rss is sampled: the group's processes come and go (the uploader's analysis process)
    g.timer = setInterval(() => g.sample(), 100);
    g.timer.unref();
    return g;
  }

  /** argv that joins both groups, then execs `argv` (same PID). */
  wrap(argv: readonly string[]): string[] {
    const join = [this.memDir, this.cpuDir].map((d) => `echo $$ > '${d}/cgroup.procs'`).join(' && ');
    return ['sh', '-c', `${join} && exec "$@"`, 'sh', ...argv];
  }

  pids(): number[] {
    try {
      return fs.readFileSync(path.join(this.memDir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  }

  private sample(): void {
    try {
      const stat = fs.readFileSync(path.join(this.memDir, 'memory.stat'), 'utf8');
      // resident memory of its processes: anonymous pages plus mapped files (Node's own binary), no page cache
      const rss = Number(/^total_rss (\d+)$/m.exec(stat)?.[1] ?? 0) + Number(/^total_mapped_file (\d+)$/m.exec(stat)?.[1] ?? 0);
      if (rss > this.peakRss) this.peakRss = rss;
    } catch {
      // removed
    }
    let sum = 0;
    for (const pid of this.pids()) {
      try {
        sum += Number(/^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
      } catch {
        // exited
      }
    }
    if (sum > this.peakProcRss) this.peakProcRss = sum;
  }

  stats(): CgroupStats {
    this.sample();
    const read = (dir: string, file: string) => {
      try {
        return fs.readFileSync(path.join(dir, file), 'utf8');
      } catch {
        return '';
      }
    };
    const cpu = read(this.cpuDir, 'cpu.stat');
    return {
      oomKills: Number(/^oom_kill (\d+)$/m.exec(read(this.memDir, 'memory.oom_control'))?.[1] ?? 0),
      failcnt: Number(read(this.memDir, 'memory.failcnt').trim() || 0),
      peakRssBytes: this.peakRss,
      peakProcessRssBytes: this.peakProcRss,
      maxUsageBytes: Number(read(this.memDir, 'memory.max_usage_in_bytes').trim() || 0),
      throttledPeriods: Number(/^nr_throttled (\d+)$/m.exec(cpu)?.[1] ?? 0),
      throttledSeconds: Number(/^throttled_time (\d+)$/m.exec(cpu)?.[1] ?? 0) / 1e9,
    };
  }

  /** Kills what is left in the group (by PID), then removes both groups. */
  async dispose(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (let attempt = 0; attempt < 50; attempt++) {
      const left = this.pids();
      if (left.length === 0) break;
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    // a killed process leaves the group a moment after it is reaped: try again for a while
    for (const d of [this.cpuDir, this.memDir]) {
      for (let attempt = 0; attempt < 40 && fs.existsSync(d); attempt++) {
        try {
          fs.rmdirSync(d);
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }
  }
}
