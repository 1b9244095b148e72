/**
 * One simulated OpenShift node, run with the project's own processes.
 *
 * Layout under a temp directory `<sim>` (inside the namespace, `<sim>` is a shared mount, as `/` is on
 * a systemd node):
 *   <sim>/pvc                 the PVC (shared storage); the guard binds <pvc>/<node> onto the node's /mnt/dump
 *   <sim>/node/...            the node's file system (hostPath volumes: /mnt, /mnt/dump)
 *   <sim>/cm/<pod>/<vol>      configMap volumes, materialized from the synthesized ConfigMaps
 *   <sim>/ctr/<pod>/<c>-<n>/  a container's view: each volumeMount rbind-mounted at its mountPath with
 *                             the manifest's mountPropagation (rprivate / rslave / rshared) and readOnly
 *
 * So the guard's Bidirectional mount really has to propagate to the node and from there to the
 * HostToContainer consumers, a subPath really pins the pod's folder, and a read-only mount is read-only.
 * (E2E_SIM_MOUNTS=paths instead translates container paths straight to the node's directories.)
 *
 * Refinement of the "one driver process" design: a holder process (`unshare --mount --propagation
 * private sleep`) owns a private mount namespace, and every "container" is started INTO it with
 * `nsenter --mount=/proc/<holder>/ns/mnt [unshare --net] setpriv ... <cmd>`. nsenter, unshare and
 * setpriv exec without forking, so the PID we spawn is the container's own PID: faults (SIGKILL the
 * uploader, kill the guard, unmount from outside) are aimed at exact PIDs, with no control protocol.
 * The test process stays outside the namespace and sees the node through `/proc/<holder>/root/...`
 * (path resolution there uses the holder's mounts).
 *
 * Every container's env, command, paths, volumes and identity come from the manifests (kubelet-sim.ts).
 * The simulation overrides only what a single host forces: the agents' HTTP port (agent pods share the
 * host network here: port 0 = ephemeral, host 127.0.0.1), the S3 endpoint/bucket/credentials (the
 * test's own server, as an operator would configure them), and options passed explicitly by the caller
 * (listed in `overrides()` so reports can print them).
 */
import { chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { SETTINGS } from '../../agent/src/settings';
import { COMMANDS, ENV, PATHS } from '../../agent/src/contract';
import { envSettings } from '../../agent/src/settings';
import { node24Binary } from '../support/node24';
import { pidAlive, registerCleanup, runTracked, sleep, spawnTracked, stopPid, TrackedProcess } from '../support/procs';
import {
  commandLine, Container, mountTable, MountEntry, NodeLayout, PodContext, processIdentity, resolveEnv, setprivArgs,
  translateEnv, translatePath, PodSpec,
} from './kubelet-sim';
import { containerOf, Manifests, REPO_ROOT, Workload } from './manifests';
import { type RoleReport, SimKubelet } from './sim-kubelet';

export interface S3Target {
  readonly endpoint: string;
  readonly bucket: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface NodeSimOptions {
  readonly manifests: Manifests;
  readonly s3: S3Target;
  /** @default 'sim-node-1' */
  readonly nodeName?: string;
  /** Extra env for the uploader container (e.g. shorter stability windows for a fault row). */
  readonly uploaderEnv?: Record<string, string>;
  /** Extra env for the mount guard container (e.g. a shorter check interval). */
  readonly guardEnv?: Record<string, string>;
  /**
   * Replaces the heap-size flags of the Deployment's JAVA_TOOL_OPTIONS (the demo leaks ~10 MB / 5 s,
   * so the Deployment's heap would take minutes to fill). The dump flags and paths stay the manifest's.
   * @default '-Xmx48m'
   */
  readonly appHeap?: string;
  /** UID the restricted SCC assigns to the app pod when the manifest leaves it open. @default 1000 */
  readonly appUid?: number;
  /** Mount a tmpfs of this size (e.g. '64m') as the PVC inside the namespace (disk-full row). */
  readonly pvcTmpfsSize?: string;
  /**
   * Give each container its own kubelet-like bind mounts (with the manifests' mountPropagation and
   * readOnly) under `<sim>/ctr/...`, instead of translating its paths straight to the node's
   * directories. @default true, unless E2E_SIM_MOUNTS=paths
   */
  readonly bindMounts?: boolean;
  /** Log agent output lines to the console (debugging). */
  readonly verbose?: boolean;
  /**
   * Enforce what the kubelet enforces (sim-kubelet.ts): each container in a cgroup with its manifest's
   * limits, the agents' liveness and readiness probes with their timing, a restart on a failed
   * liveness probe. @default true (where cgroup v1 is mounted), unless E2E_SIM_KUBELET=off
   */
  readonly kubelet?: boolean;
  /**
   * The agent bundle the simulated image holds (copied into the node's temp dir).
   * @default E2E_AGENT_BUNDLE, else .build/agent/agent.js
   */
  readonly agentBundle?: string;
  /** The Node binary the agent containers run. @default the image's Node 24 (test/support/node24.ts), not the one running the tests */
  readonly nodeBinary?: string;
  /**
   * The `kubernetes` Service's address the kubelet gives every container (KUBERNETES_SERVICE_HOST/PORT): a
   * loopback stand-in for the API server when the agents' Events should arrive somewhere.
   * @default 127.0.0.1:6443 (nothing listens)
   */
  readonly kubeApi?: {
    readonly host: string;
    readonly port: number;
    /** The stand-in's CA (PEM): the `ca.crt` of the kube-root-ca.crt ConfigMap, projected into every ServiceAccount volume. */
    readonly ca?: string;
  };
  /**
   * Without root: the node's mount namespace is made inside a user namespace where the caller is uid 0
   * (`unshare --user --map-root-user`), so the bind mounts and capabilities are real but only there; every
   * container runs as the caller's own uid (the only one mapped), and no cgroup can be made (no limits, no probes).
   * @default false
   */
  readonly userNamespace?: boolean;
  /** Called for every container the node starts (restarts by the simulated kubelet included). */
  readonly onContainerStart?: (c: SimContainer, role: string) => void;
}

export interface SimContainer {
  readonly name: string;
  readonly proc: TrackedProcess;
  readonly env: Record<string, string>;
  readonly argv: string[];
}

/** What the simulated kubelet saw of each role: restarts, OOM kills, probes, memory. */
export type { RoleReport } from './sim-kubelet';

/** The agent bundle the image runs (built by jest's globalSetup / `npm run bundle`); from the repo root, so a bundled script finds it too. */
const AGENT_BUNDLE = process.env.E2E_AGENT_BUNDLE ?? path.join(REPO_ROOT, '.build', 'agent', 'agent.js');
/** The uid of the agent image's USER (agent/Dockerfile): what a pod that leaves runAsUser open runs as (the analyzer). */
export const IMAGE_UID = 1001;
const SIM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** The agent's variables whose defaults are container paths (the sim translates them; see prepare()). */
const AGENT_PATH_DEFAULTS: Record<string, string> = Object.fromEntries(
  [SETTINGS.dumpRoot, SETTINGS.mountSourceRoot, SETTINGS.mountTarget].map((s) => [s.env!, s.default as string]),
);
const HEAP_FLAGS = /^(-Xmx\S*|-Xms\S*|-XX:(Max|Initial|Min)RAMPercentage=\S*|-XX:MaxRAM=\S*)$/;

let podSeq = 0;

class HostPathMissing extends Error {}

export class NodeSim {
  readonly root: string;
  readonly nodeName: string;
  readonly pvcDir: string;
  readonly nodeRoot: string;
  private holder!: TrackedProcess;
  private readonly started = new Set<TrackedProcess>();
  /** Containers by role, latest first. */
  guard?: SimContainer;
  uploader?: SimContainer;
  private readonly uploaders: SimContainer[] = [];
  private readonly guards: SimContainer[] = [];
  /** Kubelet-like bind mounts per container (default) instead of plain path translation. */
  private readonly bindMounts: boolean;
  private containerSeq = 0;
  /** The agent bundle as the simulated containers run it. */
  private readonly agentBundle: string;
  /** The Node binary the agent containers run (the image's Node 24 unless `nodeBinary` says otherwise; set by init). */
  agentNode = '';
  /** The uid a pod's containers get when its manifest leaves it open, by workload (see startPod). */
  private readonly podUids = new Map<Workload, number>();
  /** Pod containers started with startPod(), by role. */
  readonly pods = new Map<string, SimContainer>();
  private unregister: () => void = () => undefined;
  /** App containers (JVMs) started so far. */
  readonly apps: SimContainer[] = [];
  /** The kubelet's enforcement: cgroups, probes, restarts. */
  readonly kubelet: SimKubelet;

  private constructor(readonly opts: NodeSimOptions) {
    this.root = mkdtempSync(path.join(os.tmpdir(), 'e2e-node-'));
    // mkdtemp gives 0700: the app runs as another uid and must traverse to its dump folder and code
    chmodSync(this.root, 0o755);
    // The "image": a copy of the bundle every simulated user can read (the checkout itself may sit
    // below a directory only root can enter, e.g. a CI clone under a mkdtemp dir).
    this.agentBundle = path.join(this.root, 'image', 'agent.js');
    mkdirSync(path.dirname(this.agentBundle), { mode: 0o755 });
    copyFileSync(opts.agentBundle ?? AGENT_BUNDLE, this.agentBundle);
    chmodSync(this.agentBundle, 0o644);
    this.nodeName = opts.nodeName ?? 'sim-node-1';
    this.pvcDir = path.join(this.root, 'pvc');
    this.nodeRoot = path.join(this.root, 'node');
    this.bindMounts = opts.bindMounts ?? process.env.E2E_SIM_MOUNTS !== 'paths';
    // no cgroup can be made without root: the kubelet's enforcement is off in a user namespace
    this.kubelet = new SimKubelet(!opts.userNamespace && (opts.kubelet ?? process.env.E2E_SIM_KUBELET !== 'off'), opts.verbose ? (l) => console.log(l) : undefined);
  }

  static async create(opts: NodeSimOptions): Promise<NodeSim> {
    const sim = new NodeSim(opts);
    // also on Ctrl-C / a failed test file: disposeAll() removes the node's temp dir too
    sim.unregister = registerCleanup(() => sim.dispose());
    try {
      await sim.init();
    } catch (err) {
      await sim.dispose();
      throw err;
    }
    return sim;
  }

  private async init(): Promise<void> {
    // the image's Node (24) unless the caller brings its own: the agents run on it, not on jest's
    this.agentNode = imageNode(this.opts.nodeBinary ?? (await node24Binary()), path.join(this.root, 'image', 'node'));
    mkdirSync(this.pvcDir, { recursive: true });
    const user = this.opts.userNamespace ? ['--user', '--map-root-user'] : [];
    this.holder = spawnTracked('unshare', [...user, '--mount', '--propagation', 'private', '--', 'sleep', 'infinity'], { env: { PATH: SIM_PATH } });
    // the namespace exists once unshare has exec'd sleep
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const exe = await runTracked('readlink', [`/proc/${this.holder.pid}/exe`], { timeoutMs: 2000 });
      if (exe.stdout.includes('sleep')) break;
      await sleep(20);
    }
    if (this.bindMounts) {
      // the node's root is a shared mount (systemd does that on a real node): Bidirectional and
      // HostToContainer volume mounts then propagate as on a node
      const r = await this.nsExec(['sh', '-c', `mount --bind '${this.root}' '${this.root}' && mount --make-rshared '${this.root}'`]);
      if (r.code !== 0) throw new Error(`making ${this.root} a shared mount failed: ${r.stderr}`);
    }
    if (this.opts.pvcTmpfsSize) {
      const r = await this.nsExec(['mount', '-t', 'tmpfs', '-o', `size=${this.opts.pvcTmpfsSize},mode=0755`, 'sim-pvc', this.pvcDir]);
      if (r.code !== 0) throw new Error(`mounting a tmpfs PVC failed: ${r.stderr}`);
    }
  }

  /** A path of the node as the test process (outside the namespace) can reach it. */
  view(p: string): string {
    return `/proc/${this.holder.pid}/root${p}`;
  }

  /** The node's /mnt/dump (or any hostPath) on the simulated node. */
  hostPath(p: string): string {
    return path.join(this.nodeRoot, p);
  }

  /** Runs a command inside the namespace as root and waits for it. */
  nsExec(argv: string[], timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
    return runTracked('nsenter', [...this.enterNs(), '--', ...argv], { env: { PATH: SIM_PATH }, timeoutMs });
  }

  /** nsenter's options that enter the node's mount namespace (and its user namespace, when it has one). */
  private enterNs(): string[] {
    const h = this.holder.pid;
    // --preserve-credentials: the caller already is uid 0 there (its uid is the one mapped to 0)
    return this.opts.userNamespace ? [`--user=/proc/${h}/ns/user`, `--mount=/proc/${h}/ns/mnt`, '--preserve-credentials'] : [`--mount=/proc/${h}/ns/mnt`];
  }

  /** What the simulation changes relative to the manifests (for reports). */
  overrides(): Record<string, string> {
    return {
      [ENV.httpPort]: '0 (ephemeral: agent pods share the host network here)',
      [ENV.httpHost]: '127.0.0.1',
      'agent path defaults': `${Object.keys(AGENT_PATH_DEFAULTS).join(', ')} set to their defaults when unset, to be translated (no container root filesystem)`,
      [ENV.s3EndpointUrl]: this.opts.s3.endpoint,
      [ENV.s3Bucket]: this.opts.s3.bucket,
      'app heap': this.opts.appHeap ?? '-Xmx48m',
      ...Object.fromEntries(Object.entries(this.opts.uploaderEnv ?? {}).map(([k, v]) => [`uploader ${k}`, v])),
      ...Object.fromEntries(Object.entries(this.opts.guardEnv ?? {}).map(([k, v]) => [`guard ${k}`, v])),
    };
  }

  // ---------------------------------------------------------------- pods and containers

  private podContext(w: Workload, podName: string): PodContext {
    const { manifests, s3 } = this.opts;
    // the uploader ConfigMap carries the S3 location: point it at the test's server
    const configMaps: Record<string, Record<string, string>> = {};
    for (const [name, data] of Object.entries(manifests.configMaps)) {
      configMaps[name] = { ...data };
      if (ENV.s3Bucket in data) configMaps[name][ENV.s3Bucket] = s3.bucket;
      if (ENV.s3EndpointUrl in data) configMaps[name][ENV.s3EndpointUrl] = s3.endpoint;
    }
    // what the cluster publishes in every namespace: the API server's CA, here the stand-in's
    if (this.opts.kubeApi?.ca !== undefined) configMaps['kube-root-ca.crt'] = { 'ca.crt': this.opts.kubeApi.ca };
    return {
      nodeName: this.nodeName,
      namespace: w.namespace,
      podName,
      podIP: '127.0.0.1',
      serviceAccountName: (w.spec as { serviceAccountName?: string }).serviceAccountName,
      configMaps,
      secrets: this.secretsFor(w.spec),
    };
  }

  /**
   * The test's credentials (and endpoint/region, which the Secret may also carry), for every Secret
   * key the pod references, chosen by the variable it feeds.
   */
  private secretsFor(spec: PodSpec): Record<string, Record<string, string>> {
    const byVar: Record<string, string> = {
      [ENV.awsAccessKeyId]: this.opts.s3.accessKeyId,
      [ENV.awsSecretAccessKey]: this.opts.s3.secretAccessKey,
      [ENV.awsDefaultRegion]: this.opts.s3.region,
      [ENV.s3EndpointUrl]: this.opts.s3.endpoint,
    };
    const secrets: Record<string, Record<string, string>> = {};
    for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
      for (const e of c.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef;
        if (!ref) continue;
        const v = byVar[e.name];
        if (v === undefined) throw new Error(`e2e sim: secret '${ref.name}/${ref.key}' feeds ${e.name}; only ${Object.keys(byVar).join(', ')} are simulated`);
        (secrets[ref.name] ??= {})[ref.key] = v;
      }
      for (const src of c.envFrom ?? []) if (src.secretRef) secrets[src.secretRef.name] = { ...secrets[src.secretRef.name], ...byVar };
    }
    return secrets;
  }

  /** Writes each configMap volume's files to a directory of the node (as the kubelet projects them). */
  private configMapDirs(spec: PodSpec, ctx: PodContext, podName: string): Record<string, string> {
    const dirs: Record<string, string> = {};
    for (const v of spec.volumes ?? []) {
      if (!v.configMap) continue;
      const data = ctx.configMaps[v.configMap.name];
      if (!data) throw new Error(`e2e sim: configMap volume '${v.name}' names ConfigMap '${v.configMap.name}', not in the manifests`);
      const dir = path.join(this.root, 'cm', podName, v.name);
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      const items = v.configMap.items ?? Object.keys(data).map((key) => ({ key, path: key }));
      for (const it of items) {
        const file = path.join(dir, it.path);
        mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
        writeFresh(file, data[it.key], v.configMap.defaultMode ?? 0o644);
      }
      for (let d = dir; d.startsWith(this.root) && d !== this.root; d = path.dirname(d)) chmodSync(d, 0o755);
      dirs[v.name] = dir;
    }
    return dirs;
  }

  /**
   * Projected ServiceAccount token volumes, as the kubelet fills them: `token` (a stand-in: there is no API server
   * here), `ca.crt` from kube-root-ca.crt (a stand-in too) and the downward API items (namespace, name).
   */
  private projectedDirs(spec: PodSpec, ctx: PodContext, podName: string): Record<string, string> {
    const dirs: Record<string, string> = {};
    for (const v of spec.volumes ?? []) {
      if (!v.projected) continue;
      const dir = path.join(this.root, 'proj', podName, v.name);
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      for (const src of v.projected.sources as Array<Record<string, any>>) { // eslint-disable-line @typescript-eslint/no-explicit-any
        if (src.serviceAccountToken) writeFresh(path.join(dir, src.serviceAccountToken.path), 'sim-service-account-token', 0o444);
        for (const it of src.configMap?.items ?? []) writeFresh(path.join(dir, it.path), ctx.configMaps[src.configMap.name]?.[it.key] ?? 'sim-ca', 0o444);
        for (const it of src.downwardAPI?.items ?? src.downwardApi?.items ?? []) {
          const field = it.fieldRef?.fieldPath;
          writeFresh(path.join(dir, it.path), field === 'metadata.namespace' ? ctx.namespace : field === 'metadata.name' ? ctx.podName : '', 0o444);
        }
      }
      for (let d = dir; d.startsWith(this.root) && d !== this.root; d = path.dirname(d)) chmodSync(d, 0o755);
      dirs[v.name] = dir;
    }
    return dirs;
  }

  /** Builds a container's process: env, mounts, argv, identity, all from the manifest. */
  private prepare(w: Workload, container: Container, podName: string, extraEnv: Record<string, string> = {}, ctrRoot?: string, starting = false) {
    const ctx = this.podContext(w, podName);
    const layout: NodeLayout = {
      nodeRoot: this.nodeRoot,
      claims: this.claimsOf(w.spec),
      configMapDirs: this.configMapDirs(w.spec, ctx, podName),
      emptyDirRoot: path.join(this.root, 'empty', podName),
      projectedDirs: this.projectedDirs(w.spec, ctx, podName),
    };
    // The kubelet gives every container the `kubernetes` Service's address (also with enableServiceLinks false).
    // Nothing listens there in the simulation: an agent that calls the API server gets connection errors.
    const api = this.opts.kubeApi ?? { host: '127.0.0.1', port: 6443 };
    const rawEnv: Record<string, string> = { KUBERNETES_SERVICE_HOST: api.host, KUBERNETES_SERVICE_PORT: String(api.port), ...resolveEnv(container, ctx) };
    const table = mountTable(w.spec, container, rawEnv, layout);
    if (starting) this.checkHostPaths(w.spec, table);
    // with kubelet-like bind mounts the process sees its volumes under its own container root
    const procTable = ctrRoot ? table.map((m) => ({ ...m, source: path.join(ctrRoot, m.mountPath) })) : table;
    const isAgent = Object.values(COMMANDS).some((c) => (container.args ?? [])[0] === c);
    // No container root filesystem here: an agent's default container paths (e.g. wait-ready's DUMP_ROOT,
    // which the manifests leave to the default) are given explicitly so they are translated like the rest.
    const env = translateEnv(isAgent ? { ...AGENT_PATH_DEFAULTS, ...rawEnv } : rawEnv, procTable);
    if (isAgent) {
      env[ENV.httpPort] = '0';
      env[ENV.httpHost] = '127.0.0.1';
      // The agent's path defaults are container paths (e.g. DUMP_ROOT /mnt/dump, which the
      // init container does not set): unset ones under a volume mount point at that volume here.
      for (const [, st] of envSettings()) {
        if (env[st.env] !== undefined || typeof st.default !== 'string' || !st.default.startsWith('/')) continue;
        const translated = translatePath(st.default, procTable);
        if (translated !== undefined) env[st.env] = translated;
      }
    }
    Object.assign(env, extraEnv);
    env.PATH = SIM_PATH;
    env.HOME ??= '/tmp';
    // the image's entrypoint is `node agent.js`; the container only gives the sub-command as args
    const cmd = commandLine(container, rawEnv, procTable);
    const argv = isAgent ? [this.agentNode, this.agentBundle, ...cmd] : cmd;
    const manifestIdentity = processIdentity(w.spec, container, this.podUids.get(w) ?? (w === this.opts.manifests.app ? this.opts.appUid ?? 1000 : 0));
    // in a user namespace only the caller's own uid exists (as 0): every container runs as it
    const identity = this.opts.userNamespace ? { ...manifestIdentity, uid: 0, gid: 0 } : manifestIdentity;
    return { env, argv, table, identity, rawEnv };
  }

  /**
   * As the kubelet does, in the node's view (inside the namespace, so through the guard's mount):
   * a hostPath of type Directory must exist, DirectoryOrCreate is created; a missing subPath is created.
   */
  private checkHostPaths(spec: PodSpec, table: readonly MountEntry[]): void {
    const volumes = new Map((spec.volumes ?? []).map((v) => [v.name, v]));
    for (const m of table) {
      const hp = volumes.get(m.volume)?.hostPath;
      if (!hp) continue;
      const base = this.view(path.join(this.nodeRoot, hp.path));
      if (!existsSync(base)) {
        if (hp.type === 'DirectoryOrCreate') mkdirSync(base, { recursive: true, mode: 0o755 });
        else throw new HostPathMissing(`e2e sim: hostPath ${hp.path} (type ${hp.type ?? 'unset'}) of volume '${m.volume}' does not exist on the node`);
      }
      if (!existsSync(this.view(m.source))) mkdirSync(this.view(m.source), { recursive: true });
    }
  }

  /**
   * prepare(), retried while a hostPath of type Directory is missing: the kubelet keeps such a pod in
   * ContainerCreating (FailedMount) and retries, e.g. until the guard's pod has created /mnt/dump.
   */
  private async prepareWhenMountable(w: Workload, c: Container, podName: string, extraEnv: Record<string, string> | undefined, ctrRoot: string | undefined, timeoutMs: number) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return this.prepare(w, c, podName, extraEnv, ctrRoot, true);
      } catch (err) {
        if (!(err instanceof HostPathMissing) || Date.now() > deadline) throw err;
        await sleep(250);
      }
    }
  }

  private claimsOf(spec: PodSpec): Record<string, string> {
    const claims: Record<string, string> = {};
    for (const v of spec.volumes ?? []) if (v.persistentVolumeClaim) claims[v.persistentVolumeClaim.claimName] = this.pvcDir;
    return claims;
  }

  /**
   * Starts a process in the node's mount namespace. `ownNetwork`: in a fresh network namespace too, as
   * an application pod has (two demo JVMs both listen on 8080). Agent pods keep the host network: they
   * reach the S3 server on the host's loopback. nsenter, unshare and setpriv all exec without forking.
   */
  private launch(
    name: string, argv: string[], env: Record<string, string>, setpriv: string[],
    o: { ownNetwork?: boolean; pid1?: boolean; role?: string; container?: Container; graceSeconds?: number; restart?: () => Promise<unknown> } = {},
  ): SimContainer {
    const net = o.ownNetwork ? ['unshare', '--net', '--'] : [];
    // a container's own PID namespace: its entrypoint is PID 1 (unshare forks it and stays its parent)
    const pid = o.pid1 ? ['unshare', '--pid', '--fork', '--mount-proc', '--'] : [];
    const full = ['nsenter', ...this.enterNs(), '--', ...net, ...pid, ...setpriv, ...argv];
    // the container's cgroup (its manifest's limits) is joined before anything of it runs
    const k = o.container ? this.kubelet.prepare(o.role ?? name, o.container) : undefined;
    const [cmd, ...args] = k ? k.wrap(full) : full;
    const proc = spawnTracked(cmd, args, { env, cwd: '/' });
    this.started.add(proc);
    if (this.opts.verbose) {
      proc.child.stdout?.on('data', (d: Buffer) => process.stdout.write(`[${name}] ${d.toString()}`));
      proc.child.stderr?.on('data', (d: Buffer) => process.stdout.write(`[${name}!] ${d.toString()}`));
    }
    // probes reach agent containers only (host network); an app pod's network is its own here
    if (k && o.container) this.kubelet.attach(k.instance, proc, o.ownNetwork ? { ...o.container, livenessProbe: undefined, readinessProbe: undefined } : o.container, o.graceSeconds ?? 30, o.restart ?? (async () => undefined));
    const started = { name, proc, env, argv };
    this.opts.onContainerStart?.(started, o.role ?? name);
    return started;
  }

  /**
   * Starts one container of a pod: env/argv/identity from the manifest, its volumes mounted (bind
   * mode) under a fresh container root, then the process. Waits while a hostPath is missing.
   */
  private async startContainer(
    w: Workload, c: Container, podName: string,
    opts: { name: string; extraEnv?: Record<string, string>; ownNetwork?: boolean; timeoutMs?: number; pid1?: boolean; role?: string; restart?: () => Promise<unknown> },
  ): Promise<SimContainer> {
    const ctrRoot = this.bindMounts ? path.join(this.root, 'ctr', podName, `${c.name}-${++this.containerSeq}`) : undefined;
    const p = await this.prepareWhenMountable(w, c, podName, opts.extraEnv, ctrRoot, opts.timeoutMs ?? 60_000);
    if (ctrRoot) await this.mountContainer(ctrRoot, p.table);
    return this.launch(opts.name, p.argv, p.env, setprivArgs(p.identity), {
      ownNetwork: opts.ownNetwork, pid1: opts.pid1, role: opts.role ?? opts.name, container: c,
      graceSeconds: w.spec.terminationGracePeriodSeconds ?? 30, ...(opts.restart ? { restart: opts.restart } : {}),
    });
  }

  /**
   * What the kubelet + runtime do for a container's volumes: an rbind of each volume's source at
   * `<ctrRoot><mountPath>`, with the mount's propagation (None = rprivate, HostToContainer = rslave,
   * Bidirectional = rshared: it shares the node's peer group, so the guard's mount reaches the node and
   * from there every HostToContainer consumer), and read-only when asked. A subPath is bound as it
   * resolves now, so a pod keeps its folder even if the node's mount goes away later.
   */
  private async mountContainer(ctrRoot: string, table: readonly MountEntry[]): Promise<void> {
    const q = (x: string) => `'${x.replace(/'/g, `'\\''`)}'`;
    const lines = ['set -e'];
    for (const m of [...table].sort((x, y) => x.mountPath.length - y.mountPath.length)) {
      const dst = path.join(ctrRoot, m.mountPath);
      // emptyDir (and any missing non-hostPath source) is created by the kubelet; hostPaths were checked.
      // The kubelet makes an emptyDir 0777: a container whose user the manifest leaves to the image (the analyzer) writes there.
      const emptyDir = m.source.startsWith(path.join(this.root, 'empty') + '/');
      lines.push(`[ -e ${q(m.source)} ] || { mkdir -p ${q(m.source)}${emptyDir ? ` && chmod 0777 ${q(m.source)}` : ''}; }`, `mkdir -p ${q(dst)}`, `mount --rbind ${q(m.source)} ${q(dst)}`);
      const prop = m.propagation === 'Bidirectional' ? '--make-rshared' : m.propagation === 'HostToContainer' ? '--make-rslave' : '--make-rprivate';
      lines.push(`mount ${prop} ${q(dst)}`);
      if (m.readOnly) lines.push(`mount -o remount,bind,ro ${q(dst)}`);
    }
    const r = await this.nsExec(['sh', '-c', lines.join('\n')]);
    if (r.code !== 0) throw new Error(`e2e sim: mounting the volumes of ${ctrRoot} failed (${r.code}): ${r.stderr}\n${lines.join('\n')}`);
  }

  /** Starts the mount guard container (privileged: no setpriv). */
  async startGuard(): Promise<SimContainer> {
    const w = this.opts.manifests.guard;
    this.guard = await this.startContainer(w, containerOf(w, COMMANDS.mountGuard), `${w.name}-sim`, { name: 'guard', extraEnv: this.opts.guardEnv, restart: () => this.startGuard() });
    this.guards.push(this.guard);
    return this.guard;
  }

  /** Runs a pod's wait-ready init container to completion; throws with its output when it fails. */
  async runWaitReady(w: Workload, podName: string, timeoutMs = 60_000): Promise<SimContainer> {
    const c = containerOf(w, COMMANDS.waitReady, true);
    const sc = await this.startContainer(w, c, podName, { name: `wait-ready ${podName}`, role: 'wait-ready', timeoutMs });
    const timer = setTimeout(() => sc.proc.signal('SIGKILL'), timeoutMs);
    const exit = await sc.proc.exited;
    clearTimeout(timer);
    if (exit.code !== 0) throw new Error(`wait-ready of pod ${podName} exited ${exit.code ?? exit.signal}:\n${sc.proc.output()}`);
    return sc;
  }

  /** Starts the uploader pod: wait-ready init container, then the uploader. */
  async startUploader(): Promise<SimContainer> {
    const w = this.opts.manifests.uploader;
    const podName = `${w.name}-sim`;
    if ((w.spec.initContainers ?? []).length > 0) await this.runWaitReady(w, podName);
    return this.restartUploader();
  }

  /** (Re)starts the uploader container in its pod (a container restart: init containers do not run again). */
  async restartUploader(): Promise<SimContainer> {
    const w = this.opts.manifests.uploader;
    this.uploader = await this.startContainer(w, containerOf(w, COMMANDS.uploader), `${w.name}-sim`, { name: 'uploader', extraEnv: this.opts.uploaderEnv, restart: () => this.restartUploader() });
    this.uploaders.push(this.uploader);
    return this.uploader;
  }

  /**
   * Starts the agent container that runs `command` in a pod of another workload (a Deployment such as the leak
   * analyzer), scheduled onto this node: env, volumes, user (`defaultUid` where the manifest leaves it open, as the
   * image's USER does), capabilities and limits from its manifest; host network, as the agents here.
   */
  async startPod(w: Workload, command: string, opts: { role?: string; defaultUid?: number; extraEnv?: Record<string, string> } = {}): Promise<SimContainer> {
    const role = opts.role ?? command;
    this.podUids.set(w, opts.defaultUid ?? IMAGE_UID);
    const sc = await this.startContainer(w, containerOf(w, command), `${w.name}-sim`, {
      name: role, role, ...(opts.extraEnv ? { extraEnv: opts.extraEnv } : {}), restart: () => this.startPod(w, command, opts),
    });
    this.pods.set(role, sc);
    return sc;
  }

  /** What the simulated kubelet saw of a role ('uploader', 'guard', 'app', 'wait-ready'): restarts, OOM kills, probes, memory. */
  kubeletReport(role: string): RoleReport {
    return this.kubelet.report(role);
  }

  /** stdout lines of every guard container started so far. */
  guardLog(): string[] {
    return this.guards.flatMap((g) => g.proc.stdout);
  }

  /** stdout lines of every uploader container started so far (restarts included). */
  uploaderLog(): string[] {
    return this.uploaders.flatMap((u) => u.proc.stdout);
  }

  /** A fresh pod name of the app Deployment (ReplicaSet hash + random suffix, like the real thing). */
  newAppPodName(): string {
    podSeq++;
    return `${this.opts.manifests.app.name}-5d8f9c${String(podSeq).padStart(3, '0')}-sim${process.pid % 1000}`;
  }

  /**
   * The guard's bind mount as the node sees it: `<MOUNT_SOURCE_ROOT>/<NODE_NAME>` (on the PVC) onto
   * MOUNT_TARGET, both translated through the guard container's mounts.
   */
  guardMount(): { source: string; target: string } {
    const w = this.opts.manifests.guard;
    const p = this.prepare(w, containerOf(w, COMMANDS.mountGuard), `${w.name}-sim`, this.opts.guardEnv);
    const root = p.env[ENV.mountSourceRoot];
    const target = p.env[ENV.mountTarget];
    if (!root?.startsWith(this.root) || !target?.startsWith(this.root)) {
      throw new Error(`e2e sim: guard ${ENV.mountSourceRoot}=${root} / ${ENV.mountTarget}=${target} are not under any volumeMount`);
    }
    return { source: path.join(root, p.env[ENV.nodeName]), target };
  }

  /** The guard's ready marker on the node (through the mount): `<target>/<MARKER_NAME>`. */
  guardMarkerPath(): string {
    const w = this.opts.manifests.guard;
    const env = this.prepare(w, containerOf(w, COMMANDS.mountGuard), `${w.name}-sim`, this.opts.guardEnv).rawEnv;
    return path.join(this.guardMount().target, env[ENV.markerName] ?? PATHS.markerName);
  }

  /** Where the app pod's dumps land: its container path, the node path (through the mount) and the PVC path. */
  appDumpDirs(podName: string): { containerDir: string; nodeDir: string; pvcDir: string } {
    const w = this.opts.manifests.app;
    const c = containerOf(w, undefined);
    const p = this.prepare(w, c, podName);
    const dumpPath = jvmOption(p.rawEnv, 'HeapDumpPath');
    if (!dumpPath) throw new Error(`e2e sim: JAVA_TOOL_OPTIONS of ${w.name} has no -XX:HeapDumpPath (value: ${p.rawEnv.JAVA_TOOL_OPTIONS})`);
    const nodeDir = translatePath(dumpPath, p.table);
    if (!nodeDir) throw new Error(`e2e sim: HeapDumpPath ${dumpPath} is not under any volumeMount of ${c.name}`);
    const mount = this.guardMount();
    if (!nodeDir.startsWith(mount.target + '/')) throw new Error(`e2e sim: app dump dir ${nodeDir} is not below the guard's mount target ${mount.target}`);
    return { containerDir: dumpPath, nodeDir, pvcDir: path.join(mount.source, path.relative(mount.target, nodeDir)) };
  }

  /** The node path the uploader watches (its DUMP_ROOT translated back to the node's hostPath). */
  consumerDumpRoot(): string {
    const w = this.opts.manifests.uploader;
    const c = containerOf(w, COMMANDS.uploader);
    const p = this.prepare(w, c, `${w.name}-sim`);
    return path.relative(this.nodeRoot, p.env[ENV.dumpRoot]).replace(/^/, '/');
  }

  /** The uploader's resolved settings (after overrides): S3 prefix, time windows, etc. */
  uploaderEnv(): Record<string, string> {
    const w = this.opts.manifests.uploader;
    return this.prepare(w, containerOf(w, COMMANDS.uploader), `${w.name}-sim`, this.opts.uploaderEnv).env;
  }

  /** Starts an app pod: wait-ready (creates the per-pod folder), then the JVM as the pod's uid. */
  /**
   * Starts the application container of a pod (the demo JVM). `restart`: the container restarts in its
   * pod (init containers do not run again: the pod folder stays as it was). `pid1`: the JVM is PID 1 of
   * its own PID namespace, as in a container (so its dump is `java_pid1.hprof`). `jvmOptions` are
   * appended to the manifest's JAVA_TOOL_OPTIONS; `env` is added to the container's (e.g. the demo's leak rate).
   */
  async startApp(
    podName = this.newAppPodName(),
    opts: { restart?: boolean; pid1?: boolean; jvmOptions?: readonly string[]; env?: Record<string, string> } = {},
  ): Promise<SimContainer & { podName: string }> {
    const w = this.opts.manifests.app;
    if (!opts.restart) await this.runWaitReady(w, podName);
    const c = containerOf(w, undefined);
    const heap = this.opts.appHeap ?? '-Xmx48m';
    const jto = this.prepare(w, c, podName).rawEnv.JAVA_TOOL_OPTIONS ?? '';
    const jvm = [heap, ...jto.split(/\s+/).filter((t) => t && !HEAP_FLAGS.test(t)), ...(opts.jvmOptions ?? [])];
    // JAVA_TOOL_OPTIONS with only the heap size replaced (paths are translated by prepare as usual)
    const sc = await this.startContainer(w, { ...c, env: (c.env ?? []).map((e) => (e.name === 'JAVA_TOOL_OPTIONS' ? { name: e.name, value: jvm.join(' ') } : e)) },
      podName, { name: `app ${podName}`, role: 'app', ownNetwork: true, pid1: opts.pid1, extraEnv: opts.env });
    this.apps.push(sc);
    return { ...sc, podName };
  }

  // ---------------------------------------------------------------- faults and teardown

  /** SIGKILLs a container and waits until it is gone. */
  async kill(c: SimContainer | undefined): Promise<void> {
    if (!c) return;
    this.kubelet.stoppingOnPurpose(c.proc);
    c.proc.signal('SIGKILL');
    await c.proc.exited;
  }

  /** SIGTERM, then SIGKILL after graceMs. */
  async stop(c: SimContainer | undefined, graceMs = 10_000): Promise<void> {
    if (!c) return;
    this.kubelet.stoppingOnPurpose(c.proc);
    await c.proc.dispose(graceMs);
  }

  /** Whether the node's dump dir is a mount point inside the namespace (as findmnt reports it). */
  async isMounted(nodePath: string): Promise<boolean> {
    const r = await this.nsExec(['findmnt', '-n', '-o', 'TARGET', '--mountpoint', nodePath]);
    return r.code === 0 && r.stdout.trim() !== '';
  }

  async dispose(): Promise<void> {
    this.unregister();
    this.kubelet.stop();
    for (const p of [...this.started].reverse()) {
      if (p.exitInfo() === undefined) await p.dispose(3000);
    }
    await this.kubelet.dispose();
    if (this.holder && pidAlive(this.holder.pid)) await stopPid(this.holder.pid, 2000, 'SIGKILL');
    if (this.holder) await this.holder.dispose(1000);
    rmSync(this.root, { recursive: true, force: true });
  }
}

