/**
 * The invariant of docs/security.md ("One tenant cannot stop another's dump") as the isolation tests
 * check it on the simulated node: whatever a tenant writes into its own pod folder, another tenant's
 * complete dump reaches S3 verified within 30 s of its last write (plus its own transfer time), the
 * uploader is never restarted by its probes nor OOM-killed, and its memory stays within its limit.
 * Shared by tenant-isolation.test.ts (CI) and tenant-isolation-heavy.test.ts (npm run test:isolation-heavy).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { statSync } from 'fs';
import * as http from 'http';
import * as path from 'path';
import { ENV } from '../../agent/src/contract';
import { dumpKey } from '../../agent/src/uploader/keys';
import type { S3Server } from '../support/s3';
import type { Manifests } from './manifests';
import { NodeSim, type RoleReport } from './node-sim';
import { sha256Of, waitFor, waitForObject } from './observe';
import { offerToTenants, Tenant } from './tenants';
import { note } from '../support/notes';

export const INVARIANT_MS = 30_000;
/** The attacker's and the victim's uids (different namespaces too). */
export const ATTACKER_UID = 2001;
export const VICTIM_UID = 2002;
/** Long enough after the uploader's start for its liveness probe (initial delay 10 s, period 30 s) to have run twice. */
export const OBSERVE_MS = 45_000;

export interface IsolationNode {
  readonly sim: NodeSim;
  readonly attacker: Tenant;
  readonly victim: Tenant;
  readonly health: HealthWatch;
  /** The victim's dump (a real JVM's), where tenants can read it. */
  readonly victimSrc: string;
  /** Keep the node running until then before judging the probes. */
  readonly observeUntil: number;
}

/** A fresh simulated node (guard, uploader, kubelet enforcement), an attacker and a victim tenant, a /healthz watch; disposed after `run`. */
export async function withIsolationNode(manifests: Manifests, s3: S3Server, victimDump: string, run: (n: IsolationNode) => Promise<void>): Promise<void> {
  const sim = await NodeSim.create({ manifests, s3, nodeName: `iso-${Date.now() % 100_000}`, verbose: process.env.E2E_VERBOSE === '1' });
  const health = new HealthWatch(sim);
  try {
    expect(sim.kubelet.enforcing).toBe(true);
    await sim.startGuard();
    await sim.startUploader();
    const observeUntil = Date.now() + OBSERVE_MS;
    await waitFor(() => metric(sim, 'heapdump_uploader_backlog_files').then((v) => v !== undefined), 30_000, 200);
    await run({
      sim, attacker: new Tenant(sim, 'evil', ATTACKER_UID), victim: new Tenant(sim, 'shop', VICTIM_UID), health,
      victimSrc: offerToTenants(sim, victimDump, 'victim.hprof'), observeUntil,
    });
  } finally {
    health.stop();
    await sim.dispose();
  }
}

/** The uploader's port, from its log (agent pods share the host network here, on an ephemeral port). */
export function uploaderPort(sim: NodeSim): number | undefined {
  for (const line of sim.uploader?.proc.stdout ?? []) {
    const m = /"msg":"http server listening".*"port":(\d+)/.exec(line);
    if (m) return Number(m[1]);
  }
  return undefined;
}

export function httpGet(port: number, p: string, timeoutMs = 10_000): Promise<{ status: number; body: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: Date.now() - t0 }));
    });
    req.on('timeout', () => {
      req.destroy();
      resolve({ status: 0, body: 'timeout', ms: Date.now() - t0 });
    });
    req.on('error', (e) => resolve({ status: 0, body: e.message, ms: Date.now() - t0 }));
  });
}

