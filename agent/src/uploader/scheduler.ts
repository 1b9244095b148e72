/**
 * Which dump goes next, and how many at once: fair between namespaces, whatever a tenant writes.
 *
 * Up to `slots` jobs run at once, never two of the same namespace: a tenant's multi-GiB upload holds
 * one slot for its whole transfer, another tenant's small dump takes the next. A free slot goes to
 * the namespace that was served least recently (round-robin across namespaces); within a namespace
 * the oldest modification first. Never globally oldest-mtime-first: a tenant sets its files' mtimes
 * (`touch -d 1970-01-01`) and would jump every queue.
 */
import { tenantOf } from './scan-rules';
import type { Tracked } from './tracker';

export class FairScheduler {
  /** file id -> its namespace, for the jobs running now. */
  private readonly running = new Map<string, string>();
  /** namespace -> the turn it was last served at (a counter, not a time). */
  private readonly served = new Map<string, number>();
  private turn = 0;

  constructor(private readonly slots: number) {}

  /** A job is working on this file. */
  busy(id: string): boolean {
    return this.running.has(id);
  }

  get idle(): boolean {
    return this.running.size === 0;
  }

  get free(): number {
    return Math.max(0, this.slots - this.running.size);
  }

  /** The next file to start among `due` (none when every slot is taken or every candidate's namespace has a job running). */
  pick(due: readonly Tracked[]): Tracked | undefined {
    if (this.free === 0) return undefined;
    const runningTenants = new Set(this.running.values());
    let best: Tracked | undefined;
    let bestTurn = 0;
    let bestTenant = '';
    for (const t of due) {
      if (this.running.has(t.id)) continue;
      const tenant = tenantOf(t.file.segments);
      if (runningTenants.has(tenant)) continue;
      const turn = this.served.get(tenant) ?? -1;
      if (best === undefined || turn < bestTurn || (turn === bestTurn && tenant === bestTenant && t.obs.mtimeMs < best.obs.mtimeMs)
        || (turn === bestTurn && tenant < bestTenant)) {
        best = t;
        bestTurn = turn;
        bestTenant = tenant;
      }
    }
    return best;
  }

  start(t: Tracked): void {
    const tenant = tenantOf(t.file.segments);
    this.running.set(t.id, tenant);
    this.served.set(tenant, ++this.turn);
  }

  finish(id: string): void {
    this.running.delete(id);
  }

  /** Forgets namespaces with nothing tracked any more (bounded memory). */
  prune(tenants: ReadonlySet<string>): void {
    for (const tenant of this.served.keys()) if (!tenants.has(tenant) && ![...this.running.values()].includes(tenant)) this.served.delete(tenant);
  }
}