/**
 * The Node binary as every container user can run it: where `bin` sits below a directory others cannot enter (a
 * checkout under a 0700 dir), a hard link (or copy) into the image dir; else `bin` itself.
 */
function imageNode(bin: string, inImage: string): string {
  const runnable = (statSync(bin).mode & 0o005) === 0o005;
  let reachable = runnable;
  for (let d = path.dirname(bin); reachable && d !== path.dirname(d); d = path.dirname(d)) reachable = (statSync(d).mode & 0o001) !== 0;
  if (reachable) return bin;
  try {
    if (!runnable) throw new Error('a link would share the mode');
    linkSync(bin, inImage);
  } catch {
    copyFileSync(bin, inImage);
    chmodSync(inImage, 0o755);
  }
  return inImage;
}

/**
 * Writes a projected file anew (each container start projects its pod's volumes again): removed first, as a
 * read-only file (0444) cannot be opened for writing by its owner unless that owner is root.
 */
function writeFresh(file: string, data: string, mode: number): void {
  rmSync(file, { force: true });
  writeFileSync(file, data, { mode });
}

/** The value of a `-XX:Name=value` option in JAVA_TOOL_OPTIONS. */
export function jvmOption(env: Record<string, string>, name: string): string | undefined {
  const m = (env.JAVA_TOOL_OPTIONS ?? '').match(new RegExp(`(?:^|\\s)-XX:${name}=(\\S+)`));
  return m?.[1];
}
