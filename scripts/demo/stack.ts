/**
 * The pipeline on one simulated node, as the synthesized manifests run it (test/e2e/node-sim.ts): the S3
 * server (the embedded s3rver on loopback, or the user's), a byte-counting tap in front of it, the mount
 * guard, the leak analyzer (Deployment heapdump-analyzer, scheduled onto this node), the uploader (its
 * wait-ready first), then the demo application's pod (wait-ready, then the JVM from the ConfigMap's
 * Leak.java). Everything is stopped by PID in dispose(), also after a failure half-way.
 */
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { randomUUID } from 'crypto';
import { mkdtempSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ANALYZER_WAKE_PATH, COMMANDS, ENV } from '../../agent/src/contract';
import { SETTINGS } from '../../agent/src/settings';
import { loadManifests, type Manifests, type Workload } from '../../test/e2e/manifests';
import { NodeSim, type SimContainer } from '../../test/e2e/node-sim';
import { type FakeKubeApi, startFakeKubeApi } from '../../test/support/kube-api-server';
import { freePort } from '../../test/support/procs';
import { makeS3Client, startS3Server, TEST_REGION } from '../../test/support/s3';
import { buildAgentBundle } from '../bundle-agent';
import type { DemoEnvironment } from './prereqs';
import { type S3Tap, type S3Transfer, startS3Tap } from './s3-tap';

/** The S3 server the demo writes to. */
export interface DemoS3 {
  readonly endpoint: string;
  readonly bucket: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Whether the demo started it (and removes it with its data). */
  readonly embedded: boolean;
  readonly pid?: number;
  dispose(): Promise<void>;
}

/** What the demo changes in the app pod so the OOM comes within seconds (the dump flags stay the manifest's). */
export const DEMO_APP = { heap: '-Xmx48m', env: { LEAK_MB: '4', LEAK_INTERVAL_SECONDS: '1' } } as const;

export interface StackHooks {
  /** Every container the node starts (restarts included), with its role. */
  readonly onContainer: (c: SimContainer, role: string) => void;
  /** Body bytes through the S3 tap. */
  readonly onTransfer: (t: S3Transfer) => void;
  /** A step of the set-up (for the progress view). */
  readonly onStep: (component: string, text: string) => void;
}

export class DemoStack {
  private readonly stops: Array<() => Promise<void>> = [];
  s3!: DemoS3;
  tap!: S3Tap;
  sim!: NodeSim;
  analyzer!: Workload;
  /** The Kubernetes API stand-in the agents post their Events to (undefined without openssl). */
  kube: FakeKubeApi | undefined;
  private analyzerPort = 0;
  private agentBundle: string | undefined;
  readonly manifests: Manifests = loadManifests();

  constructor(
    private readonly env: DemoEnvironment,
    private readonly hooks: StackHooks,
  ) {}

  /** The bucket the manifests name (the uploader's ConfigMap), so the demo's keys look as they will. */
  manifestBucket(): string {
    const cm = Object.values(this.manifests.configMaps).find((d) => ENV.s3Bucket in d);
    return cm?.[ENV.s3Bucket] ?? 'heap-dumps';
  }

  /** The analyzer's Deployment in the manifests (absent when analyzer.enabled is false). */
  private findAnalyzer(): Workload {
    const hits = this.manifests.objects.filter(
      (o) => o.kind === 'Deployment' && ((o.spec as { template?: { spec?: Workload['spec'] } })?.template?.spec?.containers ?? []).some((c) => (c.args ?? [])[0] === COMMANDS.analyzer),
    );
    if (hits.length !== 1) throw new Error(`the manifests hold ${hits.length} Deployments running \`${COMMANDS.analyzer}\`, expected one (is analyzer.enabled false in the config?)`);
    const o = hits[0];
    const spec = (o.spec as { template: { spec: Workload['spec'] } }).template.spec;
    return { object: o, name: o.metadata.name, namespace: o.metadata.namespace ?? 'default', spec };
  }

  async startS3(external?: { endpoint: string; bucket: string }): Promise<void> {
    if (external) {
      const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
      const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
      if (!accessKeyId || !secretAccessKey) throw new DemoSetupError(`--s3 ${external.endpoint}: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set for it`);
      this.s3 = { ...external, region: process.env.AWS_DEFAULT_REGION ?? TEST_REGION, accessKeyId, secretAccessKey, embedded: false, dispose: async () => undefined };
      // before any pod starts: a wrong URL, bucket or key is one line now, not a timeout later
      const client = makeS3Client(external.endpoint, accessKeyId, secretAccessKey);
      try {
        await client.send(new HeadBucketCommand({ Bucket: external.bucket }), { abortSignal: AbortSignal.timeout(10_000) });
      } catch (error) {
        const e = error as Error & { $metadata?: { httpStatusCode?: number } };
        const why = e.$metadata?.httpStatusCode !== undefined ? `HTTP ${e.$metadata.httpStatusCode} ${e.name}` : e.message;
        throw new DemoSetupError(`--s3 ${external.endpoint} --bucket ${external.bucket}: the bucket cannot be reached with AWS_ACCESS_KEY_ID ${accessKeyId} (${why})`);
      } finally {
        client.destroy();
      }
      this.hooks.onStep('s3', `using ${external.endpoint}, bucket ${external.bucket}`);
    } else {
      const server = await startS3Server('s3rver', { bucket: this.manifestBucket() });
      this.stops.push(() => server.dispose());
      this.s3 = {
        endpoint: server.endpoint, bucket: server.bucket, region: server.region, accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey,
        embedded: true, pid: server.pid(), dispose: () => server.dispose(),
      };
      this.hooks.onStep('s3', `s3rver on ${server.endpoint} (pid ${server.pid()}), bucket ${server.bucket}`);
    }
    this.tap = await startS3Tap(this.s3.endpoint, this.s3.bucket, this.hooks.onTransfer);
    this.stops.push(() => this.tap.close());
  }

