/**
 * Tenants of the simulated node: application pods of other namespaces and uids, made from the
 * manifests' application Deployment (its wait-ready init container creates the pod's folder as the
 * pod's uid, as on a node), and what such a tenant does in its own folder, run as its uid with no
 * capabilities (setpriv) inside the node's mount namespace.
 */
import { chmodSync, copyFileSync, mkdirSync } from 'fs';
import * as path from 'path';
import type { Workload } from './manifests';
import type { NodeSim } from './node-sim';

export class Tenant {
  private pods = 0;

  constructor(
    private readonly sim: NodeSim,
    readonly namespace: string,
    readonly uid: number,
  ) {}

  /** The application Deployment as it would run in this tenant's namespace, as this uid (the SCC's assignment). */
  workload(): Workload {
    const app = this.sim.opts.manifests.app;
    return {
      ...app,
      namespace: this.namespace,
      spec: { ...app.spec, securityContext: { ...(app.spec.securityContext ?? {}), runAsUser: this.uid, runAsGroup: this.uid } },
    };
  }

  /** Starts a pod's wait-ready (it makes `<root>/<ns>/<pod>` as the uid, 0700); returns its folder as the node sees it. */
  async newPod(): Promise<{ pod: string; dir: string }> {
    const pod = `${this.namespace}-app-${++this.pods}-${process.pid % 1000}`;
    await this.sim.runWaitReady(this.workload(), pod);
    return { pod, dir: path.join(this.sim.guardMount().target, this.namespace, pod) };
  }

  /** Runs argv as the tenant (its uid and gid, no groups, no capabilities) inside the node's mount namespace. */
  async run(argv: string[], timeoutMs = 300_000): Promise<string> {
    const r = await this.sim.nsExec([
      'setpriv', `--reuid=${this.uid}`, `--regid=${this.uid}`, '--clear-groups', '--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all', '--no-new-privs', '--', ...argv,
    ], timeoutMs);
    if (r.code !== 0) throw new Error(`tenant ${this.namespace} (uid ${this.uid}): ${argv.slice(0, 3).join(' ')} ... exited ${r.code}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  /** Runs a Node.js script as the tenant (the test runner's own node binary). */
  node(script: string, timeoutMs?: number): Promise<string> {
    return this.run([process.execPath, '-e', script], timeoutMs);
  }

  /** Copies a file the test prepared into the tenant's folder, as the tenant (cp writes it chunk by chunk), mode 0600. */
  async copyIn(src: string, dest: string): Promise<void> {
    await this.run(['sh', '-c', 'umask 077 && cp "$1" "$2"', 'sh', src, dest]);
  }

  /** Sets a file's modification time, as the tenant (touch -d: what jumps an oldest-first queue). */
  async setMtime(file: string, when: string): Promise<void> {
    await this.run(['touch', '-m', '-d', when, file]);
  }
}

/** A folder every tenant can read from, for the files the test prepares (under the sim's root, 0755). */
export function tenantSources(sim: NodeSim): string {
  const dir = path.join(sim.root, 'tenant-src');
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  return dir;
}

/** Puts `file` where tenants can read it (0644). */
export function offerToTenants(sim: NodeSim, file: string, name = path.basename(file)): string {
  const dest = path.join(tenantSources(sim), name);
  copyFileSync(file, dest);
  chmodSync(dest, 0o644);
  return dest;
}