/** One value of the uploader's /metrics (a sample line `name{labels} value`), or undefined. */
export async function metric(sim: NodeSim, name: string, labels = ''): Promise<number | undefined> {
  const port = uploaderPort(sim);
  if (port === undefined) return undefined;
  const r = await httpGet(port, '/metrics');
  const want = labels ? `${name}{${labels}` : `${name}`;
  for (const line of r.body.split('\n')) {
    if (!line.startsWith(want)) continue;
    const rest = line.slice(want.length);
    if (!labels && !/^[ {]/.test(rest)) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

/**
 * Measures /healthz more often than the kubelet does (every 250 ms), to see any stall of the thread
 * that answers probes; the manifest's own probes (sim-kubelet.ts) decide restarts.
 */
export class HealthWatch {
  readonly samples: number[] = [];
  failures = 0;
  private timer?: NodeJS.Timeout;
  private busy = false;

  constructor(private readonly sim: NodeSim) {
    this.timer = setInterval(() => void this.tick(), 250);
  }

  private async tick(): Promise<void> {
    const port = uploaderPort(this.sim);
    if (this.busy || port === undefined) return;
    this.busy = true;
    const r = await httpGet(port, '/healthz', 30_000);
    this.samples.push(r.ms);
    if (r.status !== 200) this.failures++;
    this.busy = false;
  }

  get maxMs(): number {
    return Math.max(0, ...this.samples);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

export interface VictimDump {
  readonly key: string;
  readonly file: string;
  readonly lastWriteMs: number;
  readonly size: number;
  readonly sha256: string;
}

/** The victim writes `src` as its JVM would (its uid, 0600) into a new pod folder of its own. */
export async function writeVictimDump(sim: NodeSim, victim: Tenant, src: string, name = 'java_pid1.hprof'): Promise<VictimDump> {
  const { pod, dir } = await victim.newPod();
  const file = path.join(dir, name);
  await victim.copyIn(src, file);
  const view = sim.view(file);
  const st = statSync(view);
  const prefix = sim.uploaderEnv()[ENV.s3Prefix] ?? '';
  const key = dumpKey(prefix, sim.nodeName, [victim.namespace, pod, name].map((s) => Buffer.from(s)), st.mtimeMs);
  return { key, file: view, lastWriteMs: st.mtimeMs, size: st.size, sha256: await sha256Of(view) };
}

/** Seconds the uploader took for this key, read pass and transfer (its 'uploaded and verified' line). */
export function transferSeconds(sim: NodeSim, key: string): number | undefined {
  for (const line of sim.uploaderLog()) {
    if (!line.includes('"uploaded and verified"') || !line.includes(JSON.stringify(key))) continue;
    return (JSON.parse(line) as { seconds: number }).seconds;
  }
  return undefined;
}

/** When the uploader logged 'uploaded and verified' for the first key containing `keyPart` (ms), or undefined. */
export function verifiedAt(sim: NodeSim, keyPart: string): number | undefined {
  for (const line of sim.uploaderLog()) {
    if (!line.includes('"uploaded and verified"') || !line.includes(keyPart)) continue;
    return Date.parse((JSON.parse(line) as { time: string }).time);
  }
  return undefined;
}

export interface InvariantResult {
  readonly latencyMs: number;
  readonly transferSeconds: number;
  readonly report: RoleReport;
  readonly healthMaxMs: number;
}

/**
 * Waits for the victim's dump (verified: size and sha256 in S3), keeps the node running until
 * `observeUntil` (long enough for the manifest's liveness probe to have run: initial delay 10 s, every
 * 30 s), and checks the whole invariant.
 */
export async function expectInvariant(sim: NodeSim, client: S3Client, bucket: string, victim: VictimDump, health: HealthWatch, observeUntil = 0): Promise<InvariantResult> {
  const arrived = await waitForObject(client, bucket, victim.key, victim, INVARIANT_MS + 60_000, 100);
  if (arrived === undefined) throw new Error(`the victim's dump ${victim.key} did not arrive\nuploader (last lines):\n${sim.uploaderLog().slice(-40).join('\n')}`);
  const latencyMs = arrived - victim.lastWriteMs;
  // the object can answer HEAD a moment before the uploader's own verification logs it
  const transfer = await waitFor(() => transferSeconds(sim, victim.key), 10_000, 50);
  if (transfer === undefined) throw new Error(`no 'uploaded and verified' line for ${victim.key}`);
  if (observeUntil > Date.now()) await new Promise((r) => setTimeout(r, observeUntil - Date.now()));
  const report = sim.kubeletReport('uploader');
  const summary = { latencyMs, transferSeconds: transfer, healthMaxMs: health.maxMs, healthFailures: health.failures, ...report, probes: report.probes.length };
  note(`isolation: ${JSON.stringify(summary)}`);
  if (latencyMs - transfer * 1000 > INVARIANT_MS) {
    // what the uploader did meanwhile, for the failure message
    const from = new Date(victim.lastWriteMs - 2000).toISOString();
    // a failing run shows what the uploader did (a passing one prints nothing)
    console.log(sim.uploaderLog().filter((l) => /"(uploading|uploaded and verified|dump analysed|dump analysis stopped[^"]*)"/.test(l) && l.slice(9, 33) >= from).slice(0, 80).join('\n'));
  }
  expect(latencyMs - transfer * 1000).toBeLessThanOrEqual(INVARIANT_MS);
  expect({ starts: report.starts, livenessRestarts: report.livenessRestarts, oomKills: report.oomKills, killedBySigkill: report.killedBySigkill })
    .toEqual({ starts: 1, livenessRestarts: 0, oomKills: 0, killedBySigkill: 0 });
  // every probe the kubelet sent was answered in time (readiness may say "not ready", never time out)
  expect(report.probes.filter((p) => p.detail.startsWith('no answer') || (p.kind === 'liveness' && !p.ok))).toEqual([]);
  if (observeUntil > 0) expect(report.probes.filter((p) => p.kind === 'liveness').length).toBeGreaterThanOrEqual(1);
  expect(report.memoryLimitBytes).toBeDefined();
  expect(report.peakRssBytes).toBeLessThan(report.memoryLimitBytes as number);
  // even counting the shared pages of every process in full
  expect(report.peakProcessRssBytes).toBeLessThan(report.memoryLimitBytes as number);
  expect(health.failures).toBe(0);
  return { latencyMs, transferSeconds: transfer, report, healthMaxMs: health.maxMs };
}
