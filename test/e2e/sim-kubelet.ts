/**
 * The kubelet's enforcement for the simulated node (node-sim.ts): every container runs in a cgroup made
 * from its `resources.limits` (cgroup-v1.ts), agent containers are probed with their manifest's
 * liveness and readiness probes (prober.ts), and a failed liveness probe restarts the container
 * (SIGTERM, terminationGracePeriodSeconds, SIGKILL, start again), as on a node. What happened is kept
 * per role for the tests: restarts, OOM kills, exits by SIGKILL, probe failures and durations, peak RSS.
 */
import { cgroupV1Available, ContainerCgroup, type CgroupStats } from './cgroup-v1';
import { limitsOf, probesOf } from './kubelet-resources';
import type { Container } from './kubelet-sim';
import { Prober, type ProbeResult } from './prober';
import type { TrackedProcess } from '../support/procs';

export interface RoleReport {
  /** Containers started for the role (the first one included). */
  readonly starts: number;
  /** Restarts by the simulated kubelet after a failed liveness probe. */
  readonly livenessRestarts: number;
  /** OOM kills in the role's cgroups (any process: the uploader's analysis process too). */
  readonly oomKills: number;
  /** Containers of the role that ended by SIGKILL other than the kubelet's own restarts and the test's disposal. */
  readonly killedBySigkill: number;
  readonly probes: readonly ProbeResult[];
  /** Peak memory charged to the role's cgroup for its processes (anonymous + mapped files), bytes: what its limit counts. */
  readonly peakRssBytes: number;
  /** Peak of the sum of its processes' VmRSS (shared pages counted in each), bytes. */
  readonly peakProcessRssBytes: number;
  readonly memoryLimitBytes?: number;
  readonly cpuThrottledSeconds: number;
}

interface Instance {
  readonly role: string;
  readonly cgroup?: ContainerCgroup;
  prober?: Prober;
  proc?: TrackedProcess;
  /** Stopped on purpose (restart, disposal): its SIGKILL is not an OOM or a crash. */
  stoppedOnPurpose: boolean;
}

let seq = 0;

export class SimKubelet {
  private readonly instances: Instance[] = [];
  private readonly livenessRestarts = new Map<string, number>();
  readonly enforcing: boolean;

  constructor(enforce: boolean, private readonly log: (line: string) => void = () => undefined) {
    this.enforcing = enforce && cgroupV1Available();
  }

  /** The cgroup for a new container of `role` (undefined when not enforcing), and its argv wrapper. */
  prepare(role: string, container: Container): { wrap: (argv: string[]) => string[]; instance: Instance } {
    const cgroup = this.enforcing ? ContainerCgroup.create(`e2e-${process.pid}-${++seq}-${role.replace(/[^a-z0-9-]/gi, '-')}`, limitsOf(container)) : undefined;
    const instance: Instance = { role, ...(cgroup ? { cgroup } : {}), stoppedOnPurpose: false };
    this.instances.push(instance);
    return { wrap: (argv) => (cgroup ? cgroup.wrap(argv) : argv), instance };
  }

  /**
   * Probes a started agent container (host network: its port is the one it logs). `restart` starts the
   * container again; it is called after a failed liveness probe, once the old process is gone.
   */
  attach(instance: Instance, proc: TrackedProcess, container: Container, graceSeconds: number, restart: () => Promise<unknown>): void {
    instance.proc = proc;
    if (!this.enforcing) return;
    const { liveness, readiness } = probesOf(container);
    if (!liveness && !readiness) return;
    let port: number | undefined;
    let partial = '';
    proc.child.stdout?.on('data', (d: Buffer) => {
      if (port !== undefined) return;
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop() ?? ''; // a line cut by the chunk's end waits for the rest
      for (const line of lines) {
        const m = /"msg":"http server listening".*"port":(\d+)/.exec(line);
        if (m) port = Number(m[1]);
      }
    });
    instance.prober = new Prober({
      ...(liveness ? { liveness } : {}),
      ...(readiness ? { readiness } : {}),
      port: () => port,
      onLivenessFailed: (failed) => {
        this.livenessRestarts.set(instance.role, (this.livenessRestarts.get(instance.role) ?? 0) + 1);
        this.log(`kubelet-sim: liveness probe of ${instance.role} failed ${failed.length}x (${failed.map((f) => f.detail).join('; ')}): restarting it`);
        instance.stoppedOnPurpose = true;
        void proc.dispose(graceSeconds * 1000).then(() => restart());
      },
    });
    void proc.exited.then(() => instance.prober?.stop());
  }

  /** What happened to every container of `role` so far. */
  report(role: string): RoleReport {
    const mine = this.instances.filter((i) => i.role === role);
    const stats = mine.map((i) => i.cgroup?.stats()).filter((s): s is CgroupStats => s !== undefined);
    return {
      starts: mine.length,
      livenessRestarts: this.livenessRestarts.get(role) ?? 0,
      oomKills: stats.reduce((n, s) => n + s.oomKills, 0),
      killedBySigkill: mine.filter((i) => !i.stoppedOnPurpose && i.proc?.exitInfo()?.signal === 'SIGKILL').length,
      probes: mine.flatMap((i) => i.prober?.results ?? []),
      peakRssBytes: Math.max(0, ...stats.map((s) => s.peakRssBytes)),
      peakProcessRssBytes: Math.max(0, ...stats.map((s) => s.peakProcessRssBytes)),
      ...(mine[0]?.cgroup?.limits.memoryBytes !== undefined ? { memoryLimitBytes: mine[0].cgroup.limits.memoryBytes } : {}),
      cpuThrottledSeconds: stats.reduce((n, s) => n + s.throttledSeconds, 0),
    };
  }

  /** The test stops a container itself (a fault): not an OOM kill nor a crash. */
  stoppingOnPurpose(proc: TrackedProcess): void {
    for (const i of this.instances) if (i.proc === proc) i.stoppedOnPurpose = true;
  }

  /** Stops the probes (before the containers are stopped: no restart during teardown). */
  stop(): void {
    for (const i of this.instances) {
      i.prober?.stop();
      i.stoppedOnPurpose = true;
    }
  }

  /** Kills what is left in the cgroups (by PID) and removes them. */
  async dispose(): Promise<void> {
    this.stop();
    for (const i of this.instances) await i.cgroup?.dispose();
  }
}