  /**
   * A loopback stand-in for the API server (test/support/kube-api-server.ts), so the Events the agents post on
   * the app's pod (what the team sees with `oc get events`) arrive somewhere and can be shown.
   */
  async startKubeApi(): Promise<void> {
    if (!this.env.openssl) return;
    const kube = await startFakeKubeApi();
    this.stops.push(() => kube.close());
    this.kube = kube;
    this.hooks.onStep('kube-api', `API server stand-in on ${kube.url}: receives the Events`);
  }

  /** The Events posted so far: reason, type and note, on which object. */
  events(): Array<{ reason: string; type: string; note: string; regarding: string }> {
    return (this.kube?.requests ?? []).filter((r) => r.method === 'POST' && /\/events$/.test(r.path.split('?')[0])).flatMap((r) => {
      try {
        const e = JSON.parse(r.body) as { reason?: string; type?: string; note?: string; regarding?: { kind?: string; name?: string } };
        return [{ reason: e.reason ?? '', type: e.type ?? '', note: e.note ?? '', regarding: `${e.regarding?.kind ?? ''}/${e.regarding?.name ?? ''}` }];
      } catch {
        return [];
      }
    });
  }

  /**
   * The agent bundle, built into a temp dir of the demo's own (`npm run bundle`'s build, not its output file:
   * the checkout may be read-only, or another user's).
   */
  async buildAgent(): Promise<void> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'heapdump-demo-'));
    this.stops.push(async () => rmSync(dir, { recursive: true, force: true }));
    this.agentBundle = await buildAgentBundle(path.join(dir, 'agent.js'));
  }

  async startNode(): Promise<void> {
    this.analyzer = this.findAnalyzer();
    this.analyzerPort = await freePort();
    this.sim = await NodeSim.create({
      manifests: this.manifests,
      s3: { ...this.s3, endpoint: this.tap.endpoint },
      nodeName: 'demo-node-1',
      agentBundle: this.agentBundle,
      appHeap: DEMO_APP.heap,
      nodeBinary: this.env.node.binary,
      userNamespace: this.env.mode === 'user',
      kubelet: this.env.cgroups,
      onContainerStart: this.hooks.onContainer,
      ...(this.kube ? { kubeApi: { host: '127.0.0.1', port: Number(new URL(this.kube.url).port), ca: this.kube.certs.ca.toString() } } : {}),
      // the Service name in the manifests' ANALYZER_WAKE_URL resolves nowhere here: the analyzer's port on loopback
      uploaderEnv: { [SETTINGS.analyzerWakeUrl.env!]: `http://127.0.0.1:${this.analyzerPort}${ANALYZER_WAKE_PATH}` },
    });
    this.stops.push(() => this.sim.dispose());
  }

  /** The guard, the analyzer (listening before the uploader can wake it), then the uploader. */
  async startAgents(): Promise<void> {
    await this.sim.startGuard();
    const analyzer = await this.sim.startPod(this.analyzer, COMMANDS.analyzer, { role: 'analyzer', extraEnv: { [ENV.httpPort]: String(this.analyzerPort) } });
    await listening(analyzer);
    await this.sim.startUploader();
  }

  async startApp(): Promise<SimContainer & { podName: string }> {
    const podName = this.sim.newAppPodName();
    // the pod exists for the API server: the Events name it by its uid
    this.kube?.pods.set(`${this.manifests.app.namespace}/${podName}`, randomUUID());
    return this.sim.startApp(podName, { pid1: true, env: { ...DEMO_APP.env } });
  }

  /** Stops everything started, newest first; keeps going past errors and reports them at the end. */
  async dispose(): Promise<void> {
    const errors: string[] = [];
    for (const stop of this.stops.splice(0).reverse()) {
      await stop().catch((e: Error) => errors.push(e.message));
    }
    if (errors.length > 0) throw new Error(`clean-up: ${errors.join('; ')}`);
  }
}

/** A set-up problem the user can fix (one line, no stack). */
export class DemoSetupError extends Error {}

/** Resolves once an agent container logs `http server listening`; an error when it exits first. */
async function listening(c: SimContainer, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (c.proc.stdout.some((l) => l.includes('"msg":"http server listening"'))) return;
    if (c.proc.exitInfo()) throw new Error(`${c.name} exited before it listened:\n${c.proc.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${c.name} did not say which port it listens on within ${timeoutMs} ms`);
}
